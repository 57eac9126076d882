"""Opening, editing, declining, reopening and deleting pull requests, and watching them.

Every change bumps `version` (optimistic locking: a stale `version` is a 409), adds to the activity
stream and records a `pr:*` event in the outbox, all in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from culm.core.errors import (
    DuplicatePullRequest,
    EmptyPullRequest,
    IllegalPullRequestState,
    InvalidPullRequestTarget,
    NoSuchBranch,
    PullRequestOutOfDate,
    ValidationError,
)
from culm.domain.base import now_ms
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, deny
from culm.domain.pullrequests import refs
from culm.domain.pullrequests.activities import View, emit, record_activity
from culm.domain.pullrequests.models import Activity, Counter, Participant, PullRequest, Watcher
from culm.domain.pullrequests.refs import not_archived
from culm.domain.pullrequests.review import caller, reviewer_ids, set_reviewers
from culm.domain.pushes import service as pushes
from culm.domain.repos.models import Repository
from culm.domain.reviewers.service import default_reviewers
from culm.domain.users.models import User
from culm.git import pullrequests as gitpr

OUT_OF_DATE = "You are attempting to modify a pull request based on out-of-date information."


def check_version(pr: PullRequest, version: Any, view: View | None = None, *, required: bool = False,
                  missing_is_stale: bool = False) -> None:
    """`version` from the body or `?version=` must be the current one: 409 with Bitbucket's
    `currentVersion`, `expectedVersion` and `pullRequest` otherwise. A missing version is a 400 when
    `required`, counts as -1 (Bitbucket's default, hence stale) when `missing_is_stale`, else passes."""
    if version is None or version == "":
        if required:
            raise ValidationError("The pull request's version must be specified.", context="version")
        if not missing_is_stale:
            return
        version = -1
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise ValidationError(f"'{version}' is not a valid version.", context="version") from None
    if number != pr.version:
        extra: dict[str, Any] = {"currentVersion": pr.version, "expectedVersion": number}
        if view is not None:
            extra["pullRequest"] = view.pull_request(pr)
        raise PullRequestOutOfDate(OUT_OF_DATE, **extra)


def _text(body: dict, field: str, *, required: bool, limit: int | None = None) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise ValidationError(f"The pull request {field} is required.", context=field)
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise ValidationError(f"'{field}' must be a string without NUL characters.", context=field)
    if required and not value.strip():
        raise ValidationError(f"The pull request {field} is required.", context=field)
    if limit is not None and len(value) > limit:
        raise ValidationError(f"The pull request {field} must be at most {limit} characters.", context=field)
    return value


def _draft(body: dict, current: bool) -> bool:
    value = body.get("draft", current)
    if value is None:
        return current
    if not isinstance(value, bool):
        raise ValidationError("'draft' must be true or false.", context="draft")
    return value


def _open_duplicate(session: Session, source: refs.End, target: refs.End, exclude: int | None = None
                    ) -> PullRequest | None:
    stmt = select(PullRequest).where(
        PullRequest.state == "OPEN", PullRequest.repository_id == target.repo.id, PullRequest.to_ref == target.ref,
        PullRequest.from_repository_id == source.repo.id, PullRequest.from_ref == source.ref)
    if exclude is not None:
        stmt = stmt.where(PullRequest.id != exclude)
    return session.scalar(stmt.limit(1))


def _check_ends(session: Session, view: View, source: refs.End, target: refs.End,
                exclude: int | None = None) -> None:
    """Bitbucket's rules for the two ends: distinct, something to merge, no other open pull request."""
    if source.repo.id == target.repo.id and source.ref == target.ref:
        raise InvalidPullRequestTarget("The source and target refs of a pull request must be different.",
                                       context="toRef")
    existing = _open_duplicate(session, source, target, exclude)
    if existing is not None:
        raise DuplicatePullRequest("Only one pull request may be open for a given source and target branch",
                                   existingPullRequest=view.pull_request(existing))
    if gitpr.already_merged((target.repo.id, source.repo.id), source.commit, target.commit):
        raise EmptyPullRequest(
            f"Pull request cannot be created because the source branch '{source.ref}' is already up-to-date "
            f"with the target branch '{target.ref}'.")


def can_edit(session: Session, who: Principal, pr: PullRequest, target: Repository) -> bool:
    """The author, and anyone who can write to the target repository."""
    return who.user is not None and (pr.author_id == who.user.id or who.repo_level(session, target) >= L.WRITE)


def _can_close(session: Session, who: Principal, pr: PullRequest, target: Repository) -> bool:
    """Decline/reopen: the author, the reviewers, and repository writers."""
    if can_edit(session, who, pr, target):
        return True
    return who.user is not None and who.user.id in reviewer_ids(session, pr)


def _touch(pr: PullRequest) -> None:
    pr.version += 1
    pr.updated_date = now_ms()


def _next_id(session: Session, target: Repository) -> int:
    """The next id in the target repository (call holding `lock_repo`, which serialises it)."""
    counter = session.get(Counter, target.id)
    if counter is None:
        counter = Counter(repository_id=target.id, last_id=0)
        session.add(counter)
    counter.last_id += 1
    session.flush()
    return counter.last_id


def create(session: Session, view: View, who: Principal, target: Repository, body: dict) -> PullRequest:
    user = caller(who)
    not_archived(target)
    title = _text(body, "title", required=True, limit=255)
    description = _text(body, "description", required=False)
    draft = _draft(body, False)
    to_end = refs.target_end(session, target, body.get("toRef"))
    from_end = refs.source_end(session, who, target, body.get("fromRef"))
    reviewers = body.get("reviewers") or []
    if not isinstance(reviewers, list):
        raise ValidationError("'reviewers' must be a list of {\"user\": {\"name\": ...}}.", context="reviewers")
    pushes.lock_repo(session, target.id)  # serialises numbering and the duplicate check per repository
    _check_ends(session, view, from_end, to_end)
    number = _next_id(session, target)
    now = now_ms()
    pr = PullRequest(repository_id=target.id, local_id=number, version=0, title=title.strip() if title else "",
                     description=description or None, state="OPEN", draft=draft, locked=False,
                     from_repository_id=from_end.repo.id, from_ref=from_end.ref, from_commit=from_end.commit,
                     to_ref=to_end.ref, to_commit=to_end.commit, author_id=user.id, created_date=now,
                     updated_date=now)
    session.add(pr)
    session.flush()
    session.add(Participant(pull_request_id=pr.id, user_id=user.id, role="AUTHOR", status="UNAPPROVED"))
    session.flush()
    set_reviewers(session, pr, target, reviewers, user, view=view)
    _add_default_reviewers(session, pr, target, user)
    for uid in {user.id, *reviewer_ids(session, pr)}:
        session.add(Watcher(pull_request_id=pr.id, user_id=uid))
    record_activity(session, pr, "OPENED", user.id)
    session.flush()
    emit(session, view, "pr:opened", pr, user)
    return pr


def _add_default_reviewers(session: Session, pr: PullRequest, target: Repository, author: User) -> None:
    """The default reviewers of every matching condition join the new pull request (never its author,
    nor anyone who cannot read the target repository), as Bitbucket does on creation."""
    present = {p.user_id for p in session.scalars(select(Participant).where(Participant.pull_request_id == pr.id))}
    for reviewer in default_reviewers(session, target, pr.from_ref, pr.to_ref):
        if reviewer.id == author.id or reviewer.id in present or not reviewer.active:
            continue
        if Principal(user=reviewer).repo_level(session, target) < L.READ:
            continue
        session.add(Participant(pull_request_id=pr.id, user_id=reviewer.id, role="REVIEWER", status="UNAPPROVED"))
        present.add(reviewer.id)
    session.flush()


def update(session: Session, view: View, who: Principal, pr: PullRequest, target: Repository,
           body: dict) -> PullRequest:
    """PUT: title, description, reviewers, toRef (retarget) and draft, guarded by `version`."""
    user = caller(who)
    if not can_edit(session, who, pr, target):
        raise deny(who)
    not_archived(target)
    check_version(pr, body.get("version"), view, required=True)
    if pr.state != "OPEN":
        raise IllegalPullRequestState(f"This pull request is {pr.state.lower()}; only open pull requests can be "
                                      "updated.")
    previous = {"title": pr.title, "description": pr.description, "draft": pr.draft, "to_ref": pr.to_ref,
                "to_commit": pr.to_commit}
    title = _text(body, "title", required="title" in body, limit=255)
    description = _text(body, "description", required=False)
    draft = _draft(body, pr.draft)
    retarget = None
    if body.get("toRef") is not None:
        to_end = refs.target_end(session, target, body["toRef"])
        if to_end.ref != pr.to_ref:
            source = refs.End(session.get(Repository, pr.from_repository_id), pr.from_ref, pr.from_commit)  # type: ignore[arg-type]
            _check_ends(session, view, source, to_end, exclude=pr.id)
            retarget = to_end
    added: list[int] = []
    removed: list[int] = []
    if "reviewers" in body:
        if not isinstance(body["reviewers"], list):
            raise ValidationError("'reviewers' must be a list of {\"user\": {\"name\": ...}}.", context="reviewers")
        added, removed = set_reviewers(session, pr, target, body["reviewers"], user, replace=True, view=view)
    modified = False
    if title is not None and title.strip() != pr.title:
        pr.title, modified = title.strip(), True
    if "description" in body and (description or None) != pr.description:
        pr.description, modified = description or None, True
    if draft != pr.draft:
        pr.draft, modified = draft, True
    if retarget is not None:
        pr.to_ref, pr.to_commit, modified = retarget.ref, retarget.commit, True
    if not (modified or added or removed):
        return pr
    _touch(pr)
    session.flush()
    if added or removed:
        record_activity(session, pr, "UPDATED", user.id, {"addedReviewers": added, "removedReviewers": removed})
        emit(session, view, "pr:reviewer:updated", pr, user,
             addedReviewers=[view.user(u) for u in _users(session, added)],
             removedReviewers=[view.user(u) for u in _users(session, removed)])
    if modified:
        changes: dict[str, Any] = {}
        if pr.title != previous["title"]:
            changes["previousTitle"] = previous["title"]
        if pr.description != previous["description"]:
            changes["previousDescription"] = previous["description"]
        if pr.draft != previous["draft"]:
            changes["previousDraft"] = previous["draft"]
        if retarget is not None:
            changes["previousToRef"] = _previous_target(str(previous["to_ref"]), str(previous["to_commit"]))
        record_activity(session, pr, "UPDATED", user.id, changes)
    if retarget is not None:
        record_activity(session, pr, "RESCOPED", user.id,
                        {"fromHash": pr.from_commit, "previousFromHash": pr.from_commit, "toHash": pr.to_commit,
                         "previousToHash": previous["to_commit"]})
    if modified:
        emit(session, view, "pr:modified", pr, user, previousTitle=previous["title"],
             previousDescription=previous["description"], previousDraft=previous["draft"],
             previousTarget=_previous_target(str(previous["to_ref"]), str(previous["to_commit"])))
    return pr


def _previous_target(ref: str, commit: str) -> dict[str, Any]:
    """`pr:modified`'s `previousTarget`: the old target branch as a ref without its repository."""
    return {"id": ref, "displayId": ref.removeprefix("refs/heads/"), "type": "BRANCH", "latestCommit": commit,
            "latestChangeset": commit}


def _users(session: Session, ids: list[int]) -> list[Any]:
    from culm.domain.users.models import User

    return list(session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id))) if ids else []


