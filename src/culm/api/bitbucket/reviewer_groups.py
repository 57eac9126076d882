"""Reviewer groups: `{P}/settings/reviewer-groups` and `{R}/settings/reviewer-groups` (+ `/{id}/users`).

Reading needs read access to the project or repository; changing needs PROJECT_ADMIN / REPO_ADMIN.
A repository's list also shows its project's groups (inherited); only a scope's own groups can change.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render import user_json
from culm.api.deps import db, json_body, page, principal
from culm.api.urls import base_url
from culm.core.paging import PageRequest, page_envelope
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_project, require_repo
from culm.domain.projects import service as projects
from culm.domain.repos import service as repos
from culm.domain.reviewers import service as reviewers
from culm.domain.reviewers.models import ReviewerGroup
from culm.domain.reviewers.service import Scope

router = APIRouter()
PG = A + "/projects/{projectKey}/settings/reviewer-groups"
RG = A + "/projects/{projectKey}/repos/{repositorySlug}/settings/reviewer-groups"


def scope_of(session: Session, who: Principal, key: str, slug: str | None, level: int) -> Scope:
    """The project or repository scope, once the caller holds `level` there (404 before 401)."""
    if slug is None:
        project = projects.require(session, key)
        require_project(session, who, project, L.ADMIN if level == L.ADMIN else L.READ)
        return Scope(project)
    project, repo = repos.require(session, key, slug)
    require_repo(session, who, repo, level)
    return Scope(project, repo)


def group_json(session: Session, group: ReviewerGroup, base: str, users: list | None = None) -> dict[str, Any]:
    """RestReviewerGroup."""
    if users is None:
        users = reviewers.group_users(session, [group.id])[group.id]
    body: dict[str, Any] = {"id": group.id, "name": group.name}
    if group.description is not None:
        body["description"] = group.description
    body["scope"] = {"type": group.scope_type, "resourceId": group.scope_id}
    body["users"] = [user_json(u, base) for u in users]
    return body


def _page(session: Session, scope: Scope, req: PageRequest, base: str) -> dict[str, Any]:
    stmt = reviewers.groups_query(scope)
    rows = list(session.scalars(stmt.offset(req.start).limit(req.limit + 1)))
    shown = rows[: req.limit]
    members = reviewers.group_users(session, [g.id for g in shown])
    return page_envelope([group_json(session, g, base, members[g.id]) for g in shown], req, len(rows) <= req.limit)


def _list(request: Request, session: Session, who: Principal, req: PageRequest, key: str,
          slug: str | None) -> dict[str, Any]:
    return _page(session, scope_of(session, who, key, slug, L.READ), req, base_url(request))


def _create(request: Request, session: Session, who: Principal, body: dict, key: str, slug: str | None) -> JSONResponse:
    scope = scope_of(session, who, key, slug, L.ADMIN)
    group = reviewers.create_group(session, scope, body)
    return JSONResponse(group_json(session, group, base_url(request)), status_code=201)


def _get(request: Request, session: Session, who: Principal, key: str, slug: str | None, gid: str) -> dict[str, Any]:
    scope = scope_of(session, who, key, slug, L.READ)
    return group_json(session, reviewers.get_group(session, scope, gid), base_url(request))


def _update(request: Request, session: Session, who: Principal, body: dict, key: str, slug: str | None,
            gid: str) -> dict[str, Any]:
    scope = scope_of(session, who, key, slug, L.ADMIN)
    return group_json(session, reviewers.update_group(session, scope, gid, body), base_url(request))


def _delete(session: Session, who: Principal, key: str, slug: str | None, gid: str) -> Response:
    reviewers.delete_group(session, scope_of(session, who, key, slug, L.ADMIN), gid)
    return Response(status_code=204)


@router.get(PG)
def list_project_groups(projectKey: str, request: Request, session: Session = Depends(db),
                        who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    return _list(request, session, who, req, projectKey, None)


@router.get(RG)
def list_repo_groups(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                     who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    return _list(request, session, who, req, projectKey, repositorySlug)


@router.post(PG, status_code=201)
def create_project_group(projectKey: str, request: Request, body: dict = Depends(json_body),
                         session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    return _create(request, session, who, body, projectKey, None)


@router.post(RG, status_code=201)
def create_repo_group(projectKey: str, repositorySlug: str, request: Request, body: dict = Depends(json_body),
                      session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    return _create(request, session, who, body, projectKey, repositorySlug)


@router.get(PG + "/{id}")
def get_project_group(projectKey: str, id: str, request: Request, session: Session = Depends(db),
                      who: Principal = Depends(principal)) -> dict[str, Any]:
    return _get(request, session, who, projectKey, None, id)


@router.get(RG + "/{id}")
def get_repo_group(projectKey: str, repositorySlug: str, id: str, request: Request, session: Session = Depends(db),
                   who: Principal = Depends(principal)) -> dict[str, Any]:
    return _get(request, session, who, projectKey, repositorySlug, id)


@router.get(RG + "/{id}/users")
def get_repo_group_users(projectKey: str, repositorySlug: str, id: str, request: Request,
                         session: Session = Depends(db), who: Principal = Depends(principal)) -> list[dict[str, Any]]:
    scope = scope_of(session, who, projectKey, repositorySlug, L.READ)
    group = reviewers.get_group(session, scope, id)
    base = base_url(request)
    return [user_json(u, base) for u in reviewers.group_users(session, [group.id])[group.id]]


@router.put(PG + "/{id}")
def update_project_group(projectKey: str, id: str, request: Request, body: dict = Depends(json_body),
                         session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    return _update(request, session, who, body, projectKey, None, id)


@router.put(RG + "/{id}")
def update_repo_group(projectKey: str, repositorySlug: str, id: str, request: Request,
                      body: dict = Depends(json_body), session: Session = Depends(db),
                      who: Principal = Depends(principal)) -> dict[str, Any]:
    return _update(request, session, who, body, projectKey, repositorySlug, id)


@router.delete(PG + "/{id}", status_code=204)
def delete_project_group(projectKey: str, id: str, session: Session = Depends(db),
                         who: Principal = Depends(principal)) -> Response:
    return _delete(session, who, projectKey, None, id)


@router.delete(RG + "/{id}", status_code=204)
def delete_repo_group(projectKey: str, repositorySlug: str, id: str, session: Session = Depends(db),
                      who: Principal = Depends(principal)) -> Response:
    return _delete(session, who, projectKey, repositorySlug, id)
