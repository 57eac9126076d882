"""The caller's profile: `/rest/api/latest/profile/recent/repos` (recently accessed repositories)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render import repo_json
from culm.api.deps import db, page, principal
from culm.api.urls import base_url
from culm.core.errors import AuthenticationRequired, ValidationError
from culm.core.paging import PageRequest, page_query
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal
from culm.domain.recent import service as recent

router = APIRouter()


@router.get(A + "/profile/recent/repos")
def recent_repos(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                 req: PageRequest = Depends(page)) -> dict[str, Any]:
    """Most recently accessed first, limited to repositories the caller still holds `permission` on."""
    permission = request.query_params.get("permission") or "REPO_READ"
    if permission not in L.REPO:
        raise ValidationError(f"The permission '{permission}' is unknown or not applicable to repositories.",
                              context="permission")
    if who.anonymous:
        raise AuthenticationRequired("Authentication required.")
    base = base_url(request)
    stmt = recent.recent_query(session, who, L.REPO_LEVEL[permission])
    return page_query(session, stmt, req, lambda r: repo_json(session, r, base))
