"""Editing one file through the REST API (`PUT .../browse/{path}`): Bitbucket's rules for creating or
updating a file on a branch as a new commit, without a work tree.

- No `sourceCommitId`: the client says the file is new; if it exists, 409 `FileAlreadyExistsException`.
- `sourceCommitId`: the commit the client edited. If the file at the branch head differs from the file
  in that commit (changed, created or deleted since), 409 `FileOutOfDateException`; a branch that moved
  for other files is fine, the edit lands on top of its head.
- The same bytes as the file already holds: 409 `FileContentUnmodifiedException`.
- `sourceBranch`: when `branch` does not exist, it is created from `sourceBranch` with the edit.
- An empty repository: the first commit creates `branch`.

The branch moves only through `refs.service.apply` (compare-and-swap plus outbox event). If another
writer moves it between our read and our write, the whole check is redone on the new head, so a
concurrent change to the same file ends in 409 and a change to another file is kept: never a lost
update.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

import pygit2
from sqlalchemy.orm import Session

from culm.core.errors import Conflict, NoSuchBranch, NoSuchCommit, StaleRef, ValidationError
from culm.domain.refs import service as refs
from culm.domain.repos.models import Repository
from culm.domain.users.models import User
from culm.git import commit_write
from culm.git.commit_write import Identity
from culm.git.refs import ZERO
from culm.git.refwrite import valid_ref_name
from culm.git.revisions import CommitInfo, commit_info, find_commit, open_repo

_CONTENT = "com.atlassian.bitbucket.content."
# Largest file accepted through the API; bigger files belong in a push (git has no such limit).
MAX_CONTENT_BYTES = 20 * 1024 * 1024
# How often the edit is redone on a branch that another writer moved meanwhile.
ATTEMPTS = 5
# Fallback e-mail for users without one: `.invalid` can never be delivered to (RFC 2606).
NO_EMAIL_DOMAIN = "users.noreply.invalid"


class FileAlreadyExists(Conflict):
    exception_name = _CONTENT + "FileAlreadyExistsException"


class FileOutOfDate(Conflict):
    exception_name = _CONTENT + "FileOutOfDateException"


class FileContentUnmodified(Conflict):
    exception_name = _CONTENT + "FileContentUnmodifiedException"


class RepositoryArchived(Conflict):
    exception_name = "com.atlassian.bitbucket.repository.RepositoryArchivedException"


@dataclass(frozen=True)
class EditRequest:
    path: str
    branch: str | None
    content: bytes | None
    message: str | None = None
    source_commit_id: str | None = None
    source_branch: str | None = None


def split_path(path: str) -> list[str]:
    """The path's parts, or a 400 saying what is wrong with it."""
    if not path:
        raise ValidationError("A path to the file is required.", context="path")
    if "\x00" in path:
        raise ValidationError("The path may not contain NUL characters.", context="path")
    if path.startswith("/"):
        raise ValidationError(f"The path '{path}' must be relative to the repository root.", context="path")
    if path.startswith("-"):
        raise ValidationError(f"The path '{path}' may not start with '-'.", context="path")
    if path.endswith("/"):
        raise ValidationError(f"The path '{path}' names a directory; a file name is required.", context="path")
    if "\\" in path:
        raise ValidationError(f"The path '{path}' may not contain backslashes.", context="path")
    parts = path.split("/")
    for part in parts:
        if part == "":
            raise ValidationError(f"The path '{path}' contains an empty component.", context="path")
        if part in (".", ".."):
            raise ValidationError(f"The path '{path}' may not contain '.' or '..' components.", context="path")
        if part.lower() == ".git":
            raise ValidationError(f"The path '{path}' may not contain a '.git' component.", context="path")
        if any(ord(ch) < 0x20 for ch in part):
            raise ValidationError(f"The path '{path}' may not contain control characters.", context="path")
    return parts


def branch_ref(name: str | None, context: str = "branch") -> str:
    """`x` or `refs/heads/x` as a full branch ref (400 for anything else)."""
    if name is None or not name.strip():
        raise ValidationError("The branch to commit to is required.", context=context)
    name = name.strip()
    ref = name if name.startswith("refs/") else "refs/heads/" + name
    short = ref[len("refs/heads/"):]
    if not ref.startswith("refs/heads/") or short.startswith("-") or not valid_ref_name(ref):
        raise ValidationError(f"'{name}' is not a valid branch name.", context=context)
    return ref


def identity(user: User) -> Identity:
    """The acting user as author and committer: display name and e-mail, as Bitbucket does."""
    email = (user.email or "").strip() or f"{user.slug}@{NO_EMAIL_DOMAIN}"
    return Identity(user.display_name or user.name, email)


def default_message(path: str) -> str:
    return f"{posixpath.basename(path)} edited online with Bitbucket"


