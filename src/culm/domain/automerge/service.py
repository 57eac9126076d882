"""Auto-merge: a pull request that cannot be merged yet only because of merge checks that may still pass
(builds running, approvals missing, tasks open…) is merged by the server, as the user who asked, as soon
as they pass — through the same path as `POST {PR}/merge` (checks, `merge_into` with compare-and-swap,
MERGED state, `pr:merged`). A push to the source branch cancels the request, as Bitbucket does.

Execution: events mark a request `due` (`triggers`); the rescoping worker then runs `run_due`, which
takes one due request at a time with its row locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's
write lock otherwise) in its own transaction, so with several server processes a request executes at
most once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.core.errors import CulmError, Forbidden, PullRequestMergeVetoed, ValidationError
from culm.domain.automerge.models import AutoMergeRequest
from culm.domain.base import now_ms
from culm.domain.mergechecks import checks
from culm.domain.mergechecks import merge as merging
from culm.domain.merging import settings as merge_settings
from culm.domain.merging.models import RepoPullRequestSettings
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, deny
from culm.domain.pullrequests.activities import View
from culm.domain.pullrequests.models import PullRequest
from culm.domain.pullrequests.refs import not_archived
from culm.domain.pullrequests.review import caller
from culm.domain.repos.models import Repository
from culm.domain.users.models import User

log = logging.getLogger(__name__)

DISABLED = "Auto-merge is not enabled for this repository."


@dataclass(frozen=True)
class Outcome:
    """RestAutoMergeProcessingResult: what happened, and the pull request afterwards."""

    status: str  # MERGED | VETOED | CANCELLED | STALE
    pr: PullRequest


# -- the repository setting ------------------------------------------------------------------------
def enabled_setting(session: Session, repo: Repository) -> bool | None:
    """The repository's own setting (None: not set, the default — off — applies)."""
    row = session.get(RepoPullRequestSettings, repo.id)
    return row.auto_merge_enabled if row is not None else None


def is_enabled(session: Session, repo: Repository) -> bool:
    return bool(enabled_setting(session, repo))


def set_enabled(session: Session, repo: Repository, body: Any) -> None:
    """PUT `{R}/settings/auto-merge` `{"enabled": bool}`; `None` (DELETE) goes back to the default."""
    if body is None:
        value = None
    else:
        value = body.get("enabled") if isinstance(body, dict) else None
        if not isinstance(value, bool):
            raise ValidationError("The 'enabled' field must be true or false.", context="enabled")
    row = session.get(RepoPullRequestSettings, repo.id)
    if row is None:
        if value is None:
            return
        row = RepoPullRequestSettings(repository_id=repo.id, required_all_approvers=False,
                                      required_all_tasks_complete=False, required_approvers=0,
                                      required_successful_builds=0, required_no_needs_work=False)
        session.add(row)
    row.auto_merge_enabled = value
    session.flush()


