"""Projects resource group: `/rest/api/latest/projects[/{projectKey}]`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render import project_json
from culm.api.deps import db, json_body, page, principal
from culm.api.urls import base_url
from culm.core.errors import ValidationError
from culm.core.paging import PageRequest, page_query
from culm.domain.permissions import levels as L
from culm.domain.permissions import visibility
from culm.domain.permissions.service import Principal, deny, require_global, require_project
from culm.domain.projects import service as projects
from culm.domain.projects.models import Project
from culm.domain.users.models import User

router = APIRouter()
P = A + "/projects/{projectKey}"


def render(session: Session, project: Project, request: Request) -> dict[str, Any]:
    owner = session.get(User, project.owner_id) if project.owner_id else None
    return project_json(project, base_url(request), owner)


def require_view(session: Session, who: Principal, project: Project) -> None:
    """PROJECT_VIEW: public, readable, or holding a repository the caller can read."""
    if not who.can_view_project(session, project):
        raise deny(who)


@router.get(A + "/projects")
def list_projects(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                  req: PageRequest = Depends(page)) -> dict[str, Any]:
    stmt = select(Project).where(Project.type == "NORMAL")
    permission = request.query_params.get("permission")
    if permission and permission != L.PROJECT_VIEW:
        if permission not in L.PROJECT:
            raise ValidationError(f"The permission '{permission}' is unknown or not related to projects.",
                                  context="permission")
        stmt = stmt.where(visibility.project_condition(session, who, L.PROJECT_LEVEL[permission]))
    else:
        stmt = stmt.where(visibility.project_view_condition(session, who))
    name = (request.query_params.get("name") or "").strip()
    if name:
        stmt = stmt.where(Project.name_lower.contains(name.lower()))
    stmt = stmt.order_by(Project.key_upper, Project.id)
    return page_query(session, stmt, req, lambda p: render(session, p, request))


@router.post(A + "/projects", status_code=201)
def create_project(request: Request, body: dict = Depends(json_body), session: Session = Depends(db),
                   who: Principal = Depends(principal)) -> JSONResponse:
    require_global(session, who, L.G_PROJECT_CREATE)
    project = projects.create(session, body.get("key"), body.get("name"), body.get("description"),
                              body.get("public", False))
    return JSONResponse(render(session, project, request), status_code=201)


@router.get(P)
def get_project(projectKey: str, request: Request, session: Session = Depends(db),
                who: Principal = Depends(principal)) -> dict[str, Any]:
    project = projects.require(session, projectKey)
    require_view(session, who, project)
    return render(session, project, request)


@router.put(P)
def update_project(projectKey: str, request: Request, body: dict = Depends(json_body),
                   session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    """200 when the key stayed, 201 when it changed (as the spec has it)."""
    project = projects.require(session, projectKey)
    require_project(session, who, project, L.ADMIN)
    key_changed = projects.update(session, project, body)
    return JSONResponse(render(session, project, request), status_code=201 if key_changed else 200)


@router.delete(P, status_code=204)
def delete_project(projectKey: str, session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    project = projects.require(session, projectKey)
    require_project(session, who, project, L.ADMIN)
    projects.delete(session, project)
    return Response(status_code=204)
