"""Commit comments (tag "Repository"): `{R}/commits/{commitId}/comments[/{commentId}]`, the same
shapes as pull request comments; anchors are checked against the commit's own diff."""

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
from culm.domain.comments import service as comments
from culm.domain.permissions.service import Principal
from culm.domain.repos.models import Repository
from culm.git import revisions

router = APIRouter()
C = A + "/projects/{projectKey}/repos/{repositorySlug}/commits/{commitId}/comments"


def _context(session: Session, who: Principal, request: Request, key: str, slug: str,
             commit: str) -> tuple[Repository, str, CommentView]:
    """The repository and the full id of the commit (404 NoSuchCommitException when it is not there)."""
    repo = readable(session, who, key, slug)
    found = revisions.resolve_commit(revisions.open_repo(repo.id), commit, repo.name)
    return repo, str(found.id), CommentView(session, base_url(request), who, repo)


@router.post(C, status_code=201)
def create_comment(projectKey: str, repositorySlug: str, commitId: str, request: Request,
                   body: dict = Depends(json_body), session: Session = Depends(db),
                   who: Principal = Depends(principal)) -> JSONResponse:
    repo, commit, view = _context(session, who, request, projectKey, repositorySlug, commitId)
    row = comments.create(session, who, view, repo, body, commit_id=commit)
    return JSONResponse(view.comment(row), status_code=201)


@router.get(C)
def list_comments(projectKey: str, repositorySlug: str, commitId: str, request: Request,
                  session: Session = Depends(db), who: Principal = Depends(principal),
                  req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo, commit, view = _context(session, who, request, projectKey, repositorySlug, commitId)
    return page_of(view, comments.commit_statement(repo, commit, request.query_params), req)


@router.get(C + "/{commentId}")
def get_comment(projectKey: str, repositorySlug: str, commitId: str, commentId: str, request: Request,
                session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    repo, commit, view = _context(session, who, request, projectKey, repositorySlug, commitId)
    return JSONResponse(view.comment(comments.require(session, repo, commentId, commit_id=commit, who=who)))


@router.put(C + "/{commentId}")
def update_comment(projectKey: str, repositorySlug: str, commitId: str, commentId: str, request: Request,
                   body: dict = Depends(json_body), session: Session = Depends(db),
                   who: Principal = Depends(principal)) -> JSONResponse:
    repo, commit, view = _context(session, who, request, projectKey, repositorySlug, commitId)
    row = comments.require(session, repo, commentId, commit_id=commit, who=who)
    comments.update(session, who, view, repo, row, body)
    return JSONResponse(CommentView(session, view.base, who, repo).comment(row))


@router.delete(C + "/{commentId}", status_code=204)
def delete_comment(projectKey: str, repositorySlug: str, commitId: str, commentId: str, request: Request,
                   session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    repo, commit, view = _context(session, who, request, projectKey, repositorySlug, commitId)
    row = comments.require(session, repo, commentId, commit_id=commit, who=who)
    comments.delete(session, who, view, repo, row, request.query_params.get("version"))
    return Response(status_code=204)
