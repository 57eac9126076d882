"""Rebasing a pull request (`/rest/git/latest/.../pull-requests/{id}/rebase`): the preconditions (GET)
and the rebase of the source branch onto the target (POST). Rules in `culm.domain.mergechecks.rebase`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from culm.api.bitbucket.pull_requests_render import PullRequestView
from culm.api.bitbucket.repo_access import readable
from culm.api.deps import db, json_body, principal
from culm.api.urls import base_url
from culm.domain.mergechecks import rebase as rebasing
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import queries

router = APIRouter()
REBASE = "/rest/git/latest/projects/{projectKey}/repos/{repositorySlug}/pull-requests/{pullRequestId}/rebase"


@router.get(REBASE)
def can_rebase(projectKey: str, repositorySlug: str, pullRequestId: str, session: Session = Depends(db),
               who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId)
    return {"vetoes": [v.json() for v in rebasing.vetoes(session, who, pr)]}


@router.post(REBASE)
def rebase(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
           body: dict = Depends(json_body), session: Session = Depends(db),
           who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    version = body.get("version", request.query_params.get("version"))
    return rebasing.rebase(session, view, who, pr, repo, version)
