"""Repository resource group: `/rest/api/latest/projects/{projectKey}/repos[/{repositorySlug}]`, forks,
related repositories, default branch, and the global `/rest/api/latest/repos` search.

Personal repositories are also reached as `/rest/api/latest/users/{userSlug}/repos/...`; middleware
rewrites that to `/projects/~{userSlug}/repos/...`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render import repo_json
from culm.api.deps import db, json_body, page, principal
from culm.api.urls import base_url
from culm.core.errors import NoSuchBranch, NoSuchRepository, ValidationError
from culm.core.paging import PageRequest, page_query
from culm.domain.permissions import levels as L
from culm.domain.permissions import visibility
from culm.domain.permissions.service import Principal, deny, require_project, require_repo
from culm.domain.projects import service as projects
from culm.domain.projects.models import Project
from culm.domain.recent import service as recent
from culm.domain.repos import service as repos
from culm.domain.repos.models import Repository
from culm.git import storage

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}"


def _joined() -> Select:
    return select(Repository).join(Project, Project.id == Repository.project_id)


def _page(session: Session, stmt: Select, req: PageRequest, request: Request) -> dict[str, Any]:
    base = base_url(request)
    stmt = stmt.order_by(Project.key_upper, Repository.name_lower, Repository.id)
    return page_query(session, stmt, req, lambda r: repo_json(session, r, base))


def _repo_permission(request: Request) -> int | None:
    permission = request.query_params.get("permission")
    if not permission:
        return None
    if permission not in L.REPO:
        raise ValidationError(f"The permission '{permission}' is unknown or not applicable to repositories.",
                              context="permission")
    return L.REPO_LEVEL[permission]


def _readable(session: Session, who: Principal, project_key: str, slug: str) -> tuple[Project, Repository]:
    project, repo = repos.require(session, project_key, slug)
    require_repo(session, who, repo, L.READ)
    return project, repo


# -- collection -------------------------------------------------------------------------------
@router.get(A + "/projects/{projectKey}/repos")
def list_repos(projectKey: str, request: Request, session: Session = Depends(db),
               who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    project = projects.require(session, projectKey)
    if not who.can_view_project(session, project):
        raise deny(who)
    stmt = _joined().where(Repository.project_id == project.id,
                           visibility.repo_condition(session, who, L.READ))
    return _page(session, stmt, req, request)


@router.post(A + "/projects/{projectKey}/repos", status_code=201)
def create_repo(projectKey: str, request: Request, body: dict = Depends(json_body),
                session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    project = projects.require(session, projectKey)
    require_project(session, who, project, L.ADMIN)
    scm = body.get("scmId", "git")
    if scm not in (None, "git"):
        raise ValidationError(f"scmId '{scm}' is not supported; only 'git' is.", context="scmId")
    repo = repos.create(session, project, body.get("name"), description=body.get("description"),
                        forkable=body.get("forkable", True), public=body.get("public", False),
                        default_branch=body.get("defaultBranch"))
    return JSONResponse(repo_json(session, repo, base_url(request), project=project), status_code=201)


@router.get(A + "/repos")
def search_repos(request: Request, session: Session = Depends(db), who: Principal = Depends(principal),
                 req: PageRequest = Depends(page)) -> dict[str, Any]:
    """Every repository the caller can see, narrowed by the spec's filters; paged in the database."""
    q = request.query_params
    explicit = _repo_permission(request)
    stmt = _joined().where(visibility.repo_condition(session, who, explicit or L.READ,
                                                     include_public=explicit is None))
    name = (q.get("name") or "").strip()
    if name:
        stmt = stmt.where(Repository.name_lower.contains(name.lower()))
    project_name = (q.get("projectname") or "").strip()
    if project_name:
        stmt = stmt.where(Project.name_lower.contains(project_name.lower()))
    project_key = (q.get("projectkey") or "").strip()
    if project_key:
        stmt = stmt.where(Project.key_upper == project_key.upper())
    vis = (q.get("visibility") or "").strip().lower()
    if vis == "public":
        stmt = stmt.where(Repository.public.is_(True) | Project.public.is_(True))
    elif vis == "private":
        stmt = stmt.where(Repository.public.is_(False), Project.public.is_(False))
    elif vis:
        raise ValidationError(f"Invalid visibility '{q.get('visibility')}'; valid values are public and private.",
                              context="visibility")
    state = (q.get("state") or "").strip().upper()
    if state:
        if state not in ("AVAILABLE", "INITIALISING", "INITIALISATION_FAILED"):
            raise ValidationError(f"Invalid state '{q.get('state')}'.", context="state")
        stmt = stmt.where(Repository.state == state)
    archived = (q.get("archived") or "ACTIVE").strip().upper()
    if archived not in ("ACTIVE", "ARCHIVED", "ALL"):
        raise ValidationError(f"Invalid archived filter '{q.get('archived')}'; valid values are ACTIVE, "
                              "ARCHIVED and ALL.", context="archived")
    if archived != "ALL":
        stmt = stmt.where(Repository.archived.is_(archived == "ARCHIVED"))
    return _page(session, stmt, req, request)


