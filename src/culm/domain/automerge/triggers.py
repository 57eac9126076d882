"""Marking auto-merge requests an event may have unblocked, in the event's own transaction, and waking
the background worker once it commits. Kept free of heavy imports: builds, reviews and rescoping call it."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from culm.domain.automerge.models import AutoMergeRequest


def _wake(session: Session) -> None:
    from culm.domain.pullrequests import rescope  # the worker that also runs due auto-merges

    rescope.schedule(session)


def commit_changed(session: Session, commit_id: str) -> None:
    """A build status of `commit_id` was posted or removed: requests on that source commit are due."""
    result = session.execute(update(AutoMergeRequest).where(AutoMergeRequest.from_hash == commit_id.lower())
                             .values(due=True))
    if result.rowcount:  # type: ignore[attr-defined]
        _wake(session)


def pull_request_changed(session: Session, pull_request_id: int) -> None:
    """A review status (or the pull request's scope) changed: its request, if any, is due."""
    result = session.execute(update(AutoMergeRequest).where(AutoMergeRequest.pull_request_id == pull_request_id)
                             .values(due=True))
    if result.rowcount:  # type: ignore[attr-defined]
        _wake(session)


def after_rescope(session: Session, pr: object) -> None:
    """The pull request's branches moved (an `AFTER_RESCOPE` hook): a new source commit cancels its request,
    as Bitbucket cancels auto-merge when the source changes; a moved target makes it due."""
    row = session.get(AutoMergeRequest, pr.id)  # type: ignore[attr-defined]
    if row is None:
        return
    if row.from_hash != pr.from_commit:  # type: ignore[attr-defined]
        session.delete(row)
    else:
        row.due = True
        _wake(session)
    session.flush()
