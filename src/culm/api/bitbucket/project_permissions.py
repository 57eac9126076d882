"""Project permissions: `/rest/api/latest/projects/{projectKey}/permissions/...` (users, groups, the
users and groups without a grant, bulk revoke, and the default permission for all licensed users)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import Select
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render import user_json
from culm.api.deps import db, page, principal
from culm.api.urls import base_url
from culm.core.errors import ValidationError
from culm.core.paging import PageRequest, page_envelope, page_query
from culm.domain.permissions import grants
from culm.domain.permissions import levels as L
from culm.domain.permissions.models import ProjectPermission
from culm.domain.permissions.service import Principal, require_project
from culm.domain.projects import service as projects
from culm.domain.projects.models import Project
from culm.domain.users.models import Group, User

router = APIRouter()
PP = A + "/projects/{projectKey}/permissions"


# -- shared with repo_permissions -------------------------------------------------------------
def page_rows(session: Session, stmt: Select, req: PageRequest, render: Callable[[Any], Any]) -> dict[str, Any]:
    """Like page_query, for statements selecting several columns (entity, permission)."""
    rows = list(session.execute(stmt.offset(req.start).limit(req.limit + 1)))
    return page_envelope([render(r) for r in rows[: req.limit]], req, len(rows) <= req.limit)


def permitted_user(request: Request) -> Callable[[Any], dict[str, Any]]:
    base = base_url(request)
    return lambda row: {"user": user_json(row[0], base), "permission": row[1]}


def permitted_group(row: Any) -> dict[str, Any]:
    return {"group": {"name": row[0].name}, "permission": row[1]}


def search_page(session: Session, request: Request, req: PageRequest, model: type, owner_col: object,
                owner_id: int, allowed: list[str]) -> dict[str, Any]:
    """`.../permissions/search`: users and groups with a direct or global permission."""
    q = request.query_params
    wanted = [p for p in q.getlist("permission") if p]
    for p in wanted:
        grants.validate(p, allowed + L.GLOBAL)
    kind = (q.get("type") or "").upper() or None
    if kind not in (None, "USER", "GROUP"):
        raise ValidationError("The type must be USER or GROUP.", context="type")
    stmt = grants.search(model, owner_col, owner_id, wanted, q.get("filterText"), kind)
    base = base_url(request)

    def render(row: Any) -> dict[str, Any]:
        if row.type == "USER":
            return {"user": user_json(session.get(User, row.eid), base), "permission": row.permission}
        return {"group": {"name": session.get(Group, row.eid).name}, "permission": row.permission}

    return page_rows(session, stmt, req, render)


def names(request: Request, key: str = "name") -> list[str]:
    found = [n for n in request.query_params.getlist(key) if n.strip()]
    return found


def one_name(request: Request) -> list[str]:
    found = names(request)
    if not found:
        raise ValidationError("The 'name' parameter is required.", context="name")
    return found


def admin_project(session: Session, who: Principal, key: str) -> Project:
    project = projects.require(session, key)
    require_project(session, who, project, L.ADMIN)
    return project


# -- routes -----------------------------------------------------------------------------------
def _args(project: Project) -> tuple[type, object, int]:
    return ProjectPermission, ProjectPermission.project_id, project.id


@router.get(PP + "/users")
def list_users(projectKey: str, request: Request, session: Session = Depends(db),
               who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    project = admin_project(session, who, projectKey)
    stmt = grants.granted_users(*_args(project), request.query_params.get("filter"))
    return page_rows(session, stmt, req, permitted_user(request))


@router.get(PP + "/groups")
def list_groups(projectKey: str, request: Request, session: Session = Depends(db),
                who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    project = admin_project(session, who, projectKey)
    stmt = grants.granted_groups(*_args(project), request.query_params.get("filter"))
    return page_rows(session, stmt, req, permitted_group)


@router.get(PP + "/users/none")
def list_users_without(projectKey: str, request: Request, session: Session = Depends(db),
                       who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    project = admin_project(session, who, projectKey)
    stmt = grants.licensed_users_without(*_args(project), request.query_params.get("filter"))
    base = base_url(request)
    return page_query(session, stmt, req, lambda u: user_json(u, base))


@router.get(PP + "/groups/none")
def list_groups_without(projectKey: str, request: Request, session: Session = Depends(db),
                        who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    project = admin_project(session, who, projectKey)
    stmt = grants.groups_without(*_args(project), request.query_params.get("filter"))
    return page_query(session, stmt, req, lambda g: {"name": g.name, "deletable": True})


@router.put(PP + "/users", status_code=204)
def grant_users(projectKey: str, request: Request, session: Session = Depends(db),
                who: Principal = Depends(principal)) -> Response:
    project = admin_project(session, who, projectKey)
    grants.set_project(session, who, project, one_name(request), request.query_params.get("permission"),
                       group=False)
    return Response(status_code=204)


@router.put(PP + "/groups", status_code=204)
def grant_groups(projectKey: str, request: Request, session: Session = Depends(db),
                 who: Principal = Depends(principal)) -> Response:
    project = admin_project(session, who, projectKey)
    grants.set_project(session, who, project, one_name(request), request.query_params.get("permission"),
                       group=True)
    return Response(status_code=204)


@router.delete(PP + "/users", status_code=204)
def revoke_users(projectKey: str, request: Request, session: Session = Depends(db),
                 who: Principal = Depends(principal)) -> Response:
    project = admin_project(session, who, projectKey)
    grants.revoke_project(session, who, project, one_name(request), [])
    return Response(status_code=204)


@router.delete(PP + "/groups", status_code=204)
def revoke_groups(projectKey: str, request: Request, session: Session = Depends(db),
                  who: Principal = Depends(principal)) -> Response:
    project = admin_project(session, who, projectKey)
    grants.revoke_project(session, who, project, [], one_name(request))
    return Response(status_code=204)


@router.delete(PP, status_code=204)
def revoke_all(projectKey: str, request: Request, session: Session = Depends(db),
               who: Principal = Depends(principal)) -> Response:
    project = admin_project(session, who, projectKey)
    users_, groups = names(request, "user"), names(request, "group")
    if not users_ and not groups:
        raise ValidationError("No users or groups were provided.")
    grants.revoke_project(session, who, project, users_, groups)
    return Response(status_code=204)


@router.get(PP + "/{permission}/all")
def has_all_users(projectKey: str, permission: str, session: Session = Depends(db),
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    project = admin_project(session, who, projectKey)
    return {"permitted": grants.has_default(project, permission)}


@router.post(PP + "/{permission}/all", status_code=204)
def set_all_users(projectKey: str, permission: str, request: Request, session: Session = Depends(db),
                  who: Principal = Depends(principal)) -> Response:
    project = admin_project(session, who, projectKey)
    allow = (request.query_params.get("allow") or "").strip().lower()
    if allow not in ("true", "false"):
        raise ValidationError("The 'allow' parameter must be true or false.", context="allow")
    grants.set_default(session, who, project, permission, allow == "true")
    return Response(status_code=204)


@router.get(PP + "/search")
def search(projectKey: str, request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
           req: PageRequest = Depends(page)) -> dict[str, Any]:
    project = admin_project(session, who, projectKey)
    return search_page(session, request, req, *_args(project), L.PROJECT)
