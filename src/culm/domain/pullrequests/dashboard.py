"""The caller's pull requests across repositories: the dashboard, its "create a pull request"
suggestions (branches the caller pushed lately), and the inbox (reviews waiting for the caller).

Every query is filtered in the database to pull requests whose target repository the caller can
read (`visibility.repo_condition`), and paged there (limit+1), never loaded whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.orm import Session

from culm.core.errors import AuthenticationRequired, ValidationError
from culm.domain.base import now_ms
from culm.domain.events import service as events
from culm.domain.events.models import Event
from culm.domain.permissions import levels as L
from culm.domain.permissions import visibility
from culm.domain.permissions.service import Principal
from culm.domain.projects.models import Project
from culm.domain.pullrequests.models import ROLES, STATES, STATUSES, PullRequest
from culm.domain.pullrequests.models import Participant as P
from culm.domain.pullrequests.queries import no_nul
from culm.domain.repos.models import Repository
from culm.domain.users import service as users
from culm.domain.users.models import User
from culm.git import storage

ORDERS = ("NEWEST", "OLDEST", "PARTICIPANT_STATUS", "CLOSED_DATE", "DRAFT_STATUS")
INBOX_ROLES = ("REVIEWER", "AUTHOR", "PARTICIPANT")
REFS_CHANGED = "repo:refs_changed"
# `changesSince` when absent: suggestions from the last 48 hours; at most this many events are read.
DEFAULT_CHANGES_SINCE = 172800
MAX_SUGGESTION_EVENTS = 500
SUGGESTION_WINDOW = 50000
# Branches looked at in git per call (a push of many branches must not make one call expensive).
MAX_SUGGESTION_CHECKS = 100
DEFAULT_SUGGESTIONS = 3


def _user(who: Principal) -> User:
    if who.user is None:
        raise AuthenticationRequired("Authentication required.")
    return who.user


def _seconds(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    if not value.isdigit() or len(value) > 12:
        raise ValidationError(f"'{raw}' is not a valid value for '{name}'; give a number of seconds.", context=name)
    return int(value)


def _choices(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> list[str]:
    """A comma separated list of enum values (case-insensitive); unknown values are a 400."""
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return []
    found = []
    for part in raw.split(","):
        value = part.strip().upper()
        if value not in allowed:
            raise ValidationError(f"'{part.strip()}' is not a valid value for '{name}'; valid values are "
                                  f"{', '.join(allowed)}.", context=name)
        if value not in found:
            found.append(value)
    return found


def _visible(session: Session, who: Principal) -> Any:
    """Pull requests whose target repository the caller can read."""
    return exists(select(Repository.id).join(Project, Project.id == Repository.project_id).where(
        Repository.id == PullRequest.repository_id, visibility.repo_condition(session, who, L.READ),
    ).correlate(PullRequest))


def dashboard_statement(session: Session, who: Principal, params: Mapping[str, str]) -> Select:
    """`GET /dashboard/pull-requests`: pull requests the user (default: the caller) takes part in."""
    _user(who)
    no_nul(params)
    states = _choices(params, "state", STATES)
    roles = _choices(params, "role", ROLES)
    statuses = _choices(params, "participantStatus", STATUSES)
    orders = _choices(params, "order", ORDERS) or ["NEWEST"]
    closed_since = _seconds(params, "closedSince")
    name = (params.get("user") or "").strip()
    subject = who.user
    if name:
        subject = users.get_user_by_name(session, name) or users.get_user_by_slug(session, name)
    subject_id = subject.id if subject is not None else -1
    mine = select(P.id).where(P.pull_request_id == PullRequest.id, P.user_id == subject_id)
    if roles:
        mine = mine.where(P.role.in_(roles))
    if statuses:
        mine = mine.where(P.status.in_(statuses))
    stmt = select(PullRequest).where(exists(mine.correlate(PullRequest)), _visible(session, who))
    if states:
        stmt = stmt.where(PullRequest.state.in_(states))
    if closed_since is not None:
        stmt = stmt.where(PullRequest.closed_date >= now_ms() - closed_since * 1000)
    return stmt.order_by(*_ordering(orders, subject_id))


def _ordering(orders: list[str], subject_id: int) -> list[Any]:
    keys: list[Any] = []
    for order in orders:
        if order == "OLDEST":
            keys.append(PullRequest.created_date)
        elif order == "NEWEST":
            keys.append(PullRequest.updated_date.desc())
        elif order == "DRAFT_STATUS":
            keys.append(case((PullRequest.draft.is_(True), 1), else_=0))
        elif order == "CLOSED_DATE":
            # Open pull requests first, then the most recently closed.
            keys.extend([case((PullRequest.closed_date.is_(None), 0), else_=1), PullRequest.closed_date.desc()])
        elif order == "PARTICIPANT_STATUS":
            status = (select(P.status).where(P.pull_request_id == PullRequest.id, P.user_id == subject_id)
                      .correlate(PullRequest).limit(1).scalar_subquery())
            keys.append(case((status == "UNAPPROVED", 0), (status == "NEEDS_WORK", 1), else_=2))
    keys.append(PullRequest.id.desc())
    return keys


def inbox_statement(session: Session, who: Principal, params: Mapping[str, str]) -> Select:
    """`GET /inbox/pull-requests`: OPEN pull requests waiting for the caller. `role=reviewer` (default):
    the caller reviews and has not approved; `author`: the caller's own; `participant`: others."""
    user = _user(who)
    no_nul(params)
    raw = (params.get("role") or "reviewer").strip()
    role = raw.upper()
    if role not in INBOX_ROLES:
        raise ValidationError(f"'{raw}' is not a valid value for 'role'; valid values are "
                              f"{', '.join(INBOX_ROLES)}.", context="role")
    mine = select(P.id).where(P.pull_request_id == PullRequest.id, P.user_id == user.id, P.role == role)
    if role == "REVIEWER":
        mine = mine.where(P.status != "APPROVED")
    return (select(PullRequest).where(PullRequest.state == "OPEN", exists(mine.correlate(PullRequest)),
                                      _visible(session, who))
            .order_by(PullRequest.updated_date.desc(), PullRequest.id.desc()))


