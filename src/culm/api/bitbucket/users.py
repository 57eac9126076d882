"""Users resource group: `/rest/api/latest/users` (list, get, own details and password, settings)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render import user_json
from culm.api.deps import db, json_body, page, principal
from culm.api.urls import base_url
from culm.core.paging import PageRequest, page_envelope, page_query
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_global
from culm.domain.permissions.user_filters import permission_filters
from culm.domain.users import account, queries
from culm.domain.users import service as users

router = APIRouter()


@router.get(A + "/users")
def list_users(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
               req: PageRequest = Depends(page)) -> dict[str, Any]:
    require_global(session, who, L.G_LICENSED)
    q = request.query_params
    conditions = permission_filters(session, q)
    if q.get("group"):
        group = users.get_group(session, q["group"])
        if group is None:
            return page_envelope([], req, True)
        conditions.append(queries.in_group(group.id))
    base = base_url(request)
    return page_query(session, queries.listed_users(q.get("filter"), conditions), req, lambda u: user_json(u, base))


@router.put(A + "/users")
def update_own_details(request: Request, body: dict = Depends(json_body), session: Session = Depends(db),
                       who: Principal = Depends(principal)) -> dict[str, Any]:
    user = account.update_own_details(session, who, body)
    return user_json(user, base_url(request))


@router.put(A + "/users/credentials", status_code=204)
def change_own_password(body: dict = Depends(json_body), session: Session = Depends(db),
                        who: Principal = Depends(principal)) -> Response:
    account.change_own_password(session, who, body)
    return Response(status_code=204)


@router.get(A + "/users/{userSlug}")
def get_user(userSlug: str, request: Request, session: Session = Depends(db),
             who: Principal = Depends(principal)) -> dict[str, Any]:
    require_global(session, who, L.G_LICENSED)
    return user_json(users.require_user(session, userSlug), base_url(request))


@router.get(A + "/users/{userSlug}/settings")
def get_settings(userSlug: str, session: Session = Depends(db),
                 who: Principal = Depends(principal)) -> dict[str, Any]:
    return account.get_settings(session, who, userSlug)


@router.post(A + "/users/{userSlug}/settings", status_code=204)
def update_settings(userSlug: str, body: dict = Depends(json_body), session: Session = Depends(db),
                    who: Principal = Depends(principal)) -> Response:
    account.update_settings(session, who, userSlug, body)
    return Response(status_code=204)
