"""Bamboo REST project administration: create and delete projects, and the forge repositories allowed to
manage a project through repository-stored Bamboo Specs (enforced by the Specs scanner). Bamboo administrators
only (culm has no Bamboo project permissions)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from culm.api.bamboo import render
from culm.api.bamboo.plan_admin import json_body
from culm.api.bamboo.plans import _caller, error, route
from culm.api.bamboo.rest_render import respond
from culm.api.urls import base_url
from culm.domain.bamboo import project_admin as pa
from culm.domain.bamboo import service
from culm.domain.bamboo.models import BambooProject
from culm.domain.permissions import levels as L
from culm.domain.permissions import visibility
from culm.domain.permissions.service import Principal, require_global
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository

MAX_LIMIT = 500


def _project(request: Request) -> tuple[Session, Principal, BambooProject]:
    session, who = _caller(request)
    project = service.project(session, render.strip_suffix(request.path_params["projectKey"]))
    require_global(session, who, L.G_ADMIN)
    return session, who, project


def _repo_url(request: Request, repo: Repository, owner: Project) -> str:
    return f"{base_url(request)}/projects/{owner.key}/repos/{repo.slug}/browse"


def repository_json(request: Request, repo: Repository, owner: Project) -> dict[str, Any]:
    """RestRepository: a forge repository (its Specs are scanned, hence rssEnabled)."""
    return {"id": repo.id, "name": repo.name, "url": _repo_url(request, repo, owner), "rssEnabled": True,
            "projectKey": owner.key, "projectName": owner.name}


@route("/project", "POST")
async def create_project(request: Request) -> Response:
    session, who = _caller(request)
    require_global(session, who, L.G_PROJECT_CREATE)  # Bamboo's global "Create" permission
    body = await json_body(request)
    try:
        project = pa.create(session, body)
    except pa.FieldsInvalid as exc:
        return error(400, [], exc.fields)
    data = {"expand": "plans", **render.project_json(request, project), "publicAccess": False,
            "plans": render.collapsed(0)}
    return render.respond(request, "project", data, status=201)


@route("/project/{projectKey}", "DELETE")
async def delete_project(request: Request) -> Response:
    session, _, project = _project(request)
    pa.delete_project(session, project)
    return Response(status_code=204)


@route("/project/{projectKey}/repository", "GET", "POST")
async def project_repository(request: Request) -> Response:
    session, _, project = _project(request)
    if request.method == "GET":
        items = [repository_json(request, r, o) for r, o in pa.assigned(session, project)]
        return respond(request, "repositories", items, item="repository")
    body = await json_body(request)
    if body.get("id") is None or isinstance(body.get("id"), bool):
        raise service.Invalid("The repository id is required.")
    repo, owner = pa.repository(session, body.get("id"))
    pa.assign(session, project, repo)
    return respond(request, "repository", {"id": repo.id, "name": repo.name,
                                           "url": _repo_url(request, repo, owner)}, status=201)


@route("/project/{projectKey}/repository/search", "GET")
async def search_repositories(request: Request) -> Response:
    """Repositories that could be given the right to manage the project (not yet assigned)."""
    session, who, project = _project(request)
    term = (request.query_params.get("searchTerm") or "").strip().lower()
    taken = {r.id for r, _ in pa.assigned(session, project)}
    rows = session.execute(select(Repository, Project).join(Project, Project.id == Repository.project_id)
                           .where(visibility.repo_condition(session, who, L.READ))
                           .order_by(Project.key, Repository.slug)).all()
    items = [repository_json(request, r, o) for r, o in rows
             if r.id not in taken and (not term or term in r.name.lower() or term in r.slug.lower()
                                       or term in f"{o.key}/{r.slug}".lower())]
    data = {"size": len(items), "start-index": 0, "max-result": len(items), "searchResults": items}
    return respond(request, "repositoryList", data)


@route("/project/{projectKey}/repository/{repositoryId}", "DELETE")
async def unassign_repository(request: Request) -> Response:
    session, _, project = _project(request)
    pa.unassign(session, project, render.strip_suffix(request.path_params["repositoryId"]))
    return Response(status_code=204)


def _page_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        raise service.Invalid(f"Invalid value for {name}: '{raw}'")
    return int(raw)


@route("/project/{projectKey}/repositories", "GET")
async def project_repositories(request: Request) -> Response:
    """RestPageModel of the repositories the project's plans build or that may manage it."""
    session, who, project = _project(request)
    start = _page_int(request, "start", 0, 0, 1 << 30)
    limit = _page_int(request, "limit", 25, 1, MAX_LIMIT)
    term = (request.query_params.get("filter") or "").strip().lower()
    rows = [(r, o) for r, o in pa.plan_repositories(session, project)
            if not term or term in r.name.lower() or term in r.slug.lower()]
    page = rows[start:start + limit]
    items = [{"id": r.id, "name": r.name, "url": _repo_url(request, r, o), "location": f"{o.key}/{r.slug}",
              "type": "bbserver", "icon": "", "admin": who.repo_level(session, r) >= L.ADMIN}
             for r, o in page]
    self_url = render.link(request, f"project/{project.key}/repositories")["href"]
    data: dict[str, Any] = {"start": start, "limit": limit, "results": items,
                            "self": f"{self_url}?start={start}&limit={limit}"}
    if start + limit < len(rows):
        data["next"] = f"{self_url}?start={start + limit}&limit={limit}"
    if start > 0:
        data["prev"] = f"{self_url}?start={max(0, start - limit)}&limit={limit}"
    return respond(request, "restPageModel", data)
