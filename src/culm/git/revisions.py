"""Opening a hosted repository with pygit2 and turning what clients send (`at`, `until`, `since`,
`startPoint`, a commit id) into a commit, the way Bitbucket resolves them.

Bitbucket accepts a full ref name (`refs/heads/x`), a short branch or tag name (`x`, branches first)
or a full or abbreviated commit id. Nothing else: no `HEAD~2`, `x^`, `@{...}` revision syntax, so no
client value ever reaches git's revision parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pygit2

from culm.core.errors import NoSuchCommit
from culm.git.storage import repo_dir

HEX = re.compile(r"^[0-9a-fA-F]{4,64}$")
FULL_OID = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")


def open_repo(repo_id: int) -> pygit2.Repository:
    """A pygit2 handle on a hosted repository. Cheap; open one per request (handles are not shared
    between threads)."""
    return pygit2.Repository(str(repo_dir(repo_id)))


def text(raw: bytes) -> str:
    """Git stores bytes; clients get UTF-8 text with invalid sequences replaced, never an error."""
    return raw.decode("utf-8", errors="replace")


def lookup_ref(repo: pygit2.Repository, name: str) -> pygit2.Reference | None:
    """The ref `name` names: exactly, else as a branch, else as a tag."""
    if not name or name.startswith("-") or "\x00" in name:
        return None
    candidates = [name] if name.startswith("refs/") else [f"refs/heads/{name}", f"refs/tags/{name}"]
    for candidate in candidates:
        try:
            ref = repo.references.get(candidate)
        except (ValueError, pygit2.InvalidSpecError):
            ref = None
        if ref is not None:
            return ref
    return None


def peel_commit(obj: object) -> pygit2.Commit | None:
    try:
        peeled = obj.peel(pygit2.Commit)  # type: ignore[attr-defined]
    except (pygit2.GitError, ValueError, KeyError, AttributeError):
        return None
    return peeled if isinstance(peeled, pygit2.Commit) else None


def find_commit(repo: pygit2.Repository, rev: str | None) -> pygit2.Commit | None:
    """The commit `rev` names, or None (unknown ref, unknown or ambiguous id, not a commit)."""
    if not rev:
        return None
    ref = lookup_ref(repo, rev)
    if ref is not None:
        try:
            return peel_commit(ref.peel())
        except (pygit2.GitError, ValueError, KeyError):
            return None
    if not HEX.match(rev):
        return None
    try:
        obj = repo.get(rev) if len(rev) in (40, 64) else repo.revparse_single(rev.lower())
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        return None
    return peel_commit(obj) if obj is not None else None


def resolve_commit(repo: pygit2.Repository, rev: str | None, repo_name: str) -> pygit2.Commit:
    """`find_commit`, or Bitbucket's 404 for a commit that does not exist."""
    commit = find_commit(repo, rev)
    if commit is None:
        raise NoSuchCommit(f"Commit '{rev}' does not exist in repository '{repo_name}'.", context="commit")
    return commit


def head_commit(repo: pygit2.Repository, default_branch: str) -> pygit2.Commit | None:
    """The default branch's commit, or None while it is unborn (empty repository)."""
    return find_commit(repo, default_branch)


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class CommitInfo:
    """What Bitbucket's RestCommit carries, read once from a pygit2 commit."""

    id: str
    author: Person
    author_ms: int
    committer: Person
    committer_ms: int
    message: str
    parents: tuple[str, ...]


def _person(sig: pygit2.Signature) -> Person:
    return Person(text(sig.raw_name), text(sig.raw_email))


def commit_info(commit: pygit2.Commit) -> CommitInfo:
    return CommitInfo(
        id=str(commit.id),
        author=_person(commit.author),
        author_ms=commit.author.time * 1000,
        committer=_person(commit.committer),
        committer_ms=commit.committer.time * 1000,
        message=text(commit.raw_message).rstrip("\n"),
        parents=tuple(str(p) for p in commit.parent_ids),
    )