def _validate(req: EditRequest, repo: Repository) -> tuple[list[str], str, str | None]:
    parts = split_path(req.path)
    ref = branch_ref(req.branch)
    source = branch_ref(req.source_branch, "sourceBranch") if req.source_branch else None
    if req.content is None:
        raise ValidationError("The content of the file is required.", context="content")
    if len(req.content) > MAX_CONTENT_BYTES:
        raise ValidationError(f"The file is larger than the limit of {MAX_CONTENT_BYTES} bytes.", context="content")
    if req.source_commit_id is not None and "\x00" in req.source_commit_id:
        raise ValidationError("Invalid sourceCommitId.", context="sourceCommitId")
    if repo.archived:
        raise RepositoryArchived(f"Repository {repo.slug} is archived and cannot be changed.")
    return parts, ref, source


def edit_file(session: Session, repo: Repository, user: User, req: EditRequest) -> CommitInfo:
    """Create or update `req.path` on the branch as one new commit by `user`; returns that commit."""
    parts, ref, source_ref = _validate(req, repo)
    assert req.content is not None
    blob = commit_write.write_blob(repo.id, req.content)
    message = req.message if req.message and req.message.strip() else default_message(req.path)
    if not message.endswith("\n"):
        message += "\n"
    author = identity(user)
    for attempt in range(ATTEMPTS):
        git_repo = open_repo(repo.id)
        head = commit_write.branch_head(git_repo, ref)
        if head is not None:
            base = find_commit(git_repo, head)
            if base is None:  # a branch pointing at something other than a commit: never rewrite it
                raise ValidationError(f"'{ref}' does not point at a commit.", context="branch")
        elif source_ref is not None and source_ref != ref:
            base = find_commit(git_repo, source_ref)
            if base is None:
                raise NoSuchBranch(f"Branch '{source_ref[len('refs/heads/'):]}' does not exist in repository "
                                   f"'{repo.name}'.", context="sourceBranch")
        elif not commit_write.has_branches(git_repo):
            base = None  # an empty repository: this commit starts the branch
        else:
            raise NoSuchBranch(f"Branch '{ref[len('refs/heads/'):]}' does not exist in repository '{repo.name}'.",
                               context="branch")
        base_tree = base.tree if base is not None else None
        current = commit_write.path_state(git_repo, base_tree, parts)
        mode = _check(git_repo, repo, req, parts, current, blob)
        tree = commit_write.tree_with_file(repo.id, git_repo, base_tree, parts, blob, mode)
        parents = [str(base.id)] if base is not None else []
        new = commit_write.commit_tree(repo.id, tree, parents, author, message)
        try:
            refs.apply(session, repo, user.id, ref, head or ZERO, new, f"edit {req.path}")
        except StaleRef:
            if attempt == ATTEMPTS - 1:
                raise
            continue  # another writer moved the branch: redo every check on its new head
        commit = find_commit(open_repo(repo.id), new)
        assert commit is not None
        return commit_info(commit)
    raise StaleRef(f"'{ref}' kept changing; reload it and try again.", context="branch")  # pragma: no cover


def _check(git_repo: pygit2.Repository, repo: Repository, req: EditRequest, parts: list[str],
           current: commit_write.PathState, blob: str) -> int:
    """Bitbucket's refusals for this path at the branch head; returns the file mode to write."""
    if current.kind == "blocked":
        raise ValidationError(f"'{req.path}' cannot be created because '{current.blocker}' is a file.",
                              context="path")
    if current.kind == "tree":
        raise ValidationError(f"'{req.path}' is a directory; only files can be edited.", context="path")
    if current.kind == "commit":
        raise ValidationError(f"'{req.path}' is a submodule; only files can be edited.", context="path")
    if req.source_commit_id:
        source = find_commit(git_repo, req.source_commit_id.strip())
        if source is None:
            raise NoSuchCommit(f"Commit '{req.source_commit_id}' does not exist in repository '{repo.name}'.",
                               context="sourceCommitId")
        before = commit_write.path_state(git_repo, source.tree, parts)
        if (before.kind, before.oid) != (current.kind, current.oid):
            raise FileOutOfDate(f"The file '{req.path}' has been changed since commit "
                                f"{req.source_commit_id}; reload it and try again.", context="sourceCommitId")
    elif current.kind == "blob":
        raise FileAlreadyExists(f"The file '{req.path}' already exists; give the sourceCommitId it was edited "
                                "on to update it.", context="sourceCommitId")
    if current.kind == "blob" and current.oid == blob:
        raise FileContentUnmodified("The content provided is the same as what already exists. "
                                    "No change was committed.")
    return current.mode if current.kind == "blob" and current.mode else commit_write.BLOB_MODE
