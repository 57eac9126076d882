"""The caller's pull request inbox: open pull requests waiting for them (by default, reviews they have
not approved yet), and how many there are."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.pull_requests_render import PullRequestView
from culm.api.deps import db, page, principal
from culm.api.urls import base_url
from culm.core.paging import PageRequest, page_query
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import dashboard

router = APIRouter()


@router.get(A + "/inbox/pull-requests")
def inbox(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
          req: PageRequest = Depends(page)) -> dict[str, Any]:
    stmt = dashboard.inbox_statement(session, who, request.query_params)
    view = PullRequestView(session, base_url(request))
    return page_query(session, stmt, req, view.pull_request)


@router.get(A + "/inbox/pull-requests/count")
def inbox_count(session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, int]:
    return {"count": dashboard.inbox_count(session, who)}
