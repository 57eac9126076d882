"""Pull request participants and review statuses, the deprecated approve endpoints, the activity
stream, and the repository's participant search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.pull_requests_render import PullRequestView
from culm.api.bitbucket.render import user_json
from culm.api.bitbucket.repo_access import readable
from culm.api.deps import db, json_body, page, principal
from culm.api.urls import base_url
from culm.core.paging import PageRequest, page_query
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import activities, queries, review

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}"
PR = R + "/pull-requests/{pullRequestId}"


@router.get(PR + "/participants")
def list_participants(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
                      session: Session = Depends(db), who: Principal = Depends(principal),
                      req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId)
    view = PullRequestView(session, base_url(request))
    return page_query(session, queries.participants_statement(pr), req, view.participant)


@router.post(PR + "/participants")
def assign(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
           body: dict = Depends(json_body), session: Session = Depends(db),
           who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    return view.participant(review.assign(session, view, who, pr, repo, body))


@router.delete(PR + "/participants", status_code=204)
def unassign_by_name(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
                     session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    """Deprecated form: `?username=`."""
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    review.unassign(session, view, who, pr, repo, request.query_params.get("username"))
    return Response(status_code=204)


@router.delete(PR + "/participants/{userSlug}", status_code=204)
def unassign(projectKey: str, repositorySlug: str, pullRequestId: str, userSlug: str, request: Request,
             session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    review.unassign(session, view, who, pr, repo, userSlug)
    return Response(status_code=204)


@router.put(PR + "/participants/{userSlug}")
def update_status(projectKey: str, repositorySlug: str, pullRequestId: str, userSlug: str, request: Request,
                  body: dict = Depends(json_body), session: Session = Depends(db),
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    return view.participant(review.set_status(session, view, who, pr, userSlug, body))


@router.post(PR + "/approve")
def approve(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
            session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    return view.participant(review.set_status(session, view, who, pr, None, {"status": "APPROVED"}))


@router.delete(PR + "/approve")
def withdraw_approval(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
                      session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    return view.participant(review.withdraw(session, view, who, pr))


@router.get(PR + "/activities")
def list_activities(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
                    session: Session = Depends(db), who: Principal = Depends(principal),
                    req: PageRequest = Depends(page)) -> dict[str, Any]:
    """Newest first. `fromId`+`fromType=ACTIVITY` starts the page at that activity."""
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId)
    view = PullRequestView(session, base_url(request))
    stmt = activities.stream(pr)
    from_id = request.query_params.get("fromId")
    from_type = (request.query_params.get("fromType") or "").upper()
    if from_id:
        from culm.core.errors import ValidationError
        from culm.domain.pullrequests.models import Activity

        if from_type not in ("ACTIVITY", "COMMENT"):
            raise ValidationError("'fromType' must be ACTIVITY or COMMENT when 'fromId' is given.", context="fromType")
        if from_type == "ACTIVITY":
            stmt = stmt.where(Activity.id <= queries.parse_id(from_id))
    return page_query(session, stmt, req, view.activity)


@router.get(R + "/participants")
def search_participants(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                        who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    base = base_url(request)
    stmt = queries.repository_participants(session, repo, request.query_params)
    return page_query(session, stmt, req, lambda u: user_json(u, base))
