"""Where a comment sits in a diff, and whether it still does.

A file comment names a path of the diff; a line comment also a line number of one side (`fileType`)
of a segment of one kind (`lineType`). Both are checked against the diff they were made on: a pull
request's effective diff (merge-base(target, source)..source), a range the client names (COMMIT/RANGE),
or a commit's own diff (first parent..commit). `reanchor` re-checks EFFECTIVE anchors after a pull
request's commits changed and orphans the ones whose file or line is gone (they are kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.core.errors import ValidationError
from culm.domain.comments.models import DIFF_TYPES, FILE_TYPES, LINE_TYPES, Comment
from culm.domain.pullrequests.models import PullRequest
from culm.git import diff as gitdiff
from culm.git import history
from culm.git.revisions import find_commit, open_repo
from culm.git.storage import repo_dir

MAX_PATH = 4096


@dataclass
class Anchor:
    path: str
    src_path: str | None
    diff_type: str | None
    from_hash: str | None
    to_hash: str | None
    line: int | None
    line_type: str | None
    file_type: str | None


@dataclass(frozen=True)
class DiffSource:
    """The git side of a diff: the repository to run in, borrowed object stores, base and target."""

    repo_id: int
    alternates: tuple[Path, ...]
    base: str | None
    target: str


def _str(anchor: dict[str, Any], name: str) -> str | None:
    value = anchor.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, dict):  # RestPath form: {"toString": "a/b"} or components
        value = value.get("toString") or "/".join(value.get("components") or [])
    if not isinstance(value, str):
        raise ValidationError(f"The anchor '{name}' must be a string.", context=f"anchor.{name}")
    if "\x00" in value:
        raise ValidationError(f"The anchor '{name}' must not contain NUL characters.", context=f"anchor.{name}")
    return value


def _path(anchor: dict[str, Any], name: str) -> str | None:
    value = _str(anchor, name)
    if value is None:
        return None
    parts = value.split("/")
    if len(value) > MAX_PATH or value.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValidationError(f"'{value}' is not a valid path.", context=f"anchor.{name}")
    return value


def _enum(anchor: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = _str(anchor, name)
    if value is None:
        return None
    if value.upper() not in allowed:
        raise ValidationError(f"'{value}' is not a valid value for '{name}'; valid values are {', '.join(allowed)}.",
                              context=f"anchor.{name}")
    return value.upper()


def parse(anchor: Any) -> Anchor | None:
    """The request's `anchor` (None for a general comment); shape errors are 400s."""
    if anchor is None:
        return None
    if not isinstance(anchor, dict):
        raise ValidationError("The anchor must be an object.", context="anchor")
    path = _path(anchor, "path")
    if path is None:
        raise ValidationError("A comment anchor requires a path.", context="anchor.path")
    line = anchor.get("line")
    if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
        raise ValidationError("The anchor line must be a positive number.", context="anchor.line")
    line_type = _enum(anchor, "lineType", LINE_TYPES)
    file_type = _enum(anchor, "fileType", FILE_TYPES)
    if line is not None:
        line_type = line_type or "CONTEXT"
        file_type = file_type or ("FROM" if line_type == "REMOVED" else "TO")
        if (line_type, file_type) in (("ADDED", "FROM"), ("REMOVED", "TO")):
            raise ValidationError(f"A {line_type} line is on the {'TO' if line_type == 'ADDED' else 'FROM'} side "
                                  "of the diff.", context="anchor.fileType")
    else:
        line_type = file_type = None
    hashes = {}
    for name in ("fromHash", "toHash"):
        value = _str(anchor, name)
        if value is not None and (len(value) > 64 or not all(c in "0123456789abcdefABCDEF" for c in value)):
            raise ValidationError(f"'{value}' is not a valid commit id.", context=f"anchor.{name}")
        hashes[name] = value
    return Anchor(path=path, src_path=_path(anchor, "srcPath"),
                  diff_type=_enum(anchor, "diffType", DIFF_TYPES),
                  from_hash=hashes["fromHash"], to_hash=hashes["toHash"],
                  line=line, line_type=line_type, file_type=file_type)


def _opened(pr_repo: int, from_repo: int) -> tuple[pygit2.Repository, tuple[Path, ...]]:
    repo = open_repo(pr_repo)
    alternates: tuple[Path, ...] = ()
    if from_repo != pr_repo:
        alternates = (repo_dir(from_repo),)
        history.add_alternate(repo, alternates[0])
    return repo, alternates


def effective_source(pr: PullRequest) -> DiffSource:
    """merge-base(target, source)..source: what the pull request changes."""
    repo, alternates = _opened(pr.repository_id, pr.from_repository_id)
    base = history.merge_base(repo, pr.to_commit, pr.from_commit)
    return DiffSource(pr.repository_id, alternates, base, pr.from_commit)


def _full(repo: pygit2.Repository, rev: str | None, name: str) -> str:
    commit = find_commit(repo, rev) if rev else None
    if commit is None:
        raise ValidationError(f"The anchor '{name}' must name a commit of the repository.", context=f"anchor.{name}")
    return str(commit.id)


