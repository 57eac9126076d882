"""Auto-merge: `{PR}/auto-merge` (POST request/try, GET the pending request, DELETE cancel) and a
repository's auto-merge setting `{R}/settings/auto-merge`. Rules in `culm.domain.automerge.service`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.pull_requests import PR
from culm.api.bitbucket.pull_requests_render import PullRequestView
from culm.api.bitbucket.repo_access import readable
from culm.api.deps import db, json_body, principal
from culm.api.urls import base_url
from culm.core.errors import NotFound
from culm.domain.automerge import service as automerge
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_repo
from culm.domain.pullrequests import queries
from culm.domain.repos import service as repos

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}"


@router.post(PR + "/auto-merge")
def try_auto_merge(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
                   body: dict = Depends(json_body), session: Session = Depends(db),
                   who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    outcome = automerge.request(session, view, who, pr, repo, body)
    return {"autoMergeProcessingStatus": outcome.status, "pullRequest": view.pull_request(outcome.pr)}


@router.get(PR + "/auto-merge")
def get_auto_merge(projectKey: str, repositorySlug: str, pullRequestId: str, session: Session = Depends(db),
                   who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId)
    row = automerge.current(session, pr)
    if row is None:
        raise NotFound(f"No auto-merge was requested for pull request {pr.local_id}.")
    return automerge.request_json(row)


@router.delete(PR + "/auto-merge", status_code=204)
def cancel_auto_merge(projectKey: str, repositorySlug: str, pullRequestId: str, session: Session = Depends(db),
                      who: Principal = Depends(principal)) -> Response:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    automerge.cancel_by(session, who, pr, repo)
    return Response(status_code=204)


# -- the repository setting ----------------------------------------------------------------------------
def _settings_json(session: Session, repo: Any) -> dict[str, Any]:
    """RestAutoMergeRestrictedSettings (project settings and restrictions are not supported: the
    repository's own value, else the default, off)."""
    own = automerge.enabled_setting(session, repo)
    if own is None:
        return {"enabled": False, "restrictionState": "NONE", "scope": {"resourceId": 0, "type": "GLOBAL"}}
    return {"enabled": own, "restrictionState": "NONE", "scope": {"resourceId": repo.id, "type": "REPOSITORY"}}


@router.get(R + "/settings/auto-merge")
def get_auto_merge_settings(projectKey: str, repositorySlug: str, session: Session = Depends(db),
                            who: Principal = Depends(principal)) -> dict[str, Any]:
    _, repo = repos.require(session, projectKey, repositorySlug)
    require_repo(session, who, repo, L.READ)
    return _settings_json(session, repo)


@router.put(R + "/settings/auto-merge")
def set_auto_merge_settings(projectKey: str, repositorySlug: str, body: dict = Depends(json_body),
                            session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    _, repo = repos.require(session, projectKey, repositorySlug)
    require_repo(session, who, repo, L.ADMIN)
    automerge.set_enabled(session, repo, body)
    return _settings_json(session, repo)


@router.delete(R + "/settings/auto-merge", status_code=204)
def delete_auto_merge_settings(projectKey: str, repositorySlug: str, session: Session = Depends(db),
                               who: Principal = Depends(principal)) -> Response:
    _, repo = repos.require(session, projectKey, repositorySlug)
    require_repo(session, who, repo, L.ADMIN)
    automerge.set_enabled(session, repo, None)
    return Response(status_code=204)
