"""Deployments (`{R}/commits/{commitId}/deployments`): create or update (REPO_READ), get (REPO_READ) and
delete (REPO_ADMIN) one deployment named by key, environmentKey and deploymentSequenceNumber."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render import repo_json
from culm.api.bitbucket.repo_access import readable, repo_at
from culm.api.deps import db, json_body, principal
from culm.api.urls import base_url
from culm.domain.builds import service as builds
from culm.domain.builds.models import Deployment
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, deny
from culm.domain.repos.models import Repository

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}/commits/{commitId}/deployments"


def _commit(cid: str) -> dict[str, str]:
    return {"id": cid, "displayId": cid[:11]}


def deployment_json(session: Session, row: Deployment, repo: Repository, base: str) -> dict[str, Any]:
    """RestDeployment; `fromCommit` is the commit of the previous deployment of this key to the environment."""
    env: dict[str, Any] = {"key": row.environment_key, "displayName": row.environment_name}
    if row.environment_type:
        env["type"] = row.environment_type
    if row.environment_url:
        env["url"] = row.environment_url
    body: dict[str, Any] = {
        "deploymentSequenceNumber": row.sequence_number,
        "description": row.description,
        "displayName": row.display_name,
        "environment": env,
        "key": row.key,
        "lastUpdated": row.last_updated,
        "repository": repo_json(session, repo, base),
        "state": row.state,
        "toCommit": _commit(row.commit_id),
        "url": row.url,
    }
    previous = builds.previous_deployment(session, row)
    if previous is not None:
        body["fromCommit"] = _commit(previous.commit_id)
    return body


def _identity(request: Request) -> tuple[str, str, int]:
    q = request.query_params
    return builds.deployment_identity(q.get("key"), q.get("environmentKey"), q.get("deploymentSequenceNumber"))


@router.post(R)
def create_or_update(projectKey: str, repositorySlug: str, commitId: str, request: Request,
                     body: dict = Depends(json_body), session: Session = Depends(db),
                     who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    if who.anonymous:  # even on a public repository, reporting needs a user
        raise deny(who)
    data = builds.parse_deployment(body)
    cid = builds.require_commit(repo, commitId)
    row = builds.put_deployment(session, repo, cid, data)
    return deployment_json(session, row, repo, base_url(request))


@router.get(R)
def get(projectKey: str, repositorySlug: str, commitId: str, request: Request, session: Session = Depends(db),
        who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    cid = builds.require_commit(repo, commitId)
    row = builds.get_deployment(session, repo, cid, *_identity(request))
    return deployment_json(session, row, repo, base_url(request))


@router.delete(R, status_code=204)
def delete(projectKey: str, repositorySlug: str, commitId: str, request: Request, session: Session = Depends(db),
           who: Principal = Depends(principal)) -> Response:
    repo = repo_at(session, who, projectKey, repositorySlug, L.ADMIN)[1]
    cid = builds.commit_id(commitId)
    builds.delete_deployment(session, repo, cid, *_identity(request))
    return Response(status_code=204)
