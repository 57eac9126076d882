"""Groups resource group: `/rest/api/latest/groups`, a page of group names for pickers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.deps import db, page, principal
from culm.core.paging import PageRequest, page_query
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_global
from culm.domain.users import queries

router = APIRouter()


@router.get(A + "/groups")
def list_group_names(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                     req: PageRequest = Depends(page)) -> dict[str, Any]:
    require_global(session, who, L.G_LICENSED)
    return page_query(session, queries.group_names(request.query_params.get("filter")), req, lambda n: n)
