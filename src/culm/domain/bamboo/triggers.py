"""Builds triggered by repository changes: the outbox consumer "bamboo" of `repo:refs_changed` (and of
`pr:opened`, for plans creating branches for pull requests), and the change detection the remote trigger asks for.

Per pushed branch of a repository:
- its default branch: the Bamboo Specs there are imported (`repo_specs.scan`), then every master plan linked
  to the repository builds the new tip;
- another branch: the plan branch of each linked plan builds it, created first when the spec's `branches.create`
  asks for one (`plan_branches.wants`);
- a deleted branch: its plan branches are removed with their results.
Only plans whose spec has no `triggers` or a repository trigger (`bitbucket-server-trigger`, `polling`,
`remote`, ...) build on push: a plan with only `cron` triggers builds on its schedule alone, as in Bamboo.

Exactly once, like the pull request rescoping (`culm.domain.pullrequests.rescope`): each event is handled in
the transaction that moves the consumer's offset past it, holding the consumer's row. Handling reads the
branches' current tips and builds a tip only when the plan's latest build is not already of that revision,
so replays, late events and several pushes handled together converge to one build of the newest commit.

The worker wakes when a transaction that recorded a `repo:refs_changed` event commits (a mapper hook on
`Event`, nothing to call from the push code) and polls besides, so a push is queued well within a second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from culm.core.worker import PeriodicWorker, wake_after_commit
from culm.domain.bamboo import plan_branches, repo_specs
from culm.domain.bamboo.models import BambooPlan, BambooResult
from culm.domain.events import service as events
from culm.domain.events.models import Event
from culm.domain.pullrequests.models import PullRequest
from culm.domain.pullrequests.rescope import claim
from culm.domain.repos.models import Repository
from culm.git import storage

log = logging.getLogger(__name__)

CONSUMER = "bamboo"
REFS_CHANGED = "repo:refs_changed"
PR_OPENED = "pr:opened"
KINDS = (REFS_CHANGED, PR_OPENED)
POLL_SECONDS = 2.0
CODE_CHANGED = "CodeChanged"
# Spec triggers meaning "build when the repository changes" (Bamboo YAML names, old and new).
REPOSITORY_TRIGGERS = {"bitbucket-server-trigger", "stash-trigger", "polling", "remote", "repository-polling",
                       "bitbucket-cloud", "github", "bitbucket-server"}
HEADS = "refs/heads/"
# An event whose handling keeps failing (a repository gone from disk...) is skipped after this many runs, so
# it cannot hold back every later push; transient failures (a lock timeout) are retried until then.
MAX_ATTEMPTS = 5
_failures: dict[int, int] = {}


# -- waking the worker ------------------------------------------------------------------------------
_wakeup = threading.Event()


def wake() -> None:
    _wakeup.set()


@sa_event.listens_for(Event, "after_insert")
def _event_recorded(_mapper: Any, _connection: Any, target: Event) -> None:
    if target.kind in KINDS:
        session = object_session(target)
        if session is not None:
            wake_after_commit(session, "bamboo_wake", wake)


# -- which plans build ------------------------------------------------------------------------------
def builds_on_push(spec: dict[str, Any]) -> bool:
    """No `triggers` (Bamboo's default repository trigger) or a repository trigger among them."""
    triggers = spec.get("triggers")
    if triggers is None:
        return True
    if not isinstance(triggers, list):
        return False
    for trigger in triggers:
        name = trigger if isinstance(trigger, str) else next(iter(trigger), None) if isinstance(trigger, dict) \
            else None
        if isinstance(name, str) and name.strip().lower() in REPOSITORY_TRIGGERS:
            return True
    return False


def linked_masters(session: Session, repository_id: int) -> list[BambooPlan]:
    return list(session.scalars(select(BambooPlan).where(BambooPlan.repository_id == repository_id,
                                                         BambooPlan.master_id.is_(None)).order_by(BambooPlan.id)))


def latest_revision(session: Session, plan: BambooPlan) -> str | None:
    return session.scalar(select(BambooResult.revision).where(BambooResult.plan_id == plan.id)
                          .order_by(BambooResult.number.desc()).limit(1))


def build_if_changed(session: Session, plan: BambooPlan, tip: str, branch: str, *, reason: str = CODE_CHANGED,
                     user_id: int | None = None) -> BambooResult | None:
    """Queue a build of `tip` unless the plan is disabled or its latest build already is of `tip`. A plan
    the engine refuses is logged and skipped (inside a savepoint, so the others still build)."""
    if not plan.enabled or latest_revision(session, plan) == tip:
        return None
    from culm.domain.bamboo import builds  # late: the engine imports the service, which imports the specs

    try:
        with session.begin_nested():
            return builds.enqueue(session, plan, reason=reason, user_id=user_id, revision=tip, branch=branch)
    except Exception as exc:
        log.warning("build of plan %s at %s not queued: %s", plan.key, tip[:12], exc)
        return None


def _has_open_pull_request(session: Session, repository_id: int, ref: str) -> bool:
    return session.scalar(select(PullRequest.id).where(PullRequest.state == "OPEN",
                                                       PullRequest.from_repository_id == repository_id,
                                                       PullRequest.from_ref == ref).limit(1)) is not None


def branch_changed(session: Session, repo: Repository, ref: str, *, user_id: int | None = None,
                   skip_branches: bool = False, reason: str = CODE_CHANGED) -> list[BambooResult]:
    """Bring the plans of `repo` up to branch `ref` as it is now; the builds queued."""
    tip = storage.resolve_ref(repo.id, ref)
    branch = ref.removeprefix(HEADS)
    queued: list[BambooResult] = []
    if ref == repo.default_branch:
        if tip is not None:
            repo_specs.scan(session, repo, tip)
            for master in linked_masters(session, repo.id):
                if builds_on_push(master.spec or {}):
                    queued.append(build_if_changed(session, master, tip, branch, reason=reason, user_id=user_id))
        return [r for r in queued if r is not None]
    if skip_branches:
        return []
    open_pr: bool | None = None
    for master in linked_masters(session, repo.id):
        plan = plan_branches.find(session, master, branch)
        if tip is None:
            if plan is not None:
                log.info("plan branch %s removed: branch %s was deleted", plan.key, branch)
                plan_branches.remove(session, plan)
            continue
        if plan is None:
            if open_pr is None:
                open_pr = _has_open_pull_request(session, repo.id, ref)
            if not plan_branches.wants(master.spec or {}, branch, open_pr):
                continue
            plan = plan_branches.create(session, master, branch)
            log.info("plan branch %s created for branch %s", plan.key, branch)
        if builds_on_push(plan.spec or {}):
            queued.append(build_if_changed(session, plan, tip, branch, reason=reason, user_id=user_id))
    return [r for r in queued if r is not None]


# -- handling one event -----------------------------------------------------------------------------
def _refs(payload: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for change in payload.get("changes") or []:
        ref = change.get("refId") if isinstance(change, dict) else None
        if isinstance(ref, str) and ref.startswith(HEADS) and ref not in found:
            found.append(ref)
    return found


def _pull_request_opened(session: Session, event: Event) -> None:
    body = events.payload(event).get("pullRequest")
    local_id = body.get("id") if isinstance(body, dict) else None
    if event.repository_id is None or not isinstance(local_id, int):
        return
    pr = session.scalar(select(PullRequest).where(PullRequest.repository_id == event.repository_id,
                                                  PullRequest.local_id == local_id))
    source = session.get(Repository, pr.from_repository_id) if pr is not None else None
    if pr is None or source is None or pr.state != "OPEN" or pr.from_ref == source.default_branch:
        return
    branch_changed(session, source, pr.from_ref, user_id=event.actor_id)


def handle(session: Session, event: Event) -> None:
    if event.kind == PR_OPENED:
        _pull_request_opened(session, event)
        return
    repo = session.get(Repository, event.repository_id) if event.repository_id else None
    if repo is None:
        return
    refs = _refs(events.payload(event))
    # The default branch first: specs it brings may link the plans the other branches build.
    for ref in sorted(refs, key=lambda r: r != repo.default_branch):
        branch_changed(session, repo, ref, user_id=event.actor_id)


def process_next(session: Session) -> int | None:
    """Handle the consumer's next event and move its offset past it, in the caller's transaction."""
    if not claim(session, CONSUMER):
        return None
    pending = events.read_after(session, CONSUMER, 1, kinds=KINDS)
    if not pending:
        return None
    event = pending[0]
    try:
        with session.begin_nested():
            handle(session, event)
    except Exception:
        failures = _failures[event.id] = _failures.get(event.id, 0) + 1
        if failures < MAX_ATTEMPTS:
            raise  # rolled back with the offset: handled again at the next run
        log.exception("Bamboo triggers gave up on event %s after %s attempts", event.id, failures)
    _failures.pop(event.id, None)
    events.ack(session, CONSUMER, event.id)
    return event.id


def run_once(session_scope: Callable[[], AbstractContextManager[Session]], max_events: int = 500) -> int:
    handled = 0
    while handled < max_events:
        with session_scope() as session:
            done = process_next(session)
        if done is None:
            break
        handled += 1
    return handled


# -- the background worker --------------------------------------------------------------------------
class Worker(PeriodicWorker):
    """One thread per server process: runs the consumer when woken and every `interval` seconds (a failing
    event is rolled back and retried at the next poll)."""

    def __init__(self, run: Callable[[], int], interval: float = POLL_SECONDS) -> None:
        super().__init__(run, interval, name="culm-bamboo-triggers", wakeup=_wakeup, logger=log,
                         failure="Bamboo triggers failed; retrying later")


def start(settings: Any) -> Callable[[], None]:
    """Start this process's trigger worker and cron scheduler (unless `bamboo_triggers` is off); returns
    what stops them (the app lifespan's hook)."""
    if not getattr(settings, "bamboo_triggers", True):
        return lambda: None
    from culm.core.db import session_scope
    from culm.domain.bamboo import cron

    worker = Worker(lambda: run_once(session_scope), getattr(settings, "bamboo_triggers_interval", POLL_SECONDS))
    scheduler = cron.Scheduler(lambda: cron.tick(session_scope))
    worker.start()
    scheduler.start()

    def stop() -> None:
        worker.stop()
        scheduler.stop()

    return stop


# -- remote change detection ------------------------------------------------------------------------
def change_detection(session: Session, plan: BambooPlan, *, user_id: int | None,
                     skip_branches: bool = False) -> list[BambooResult]:
    """What the remote trigger asks for: build `plan` (and, unless `skip_branches` or `plan` is itself a
    branch, its plan branches) where the repository branch's tip differs from the latest build's revision."""
    master = session.get(BambooPlan, plan.master_id) if plan.master_id else plan
    repo = session.get(Repository, master.repository_id) if master and master.repository_id else None
    if repo is None:
        return []
    targets = [plan] if plan.master_id or skip_branches else [plan, *plan_branches.branches_of(session, plan)]
    queued = []
    for target in targets:
        ref = HEADS + target.branch_name if target.master_id and target.branch_name else repo.default_branch
        tip = storage.resolve_ref(repo.id, ref)
        if tip is not None:
            queued.append(build_if_changed(session, target, tip, ref.removeprefix(HEADS), user_id=user_id))
    return [r for r in queued if r is not None]
