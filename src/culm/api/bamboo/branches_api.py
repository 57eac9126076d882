"""Bamboo REST: plan branches (list, get — 204 when missing, as clients rely on —, create with PUT), the
repository branches a plan could build (`vcsBranches`), plan deletion and favourites."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from culm.api.bamboo import render
from culm.api.bamboo.plans import _caller, _flag, _paging, route
from culm.api.bamboo.rest_render import branch_json, respond
from culm.domain.bamboo import branches as br
from culm.domain.bamboo import favourites, service
from culm.domain.bamboo.service import Invalid
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import require_global

BRANCH_ATTRS = {"branch": {"key", "name", "shortName", "shortKey", "enabled"}, "master": render.ATTRIBUTES["plan"]}


def _bool(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() not in ("true", "false"):
        raise Invalid(f"Invalid value for {name}: '{raw}' (true or false)")
    return raw.lower() == "true"


def _master(request: Request):  # type: ignore[no-untyped-def]
    session, who = _caller(request)
    project, plan = service.plan(session, render.strip_suffix(request.path_params["planKey"]))
    if plan.master_id is not None:
        raise service.NotFound(f"Plan {project.key}-{plan.key} is a plan branch, not a top-level plan")
    return session, who, project, plan


@route("/plan/{planKey}/branch", "GET")
async def plan_branches(request: Request) -> Response:
    session, who, project, master = _master(request)
    rows = br.branches(session, master, enabled_only=_flag(request, "enabledOnly"))
    if _flag(request, "favourite"):
        starred = favourites.plan_ids(session, who.user.id if who.user else None)
        rows = [r for r in rows if r.id in starred]
    start, limit = _paging(request)
    page = rows[start:start + limit]
    items = [branch_json(request, project, master, b) for b in page]
    data = {"expand": "branches", "link": render.link(request, f"plan/{project.key}-{master.key}/branch"),
            "branches": {"size": len(rows), "expand": "branch", "start-index": start, "max-result": len(items),
                         "branch": items}}
    return respond(request, "branches", data, attrs=BRANCH_ATTRS)


@route("/plan/{planKey}/branch/{branchName}", "GET", "PUT")
async def plan_branch(request: Request) -> Response:
    session, who, project, master = _master(request)
    name = render.strip_suffix(request.path_params["branchName"])
    if request.method == "GET":
        found = br.find_branch(session, master, name)
        if found is None:
            return Response(status_code=204)
        return respond(request, "branch", branch_json(request, project, master, found), attrs=BRANCH_ATTRS)
    require_global(session, who, L.G_ADMIN)
    vcs = request.query_params.get("vcsBranch") or name
    enabled = _bool(request, "enabled", True)
    _bool(request, "cleanupEnabled", False)
    created = br.create_branch(session, master, vcs, enabled=enabled, name=name)
    return respond(request, "branch", branch_json(request, project, master, created), attrs=BRANCH_ATTRS)


@route("/plan/{planKey}/vcsBranches", "GET")
async def vcs_branches(request: Request) -> Response:
    session, _, project, master = _master(request)
    names: list[str] = []
    if master.repository_id is not None:
        from culm.git.branches import list_branches

        try:
            names = [b.name for b in list_branches(master.repository_id, by_modification=False)]
        except Exception:  # noqa: BLE001  (a repository gone from disk lists no branches)
            names = []
    term = (request.query_params.get("searchTerm") or "").lower()
    if term:
        names = [n for n in names if term in n.lower()]
    start, limit = _paging(request)
    page = names[start:start + limit]
    data = {"expand": "branches", "link": render.link(request, f"plan/{project.key}-{master.key}/vcsBranches"),
            "branches": {"size": len(names), "start-index": start, "max-result": len(page),
                         "branch": [{"name": n, "displayName": n} for n in page]}}
    return respond(request, "vcsBranches", data)


@route("/plan/{planKey}", "DELETE")
async def delete_plan(request: Request) -> Response:
    session, who = _caller(request)
    _, plan = service.plan(session, render.strip_suffix(request.path_params["planKey"]))
    require_global(session, who, L.G_ADMIN)
    br.delete_plan(session, plan)
    return Response(status_code=204)


@route("/plan/{planKey}/favourite", "POST", "DELETE")
async def favourite(request: Request) -> Response:
    session, who = _caller(request)
    _, plan = service.plan(session, render.strip_suffix(request.path_params["planKey"]))
    assert who.user is not None
    favourites.set_favourite(session, who.user.id, plan, request.method == "POST")
    return Response(status_code=204)
