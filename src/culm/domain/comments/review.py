"""finishReview: publish the caller's pending comments, add the optional general comment, and set the
optional review status, all in one transaction (a refused status leaves the comments pending)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from culm.core.errors import PullRequestOutOfDate, ValidationError
from culm.domain.comments import service as comments
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import review as pr_review
from culm.domain.pullrequests.models import PullRequest
from culm.domain.repos.models import Repository


def finish(session: Session, who: Principal, view: comments.View, repo: Repository, pr: PullRequest,
           body: dict[str, Any], version: str | None) -> int:
    user = comments.caller(who)
    if version not in (None, ""):
        try:
            expected = int(str(version))
        except ValueError:
            raise ValidationError(f"'{version}' is not a valid version.", context="version") from None
        if expected != pr.version:
            raise PullRequestOutOfDate("You are attempting to modify a pull request based on out-of-date "
                                       "information.")
    text = body.get("commentText")
    status = body.get("participantStatus")
    if status is not None and not isinstance(status, str):
        raise ValidationError(f"'{status}' is not a valid participant status.", context="participantStatus")
    if status is not None:
        status_body: dict[str, Any] = {"status": status.upper()}
        if body.get("lastReviewedCommit") is not None:
            status_body["lastReviewedCommit"] = body["lastReviewedCommit"]
        pr_review.set_status(session, view, who, pr, None, status_body)
    published = comments.publish(session, view, repo, pr, user)
    if text not in (None, ""):
        comments.create(session, who, view, repo, {"text": text}, pr=pr)
        published += 1
    return published
