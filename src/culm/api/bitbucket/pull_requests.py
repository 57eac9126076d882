"""Pull requests (tag "Pull Requests"): create, page, get, update, delete, decline, reopen, watch,
and the pull requests containing a commit. Rules live in `culm.domain.pullrequests`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.pull_requests_render import PullRequestView
from culm.api.bitbucket.repo_access import readable
from culm.api.deps import db, flag, json_body, page, principal
from culm.api.urls import base_url
from culm.core.errors import NoSuchCommit
from culm.core.paging import PageRequest, page_envelope, page_query
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import lifecycle, queries
from culm.domain.pullrequests.models import PullRequest
from culm.git import pullrequests as gitpr
from culm.git import revisions

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}"
PR = R + "/pull-requests/{pullRequestId}"


def _json(view: PullRequestView, pr: PullRequest, status: int = 200) -> JSONResponse:
    return JSONResponse(view.pull_request(pr), status_code=status)


@router.post(R + "/pull-requests", status_code=201)
def create(projectKey: str, repositorySlug: str, request: Request, body: dict = Depends(json_body),
           session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    target = readable(session, who, projectKey, repositorySlug)
    view = PullRequestView(session, base_url(request))
    pr = lifecycle.create(session, view, who, target, body)
    return _json(view, pr, 201)


@router.get(R + "/pull-requests")
def list_pull_requests(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                       who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    view = PullRequestView(session, base_url(request))
    stmt = queries.page_statement(session, repo, request.query_params)
    props = flag(request, "withProperties", True)
    return page_query(session, stmt, req, lambda pr: view.pull_request(pr, with_properties=props))


@router.get(PR)
def get_pull_request(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
                     session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId)
    view = PullRequestView(session, base_url(request))
    return JSONResponse(view.pull_request(pr, with_properties=flag(request, "withProperties", True)))


@router.put(PR)
def update(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
           body: dict = Depends(json_body), session: Session = Depends(db),
           who: Principal = Depends(principal)) -> JSONResponse:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    return _json(view, lifecycle.update(session, view, who, pr, repo, body))


@router.delete(PR, status_code=204)
def delete(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
           body: dict = Depends(json_body), session: Session = Depends(db),
           who: Principal = Depends(principal)) -> Response:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    lifecycle.remove(session, view, who, pr, repo, body.get("version", request.query_params.get("version")))
    return Response(status_code=204)


def _version(request: Request, body: dict) -> Any:
    return request.query_params.get("version", body.get("version"))


@router.post(PR + "/decline")
def decline(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
            body: dict = Depends(json_body), session: Session = Depends(db),
            who: Principal = Depends(principal)) -> JSONResponse:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    return _json(view, lifecycle.decline(session, view, who, pr, repo, _version(request, body)))


@router.post(PR + "/reopen")
def reopen(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
           body: dict = Depends(json_body), session: Session = Depends(db),
           who: Principal = Depends(principal)) -> JSONResponse:
    repo = readable(session, who, projectKey, repositorySlug)
    pr = queries.require(session, repo, pullRequestId, lock=True)
    view = PullRequestView(session, base_url(request))
    return _json(view, lifecycle.reopen(session, view, who, pr, repo, _version(request, body)))


@router.post(PR + "/watch", status_code=204)
def watch(projectKey: str, repositorySlug: str, pullRequestId: str, session: Session = Depends(db),
          who: Principal = Depends(principal)) -> Response:
    repo = readable(session, who, projectKey, repositorySlug)
    lifecycle.watch(session, who, queries.require(session, repo, pullRequestId), True)
    return Response(status_code=204)


@router.delete(PR + "/watch", status_code=204)
def unwatch(projectKey: str, repositorySlug: str, pullRequestId: str, session: Session = Depends(db),
            who: Principal = Depends(principal)) -> Response:
    repo = readable(session, who, projectKey, repositorySlug)
    lifecycle.watch(session, who, queries.require(session, repo, pullRequestId), False)
    return Response(status_code=204)


@router.get(R + "/commits/{commitId}/pull-requests")
def containing_commit(projectKey: str, repositorySlug: str, commitId: str, request: Request,
                      session: Session = Depends(db), who: Principal = Depends(principal),
                      req: PageRequest = Depends(page)) -> dict[str, Any]:
    """Pull requests of this repository (either end) whose commits include `commitId`, newest first.
    Candidates are read in batches and tested in git until the page is full."""
    repo = readable(session, who, projectKey, repositorySlug)
    commit = revisions.find_commit(revisions.open_repo(repo.id), commitId)
    if commit is None:
        raise NoSuchCommit(f"Commit '{commitId}' does not exist in repository '{repo.name}'.")
    oid = str(commit.id)
    view = PullRequestView(session, base_url(request))
    stmt = (select(PullRequest)
            .where((PullRequest.repository_id == repo.id) | (PullRequest.from_repository_id == repo.id))
            .order_by(PullRequest.id.desc()))
    wanted = req.start + req.limit + 1
    found: list[PullRequest] = []
    offset, batch = 0, 100
    while len(found) < wanted:
        rows = list(session.scalars(stmt.offset(offset).limit(batch)))
        for pr in rows:
            ids = tuple(dict.fromkeys((pr.repository_id, pr.from_repository_id)))
            if oid in (pr.from_commit, pr.merge_commit) or gitpr.in_range(ids, oid, pr.from_commit, pr.to_commit):
                found.append(pr)
        if len(rows) < batch:
            break
        offset += batch
    chunk = found[req.start:req.start + req.limit + 1]
    return page_envelope([view.pull_request(pr) for pr in chunk[:req.limit]], req, len(chunk) <= req.limit)
