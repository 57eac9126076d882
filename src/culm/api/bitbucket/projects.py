"""Projects resource group: `/rest/api/latest/projects[/{projectKey}]`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render import project_json
from culm.api.deps import db, json_body, page, principal
from culm.api.urls import base_url
from culm.core.paging import PageRequest, page_list
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_global, require_project
from culm.domain.projects import service as projects
from culm.domain.projects.models import Project
from culm.domain.users.models import User

router = APIRouter()


def render(session: Session, project: Project, request: Request) -> dict[str, Any]:
    owner = session.get(User, project.owner_id) if project.owner_id else None
    return project_json(project, base_url(request), owner)


@router.get(A + "/projects")
def list_projects(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                  req: PageRequest = Depends(page)) -> dict[str, Any]:
    stmt = select(Project).where(Project.type == "NORMAL").order_by(Project.key_upper)
    name = request.query_params.get("name")
    if name:
        stmt = stmt.where(Project.name_lower.contains(name.lower()))
    visible = [p for p in session.scalars(stmt) if who.can_view_project(session, p)]
    return page_list(visible, req, lambda p: render(session, p, request))


@router.post(A + "/projects", status_code=201)
def create_project(request: Request, body: dict = Depends(json_body), session: Session = Depends(db),
                   who: Principal = Depends(principal)) -> JSONResponse:
    require_global(session, who, L.G_PROJECT_CREATE)
    project = projects.create(session, body.get("key"), body.get("name"), body.get("description"),
                              body.get("public", False))
    return JSONResponse(render(session, project, request), status_code=201)


@router.get(A + "/projects/{projectKey}")
def get_project(projectKey: str, request: Request, session: Session = Depends(db),
                who: Principal = Depends(principal)) -> dict[str, Any]:
    project = projects.require(session, projectKey)
    if not who.can_view_project(session, project):
        require_project(session, who, project, L.READ)
    return render(session, project, request)
