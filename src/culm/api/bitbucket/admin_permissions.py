"""Global permissions resource group: `/rest/api/latest/admin/permissions/{users,groups}[/none]`.

All need global ADMIN; the rules (grant only what you hold, never above yourself, never lower your
own level, keep a system administrator) are in `domain/permissions/global_service.py`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render import group_json, user_json
from culm.api.deps import db, page, principal
from culm.api.urls import base_url
from culm.core.paging import PageRequest, page_query, page_rows
from culm.domain.permissions import global_service as gs
from culm.domain.permissions.service import Principal

router = APIRouter()
P = A + "/admin/permissions"


@router.get(P + "/users")
def users_with_permission(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                          req: PageRequest = Depends(page)) -> dict[str, Any]:
    gs.require_admin(session, who)
    base = base_url(request)
    stmt = gs.users_with_permission(request.query_params.get("filter"))
    return page_rows(session, stmt, req, lambda row: {"user": user_json(row[0], base), "permission": row[1]})


@router.get(P + "/users/none")
def users_without_permission(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                             req: PageRequest = Depends(page)) -> dict[str, Any]:
    gs.require_admin(session, who)
    base = base_url(request)
    stmt = gs.users_without_permission(request.query_params.get("filter"))
    return page_query(session, stmt, req, lambda u: user_json(u, base))


@router.put(P + "/users", status_code=204)
def set_user_permission(request: Request, session: Session = Depends(db),
                        who: Principal = Depends(principal)) -> Response:
    caller = gs.require_admin(session, who)
    q = request.query_params
    gs.set_for(session, caller, q.getlist("name"), q.get("permission"), group=False)
    return Response(status_code=204)


@router.delete(P + "/users", status_code=204)
def revoke_user_permission(request: Request, session: Session = Depends(db),
                           who: Principal = Depends(principal)) -> Response:
    gs.revoke_for(session, gs.require_admin(session, who), request.query_params.get("name"), group=False)
    return Response(status_code=204)


@router.get(P + "/groups")
def groups_with_permission(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                           req: PageRequest = Depends(page)) -> dict[str, Any]:
    gs.require_admin(session, who)
    stmt = gs.groups_with_permission(request.query_params.get("filter"))
    return page_rows(session, stmt, req, lambda row: {"group": {"name": row[0].name}, "permission": row[1]})


@router.get(P + "/groups/none")
def groups_without_permission(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                              req: PageRequest = Depends(page)) -> dict[str, Any]:
    gs.require_admin(session, who)
    return page_query(session, gs.groups_without_permission(request.query_params.get("filter")), req, group_json)


@router.put(P + "/groups", status_code=204)
def set_group_permission(request: Request, session: Session = Depends(db),
                         who: Principal = Depends(principal)) -> Response:
    caller = gs.require_admin(session, who)
    q = request.query_params
    gs.set_for(session, caller, q.getlist("name"), q.get("permission"), group=True)
    return Response(status_code=204)


@router.delete(P + "/groups", status_code=204)
def revoke_group_permission(request: Request, session: Session = Depends(db),
                            who: Principal = Depends(principal)) -> Response:
    gs.revoke_for(session, gs.require_admin(session, who), request.query_params.get("name"), group=True)
    return Response(status_code=204)
