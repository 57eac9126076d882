"""Repository-scoped build statuses (`{R}/commits/{commitId}/builds`, Bitbucket 7.14+): store (REPO_READ,
as the spec says: CI users only read the code), get and delete (REPO_ADMIN) one status by key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.build_status import status_json
from culm.api.bitbucket.repo_access import readable, repo_at
from culm.api.deps import db, json_body, principal
from culm.domain.builds import service as builds
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, deny

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}/commits/{commitId}/builds"


@router.post(R, status_code=204)
def add(projectKey: str, repositorySlug: str, commitId: str, body: dict = Depends(json_body),
        session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    repo = readable(session, who, projectKey, repositorySlug)
    if who.anonymous:  # even on a public repository, reporting needs a user
        raise deny(who)
    data = builds.parse_status(body, legacy=False)
    cid = builds.require_commit(repo, commitId)
    builds.store(session, repo.id, cid, data)
    return Response(status_code=204)


@router.get(R)
def get(projectKey: str, repositorySlug: str, commitId: str, request: Request, session: Session = Depends(db),
        who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    cid = builds.require_commit(repo, commitId)
    return status_json(builds.get(session, repo, cid, request.query_params.get("key")))


@router.delete(R, status_code=204)
def delete(projectKey: str, repositorySlug: str, commitId: str, request: Request, session: Session = Depends(db),
           who: Principal = Depends(principal)) -> Response:
    repo = repo_at(session, who, projectKey, repositorySlug, L.ADMIN)[1]
    cid = builds.commit_id(commitId)
    builds.remove(session, repo, cid, request.query_params.get("key"))
    return Response(status_code=204)
