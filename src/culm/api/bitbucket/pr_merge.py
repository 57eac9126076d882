"""Merging pull requests: the merge checks (`GET {PR}/merge`), the merge (`POST {PR}/merge`) and the
commit message Bitbucket proposes (`{PR}/commit-message-suggestion`). Rules in `culm.domain.mergechecks`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from culm.api.bitbucket.pull_requests import PR
from culm.api.bitbucket.pull_requests_render import PullRequestView
from culm.api.bitbucket.repo_access import readable
from culm.api.deps import db, json_body, principal
from culm.api.urls import base_url
from culm.domain.mergechecks import checks
from culm.domain.mergechecks import merge as merging
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import queries

router = APIRouter()


@router.get(PR + "/merge")
def can_merge(projectKey: str, repositorySlug: str, pullRequestId: str, session: Session = Depends(db),
              who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId)
    merging.require_open(pr)
    return checks.evaluate(session, repo, pr).json()


@router.post(PR + "/merge")
def merge(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
          body: dict = Depends(json_body), session: Session = Depends(db),
          who: Principal = Depends(principal)) -> JSONResponse:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    version = request.query_params.get("version", body.get("version"))
    pr = merging.merge(session, view, who, pr, repo, version, body)
    return JSONResponse(view.pull_request(pr))


@router.get(PR + "/commit-message-suggestion")
def commit_message_suggestion(projectKey: str, repositorySlug: str, pullRequestId: str,
                              session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, str]:
    repo = readable(session, who, projectKey, repositorySlug)
    return merging.suggestion(session, repo, queries.require(session, repo, pullRequestId))
