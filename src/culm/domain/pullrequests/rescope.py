"""Rescoping pull requests from the outbox: the consumer "pull-requests" of `repo:refs_changed`.

When a branch moves, every OPEN pull request whose source or target it is is brought up to date: its
latest commits change, a RESCOPED activity lists the commits it gained and lost, `pr:from_ref_updated`
is recorded when the source moved (no event for a target move: the live server rejects
`pr:to_ref_updated`). When the source moved its `version` goes up, so a merge based on what a reviewer
saw before the push is refused as out of date; a target that moved changes nothing anyone reviewed, so
the version stays (two pull requests merged into one branch at once must both land).
A deleted source or target branch declines the pull request; a target that
now contains the source tip (merged by a push) makes it MERGED, as Bitbucket does.

Each event is handled in its own transaction together with the consumer's offset (`ack`), holding
the consumer's `consumer_offsets` row: `FOR UPDATE SKIP LOCKED` on PostgreSQL (a second node finds it
taken and does nothing), the database write lock from `BEGIN IMMEDIATE` on SQLite. A crash rolls back
both, so the event is handled again; a handled event is never handled twice. Handling reads the
branches' current commits rather than the event's hashes, so replays and late events converge.

Triggers: `schedule(session)` wakes this process's worker when the transaction commits (pushes,
server ref writes); the worker also polls every `POLL_SECONDS` so nothing waits forever.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from culm.core.worker import PeriodicWorker, wake_after_commit
from culm.domain.automerge import triggers as automerge
from culm.domain.base import now_ms
from culm.domain.comments import anchors
from culm.domain.events import service as events
from culm.domain.events.models import ConsumerOffset, Event
from culm.domain.pullrequests.activities import View, emit, record_activity
from culm.domain.pullrequests.models import PullRequest
from culm.domain.repos.models import Repository
from culm.domain.users.models import User
from culm.git import pullrequests as gitpr
from culm.git import rescope as gitrescope
from culm.git import storage
from culm.git.revisions import CommitInfo

log = logging.getLogger(__name__)

CONSUMER = "pull-requests"
REFS_CHANGED = "repo:refs_changed"
POLL_SECONDS = 3.0
# Commits listed in a RESCOPED activity's `added`/`removed` (`total` counts them all).
ACTIVITY_COMMITS = 25

# Called after a pull request was rescoped (still OPEN, new commits stored), in the same transaction:
# comments anchored to lines that left the diff become orphaned, the others follow the new commits.
# A moved source cancels the pull request's auto-merge request; a moved target makes it due.
AFTER_RESCOPE: list[Callable[[Session, PullRequest], None]] = [anchors.reanchor, automerge.after_rescope]


class RescopeView(View, Protocol):
    """A `View` that also renders commits (RestCommit) for the RESCOPED activity."""

    def commits(self, commits: list[CommitInfo]) -> list[dict[str, Any]]: ...


# -- waking the worker ------------------------------------------------------------------------------
_wakeup = threading.Event()


def wake() -> None:
    _wakeup.set()


def schedule(session: Session) -> None:
    """Run the consumer soon after this transaction commits (cheap: sets a flag; no work inline)."""
    wake_after_commit(session, "rescope_scheduled", wake)


# -- claiming the consumer ------------------------------------------------------------------------
def claim(session: Session, consumer: str = CONSUMER) -> bool:
    """Hold the consumer's offset row until this transaction ends; False when another node holds it."""
    dialect = session.get_bind().dialect.name
    if session.get(ConsumerOffset, consumer) is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(ConsumerOffset).values(name=consumer, last_event_id=0)
                        .on_conflict_do_nothing(index_elements=["name"]))
    query = select(ConsumerOffset).where(ConsumerOffset.name == consumer)
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query.execution_options(populate_existing=True)) is not None


def process_next(session: Session, view: RescopeView) -> int | None:
    """Handle the consumer's next `repo:refs_changed` event and move its offset past it, in the caller's
    transaction. Returns the event id handled, or None (nothing to do, or another node is at work)."""
    if not claim(session):
        return None
    pending = events.read_after(session, CONSUMER, 1, kinds=(REFS_CHANGED,))
    if not pending:
        return None
    handle(session, view, pending[0])
    events.ack(session, CONSUMER, pending[0].id)
    return pending[0].id