# -- requests --------------------------------------------------------------------------------------
def current(session: Session, pr: PullRequest, lock: bool = False) -> AutoMergeRequest | None:
    """The pending request of an OPEN pull request (a closed one has none)."""
    if pr.state != "OPEN":
        return None
    query = select(AutoMergeRequest).where(AutoMergeRequest.pull_request_id == pr.id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def request_json(row: AutoMergeRequest) -> dict[str, Any]:
    """RestAutoMergeRequest."""
    out: dict[str, Any] = {"autoSubject": row.auto_subject, "createdDate": row.created_date,
                           "fromHash": row.from_hash, "toRefId": row.to_ref}
    if row.message is not None:
        out["message"] = row.message
    if row.strategy is not None:
        out["strategyId"] = row.strategy
    return out


def _body(row: AutoMergeRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"autoSubject": row.auto_subject}
    if row.message is not None:
        body["message"] = row.message
    if row.strategy is not None:
        body["strategyId"] = row.strategy
    return body


def request(session: Session, view: View, who: Principal, pr: PullRequest, repo: Repository,
            body: dict[str, Any]) -> Outcome:
    """POST {PR}/auto-merge: merge now when nothing blocks (MERGED); otherwise, when only merge checks that
    may still pass block it, remember the request (replacing an earlier one) and answer VETOED. A conflict,
    or a strategy that cannot apply, cannot pass by waiting: no request is kept (CANCELLED)."""
    user = caller(who)
    if who.repo_level(session, repo) < L.WRITE:
        raise deny(who)
    not_archived(repo)
    merging.require_open(pr)
    if not is_enabled(session, repo):
        raise Forbidden(DISABLED)
    message, requested, auto_subject = merging._options(body)
    strategy = merge_settings.strategy_for(session, repo, requested)
    git = checks.git_check(session, repo, pr, strategy)
    if git.conflicted or git.vetoes:
        cancel(session, pr)
        return Outcome("CANCELLED", pr)
    if not checks.vetoes(session, repo, pr):
        cancel(session, pr)
        return Outcome("MERGED", merging.merge(session, view, who, pr, repo, pr.version, body))
    row = current(session, pr, lock=True)
    if row is None:
        row = AutoMergeRequest(pull_request_id=pr.id)
        session.add(row)
    row.user_id, row.from_hash, row.to_ref = user.id, pr.from_commit, pr.to_ref
    row.strategy, row.message, row.auto_subject = requested, message, auto_subject
    row.created_date, row.due = now_ms(), False
    session.flush()
    return Outcome("VETOED", pr)


def cancel(session: Session, pr: PullRequest) -> bool:
    """Forget the pull request's request; True when there was one."""
    row = session.get(AutoMergeRequest, pr.id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def cancel_by(session: Session, who: Principal, pr: PullRequest, repo: Repository) -> None:
    """DELETE {PR}/auto-merge (REPO_WRITE; 409 when the pull request is not open)."""
    caller(who)
    if who.repo_level(session, repo) < L.WRITE:
        raise deny(who)
    merging.require_open(pr)
    cancel(session, pr)


# -- execution -------------------------------------------------------------------------------------
def execute(session: Session, view: View, row: AutoMergeRequest) -> str:
    """Try one request now (its row locked by the caller): MERGED, VETOED (stays pending), CANCELLED
    (the pull request closed, or the requester may no longer merge) or STALE (the source moved)."""
    row.due = False
    query = select(PullRequest).where(PullRequest.id == row.pull_request_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    pr = session.scalar(query)
    repo = session.get(Repository, pr.repository_id) if pr is not None else None
    user = session.get(User, row.user_id)
    if pr is None or repo is None or user is None or pr.state != "OPEN":
        session.delete(row)
        return "CANCELLED"
    if pr.from_commit != row.from_hash:
        session.delete(row)
        return "STALE"
    if not user.active:
        session.delete(row)
        return "CANCELLED"
    who = Principal(user=user)
    try:
        with session.begin_nested():
            merging.merge(session, view, who, pr, repo, pr.version, _body(row))
    except PullRequestMergeVetoed:
        session.flush()
        return "VETOED"
    except CulmError as refused:  # lost permission, archived, strategy disabled…: the request ends
        log.info("auto-merge of pull request %s cancelled: %s", pr.id, refused.message)
        session.delete(row)
        return "CANCELLED"
    session.delete(row)
    session.flush()
    return "MERGED"


def process_next(session: Session, view: View) -> bool:
    """Take one due request (skipping those another node holds) and try it; False when none is due."""
    query = select(AutoMergeRequest).where(AutoMergeRequest.due.is_(True)).order_by(
        AutoMergeRequest.pull_request_id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = session.scalar(query.execution_options(populate_existing=True))
    if row is None:
        return False
    execute(session, view, row)
    return True


def run_due(session_scope: Callable[[], AbstractContextManager[Session]],
            view_for: Callable[[Session], View], max_requests: int = 100) -> int:
    """Try every due request, one transaction each (the worker's job after rescoping)."""
    done = 0
    while done < max_requests:
        with session_scope() as session:
            if not process_next(session, view_for(session)):
                break
        done += 1
    return done
