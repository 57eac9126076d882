"""The branch-utils plugin API: `/rest/branch-utils/latest/projects/{projectKey}/repos/{repositorySlug}/
branches` create (201) and delete (JSON body, 204, idempotent), and `branches/info/{commitId}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from culm.api.bitbucket.render_git import branch_json, display_id
from culm.api.bitbucket.repo_access import readable, writable
from culm.api.deps import db, json_body, page, principal
from culm.core.paging import PageRequest, page_envelope
from culm.domain.permissions.service import Principal
from culm.domain.refs import branches
from culm.domain.refs.naming import as_bool

router = APIRouter()
U = "/rest/branch-utils/latest/projects/{projectKey}/repos/{repositorySlug}/branches"


@router.post(U, status_code=201)
def create_branch(projectKey: str, repositorySlug: str, body: dict = Depends(json_body),
                  session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    repo = writable(session, who, projectKey, repositorySlug)
    branch = branches.create(session, repo, who.user.id if who.user else None, body.get("name"),
                             body.get("startPoint"), body.get("message"), plugin_api=True)
    return JSONResponse(branch_json(branch.ref, branch.commit, branch.ref == repo.default_branch),
                        status_code=201)


@router.delete(U, status_code=204)
def delete_branch(projectKey: str, repositorySlug: str, body: dict = Depends(json_body),
                  session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    repo = writable(session, who, projectKey, repositorySlug)
    branches.delete(session, repo, who.user.id if who.user else None, body.get("name"), body.get("endPoint"),
                    as_bool(body.get("dryRun"), "dryRun"))
    return Response(status_code=204)


@router.get(U + "/info/{commitId}")
def find_by_commit(projectKey: str, repositorySlug: str, commitId: str, session: Session = Depends(db),
                   who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    """A page of RestMinimalRef: the branches whose history contains the commit."""
    repo = readable(session, who, projectKey, repositorySlug)
    items, is_last = branches.containing(repo, commitId, req)
    return page_envelope([{"id": b.ref, "displayId": display_id(b.ref), "type": "BRANCH"} for b in items],
                         req, is_last)
