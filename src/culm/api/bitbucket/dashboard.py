"""The caller's dashboard (tag "Dashboard"): their pull requests across repositories and the branches
they pushed lately without a pull request. Rules and queries live in `culm.domain.pullrequests.dashboard`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.pull_requests_render import PullRequestView, display_ref
from culm.api.deps import db, page, principal
from culm.api.urls import base_url
from culm.core.paging import PageRequest, page_envelope, page_query
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import dashboard

router = APIRouter()


@router.get(A + "/dashboard/pull-requests")
def pull_requests(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                  req: PageRequest = Depends(page)) -> dict[str, Any]:
    stmt = dashboard.dashboard_statement(session, who, request.query_params)
    view = PullRequestView(session, base_url(request))
    return page_query(session, stmt, req, view.pull_request)


def _ref(ref: str) -> dict[str, Any]:
    return {"id": ref, "displayId": display_ref(ref), "type": "TAG" if ref.startswith("refs/tags/") else "BRANCH"}


@router.get(A + "/dashboard/pull-request-suggestions")
def pull_request_suggestions(request: Request, session: Session = Depends(db),
                             who: Principal = Depends(principal)) -> dict[str, Any]:
    found = dashboard.suggestions(session, who, request.query_params)
    view = PullRequestView(session, base_url(request))
    values = []
    for s in found:
        body: dict[str, Any] = {
            "changeTime": s.change_time,
            "refChange": {"ref": _ref(s.ref), "refId": s.ref, "fromHash": s.from_hash, "toHash": s.to_hash,
                          "type": s.change_type},
            "repository": view.repository(s.repository.id),
            "fromRef": _ref(s.ref),
        }
        if s.target_ref:
            body["toRef"] = _ref(s.target_ref)
        values.append(body)
    return page_envelope(values, PageRequest(start=0, limit=max(1, len(values))), True)
