"""Repository resource group: `/rest/api/latest/projects/{projectKey}/repos[/{repositorySlug}]`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render import repo_json
from culm.api.deps import db, json_body, page, principal
from culm.api.urls import base_url
from culm.core.errors import NoSuchRepository
from culm.core.paging import PageRequest, page_list
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_project, require_repo
from culm.domain.projects import service as projects
from culm.domain.repos import service as repos
from culm.domain.repos.models import Repository

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}"


@router.get(A + "/projects/{projectKey}/repos")
def list_repos(projectKey: str, request: Request, session: Session = Depends(db),
               who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    project = projects.require(session, projectKey)
    rows = session.scalars(select(Repository).where(Repository.project_id == project.id)
                           .order_by(Repository.slug))
    visible = [r for r in rows if who.repo_level(session, r, project) >= L.READ]
    base = base_url(request)
    return page_list(visible, req, lambda r: repo_json(session, r, base, project=project))


@router.post(A + "/projects/{projectKey}/repos", status_code=201)
def create_repo(projectKey: str, request: Request, body: dict = Depends(json_body),
                session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    project = projects.require(session, projectKey)
    require_project(session, who, project, L.ADMIN)
    scm = body.get("scmId", "git")
    if scm not in (None, "git"):
        from culm.core.errors import ValidationError

        raise ValidationError(f"scmId '{scm}' is not supported; only 'git' is.", context="scmId")
    repo = repos.create(session, project, body.get("name"), description=body.get("description"),
                        forkable=body.get("forkable", True), public=body.get("public", False),
                        default_branch=body.get("defaultBranch"))
    return JSONResponse(repo_json(session, repo, base_url(request), project=project), status_code=201)


@router.get(R)
def get_repo(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
             who: Principal = Depends(principal)) -> dict[str, Any]:
    project, repo = repos.require(session, projectKey, repositorySlug)
    require_repo(session, who, repo, L.READ)
    return repo_json(session, repo, base_url(request), project=project)


@router.delete(R, status_code=202)
def delete_repo(projectKey: str, repositorySlug: str, session: Session = Depends(db),
                who: Principal = Depends(principal)) -> Response:
    try:
        _, repo = repos.require(session, projectKey, repositorySlug)
    except NoSuchRepository:
        return Response(status_code=204)
    require_repo(session, who, repo, L.ADMIN)
    repos.delete(session, repo)
    return Response(status_code=202)