def pr_source(pr: PullRequest, anchor: Anchor) -> DiffSource:
    """The diff a pull request anchor was made on; EFFECTIVE anchors get the pull request's hashes. Without
    a diffType the anchor is EFFECTIVE only when it names no hashes (the documented compatibility rule)."""
    if anchor.diff_type is None:
        if anchor.from_hash or anchor.to_hash:
            raise ValidationError("A diffType is required when fromHash or toHash is given.",
                                  context="anchor.diffType")
        anchor.diff_type = "EFFECTIVE"
    if anchor.diff_type == "EFFECTIVE":
        source = effective_source(pr)
        anchor.from_hash, anchor.to_hash = pr.to_commit, pr.from_commit
        return source
    repo, alternates = _opened(pr.repository_id, pr.from_repository_id)
    to_hash = _full(repo, anchor.to_hash, "toHash")
    from_hash = _full(repo, anchor.from_hash, "fromHash")
    anchor.from_hash, anchor.to_hash = from_hash, to_hash
    return DiffSource(pr.repository_id, alternates, from_hash, to_hash)


def commit_source(repo_id: int, commit_id: str, anchor: Anchor) -> DiffSource:
    """A commit's own diff (first parent..commit), or the client's `fromHash`..commit."""
    repo = open_repo(repo_id)
    if anchor.from_hash:
        base: str | None = _full(repo, anchor.from_hash, "fromHash")
    else:
        commit = find_commit(repo, commit_id)
        base = str(commit.parent_ids[0]) if commit is not None and commit.parent_ids else None
    anchor.from_hash, anchor.to_hash = base, commit_id
    anchor.diff_type = "COMMIT"
    return DiffSource(repo_id, (), base, commit_id)


def file_diff(source: DiffSource, path: str, src_path: str | None) -> gitdiff.FileDiff | None:
    """The diff of `path` (or of its rename from `src_path`) in `source`, or None when it is not in it."""
    paths = (path,) if not src_path or src_path == path else (src_path, path)
    req = gitdiff.DiffRequest(git_dir=repo_dir(source.repo_id), base=source.base, target=source.target,
                              paths=paths, alternates=source.alternates)
    for fd in gitdiff.stream_diff(req, gitdiff.DiffParser()):
        if fd.destination == path or (fd.destination is None and fd.source == path):
            return fd
    return None


def has_line(fd: gitdiff.FileDiff, line: int, line_type: str, file_type: str) -> bool:
    for hunk in fd.hunks:
        for segment in hunk.segments:
            if segment.type != line_type:
                continue
            for ln in segment.lines:
                if (ln.source if file_type == "FROM" else ln.destination) == line:
                    return True
    return False


def still_there(source: DiffSource, anchor: Anchor) -> str | None:
    """None when the anchor's file (and line) is in the diff, else what is missing (Bitbucket's wording)."""
    fd = file_diff(source, anchor.path, anchor.src_path)
    if fd is None:
        return f"The path '{anchor.path}' is not part of the diff being commented on."
    if anchor.line is not None and not has_line(fd, anchor.line, anchor.line_type or "CONTEXT",
                                                anchor.file_type or "TO"):
        return (f"Line {anchor.line} ({anchor.line_type}, {anchor.file_type}) of '{anchor.path}' is not part of "
                "the diff being commented on.")
    return None


def check(source: DiffSource, anchor: Anchor) -> None:
    problem = still_there(source, anchor)
    if problem:
        raise ValidationError(problem, context="anchor")


def of(comment: Comment) -> Anchor | None:
    if comment.path is None:
        return None
    return Anchor(comment.path, comment.src_path, comment.diff_type or "EFFECTIVE", comment.from_hash,
                  comment.to_hash, comment.line, comment.line_type, comment.file_type)


def reanchor(session: Session, pr: PullRequest) -> None:
    """After the pull request's commits changed: EFFECTIVE file/line comments whose file or line left the
    new effective diff become ORPHANED (kept, flagged); the others now point at the new hashes. One git
    diff per distinct path; the caller commits."""
    rows = list(session.scalars(select(Comment).where(
        Comment.pull_request_id == pr.id, Comment.parent_id.is_(None), Comment.path.is_not(None),
        Comment.diff_type == "EFFECTIVE", Comment.orphaned.is_(False))))
    if not rows:
        return
    source = effective_source(pr)
    diffs: dict[tuple[str, str | None], gitdiff.FileDiff | None] = {}
    for row in rows:
        key = (row.path or "", row.src_path)
        if key not in diffs:
            diffs[key] = file_diff(source, *key)
        fd = diffs[key]
        gone = fd is None or (row.line is not None and not has_line(fd, row.line, row.line_type or "CONTEXT",
                                                                      row.file_type or "TO"))
        if gone:
            row.orphaned = True
        else:
            row.from_hash, row.to_hash = pr.to_commit, pr.from_commit
    session.flush()
