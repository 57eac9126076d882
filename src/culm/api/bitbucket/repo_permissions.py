"""Repository permissions: `/rest/api/latest/projects/{projectKey}/repos/{repositorySlug}/permissions/...`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.project_permissions import (
    names,
    one_name,
    page_rows,
    permitted_group,
    permitted_user,
    search_page,
)
from culm.api.bitbucket.render import user_json
from culm.api.deps import db, page, principal
from culm.api.urls import base_url
from culm.core.errors import ValidationError
from culm.core.paging import PageRequest, page_query
from culm.domain.permissions import grants
from culm.domain.permissions import levels as L
from culm.domain.permissions.models import RepoPermission
from culm.domain.permissions.service import Principal, require_repo
from culm.domain.repos import service as repos
from culm.domain.repos.models import Repository

router = APIRouter()
RP = A + "/projects/{projectKey}/repos/{repositorySlug}/permissions"


def admin_repo(session: Session, who: Principal, key: str, slug: str) -> Repository:
    _, repo = repos.require(session, key, slug)
    require_repo(session, who, repo, L.ADMIN)
    return repo


def _args(repo: Repository) -> tuple[type, object, int]:
    return RepoPermission, RepoPermission.repository_id, repo.id


@router.get(RP + "/users")
def list_users(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
               who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = admin_repo(session, who, projectKey, repositorySlug)
    stmt = grants.granted_users(*_args(repo), request.query_params.get("filter"))
    return page_rows(session, stmt, req, permitted_user(request))


@router.get(RP + "/groups")
def list_groups(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = admin_repo(session, who, projectKey, repositorySlug)
    stmt = grants.granted_groups(*_args(repo), request.query_params.get("filter"))
    return page_rows(session, stmt, req, permitted_group)


@router.get(RP + "/users/none")
def list_users_without(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                       who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = admin_repo(session, who, projectKey, repositorySlug)
    stmt = grants.licensed_users_without(*_args(repo), request.query_params.get("filter"))
    base = base_url(request)
    return page_query(session, stmt, req, lambda u: user_json(u, base))


@router.get(RP + "/groups/none")
def list_groups_without(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                        who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = admin_repo(session, who, projectKey, repositorySlug)
    stmt = grants.groups_without(*_args(repo), request.query_params.get("filter"))
    return page_query(session, stmt, req, lambda g: {"name": g.name, "deletable": True})


@router.put(RP + "/users", status_code=204)
def grant_users(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                who: Principal = Depends(principal)) -> Response:
    repo = admin_repo(session, who, projectKey, repositorySlug)
    grants.set_repo(session, who, repo, one_name(request), request.query_params.get("permission"), group=False)
    return Response(status_code=204)


@router.put(RP + "/groups", status_code=204)
def grant_groups(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                 who: Principal = Depends(principal)) -> Response:
    repo = admin_repo(session, who, projectKey, repositorySlug)
    grants.set_repo(session, who, repo, one_name(request), request.query_params.get("permission"), group=True)
    return Response(status_code=204)


@router.delete(RP + "/users", status_code=204)
def revoke_users(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                 who: Principal = Depends(principal)) -> Response:
    repo = admin_repo(session, who, projectKey, repositorySlug)
    grants.revoke_repo(session, who, repo, one_name(request), [])
    return Response(status_code=204)


@router.delete(RP + "/groups", status_code=204)
def revoke_groups(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                  who: Principal = Depends(principal)) -> Response:
    repo = admin_repo(session, who, projectKey, repositorySlug)
    grants.revoke_repo(session, who, repo, [], one_name(request))
    return Response(status_code=204)


@router.delete(RP, status_code=204)
def revoke_all(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
               who: Principal = Depends(principal)) -> Response:
    repo = admin_repo(session, who, projectKey, repositorySlug)
    users_, groups = names(request, "user"), names(request, "group")
    if not users_ and not groups:
        raise ValidationError("No users or groups were provided.")
    grants.revoke_repo(session, who, repo, users_, groups)
    return Response(status_code=204)


@router.get(RP + "/search")
def search(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
           who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = admin_repo(session, who, projectKey, repositorySlug)
    return search_page(session, request, req, *_args(repo), L.REPO + L.PROJECT)
