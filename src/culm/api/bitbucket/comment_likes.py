"""Comment reactions (`/rest/comment-likes`): react / unReact on pull request and commit comments."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from culm.api.bitbucket.comments_render import CommentView
from culm.api.bitbucket.repo_access import readable
from culm.api.deps import db, principal
from culm.api.urls import base_url
from culm.domain.comments import reactions
from culm.domain.comments import service as comments
from culm.domain.comments.models import Comment
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import queries
from culm.git import revisions

router = APIRouter()
R = "/rest/comment-likes/latest/projects/{projectKey}/repos/{repositorySlug}"
PRC = R + "/pull-requests/{pullRequestId}/comments/{commentId}/reactions/{emoticon}"
CC = R + "/commits/{commitId}/comments/{commentId}/reactions/{emoticon}"


def _pr_comment(session: Session, who: Principal, key: str, slug: str, pr_id: str, cid: str) -> Comment:
    repo = readable(session, who, key, slug)
    return comments.require(session, repo, cid, pr=queries.require(session, repo, pr_id), who=who)


def _commit_comment(session: Session, who: Principal, key: str, slug: str, commit: str, cid: str) -> Comment:
    repo = readable(session, who, key, slug)
    found = revisions.resolve_commit(revisions.open_repo(repo.id), commit, repo.name)
    return comments.require(session, repo, cid, commit_id=str(found.id), who=who)


def _reacted(session: Session, request: Request, who: Principal, row: Comment, emoticon: str) -> JSONResponse:
    user, name = reactions.react(session, who, row, emoticon)
    view = CommentView(session, base_url(request))
    body = {"comment": view.comment(row), "emoticon": view.emoticon(name), "user": view.user(user)}
    return JSONResponse(body)


@router.put(PRC)
def react_pr(projectKey: str, repositorySlug: str, pullRequestId: str, commentId: str, emoticon: str,
             request: Request, session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    row = _pr_comment(session, who, projectKey, repositorySlug, pullRequestId, commentId)
    return _reacted(session, request, who, row, emoticon)


@router.delete(PRC, status_code=204)
def unreact_pr(projectKey: str, repositorySlug: str, pullRequestId: str, commentId: str, emoticon: str,
               session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    row = _pr_comment(session, who, projectKey, repositorySlug, pullRequestId, commentId)
    reactions.unreact(session, who, row, emoticon)
    return Response(status_code=204)


@router.put(CC)
def react_commit(projectKey: str, repositorySlug: str, commitId: str, commentId: str, emoticon: str,
                 request: Request, session: Session = Depends(db),
                 who: Principal = Depends(principal)) -> JSONResponse:
    row = _commit_comment(session, who, projectKey, repositorySlug, commitId, commentId)
    return _reacted(session, request, who, row, emoticon)


@router.delete(CC, status_code=204)
def unreact_commit(projectKey: str, repositorySlug: str, commitId: str, commentId: str, emoticon: str,
                   session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    row = _commit_comment(session, who, projectKey, repositorySlug, commitId, commentId)
    reactions.unreact(session, who, row, emoticon)
    return Response(status_code=204)