def run_once(session_scope: Callable[[], AbstractContextManager[Session]],
             view_for: Callable[[Session], RescopeView], max_events: int = 500) -> int:
    """Handle pending events, one transaction each, until none is left (or `max_events`)."""
    handled = 0
    while handled < max_events:
        with session_scope() as session:
            done = process_next(session, view_for(session))
        if done is None:
            break
        handled += 1
    return handled


# -- handling one event -----------------------------------------------------------------------------
def _branches(payload: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for change in payload.get("changes") or []:
        ref = change.get("refId") if isinstance(change, dict) else None
        if isinstance(ref, str) and ref.startswith("refs/heads/") and ref not in found:
            found.append(ref)
    return found


def affected(session: Session, repository_id: int, branches: list[str]) -> list[PullRequest]:
    """OPEN pull requests targeting one of `branches` here, or whose source is one of them here (in
    any repository of the fork family), locked on PostgreSQL before anything else is written."""
    query = select(PullRequest).where(PullRequest.state == "OPEN", or_(
        (PullRequest.repository_id == repository_id) & PullRequest.to_ref.in_(branches),
        (PullRequest.from_repository_id == repository_id) & PullRequest.from_ref.in_(branches),
    )).order_by(PullRequest.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return list(session.scalars(query))


def handle(session: Session, view: RescopeView, event: Event) -> None:
    branches = _branches(events.payload(event))
    if event.repository_id is None or not branches:
        return
    actor = session.get(User, event.actor_id) if event.actor_id else None
    for pr in affected(session, event.repository_id, branches):
        refresh(session, view, pr, actor)


def refresh(session: Session, view: RescopeView, pr: PullRequest, actor: User | None) -> str | None:
    """Bring one OPEN pull request up to its branches; returns what happened (RESCOPED, DECLINED,
    MERGED) or None when nothing moved."""
    target = session.get(Repository, pr.repository_id)
    source = session.get(Repository, pr.from_repository_id)
    if target is None or source is None:
        return None
    new_from = storage.resolve_ref(source.id, pr.from_ref)
    new_to = storage.resolve_ref(target.id, pr.to_ref)
    user_id = actor.id if actor else None
    if new_from is None or new_to is None:
        _close(pr, "DECLINED")
        record_activity(session, pr, "DECLINED", user_id)
        emit(session, view, "pr:declined", pr, actor)
        return "DECLINED"
    if new_from == pr.from_commit and new_to == pr.to_commit:
        return None
    old_from, old_to = pr.from_commit, pr.to_commit
    repo_ids = (source.id, target.id)
    if gitpr.already_merged(repo_ids, new_from, new_to):
        pr.from_commit, pr.to_commit = new_from, new_to
        _close(pr, "MERGED")
        record_activity(session, pr, "MERGED", user_id)
        emit(session, view, "pr:merged", pr, actor)
        return "MERGED"
    added, removed = gitrescope.scope_change(repo_ids, old_from, old_to, new_from, new_to, ACTIVITY_COMMITS)
    pr.from_commit, pr.to_commit = new_from, new_to
    if new_from != old_from:
        pr.version += 1
    pr.updated_date = now_ms()
    session.flush()
    record_activity(session, pr, "RESCOPED", user_id, {
        "fromHash": new_from, "previousFromHash": old_from, "previousToHash": old_to, "toHash": new_to,
        "added": {"commits": view.commits(added.commits), "total": added.total},
        "removed": {"commits": view.commits(removed.commits), "total": removed.total},
    })
    if new_from != old_from:
        emit(session, view, "pr:from_ref_updated", pr, actor, previousFromHash=old_from)
    for hook in AFTER_RESCOPE:
        hook(session, pr)
    return "RESCOPED"


def _close(pr: PullRequest, state: str) -> None:
    pr.state = state
    pr.closed_date = pr.updated_date = now_ms()
    pr.version += 1


# -- the background worker --------------------------------------------------------------------------
class Worker(PeriodicWorker):
    """One thread per server process: runs the consumer when woken and every `interval` seconds (a failing
    event is rolled back and retried at the next poll)."""

    def __init__(self, run: Callable[[], int], interval: float = POLL_SECONDS) -> None:
        super().__init__(run, interval, name="culm-rescope", wakeup=_wakeup, logger=log,
                         failure="pull request rescoping failed; retrying later")
