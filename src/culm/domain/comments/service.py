"""Comment rules: who may add, edit, resolve and delete; threads; tasks; optimistic locking; the
COMMENTED activity and the `pr:comment:*` / `repo:comment:*` outbox events, all in the caller's
transaction (nothing half-written: any refusal raises before the first write)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from culm.core.errors import (
    AuthenticationRequired,
    CommentDeletion,
    CommentOutOfDate,
    NoSuchComment,
    PermissionDenied,
    ValidationError,
)
from culm.domain.base import now_ms
from culm.domain.comments import anchors
from culm.domain.comments.models import SEVERITIES, Comment
from culm.domain.events import service as events
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import activities
from culm.domain.pullrequests.models import PullRequest
from culm.domain.repos.models import Repository
from culm.domain.users.models import User

MAX_TEXT = 32 * 1024  # characters, as Bitbucket's comment text limit
TASK_STATES = ("OPEN", "RESOLVED")


class View(activities.View, Protocol):
    """Bitbucket JSON of comments and repositories for events (implemented by the API layer)."""

    def comment(self, comment: Comment) -> dict[str, Any]: ...

    def repository(self, repository_id: int) -> dict[str, Any]: ...

    def anchor(self, comment: Comment) -> dict[str, Any] | None: ...


def caller(who: Principal) -> User:
    if who.user is None:
        raise AuthenticationRequired("Authentication required.")
    return who.user


def _text(body: Mapping[str, Any], required: bool) -> str | None:
    text = body.get("text")
    if text is None and not required:
        return None
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("Please enter a non-empty value", context="text")
    if "\x00" in text:
        raise ValidationError("The comment text must not contain NUL characters.", context="text")
    if len(text) > MAX_TEXT:
        raise ValidationError(f"The comment text must be at most {MAX_TEXT} characters long.", context="text")
    return text


def _choice(body: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or value.upper() not in allowed:
        raise ValidationError(f"'{value}' is not a valid value for '{name}'; valid values are {', '.join(allowed)}.",
                              context=name)
    return value.upper()


def _version(value: Any, required: bool) -> int | None:
    if value is None or value == "":
        if required:
            raise ValidationError("The comment version is required.", context="version")
        return None
    try:
        return int(str(value))
    except ValueError:
        raise ValidationError(f"'{value}' is not a valid version.", context="version") from None


def _stale(comment: Comment, version: int | None) -> None:
    if version is not None and version != comment.version:
        raise CommentOutOfDate("You are attempting to modify a comment based on out-of-date information.")


def _parent_id(body: Mapping[str, Any]) -> int | None:
    parent = body.get("parent")
    if parent is None:
        return None
    raw = parent.get("id") if isinstance(parent, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValidationError("The parent comment must be given as {\"id\": N}.", context="parent")
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"'{raw}' is not a valid comment id.", context="parent") from None


# -- finding ---------------------------------------------------------------------------------------
def parse_id(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1


def viewer_id(who: Principal | None) -> int:
    return who.user.id if who is not None and who.user is not None else -1


def visible(viewer: int) -> Any:
    """Pending comments are seen by their author only."""
    return or_(Comment.state != "PENDING", Comment.author_id == viewer)


def require(session: Session, repo: Repository, comment_id: object, *, pr: PullRequest | None = None,
            commit_id: str | None = None, who: Principal | None = None) -> Comment:
    """The comment `comment_id` of this pull request (or commit): 404 NoSuchCommentException otherwise
    (also for someone else's pending comment)."""
    number = parse_id(comment_id)
    row = session.get(Comment, number) if number > 0 else None
    if row is not None and row.state == "PENDING" and row.author_id != viewer_id(who):
        row = None
    if row is not None and row.repository_id == repo.id and (
            (pr is not None and row.pull_request_id == pr.id)
            or (pr is None and row.pull_request_id is None and row.commit_id == commit_id)):
        return row
    raise NoSuchComment(f"No comment with id {comment_id} exists.")


def replies(session: Session, roots: list[Comment], viewer: int = -1) -> dict[int, list[Comment]]:
    """Every reply below `roots` that `viewer` may see, grouped by parent (one query: threads share their
    root's id)."""
    if not roots:
        return {}
    out: dict[int, list[Comment]] = {}
    stmt = select(Comment).where(Comment.root_id.in_([r.id for r in roots]), Comment.parent_id.is_not(None),
                                 visible(viewer))
    for row in session.scalars(stmt.order_by(Comment.id)):
        out.setdefault(row.parent_id or 0, []).append(row)
    return out


def pr_path_statement(pr: PullRequest, params: Mapping[str, str], viewer: int = -1) -> Select:
    """getComments_2: root comments anchored on `path`, filtered by anchor state, diff type, hashes, state."""
    for name, value in params.items():
        if "\x00" in value:
            raise ValidationError(f"The value of '{name}' must not contain NUL characters.", context=name)
    path = (params.get("path") or "").strip()
    if not path:
        raise ValidationError("A path is required to retrieve comments.", context="path")
    anchor_state = (params.get("anchorState") or "ACTIVE").upper()
    if anchor_state not in ("ACTIVE", "ORPHANED", "ALL"):
        raise ValidationError(f"'{params.get('anchorState')}' is not a valid value for 'anchorState'; valid values "
                              "are ACTIVE, ORPHANED, ALL.", context="anchorState")
    stmt = select(Comment).where(Comment.pull_request_id == pr.id, Comment.parent_id.is_(None), Comment.path == path,
                                 visible(viewer))
    if anchor_state != "ALL":
        stmt = stmt.where(Comment.orphaned.is_(anchor_state == "ORPHANED"))
    diff_types = _multi(params, "diffType", "diffTypes", anchors.DIFF_TYPES)
    if diff_types:
        stmt = stmt.where(Comment.diff_type.in_(diff_types))
    states = _multi(params, "state", "states", ("OPEN", "PENDING", "RESOLVED"))
    if states:
        stmt = stmt.where(Comment.state.in_(states))
    for name, column in (("fromHash", Comment.from_hash), ("toHash", Comment.to_hash)):
        if params.get(name):
            stmt = stmt.where(column == params[name])
    return stmt.order_by(Comment.id)


def _multi(params: Any, one: str, many: str, allowed: tuple[str, ...]) -> list[str]:
    values: list[str] = []
    getlist = getattr(params, "getlist", None)
    raw = list(getlist(one)) if getlist else ([params[one]] if one in params else [])
    if params.get(many):
        raw.append(params[many])
    for item in raw:
        for v in str(item).split(","):
            v = v.strip().upper()
            if not v:
                continue
            if v not in allowed:
                raise ValidationError(f"'{v}' is not a valid value for '{one}'; valid values are "
                                      f"{', '.join(allowed)}.", context=one)
            values.append(v)
    return values


def tasks_statement(pr: PullRequest, params: Mapping[str, str], viewer: int = -1) -> Select:
    """getComments_1: the pull request's BLOCKER comments (tasks), oldest first, by `state`/`states`."""
    states = _multi(params, "state", "states", ("OPEN", "PENDING", "RESOLVED"))
    stmt = select(Comment).where(Comment.pull_request_id == pr.id, Comment.severity == "BLOCKER", visible(viewer))
    if states:
        stmt = stmt.where(Comment.state.in_(states))
    return stmt.order_by(Comment.id)


def commit_statement(repo: Repository, commit_id: str, params: Mapping[str, str]) -> Select:
    """getComments (commit): root comments on the commit, optionally on one path."""
    stmt = select(Comment).where(Comment.repository_id == repo.id, Comment.pull_request_id.is_(None),
                                 Comment.commit_id == commit_id, Comment.parent_id.is_(None))
    path = params.get("path")
    if path:
        if "\x00" in path:
            raise ValidationError("The value of 'path' must not contain NUL characters.", context="path")
        stmt = stmt.where(Comment.path == path)
    return stmt.order_by(Comment.id)


def task_counts(session: Session, pr: PullRequest) -> dict[str, int]:
    rows = session.execute(select(Comment.state, func.count()).where(
        Comment.pull_request_id == pr.id, Comment.severity == "BLOCKER").group_by(Comment.state)).all()
    found = {state: n for state, n in rows}
    return {"OPEN": found.get("OPEN", 0), "RESOLVED": found.get("RESOLVED", 0)}


def open_task_count(session: Session, pr: PullRequest) -> int:
    """Open tasks block a merge when the repository's merge checks say so (merge check helper)."""
    return session.scalar(select(func.count()).select_from(Comment).where(
        Comment.pull_request_id == pr.id, Comment.severity == "BLOCKER", Comment.state == "OPEN")) or 0


def pr_counts(session: Session, pr_ids: list[int]) -> dict[int, dict[str, int]]:
    """commentCount / openTaskCount / resolvedTaskCount for a page of pull requests, in one query."""
    if not pr_ids:
        return {}
    rows = session.execute(select(Comment.pull_request_id, Comment.severity, Comment.state, func.count())
                           .where(Comment.pull_request_id.in_(pr_ids))
                           .group_by(Comment.pull_request_id, Comment.severity, Comment.state)).all()
    out = {i: {"commentCount": 0, "openTaskCount": 0, "resolvedTaskCount": 0} for i in pr_ids}
    for pr_id, severity, state, n in rows:
        if state == "PENDING":
            continue  # not published yet
        counts = out[pr_id]
        counts["commentCount"] += n
        if severity == "BLOCKER":
            counts["openTaskCount" if state == "OPEN" else "resolvedTaskCount"] += n
    return out


# -- permissions -----------------------------------------------------------------------------------
def can_edit(session: Session, who: Principal, repo: Repository, comment: Comment) -> bool:
    """Authors edit their own comments; repository administrators any."""
    if who.user is None:
        return False
    return comment.author_id == who.user.id or who.repo_level(session, repo) >= L.REPO_LEVEL["REPO_ADMIN"]


def can_delete(session: Session, who: Principal, repo: Repository, comment: Comment) -> bool:
    return can_edit(session, who, repo, comment)


def can_transition(who: Principal) -> bool:
    """Anyone who can comment (read the repository, signed in) may resolve and reopen tasks."""
    return who.user is not None


# -- writes ----------------------------------------------------------------------------------------
def create(session: Session, who: Principal, view: View, repo: Repository, body: Mapping[str, Any], *,
           pr: PullRequest | None = None, commit_id: str | None = None, task: bool = False) -> Comment:
    """A general, file, line comment or reply on a pull request (`pr`) or commit (`commit_id`)."""
    user = caller(who)
    text = _text(body, True)
    severity = _choice(body, "severity", SEVERITIES) or ("BLOCKER" if task else "NORMAL")
    state = _choice(body, "state", ("OPEN", "PENDING", "RESOLVED")) or "OPEN"
    if state == "RESOLVED" or (state == "PENDING" and pr is None):
        raise ValidationError("A new comment is OPEN, or PENDING on a pull request (part of a review).",
                              context="state")
    parent_id = _parent_id(body)
    parent = require(session, repo, parent_id, pr=pr, commit_id=commit_id, who=who) if parent_id is not None \
        else None
    anchor = anchors.parse(body.get("anchor")) if parent is None else None
    if anchor is not None:
        source = anchors.pr_source(pr, anchor) if pr is not None else \
            anchors.commit_source(repo.id, commit_id or "", anchor)
        anchors.check(source, anchor)
    now = now_ms()
    row = Comment(repository_id=repo.id, pull_request_id=pr.id if pr else None,
                  commit_id=None if pr else commit_id, parent_id=parent.id if parent else None,
                  root_id=(parent.root_id or parent.id) if parent else None, version=0, text=text,
                  severity=severity, state=state, author_id=user.id, created_date=now, updated_date=now,
                  thread_resolved=False, orphaned=False)
    if anchor is not None:
        row.path, row.src_path, row.diff_type = anchor.path, anchor.src_path, anchor.diff_type
        row.from_hash, row.to_hash, row.line = anchor.from_hash, anchor.to_hash, anchor.line
        row.line_type, row.file_type = anchor.line_type, anchor.file_type
    session.add(row)
    session.flush()
    if row.root_id is None:
        row.root_id = row.id
        session.flush()
    if pr is not None:
        _watch(session, pr, user)
    if state != "PENDING":
        _announce(session, view, repo, row, user, "REPLIED" if parent else "ADDED", "added", pr=pr)
    return row


def _watch(session: Session, pr: PullRequest, user: User) -> None:
    """A commenter who does not take part yet watches the pull request (as the spec says)."""
    from culm.domain.pullrequests.models import Participant, Watcher

    takes_part = session.scalar(select(Participant.id).where(Participant.pull_request_id == pr.id,
                                                             Participant.user_id == user.id))
    if takes_part is None and session.get(Watcher, (pr.id, user.id)) is None:
        session.add(Watcher(pull_request_id=pr.id, user_id=user.id))
        session.flush()


def update(session: Session, who: Principal, view: View, repo: Repository, comment: Comment,
           body: Mapping[str, Any], *, pr: PullRequest | None = None) -> Comment:
    """PUT text / severity / state / threadResolved with the comment's current `version`."""
    user = caller(who)
    version = _version(body.get("version"), True)
    text = _text(body, False)
    severity = _choice(body, "severity", SEVERITIES)
    state = _choice(body, "state", ("OPEN", "PENDING", "RESOLVED"))
    thread = body.get("threadResolved")
    if thread is not None and not isinstance(thread, bool):
        raise ValidationError("threadResolved must be true or false.", context="threadResolved")
    if state == "PENDING" and comment.state != "PENDING":
        raise ValidationError("A published comment cannot become pending again.", context="state")
    new_severity = severity or comment.severity
    new_state = state or ("OPEN" if severity == "NORMAL" else comment.state)
    if new_state == "RESOLVED" and new_severity != "BLOCKER":
        raise ValidationError("Only tasks (BLOCKER comments) can be resolved.", context="state")
    if thread is not None and comment.parent_id is not None:
        raise ValidationError("Only the first comment of a thread can resolve the thread.", context="threadResolved")
    editing = text is not None and text != comment.text
    if editing and not can_edit(session, who, repo, comment):
        raise PermissionDenied("You are not permitted to edit this comment.")
    transition = new_state != comment.state or new_severity != comment.severity or \
        (thread is not None and thread != comment.thread_resolved)
    if transition and not can_transition(who):
        raise PermissionDenied("You are not permitted to resolve this comment.")
    _stale(comment, version)
    previous = comment.text
    now = now_ms()
    if editing:
        comment.text = text or comment.text
    if new_state != comment.state:
        comment.resolved_date = now if new_state == "RESOLVED" else None
        comment.resolver_id = user.id if new_state == "RESOLVED" else None
    comment.state, comment.severity = new_state, new_severity
    if thread is not None and thread != comment.thread_resolved:
        comment.thread_resolved = thread
        comment.thread_resolved_date = now if thread else None
        comment.thread_resolver_id = user.id if thread else None
    if editing or transition:
        comment.version += 1
        comment.updated_date = now
        session.flush()
        if comment.state != "PENDING":
            _announce(session, view, repo, comment, user, "EDITED", "edited", pr=pr, previous=previous)
    return comment


def delete(session: Session, who: Principal, view: View, repo: Repository, comment: Comment,
           version: Any, *, pr: PullRequest | None = None) -> None:
    """DELETE `?version=`: a comment with replies stays (409), as in Bitbucket."""
    user = caller(who)
    expected = _version(version, False)
    if not can_delete(session, who, repo, comment):
        raise PermissionDenied("You are not permitted to delete this comment.")
    _stale(comment, expected)
    if session.scalar(select(Comment.id).where(Comment.parent_id == comment.id).limit(1)) is not None:
        raise CommentDeletion("This comment has replies which must be deleted first.")
    if comment.state != "PENDING":
        _announce(session, view, repo, comment, user, "DELETED", "deleted", pr=pr)
    session.delete(comment)
    session.flush()


def publish(session: Session, view: View, repo: Repository, pr: PullRequest, user: User) -> int:
    """finishReview: the caller's pending comments become OPEN and are announced; returns how many."""
    rows = list(session.scalars(select(Comment).where(Comment.pull_request_id == pr.id, Comment.state == "PENDING",
                                                      Comment.author_id == user.id).order_by(Comment.id)))
    now = now_ms()
    for row in rows:
        row.state, row.updated_date = "OPEN", now
    session.flush()
    for row in rows:
        _announce(session, view, repo, row, user, "REPLIED" if row.parent_id else "ADDED", "added", pr=pr)
    return len(rows)


def discard(session: Session, pr: PullRequest, user: User) -> int:
    """discardReview: the caller's pending comments go (replies first, so no thread is left half-deleted)."""
    rows = list(session.scalars(select(Comment).where(Comment.pull_request_id == pr.id, Comment.state == "PENDING",
                                                      Comment.author_id == user.id).order_by(Comment.id.desc())))
    for row in rows:
        if session.scalar(select(Comment.id).where(Comment.parent_id == row.id).limit(1)) is None:
            session.delete(row)
            session.flush()
        else:  # a published reply of someone else hangs below it: publish the parent instead of orphaning it
            row.state = "OPEN"
    session.flush()
    return len(rows)


def pending_statement(pr: PullRequest, user_id: int) -> Select:
    """getReview: the threads holding the caller's pending comments (their roots), oldest first."""
    roots = select(Comment.root_id).where(Comment.pull_request_id == pr.id, Comment.state == "PENDING",
                                          Comment.author_id == user_id)
    return select(Comment).where(Comment.id.in_(roots)).order_by(Comment.id)


def _announce(session: Session, view: View, repo: Repository, comment: Comment, user: User, action: str,
              verb: str, *, pr: PullRequest | None, previous: str | None = None) -> None:
    """The COMMENTED activity and the webhook-shaped outbox event of one comment change."""
    body = {k: v for k, v in view.comment(comment).items() if k != "permittedOperations"}  # the caller's, not stored
    if pr is not None:
        detail: dict[str, Any] = {"commentAction": action, "comment": body}
        anchor = view.anchor(comment)
        if anchor is not None:
            detail["commentAnchor"] = anchor
        activities.record_activity(session, pr, "COMMENTED", user.id, detail)
        extra: dict[str, Any] = {"comment": body}
        if comment.parent_id is not None:
            extra["commentParentId"] = comment.parent_id
        if previous is not None:
            extra["previousComment"] = previous
        activities.emit(session, view, f"pr:comment:{verb}", pr, user, **extra)
        return
    payload: dict[str, Any] = {"eventKey": f"repo:comment:{verb}", "date": activities.iso_now(),
                               "actor": view.user(user), "comment": body,
                               "repository": view.repository(repo.id), "commit": comment.commit_id}
    if comment.parent_id is not None:
        payload["commentParentId"] = comment.parent_id
    if previous is not None:
        payload["previousComment"] = previous
    events.record(session, f"repo:comment:{verb}", payload, repository_id=repo.id, actor_id=user.id)
