"""applySuggestion: `POST {PR}/comments/{commentId}/apply-suggestion` commits a comment's suggestion to the
pull request's source branch (rules: `culm.domain.comments.suggestions`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.repo_access import readable
from culm.api.deps import db, json_body, principal
from culm.core.errors import NotFound
from culm.domain.comments import service as comments
from culm.domain.comments import suggestions
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_repo
from culm.domain.pullrequests import queries
from culm.domain.repos.models import Repository

router = APIRouter()
PR = A + "/projects/{projectKey}/repos/{repositorySlug}/pull-requests/{pullRequestId}"


@router.post(PR + "/comments/{commentId}/apply-suggestion", status_code=204)
def apply_suggestion(projectKey: str, repositorySlug: str, pullRequestId: str, commentId: str,
                     body: dict = Depends(json_body), session: Session = Depends(db),
                     who: Principal = Depends(principal)) -> Response:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId)
    comment = comments.require(session, repo, commentId, pr=pr, who=who)
    user = comments.caller(who)
    source = session.get(Repository, pr.from_repository_id)
    if source is None:  # pragma: no cover - the pull request's rows cascade with its repositories
        raise NotFound("The source repository of the pull request no longer exists.")
    require_repo(session, who, source, L.WRITE)
    suggestions.apply_suggestion(session, pr, source, user, comment, body)
    return Response(status_code=204)
