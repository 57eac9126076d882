"""The pull request activity stream and the outbox events of pull request changes.

`record_activity` is the one way to add to the stream (comments, merges and rescopes call it too);
`emit` writes the webhook-shaped event (`pr:*`) in the caller's transaction. Rendering belongs to the
API layer, so `emit` takes a `View` that turns entities into Bitbucket JSON.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from culm.domain.base import now_ms
from culm.domain.events import service as events
from culm.domain.pullrequests.models import Activity, Participant, PullRequest
from culm.domain.users.models import User

ACTIONS = ("OPENED", "UPDATED", "RESCOPED", "COMMENTED", "APPROVED", "UNAPPROVED", "REVIEWED", "MERGED",
           "DECLINED", "REOPENED", "DELETED", "AUTO_MERGE_REQUESTED", "AUTO_MERGE_CANCELLED",
           "REVIEW_COMMENTED", "REVIEW_DISCARDED", "REVIEW_FINISHED", "MERGE_QUEUE_ADDED", "MERGE_QUEUE_EJECTED")


class View(Protocol):
    """Bitbucket JSON of the entities an event carries (implemented by the API layer)."""

    def pull_request(self, pr: PullRequest) -> dict[str, Any]: ...

    def user(self, user: User) -> dict[str, Any]: ...

    def participant(self, participant: Participant) -> dict[str, Any]: ...

    def ref(self, repository_id: int, ref: str, commit: str) -> dict[str, Any]: ...


def record_activity(session: Session, pr: PullRequest, action: str, user_id: int | None,
                    detail: dict[str, Any] | None = None) -> Activity:
    """Append one entry (RestPullRequestActivity `action`) with its extra fields in `detail`."""
    if action not in ACTIONS:
        raise ValueError(f"unknown pull request activity {action}")
    row = Activity(pull_request_id=pr.id, user_id=user_id, action=action, created_date=now_ms(),
                   detail=json.dumps(detail, separators=(",", ":")) if detail else None)
    session.add(row)
    session.flush()
    return row


def detail(activity: Activity) -> dict[str, Any]:
    return json.loads(activity.detail) if activity.detail else {}


def stream(pr: PullRequest) -> Select:
    """Newest first, as Bitbucket lists them."""
    return select(Activity).where(Activity.pull_request_id == pr.id).order_by(Activity.id.desc())


def iso_now() -> str:
    """Webhook `date`: ISO-8601 with a numeric offset without colon (`2019-03-01T10:37:14+0000`)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())


def emit(session: Session, view: View, kind: str, pr: PullRequest, actor: User | None,
         **extra: Any) -> None:
    """Record `kind` (a Bitbucket webhook event key) for `pr` in the outbox, in this transaction."""
    body: dict[str, Any] = {"eventKey": kind, "date": iso_now()}
    if actor is not None:
        body["actor"] = view.user(actor)
    body["pullRequest"] = view.pull_request(pr)
    body.update(extra)
    events.record(session, kind, body, repository_id=pr.repository_id, actor_id=actor.id if actor else None)
