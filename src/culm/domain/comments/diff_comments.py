"""Comments placed in a diff (`withComments`, Bitbucket's default for pull request and commit diffs): the
ACTIVE line comments anchored on the diff being shown, found with one query before the diff streams, then
matched to the diff's lines file by file (`commentIds` on each line, the comments in `lineComments`).

Which comments belong to a diff: for a pull request's effective diff, its EFFECTIVE anchors (rescoping
keeps them on the current commits or orphans them); for any other diff (a commit, a range, a commit's
own diff) the anchors made on exactly that diff (same `fromHash` and `toHash`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.domain.comments.models import Comment
from culm.domain.comments.service import visible
from culm.domain.pullrequests.models import PullRequest


@dataclass(frozen=True)
class Anchored:
    """What matching needs of a comment, copied out of the row (the diff streams after the session ends)."""

    id: int
    line: int
    line_type: str
    file_type: str


@dataclass
class Placement:
    """The line comments of one diff: the rows (to render up front) and their anchors by path."""

    rows: list[Comment] = field(default_factory=list)
    by_path: dict[str, list[Anchored]] = field(default_factory=dict)

    def for_file(self, source: str | None, destination: str | None) -> list[Anchored]:
        """Comments on this file: anchors name the file's new path (its old path when it was deleted)."""
        return self.by_path.get(destination if destination is not None else source or "", [])


def line_ids(comments: Iterable[Anchored], segment_type: str, source: int, destination: int) -> list[int]:
    """Ids of the comments anchored on this line: the same line type, and the line number on the anchor's
    side (FROM: the old file's number, TO: the new file's)."""
    return [c.id for c in comments if c.line_type == segment_type
            and (source if c.file_type == "FROM" else destination) == c.line]


def _placement(session: Session, stmt, path: str | None) -> Placement:  # type: ignore[no-untyped-def]
    placed = Placement()
    for row in session.scalars(stmt.order_by(Comment.id)):
        if path and not (row.path == path or (row.path or "").startswith(path + "/")):
            continue
        placed.rows.append(row)
        placed.by_path.setdefault(row.path or "", []).append(
            Anchored(row.id, row.line or 0, row.line_type or "CONTEXT", row.file_type or "TO"))
    return placed


def _roots(viewer: int):  # type: ignore[no-untyped-def]
    return select(Comment).where(Comment.parent_id.is_(None), Comment.path.is_not(None), Comment.line.is_not(None),
                                 Comment.orphaned.is_(False), visible(viewer))


def for_pull_request(session: Session, pr: PullRequest, base: str | None, target: str, effective: bool,
                     path: str | None, viewer: int) -> Placement:
    stmt = _roots(viewer).where(Comment.pull_request_id == pr.id)
    if effective:
        stmt = stmt.where(Comment.diff_type == "EFFECTIVE")
    else:
        stmt = stmt.where(Comment.diff_type != "EFFECTIVE", Comment.to_hash == target)
        stmt = stmt.where(Comment.from_hash == base) if base else stmt.where(Comment.from_hash.is_(None))
    return _placement(session, stmt, path)


def for_commit(session: Session, repository_id: int, commit_id: str, base: str | None, path: str | None,
               viewer: int) -> Placement:
    stmt = _roots(viewer).where(Comment.repository_id == repository_id, Comment.pull_request_id.is_(None),
                                Comment.commit_id == commit_id, Comment.to_hash == commit_id)
    stmt = stmt.where(Comment.from_hash == base) if base else stmt.where(Comment.from_hash.is_(None))
    return _placement(session, stmt, path)