def decline(session: Session, view: View, who: Principal, pr: PullRequest, target: Repository,
            version: Any) -> PullRequest:
    user = caller(who)
    if not _can_close(session, who, pr, target):
        raise deny(who)
    if pr.state != "OPEN":
        raise IllegalPullRequestState(f"This pull request has already been {pr.state.lower()}.")
    check_version(pr, version, view)
    pr.state, pr.closed_date = "DECLINED", now_ms()
    _touch(pr)
    session.flush()
    record_activity(session, pr, "DECLINED", user.id)
    emit(session, view, "pr:declined", pr, user)
    return pr


def reopen(session: Session, view: View, who: Principal, pr: PullRequest, target: Repository,
           version: Any) -> PullRequest:
    """Back to OPEN with both ends re-read; refused while another pull request is open for the same refs."""
    user = caller(who)
    if not _can_close(session, who, pr, target):
        raise deny(who)
    not_archived(target)
    if pr.state != "DECLINED":
        raise IllegalPullRequestState("Only declined pull requests can be reopened; this one is "
                                      f"{pr.state.lower()}.")
    check_version(pr, version, view)
    source_repo = session.get(Repository, pr.from_repository_id)
    assert source_repo is not None
    try:
        source = refs.End(source_repo, pr.from_ref, refs.branch(session, source_repo, pr.from_ref))
        to_end = refs.End(target, pr.to_ref, refs.branch(session, target, pr.to_ref))
    except NoSuchBranch as exc:  # a branch was deleted since
        raise IllegalPullRequestState(f"This pull request cannot be reopened: {exc.message}") from None
    pushes.lock_repo(session, target.id)
    _check_ends(session, view, source, to_end, exclude=pr.id)
    pr.state, pr.closed_date = "OPEN", None
    pr.from_commit, pr.to_commit = source.commit, to_end.commit
    _touch(pr)
    session.flush()
    record_activity(session, pr, "REOPENED", user.id)
    emit(session, view, "pr:reopened", pr, user)
    return pr


def remove(session: Session, view: View, who: Principal, pr: PullRequest, target: Repository,
           version: Any) -> None:
    """DELETE: the author or a repository administrator; the pull request and its history go."""
    user = caller(who)
    if pr.author_id != user.id and who.repo_level(session, target) < L.ADMIN:
        raise deny(who)
    not_archived(target)
    if pr.state == "MERGED":
        raise IllegalPullRequestState("Merged pull requests cannot be deleted.")
    check_version(pr, version, view, missing_is_stale=True)
    emit(session, view, "pr:deleted", pr, user)
    for model in (Activity, Participant, Watcher):
        session.execute(delete(model).where(model.pull_request_id == pr.id))
    session.delete(pr)
    session.flush()


def watch(session: Session, who: Principal, pr: PullRequest, on: bool) -> None:
    user = caller(who)
    row = session.get(Watcher, (pr.id, user.id))
    if on and row is None:
        session.add(Watcher(pull_request_id=pr.id, user_id=user.id))
    elif not on and row is not None:
        session.delete(row)
    session.flush()