# -- one repository ---------------------------------------------------------------------------
@router.get(R)
def get_repo(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
             who: Principal = Depends(principal)) -> dict[str, Any]:
    project, repo = _readable(session, who, projectKey, repositorySlug)
    if who.user is not None:
        recent.record(session, who.user.id, repo.id)  # committed with the request (one upsert)
    return repo_json(session, repo, base_url(request), project=project)


@router.put(R)
def update_repo(projectKey: str, repositorySlug: str, request: Request, body: dict = Depends(json_body),
                session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    """Rename, move (`project.key`), description, forkable, public, archived, defaultBranch -> 201."""
    _, repo = repos.require(session, projectKey, repositorySlug)
    require_repo(session, who, repo, L.ADMIN)
    target = None
    if body.get("project") is not None:
        spec = body["project"]
        if not isinstance(spec, dict) or not isinstance(spec.get("key"), str) or not spec["key"]:
            raise ValidationError("The target project must be given as {\"key\": \"KEY\"}.", context="project")
        target = projects.require(session, spec["key"])
        if target.id != repo.project_id:
            require_project(session, who, target, L.ADMIN)
    repos.update(session, repo, body, target)
    return JSONResponse(repo_json(session, repo, base_url(request)), status_code=201)


@router.delete(R, status_code=202)
def delete_repo(projectKey: str, repositorySlug: str, session: Session = Depends(db),
                who: Principal = Depends(principal)) -> Response:
    try:
        _, repo = repos.require(session, projectKey, repositorySlug)
    except NoSuchRepository:
        return Response(status_code=204)
    require_repo(session, who, repo, L.ADMIN)
    repos.delete(session, repo)
    return Response(status_code=202)


@router.post(R, status_code=201)
def fork_repo(projectKey: str, repositorySlug: str, request: Request, body: dict = Depends(json_body),
              session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    """Fork into `project.key`, or the caller's personal project by default (PROJECT_ADMIN there)."""
    _, origin = _readable(session, who, projectKey, repositorySlug)
    spec = body.get("project")
    if spec is not None:
        if not isinstance(spec, dict) or not isinstance(spec.get("key"), str) or not spec["key"]:
            raise ValidationError("A project was specified without a \"key\".", context="project")
        target = projects.require(session, spec["key"])
    elif who.user is None:
        raise deny(who)
    else:
        target = projects.personal_project(session, who.user.slug)
    require_project(session, who, target, L.ADMIN)
    fork = repos.fork(session, origin, target, body)
    return JSONResponse(repo_json(session, fork, base_url(request), project=target), status_code=201)


@router.get(R + "/forks")
def list_forks(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
               who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    _, repo = _readable(session, who, projectKey, repositorySlug)
    stmt = _joined().where(Repository.origin_id == repo.id, visibility.repo_condition(session, who, L.READ))
    return _page(session, stmt, req, request)


@router.get(R + "/related")
def list_related(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                 who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    _, repo = _readable(session, who, projectKey, repositorySlug)
    level = _repo_permission(request) or L.READ
    stmt = _joined().where(Repository.hierarchy_id == repo.hierarchy_id, Repository.id != repo.id,
                           visibility.repo_condition(session, who, level))
    return _page(session, stmt, req, request)


@router.post(R + "/recreate")
def recreate_repo(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    project, repo = repos.require(session, projectKey, repositorySlug)
    require_project(session, who, project, L.ADMIN)
    repos.recreate(session, repo)
    return repo_json(session, repo, base_url(request), project=project)


# -- default branch ---------------------------------------------------------------------------
def _minimal_ref(ref: str) -> dict[str, Any]:
    return {"id": ref, "displayId": ref.removeprefix("refs/heads/"), "type": "BRANCH"}


@router.get(R + "/default-branch")
def get_default_branch(projectKey: str, repositorySlug: str, session: Session = Depends(db),
                       who: Principal = Depends(principal)) -> dict[str, Any]:
    """The configured default branch, whether or not it has been pushed yet."""
    _, repo = _readable(session, who, projectKey, repositorySlug)
    return _minimal_ref(repo.default_branch)


@router.get(R + "/branches/default", response_model=None)
def get_default_branch_legacy(projectKey: str, repositorySlug: str, session: Session = Depends(db),
                              who: Principal = Depends(principal)) -> dict[str, Any] | Response:
    """Deprecated form: 204 for an empty repository, 404 when the configured branch is missing."""
    _, repo = _readable(session, who, projectKey, repositorySlug)
    if not storage.has_branches(repo.id):
        return Response(status_code=204)
    commit = storage.resolve_ref(repo.id, repo.default_branch)
    if commit is None:
        raise NoSuchBranch(f"The default branch '{repo.default_branch}' does not exist in repository "
                           f"'{repo.name}'.")
    return {**_minimal_ref(repo.default_branch), "latestCommit": commit, "latestChangeset": commit,
            "isDefault": True}


@router.put(R + "/default-branch", status_code=204)
@router.put(R + "/branches/default", status_code=204)
def set_default_branch(projectKey: str, repositorySlug: str, body: dict = Depends(json_body),
                       session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    _, repo = repos.require(session, projectKey, repositorySlug)
    require_repo(session, who, repo, L.ADMIN)
    if "id" not in body and "displayId" not in body:
        raise ValidationError("The branch 'id' is required.", context="id")
    repos.set_default_branch(session, repo, body)
    return Response(status_code=204)
