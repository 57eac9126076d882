"""Admin groups resource group: `/rest/api/latest/admin/groups[/...]`.

Lists need LICENSED_USER; every change needs global ADMIN (the rules are in `domain/users/admin.py`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render import detailed_user_json, group_json
from culm.api.deps import db, json_body, page, principal
from culm.api.urls import base_url
from culm.core.errors import ValidationError
from culm.core.paging import PageRequest, page_query
from culm.domain.permissions import levels as L
from culm.domain.permissions.global_service import require_admin
from culm.domain.permissions.service import Principal, require_global
from culm.domain.users import admin, queries
from culm.domain.users import service as users

router = APIRouter()
G = A + "/admin/groups"


def _members(request: Request, session: Session, member: bool) -> Any:
    context = request.query_params.get("context")
    if not context:
        raise ValidationError("'context' is required.", context="context")
    group = users.require_group(session, context)
    cond = queries.in_group(group.id) if member else queries.not_in_group(group.id)
    return queries.listed_users(request.query_params.get("filter"), [cond])


@router.get(G)
def list_groups(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                req: PageRequest = Depends(page)) -> dict[str, Any]:
    require_global(session, who, L.G_LICENSED)
    return page_query(session, queries.listed_groups(request.query_params.get("filter")), req, group_json)


@router.post(G)
def create_group(request: Request, session: Session = Depends(db), who: Principal = Depends(principal)) -> dict:
    require_admin(session, who)
    return group_json(users.create_group(session, request.query_params.get("name")))


@router.delete(G)
def delete_group(request: Request, session: Session = Depends(db), who: Principal = Depends(principal)) -> dict:
    group = admin.delete_group(session, require_admin(session, who), request.query_params.get("name"))
    return group_json(group)


@router.post(G + "/add-user")
def add_user(body: dict = Depends(json_body), session: Session = Depends(db),
             who: Principal = Depends(principal)) -> Response:
    """Deprecated form: `context` is the group, `itemName` the user."""
    admin.add_users_to_group(session, require_admin(session, who), body.get("context"), [body.get("itemName")])
    return Response(status_code=200)


@router.post(G + "/add-users")
def add_users(body: dict = Depends(json_body), session: Session = Depends(db),
              who: Principal = Depends(principal)) -> Response:
    admin.add_users_to_group(session, require_admin(session, who), body.get("group"), body.get("users"))
    return Response(status_code=200)


@router.post(G + "/remove-user")
def remove_user(body: dict = Depends(json_body), session: Session = Depends(db),
                who: Principal = Depends(principal)) -> Response:
    """`context` is the group, `itemName` the user."""
    admin.remove_user_from_group(session, require_admin(session, who), body.get("itemName"), body.get("context"))
    return Response(status_code=200)


@router.get(G + "/more-members")
def members(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
            req: PageRequest = Depends(page)) -> dict[str, Any]:
    require_global(session, who, L.G_LICENSED)
    base = base_url(request)
    return page_query(session, _members(request, session, True), req, lambda u: detailed_user_json(u, base))


@router.get(G + "/more-non-members")
def non_members(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                req: PageRequest = Depends(page)) -> dict[str, Any]:
    require_global(session, who, L.G_LICENSED)
    base = base_url(request)
    return page_query(session, _members(request, session, False), req, lambda u: detailed_user_json(u, base))
