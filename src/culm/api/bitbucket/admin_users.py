"""Admin users resource group: `/rest/api/latest/admin/users[/...]`.

Lists need LICENSED_USER; every change needs global ADMIN (the rules are in `domain/users/admin.py`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render import detailed_user_json, group_json
from culm.api.deps import db, flag, json_body, page, principal
from culm.api.urls import base_url
from culm.core.errors import ValidationError
from culm.core.paging import PageRequest, page_query
from culm.domain.permissions import levels as L
from culm.domain.permissions.global_service import require_admin
from culm.domain.permissions.service import Principal, require_global
from culm.domain.users import admin, queries
from culm.domain.users import service as users

router = APIRouter()
U = A + "/admin/users"


def _context(request: Request) -> str:
    context = request.query_params.get("context")
    if not context:
        raise ValidationError("'context' is required.", context="context")
    return context


@router.get(U)
def list_users(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
               req: PageRequest = Depends(page)) -> dict[str, Any]:
    require_global(session, who, L.G_LICENSED)
    base = base_url(request)
    stmt = queries.listed_users(request.query_params.get("filter"))
    return page_query(session, stmt, req, lambda u: detailed_user_json(u, base))


@router.post(U, status_code=204)
def create_user(request: Request, session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    require_admin(session, who)
    q = request.query_params
    admin.create_user(session, q.get("name"), q.get("password"), q.get("displayName"), q.get("emailAddress"),
                      flag(request, "addToDefaultGroup", True), flag(request, "notify", False))
    return Response(status_code=204)


@router.put(U)
def update_user(request: Request, body: dict = Depends(json_body), session: Session = Depends(db),
                who: Principal = Depends(principal)) -> dict[str, Any]:
    user = admin.update_details(session, require_admin(session, who), body)
    return detailed_user_json(user, base_url(request))


@router.delete(U)
def delete_user(request: Request, session: Session = Depends(db), who: Principal = Depends(principal)) -> dict:
    user = admin.delete_user(session, require_admin(session, who), request.query_params.get("name"))
    return detailed_user_json(user, base_url(request))


@router.post(U + "/add-group")
def add_group(body: dict = Depends(json_body), session: Session = Depends(db),
              who: Principal = Depends(principal)) -> Response:
    """Deprecated form: `context` is the user, `itemName` the group."""
    admin.add_user_to_groups(session, require_admin(session, who), body.get("context"), [body.get("itemName")])
    return Response(status_code=200)


@router.post(U + "/add-groups")
def add_groups(body: dict = Depends(json_body), session: Session = Depends(db),
               who: Principal = Depends(principal)) -> Response:
    admin.add_user_to_groups(session, require_admin(session, who), body.get("user"), body.get("groups"))
    return Response(status_code=200)


@router.post(U + "/remove-group")
def remove_group(body: dict = Depends(json_body), session: Session = Depends(db),
                 who: Principal = Depends(principal)) -> Response:
    """`context` is the user, `itemName` the group."""
    admin.remove_user_from_group(session, require_admin(session, who), body.get("context"), body.get("itemName"))
    return Response(status_code=200)


@router.put(U + "/credentials", status_code=204)
def set_password(body: dict = Depends(json_body), session: Session = Depends(db),
                 who: Principal = Depends(principal)) -> Response:
    admin.set_password(session, require_admin(session, who), body)
    return Response(status_code=204)


@router.post(U + "/rename")
def rename(request: Request, body: dict = Depends(json_body), session: Session = Depends(db),
           who: Principal = Depends(principal)) -> dict[str, Any]:
    user = admin.rename(session, require_admin(session, who), body)
    return detailed_user_json(user, base_url(request))


@router.delete(U + "/captcha", status_code=204)
def clear_captcha(request: Request, session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    admin.clear_captcha(session, require_admin(session, who), request.query_params.get("name"))
    return Response(status_code=204)


@router.get(U + "/erasure", status_code=204)
def check_erasable(request: Request, session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    require_admin(session, who)
    admin.check_erasable(session, request.query_params.get("name"))
    return Response(status_code=204)


@router.post(U + "/erasure")
def erase(request: Request, session: Session = Depends(db), who: Principal = Depends(principal)) -> dict:
    require_admin(session, who)
    return {"newIdentifier": admin.erase(session, request.query_params.get("name"))}


@router.get(U + "/more-members")
def groups_of_user(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                   req: PageRequest = Depends(page)) -> dict[str, Any]:
    require_global(session, who, L.G_LICENSED)
    user = users.require_named_user(session, _context(request))
    stmt = queries.listed_groups(request.query_params.get("filter"), [queries.has_member(user.id)])
    return page_query(session, stmt, req, group_json)


@router.get(U + "/more-non-members")
def other_groups_of_user(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                         req: PageRequest = Depends(page)) -> dict[str, Any]:
    require_global(session, who, L.G_LICENSED)
    user = users.require_named_user(session, _context(request))
    stmt = queries.listed_groups(request.query_params.get("filter"), [queries.lacks_member(user.id)])
    return page_query(session, stmt, req, group_json)
