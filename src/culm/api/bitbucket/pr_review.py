"""The caller's pending review on a pull request (`{PR}/review`): see the threads holding their pending
comments, finish the review (publish them, optionally a general comment and a review status), or
discard it (delete them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.comments_render import CommentView
from culm.api.bitbucket.pr_comments import page_of
from culm.api.bitbucket.repo_access import readable
from culm.api.deps import db, json_body, page, principal
from culm.api.urls import base_url
from culm.core.paging import PageRequest
from culm.domain.comments import review
from culm.domain.comments import service as comments
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import queries

router = APIRouter()
PR = A + "/projects/{projectKey}/repos/{repositorySlug}/pull-requests/{pullRequestId}"


@router.get(PR + "/review")
def get_review(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
               session: Session = Depends(db), who: Principal = Depends(principal),
               req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId)
    user = comments.caller(who)
    view = CommentView(session, base_url(request), who, repo)
    return page_of(view, comments.pending_statement(pr, user.id), req)


@router.put(PR + "/review")
def finish_review(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
                  body: dict = Depends(json_body), session: Session = Depends(db),
                  who: Principal = Depends(principal)) -> JSONResponse:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId)
    view = CommentView(session, base_url(request), who, repo)
    published = review.finish(session, who, view, repo, pr, body, request.query_params.get("version"))
    return JSONResponse({"publishedCommentCount": published})


@router.delete(PR + "/review", status_code=204)
def discard_review(projectKey: str, repositorySlug: str, pullRequestId: str, session: Session = Depends(db),
                   who: Principal = Depends(principal)) -> Response:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId)
    comments.discard(session, pr, comments.caller(who))
    return Response(status_code=204)
