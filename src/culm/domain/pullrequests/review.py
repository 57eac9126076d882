"""Reviewers and participants: who reviews, and each one's status (approve, needs work, unapprove)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.core.errors import (
    AuthenticationRequired,
    IllegalPullRequestState,
    InvalidPullRequestParticipant,
    InvalidPullRequestReviewers,
    NoSuchUser,
    PullRequestOutOfDate,
    ValidationError,
)
from culm.domain.base import now_ms
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, deny
from culm.domain.pullrequests.activities import View, emit, record_activity
from culm.domain.pullrequests.models import STATUSES, Participant, PullRequest, Watcher
from culm.domain.pullrequests.refs import not_archived
from culm.domain.repos.models import Repository
from culm.domain.users import service as users
from culm.domain.users.models import User

STATUS_EVENT = {"APPROVED": ("APPROVED", "pr:reviewer:approved"),
                "NEEDS_WORK": ("REVIEWED", "pr:reviewer:needs_work"),
                "UNAPPROVED": ("UNAPPROVED", "pr:reviewer:unapproved")}


def caller(who: Principal) -> User:
    if who.user is None:
        raise AuthenticationRequired("Authentication required.")
    return who.user


def reviewer_ids(session: Session, pr: PullRequest) -> list[int]:
    return list(session.scalars(select(Participant.user_id).where(Participant.pull_request_id == pr.id,
                                                                  Participant.role == "REVIEWER")))


def participant(session: Session, pr: PullRequest, user_id: int) -> Participant | None:
    return session.scalar(select(Participant).where(Participant.pull_request_id == pr.id,
                                                    Participant.user_id == user_id))


def _named(entry: Any) -> str | None:
    user = entry.get("user") if isinstance(entry, dict) else None
    if isinstance(user, dict):
        name = user.get("name") or user.get("slug")
        return name if isinstance(name, str) and name.strip() else None
    return None


def _resolve_reviewers(session: Session, pr: PullRequest, target: Repository, entries: list[Any],
                       view: View | None = None) -> list[User]:
    """Every named reviewer must exist, not be the author, and be able to read the target repository;
    otherwise 409 InvalidPullRequestReviewersException listing each problem (as Bitbucket)."""
    found: list[User] = []
    errors: list[dict[str, Any]] = []
    for entry in entries:
        name = _named(entry)
        if name is None:
            errors.append({"context": None, "message": "A reviewer must be given as {\"user\": {\"name\": ...}}."})
            continue
        user = users.get_user_by_name(session, name) or users.get_user_by_slug(session, name)
        if user is None or not user.active:
            errors.append({"context": name, "message": f"{name} is not a user."})
        elif user.id == pr.author_id:
            errors.append({"context": name, "message": f"{name} is the author and cannot be included as a reviewer."})
        elif Principal(user=user).repo_level(session, target) < L.READ:
            errors.append({"context": name, "message": f"{name} does not have permission to view this pull "
                                                       "request."})
        elif user not in found:
            found.append(user)
    if errors:
        raise InvalidPullRequestReviewers("Errors encountered while adding some reviewers to this pull request.",
                                          reviewerErrors=errors,
                                          validReviewers=[view.user(u) for u in found] if view else [])
    return found


def set_reviewers(session: Session, pr: PullRequest, target: Repository, entries: list[Any], actor: User,
                  *, replace: bool = False, view: View | None = None) -> tuple[list[int], list[int]]:
    """Make the reviewers exactly `entries` (replace) or add them; returns (added, removed) user ids."""
    wanted = _resolve_reviewers(session, pr, target, entries, view)
    wanted_ids = [u.id for u in wanted]
    current = {p.user_id: p for p in session.scalars(select(Participant).where(Participant.pull_request_id == pr.id))}
    added: list[int] = []
    for uid in wanted_ids:
        row = current.get(uid)
        if row is None:
            session.add(Participant(pull_request_id=pr.id, user_id=uid, role="REVIEWER", status="UNAPPROVED"))
            added.append(uid)
        elif row.role == "PARTICIPANT":
            row.role = "REVIEWER"
            added.append(uid)
    removed: list[int] = []
    if replace:
        for uid, row in current.items():
            if row.role == "REVIEWER" and uid not in wanted_ids:
                _demote(session, row)
                removed.append(uid)
    session.flush()
    return added, removed


def _demote(session: Session, row: Participant) -> None:
    """A removed reviewer who already reviewed stays as a participant; otherwise the row goes."""
    if row.status != "UNAPPROVED" or row.last_reviewed_commit:
        row.role = "PARTICIPANT"
    else:
        session.delete(row)


def _require_open(pr: PullRequest) -> None:
    if pr.state != "OPEN":
        raise IllegalPullRequestState(f"This pull request has already been {pr.state.lower()}.")


def _changed_reviewers(session: Session, view: View, pr: PullRequest, actor: User, added: list[int],
                       removed: list[int]) -> None:
    pr.version += 1
    pr.updated_date = now_ms()
    session.flush()
    record_activity(session, pr, "UPDATED", actor.id, {"addedReviewers": added, "removedReviewers": removed})
    by_id = {u.id: u for u in session.scalars(select(User).where(User.id.in_(added + removed)))}
    emit(session, view, "pr:reviewer:updated", pr, actor,
         addedReviewers=[view.user(by_id[i]) for i in added if i in by_id],
         removedReviewers=[view.user(by_id[i]) for i in removed if i in by_id])


def assign(session: Session, view: View, who: Principal, pr: PullRequest, target: Repository,
           body: dict) -> Participant:
    """POST participants `{user: {name}, role}`: REVIEWER adds a reviewer, PARTICIPANT demotes one."""
    actor = caller(who)
    role = body.get("role")
    name = _named(body)
    if not isinstance(role, str) or name is None:
        raise ValidationError("A user name and a role are required.", context="role" if name else "user")
    role = role.upper()
    if role not in ("REVIEWER", "PARTICIPANT"):
        raise InvalidPullRequestParticipant(f"The role '{body.get('role')}' cannot be assigned.", context="role")
    if pr.author_id != actor.id and who.repo_level(session, target) < L.WRITE:
        raise deny(who)
    _require_open(pr)
    not_archived(target)
    user = users.get_user_by_name(session, name) or users.get_user_by_slug(session, name)
    if user is None:
        raise NoSuchUser(f"User {name} does not exist.")
    if user.id == pr.author_id:
        raise InvalidPullRequestParticipant("The author of a pull request cannot be given another role.",
                                            context="user")
    row = participant(session, pr, user.id)
    if role == "REVIEWER":
        added, _ = set_reviewers(session, pr, target, [{"user": {"name": user.name}}], actor)
        if added:
            if session.get(Watcher, (pr.id, user.id)) is None:
                session.add(Watcher(pull_request_id=pr.id, user_id=user.id))
            _changed_reviewers(session, view, pr, actor, added, [])
    else:
        if row is None:
            if Principal(user=user).repo_level(session, target) < L.READ:
                raise InvalidPullRequestReviewers(f"{name} does not have permission to view this pull request.",
                                                  reviewerErrors=[], validReviewers=[])
            session.add(Participant(pull_request_id=pr.id, user_id=user.id, role="PARTICIPANT"))
        elif row.role == "REVIEWER":
            row.role = "PARTICIPANT"
            session.flush()
            _changed_reviewers(session, view, pr, actor, [], [user.id])
        session.flush()
    result = participant(session, pr, user.id)
    assert result is not None
    return result


def unassign(session: Session, view: View, who: Principal, pr: PullRequest, target: Repository,
             name: str | None) -> None:
    """DELETE participants/{userSlug}: remove a reviewer (the author, writers, or the reviewer themself)."""
    actor = caller(who)
    if not name:
        raise ValidationError("The user name is required.", context="username")
    user = users.get_user_by_slug(session, name) or users.get_user_by_name(session, name)
    if user is None:
        raise NoSuchUser(f"User {name} does not exist.")
    if pr.author_id != actor.id and user.id != actor.id and who.repo_level(session, target) < L.WRITE:
        raise deny(who)
    if user.id == pr.author_id:
        raise InvalidPullRequestParticipant("The author of a pull request cannot be removed.", context="username")
    _require_open(pr)
    not_archived(target)
    row = participant(session, pr, user.id)
    if row is None or row.role != "REVIEWER":
        return
    _demote(session, row)
    session.flush()
    _changed_reviewers(session, view, pr, actor, [], [user.id])


def set_status(session: Session, view: View, who: Principal, pr: PullRequest, slug: str | None,
               body: dict) -> Participant:
    """PUT participants/{userSlug} (and the deprecated approve endpoints): the caller's own review status."""
    actor = caller(who)
    if slug is not None and slug.lower() not in (actor.slug.lower(), actor.name.lower()):
        raise deny(who)
    status = body.get("status")
    if status is None and "approved" in body:
        status = "APPROVED" if body.get("approved") is True else "UNAPPROVED"
    if not isinstance(status, str) or status.upper() not in STATUSES:
        raise ValidationError(f"'{status}' is not a valid status; valid statuses are {', '.join(STATUSES)}.",
                              context="status")
    status = status.upper()
    if pr.author_id == actor.id:
        raise InvalidPullRequestParticipant("The author of a pull request cannot approve it or request changes.",
                                            context="status")
    _require_open(pr)
    last = body.get("lastReviewedCommit")
    if last is not None and (not isinstance(last, str) or last != pr.from_commit):
        raise PullRequestOutOfDate("The pull request has been updated since the last reviewed commit "
                                   f"'{last}'.", context="lastReviewedCommit")
    row = participant(session, pr, actor.id)
    if row is None:
        row = Participant(pull_request_id=pr.id, user_id=actor.id, role="PARTICIPANT", status="UNAPPROVED")
        session.add(row)
    previous = row.status
    row.status = status
    if last is not None or status != "UNAPPROVED":
        row.last_reviewed_commit = last or pr.from_commit
    session.flush()
    if previous != status:
        action, kind = STATUS_EVENT[status]
        record_activity(session, pr, action, actor.id)
        emit(session, view, kind, pr, actor, participant=view.participant(row), previousStatus=previous)
    return row


def withdraw(session: Session, view: View, who: Principal, pr: PullRequest) -> Participant:
    """DELETE approve: 404 unless the caller already takes part."""
    actor = caller(who)
    if participant(session, pr, actor.id) is None:
        raise NoSuchUser(f"{actor.name} is not a participant of this pull request.")
    return set_status(session, view, who, pr, None, {"status": "UNAPPROVED"})
