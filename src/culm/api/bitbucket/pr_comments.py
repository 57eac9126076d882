"""Pull request comments and tasks (tag "Pull Requests"): `{PR}/comments` (general, file, line comments
and replies) and `{PR}/blocker-comments` (tasks = BLOCKER comments). Rules: `culm.domain.comments`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Select
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.comments_render import CommentView
from culm.api.bitbucket.repo_access import readable
from culm.api.deps import db, flag, json_body, page, principal
from culm.api.urls import base_url
from culm.core.paging import PageRequest, page_envelope
from culm.domain.comments import service as comments
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import queries

router = APIRouter()
PR = A + "/projects/{projectKey}/repos/{repositorySlug}/pull-requests/{pullRequestId}"


def page_of(view: CommentView, stmt: Select, req: PageRequest) -> dict[str, Any]:
    """One page (limit+1 rows) with its threads and reactions loaded in one query each."""
    rows = list(view.session.scalars(stmt.offset(req.start).limit(req.limit + 1)))
    shown = rows[: req.limit]
    return page_envelope(view.comments(shown), req, len(rows) <= req.limit)


def _context(session: Session, who: Principal, request: Request, key: str, slug: str, pr_id: str):  # type: ignore[no-untyped-def]
    repo = readable(session, who, key, slug)
    pr = queries.require(session, repo, pr_id)
    return repo, pr, CommentView(session, base_url(request), who, repo)


def _create(key: str, slug: str, pr_id: str, request: Request, body: dict, session: Session, who: Principal,
            task: bool) -> JSONResponse:
    repo, pr, view = _context(session, who, request, key, slug, pr_id)
    row = comments.create(session, who, view, repo, body, pr=pr, task=task)
    return JSONResponse(view.comment(row), status_code=201)


def _get(key: str, slug: str, pr_id: str, comment_id: str, request: Request, session: Session,
         who: Principal) -> JSONResponse:
    repo, pr, view = _context(session, who, request, key, slug, pr_id)
    return JSONResponse(view.comment(comments.require(session, repo, comment_id, pr=pr, who=who)))


def _update(key: str, slug: str, pr_id: str, comment_id: str, request: Request, body: dict, session: Session,
            who: Principal) -> JSONResponse:
    repo, pr, view = _context(session, who, request, key, slug, pr_id)
    row = comments.require(session, repo, comment_id, pr=pr, who=who)
    comments.update(session, who, view, repo, row, body, pr=pr)
    return JSONResponse(CommentView(session, view.base, who, repo).comment(row))


def _delete(key: str, slug: str, pr_id: str, comment_id: str, request: Request, session: Session,
            who: Principal) -> Response:
    repo, pr, view = _context(session, who, request, key, slug, pr_id)
    row = comments.require(session, repo, comment_id, pr=pr, who=who)
    comments.delete(session, who, view, repo, row, request.query_params.get("version"), pr=pr)
    return Response(status_code=204)


@router.post(PR + "/comments", status_code=201)
def create_comment(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
                   body: dict = Depends(json_body), session: Session = Depends(db),
                   who: Principal = Depends(principal)) -> JSONResponse:
    return _create(projectKey, repositorySlug, pullRequestId, request, body, session, who, False)


@router.get(PR + "/comments")
def list_comments(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
                  session: Session = Depends(db), who: Principal = Depends(principal),
                  req: PageRequest = Depends(page)) -> dict[str, Any]:
    _, pr, view = _context(session, who, request, projectKey, repositorySlug, pullRequestId)
    return page_of(view, comments.pr_path_statement(pr, request.query_params, comments.viewer_id(who)), req)


@router.get(PR + "/comments/{commentId}")
def get_comment(projectKey: str, repositorySlug: str, pullRequestId: str, commentId: str, request: Request,
                session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    return _get(projectKey, repositorySlug, pullRequestId, commentId, request, session, who)


@router.put(PR + "/comments/{commentId}")
def update_comment(projectKey: str, repositorySlug: str, pullRequestId: str, commentId: str, request: Request,
                   body: dict = Depends(json_body), session: Session = Depends(db),
                   who: Principal = Depends(principal)) -> JSONResponse:
    return _update(projectKey, repositorySlug, pullRequestId, commentId, request, body, session, who)


@router.delete(PR + "/comments/{commentId}", status_code=204)
def delete_comment(projectKey: str, repositorySlug: str, pullRequestId: str, commentId: str, request: Request,
                   session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    return _delete(projectKey, repositorySlug, pullRequestId, commentId, request, session, who)


@router.post(PR + "/blocker-comments", status_code=201)
def create_task(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
                body: dict = Depends(json_body), session: Session = Depends(db),
                who: Principal = Depends(principal)) -> JSONResponse:
    return _create(projectKey, repositorySlug, pullRequestId, request, body, session, who, True)


@router.get(PR + "/blocker-comments")
def list_tasks(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
               session: Session = Depends(db), who: Principal = Depends(principal),
               req: PageRequest = Depends(page)) -> dict[str, Any]:
    _, pr, view = _context(session, who, request, projectKey, repositorySlug, pullRequestId)
    if flag(request, "count"):
        return comments.task_counts(session, pr)
    return page_of(view, comments.tasks_statement(pr, request.query_params, comments.viewer_id(who)), req)


@router.get(PR + "/blocker-comments/{commentId}")
def get_task(projectKey: str, repositorySlug: str, pullRequestId: str, commentId: str, request: Request,
             session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    return _get(projectKey, repositorySlug, pullRequestId, commentId, request, session, who)


@router.put(PR + "/blocker-comments/{commentId}")
def update_task(projectKey: str, repositorySlug: str, pullRequestId: str, commentId: str, request: Request,
                body: dict = Depends(json_body), session: Session = Depends(db),
                who: Principal = Depends(principal)) -> JSONResponse:
    return _update(projectKey, repositorySlug, pullRequestId, commentId, request, body, session, who)


@router.delete(PR + "/blocker-comments/{commentId}", status_code=204)
def delete_task(projectKey: str, repositorySlug: str, pullRequestId: str, commentId: str, request: Request,
                session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    return _delete(projectKey, repositorySlug, pullRequestId, commentId, request, session, who)
