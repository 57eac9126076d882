"""Required-builds merge check conditions (`/rest/required-builds/latest/{p}/{r}/condition[s]`): list
(REPO_READ), create, update, delete (REPO_ADMIN)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from culm.api.bitbucket.repo_access import readable, repo_at
from culm.api.deps import db, json_body, page, principal
from culm.core.paging import PageRequest
from culm.domain.builds import required
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal

router = APIRouter()
RB = "/rest/required-builds/latest/projects/{projectKey}/repos/{repositorySlug}"


@router.get(RB + "/conditions")
def conditions(projectKey: str, repositorySlug: str, session: Session = Depends(db),
               who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    return required.page(session, repo, req)


@router.post(RB + "/condition")
def create(projectKey: str, repositorySlug: str, body: dict = Depends(json_body), session: Session = Depends(db),
           who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = repo_at(session, who, projectKey, repositorySlug, L.ADMIN)[1]
    return required.condition_json(required.create(session, repo, body))


@router.put(RB + "/condition/{id}")
def update(projectKey: str, repositorySlug: str, id: int, body: dict = Depends(json_body),
           session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = repo_at(session, who, projectKey, repositorySlug, L.ADMIN)[1]
    return required.condition_json(required.update(session, repo, id, body))


@router.delete(RB + "/condition/{id}", status_code=204)
def delete(projectKey: str, repositorySlug: str, id: int, session: Session = Depends(db),
           who: Principal = Depends(principal)) -> Response:
    repo = repo_at(session, who, projectKey, repositorySlug, L.ADMIN)[1]
    required.delete(session, repo, id)
    return Response(status_code=204)
