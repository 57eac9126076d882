"""System-wide default branch for new repositories: `/rest/api/latest/admin/default-branch`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.deps import db, json_body, principal
from culm.core.errors import AuthenticationRequired, NotFound
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_global
from culm.domain.settings import service as settings

router = APIRouter()
PATH = A + "/admin/default-branch"


@router.get(PATH)
def get_default_branch(session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    """Any authenticated user may read it; 404 while none is configured (the built-in one applies)."""
    if who.anonymous:
        raise AuthenticationRequired("Authentication required.")
    ref = settings.configured_default_branch(session)
    if ref is None:
        raise NotFound("No global default branch has been configured.")
    return {"id": ref, "displayId": ref.removeprefix("refs/heads/"), "type": "BRANCH"}


@router.put(PATH, status_code=204)
def set_default_branch(body: dict = Depends(json_body), session: Session = Depends(db),
                       who: Principal = Depends(principal)) -> Response:
    require_global(session, who, L.G_ADMIN)
    settings.set_default_branch(session, body)
    return Response(status_code=204)


@router.delete(PATH, status_code=204)
def clear_default_branch(session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    require_global(session, who, L.G_ADMIN)
    settings.clear(session, settings.DEFAULT_BRANCH)
    return Response(status_code=204)