def inbox_count(session: Session, who: Principal) -> int:
    stmt = inbox_statement(session, who, {})
    return int(session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)


@dataclass(frozen=True)
class Suggestion:
    repository: Repository
    ref: str
    from_hash: str
    to_hash: str
    change_type: str
    change_time: int  # epoch ms
    target_ref: str | None


def suggestions(session: Session, who: Principal, params: Mapping[str, str]) -> list[Suggestion]:
    """Branches the caller pushed within `changesSince` seconds that still point where the push left
    them, have no open pull request, are not the default branch, and whose repository the caller can
    still read; newest first, at most `limit`."""
    user = _user(who)
    no_nul(params)
    since = _seconds(params, "changesSince")
    since = DEFAULT_CHANGES_SINCE if since is None else since
    limit = _seconds(params, "limit")
    limit = DEFAULT_SUGGESTIONS if limit is None else limit
    if limit < 1:
        raise ValidationError("'limit' must be at least 1.", context="limit")
    limit = min(limit, 100)
    # Only the newest part of the outbox is looked at (a primary key range), however large it grows.
    newest = session.scalar(select(func.max(Event.id))) or 0
    rows = session.scalars(select(Event).where(
        Event.id > newest - SUGGESTION_WINDOW, Event.kind == REFS_CHANGED, Event.actor_id == user.id,
        Event.repository_id.is_not(None), Event.created_date >= now_ms() - since * 1000,
    ).order_by(Event.id.desc()).limit(MAX_SUGGESTION_EVENTS))
    found: list[Suggestion] = []
    seen: set[tuple[int, str]] = set()
    readable: dict[int, Repository | None] = {}
    checks = 0
    for event in rows:
        repo_id = int(event.repository_id or 0)
        for change in reversed(events.payload(event).get("changes") or []):
            ref = change.get("refId") if isinstance(change, dict) else None
            if not isinstance(ref, str) or not ref.startswith("refs/heads/") or (repo_id, ref) in seen:
                continue
            seen.add((repo_id, ref))
            if change.get("type") not in ("ADD", "UPDATE"):
                continue
            if repo_id not in readable:
                repo = session.get(Repository, repo_id)
                readable[repo_id] = repo if repo is not None and who.repo_level(session, repo) >= L.READ else None
            repo = readable[repo_id]
            if repo is None or ref == repo.default_branch:
                continue
            checks += 1
            if checks > MAX_SUGGESTION_CHECKS:
                return found
            if storage.resolve_ref(repo.id, ref) != change.get("toHash"):
                continue
            if session.scalar(select(PullRequest.id).where(PullRequest.state == "OPEN",
                                                           PullRequest.from_repository_id == repo.id,
                                                           PullRequest.from_ref == ref).limit(1)):
                continue
            found.append(Suggestion(repo, ref, str(change.get("fromHash")), str(change.get("toHash")),
                                    str(change.get("type")), event.created_date, repo.default_branch))
            if len(found) >= limit:
                return found
    return found
