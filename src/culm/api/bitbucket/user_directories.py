"""`/rest/api/latest/admin/user-directories`: culm has one user directory, its own database."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.deps import db, principal
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_global

router = APIRouter()

INTERNAL_DIRECTORY = {
    "name": "Bitbucket Internal Directory",
    "description": "This directory has users that are able to access Bitbucket DC",
    "type": "INTERNAL",
    "active": True,
}


@router.get(A + "/admin/user-directories")
def user_directories(session: Session = Depends(db), who: Principal = Depends(principal)) -> list[dict[str, Any]]:
    """A list (the spec: "A list of directories"); `includeInactive` changes nothing, none is inactive."""
    require_global(session, who, L.G_ADMIN)
    return [dict(INTERNAL_DIRECTORY)]
