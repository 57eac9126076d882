"""Bamboo REST odds and ends: the resource directory (`GET /`), `/status`, server pause/resume and nodes,
plan and project Specs export, plan clone and export, and build charts (a PNG served by culm itself)."""

from __future__ import annotations

import base64
import json
import re
import socket
import zlib
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from culm.api import deps
from culm.api.bamboo import render
from culm.api.bamboo.plans import _caller, _paging, route, router
from culm.api.bamboo.rest_render import respond
from culm.core.errors import AuthenticationRequired
from culm.domain.bamboo import charts, server_state, service, specs_export
from culm.domain.bamboo import variables_admin as va
from culm.domain.bamboo.models import BambooPlan, BambooProject
from culm.domain.bamboo.service import Invalid, NotFound
from culm.domain.base import now_ms
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import require_global

RESOURCES = ("info", "project", "plan", "result", "chart", "queue", "export", "clone", "currentUser", "search",
             "agent", "server", "status")
_CLONE = re.compile(r"^([A-Z][A-Z0-9_]*)-([A-Z][A-Z0-9]*):([A-Z][A-Z0-9_]*)-([A-Z][A-Z0-9]*)$")
MAX_CHART_TOKEN = 2048


async def _directory(request: Request) -> Response:
    _caller(request)
    items = [{"name": n, "link": render.link(request, n)} for n in RESOURCES]
    data = {"expand": "resources",
            "resources": {"size": len(items), "start-index": 0, "max-result": len(items), "resource": items}}
    return respond(request, "resources", data, attrs={"resource": {"name"}})


route("", "GET")(_directory)
route("/", "GET")(_directory)


# ---- server ------------------------------------------------------------------------------------------------

def _home(request: Request) -> Any:
    return request.app.state.settings.home


@route("/status", "GET")
async def status(request: Request) -> Response:
    """Anonymous, as Bamboo's: a load balancer's health check."""
    return respond(request, "status", {"status": server_state.read(_home(request))[0]})


async def _set_state(request: Request, state: str) -> Response:
    session, who = _caller(request)
    require_global(session, who, L.G_ADMIN)
    assert who.user is not None
    server_state.write(_home(request), state, who.user.name)
    return respond(request, "serverStatusInfo", {"state": state, "setByUser": who.user.name,
                                                 "reindexInProgress": False})


@route("/server/pause", "POST")
async def pause(request: Request) -> Response:
    return await _set_state(request, server_state.PAUSED)


@route("/server/resume", "POST")
async def resume(request: Request) -> Response:
    return await _set_state(request, server_state.RUNNING)


@route("/server/nodes", "GET")
async def nodes(request: Request) -> Response:
    _caller(request)
    state, by = server_state.read(_home(request))
    host = socket.gethostname()
    beat = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    data = {"state": state, "setByUser": by, "reindexInProgress": False,
            "nodeStatuses": [{"nodeId": host, "nodeName": host, "lastHeartbeat": beat, "primary": True}]}
    return respond(request, "serverNodesInfo", data)


# ---- specs export ------------------------------------------------------------------------------------------

def _format(request: Request) -> None:
    fmt = (request.query_params.get("format") or "YAML").upper()
    if fmt == "JAVA":
        raise Invalid("Export to Java Specs is not supported by this server; use format=YAML.")
    if fmt != "YAML":
        raise Invalid(f"Unknown specs format '{fmt}' (YAML or JAVA).")


def _spec(session: Any, project: BambooProject, plan: BambooPlan) -> dict[str, str]:
    variables = {r.name: r.value for r in va.rows(session, "PLAN", plan.id)}
    return {"projectKey": project.key, "buldKey": plan.key,
            "code": specs_export.to_yaml(project, plan, variables)}


@route("/plan/{planKey}/specs", "GET")
async def plan_specs(request: Request) -> Response:
    session, who = _caller(request)
    project, plan = service.plan(session, render.strip_suffix(request.path_params["planKey"]))
    require_global(session, who, L.G_ADMIN)
    _format(request)
    return respond(request, "planSpec", {"spec": _spec(session, project, plan)},
                   attrs={"spec": {"projectKey", "buldKey"}})


@route("/project/{projectKey}/specs", "GET")
async def project_specs(request: Request) -> Response:
    session, who = _caller(request)
    project = service.project(session, render.strip_suffix(request.path_params["projectKey"]))
    require_global(session, who, L.G_ADMIN)
    _format(request)
    _, rows = service.plans_page(session, 0, 1_000_000, project.id)
    data = {"projectKey": project.key, "spec": [_spec(session, project, plan) for _, plan in rows]}
    return respond(request, "projectSpec", data, attrs={"projectSpec": {"projectKey"},
                                                        "spec": {"projectKey", "buldKey"}})


# ---- clone and export --------------------------------------------------------------------------------------

@route("/clone/{cloneSpec}", "PUT")
async def clone(request: Request) -> Response:
    session, who = _caller(request)
    match = _CLONE.match(render.strip_suffix(request.path_params["cloneSpec"]))
    if not match:
        raise Invalid("Use /clone/PROJ-PLAN:TOPROJ-TOPLAN with upper-case keys.")
    src_project, source = service.plan(session, f"{match.group(1)}-{match.group(2)}")
    require_global(session, who, L.G_ADMIN)
    if source.master_id is not None:
        raise Invalid(f"Plan {src_project.key}-{source.key} is a plan branch; clone its plan instead.")
    to_project_key, to_key = match.group(3), match.group(4)
    try:
        service.plan(session, f"{to_project_key}-{to_key}")
        raise Invalid(f"Plan {to_project_key}-{to_key} already exists.")
    except NotFound:
        pass
    try:
        target_project = service.project(session, to_project_key)
    except NotFound:
        target_project = BambooProject(key=to_project_key, name=to_project_key, description="")
        session.add(target_project)
        session.flush()
    spec = json.loads(json.dumps(source.spec or {}))
    spec["projectKey"], spec["key"] = to_project_key, to_key
    now = now_ms()
    target = BambooPlan(project_id=target_project.id, key=to_key, name=source.name,
                        description=source.description or "", enabled=source.enabled,
                        repository_id=source.repository_id, spec=spec, labels=list(source.labels or []),
                        next_number=1, next_branch_number=1, created_date=now, updated_date=now)
    session.add(target)
    session.flush()
    va.copy_plan_variables(session, source, target)
    return render.respond(request, "plan", render.plan_json(request, target_project, target, set()))


@route("/export/{planKey}", "GET")
async def export(request: Request) -> Response:
    """Bamboo 4's ExportResource: the plan, with its stages, jobs and variables, and its project."""
    session, who = _caller(request)
    project, plan = service.plan(session, render.strip_suffix(request.path_params["planKey"]))
    require_global(session, who, L.G_ADMIN)
    wanted = {"stages", "stages.stage", "stages.stage.plans", "variableContext"}
    plan_data = render.plan_json(request, project, plan, wanted)
    rows = va.rows(session, "PLAN", plan.id)
    items = [{"key": r.name, "value": va.shown(r), "variableType": "PLAN", "isPassword": va.is_password(r.name)}
             for r in rows]
    plan_data["variableContext"] = render.collection("variable", items, len(items), 0, len(items))
    data = {"expand": "project,plan", "project": render.project_json(request, project), "plan": plan_data}
    return render.respond(request, "export", data)


# ---- charts ------------------------------------------------------------------------------------------------

def _chart_params(values: dict[str, str]) -> dict[str, Any]:
    """Validated chart parameters (from the query, or decoded back from an image URL)."""
    report = charts.check_report(values.get("reportKey"))
    keys = [k.strip() for k in (values.get("buildKeys") or "").split(",") if k.strip()]
    if not keys or len(keys) > 25:
        raise Invalid("buildKeys must list 1-25 plan keys, comma-separated.")
    period = (values.get("groupByPeriod") or "AUTO").upper()
    if period not in charts.PERIODS:
        raise Invalid(f"Invalid groupByPeriod '{period}': one of {', '.join(charts.PERIODS)}")
    charts.window(values.get("dateFilter"), values.get("dateFrom"), values.get("dateTo"), datetime.now(UTC))
    out = {"reportKey": report, "buildKeys": ",".join(keys), "groupByPeriod": period}
    for name in ("dateFilter", "dateFrom", "dateTo"):
        if values.get(name):
            out[name] = values[name]
    for name, default in (("width", 450), ("height", 400)):
        raw = str(values.get(name) or default)
        if not raw.isdigit() or not charts.MIN_SIZE <= int(raw) <= charts.MAX_SIZE:
            raise Invalid(f"Invalid value for {name}: '{raw}' ({charts.MIN_SIZE}-{charts.MAX_SIZE})")
        out[name] = int(raw)
    return out


def _chart_plans(session: Any, keys: str) -> list[int]:
    return [service.plan(session, key)[1].id for key in keys.split(",")]


@route("/chart", "GET")
async def chart(request: Request) -> Response:
    return _chart(request, dict(request.query_params))


@route("/chart/planSummary", "GET")
async def plan_summary(request: Request) -> Response:
    """The plan summary chart of Bamboo's plan page: build success rate over time."""
    values = dict(request.query_params)
    values.setdefault("reportKey", charts.PREFIX + "buildSuccessRate")
    return _chart(request, values)


def _chart(request: Request, values: dict[str, str]) -> Response:
    session, _ = _caller(request)
    params = _chart_params(values)
    _chart_plans(session, params["buildKeys"])
    token = base64.urlsafe_b64encode(json.dumps(params, separators=(",", ":")).encode()).decode().rstrip("=")
    name = f"chart{zlib.crc32(token.encode()):010d}"
    data = {"location": f"{render.base_url(request)}/bamboo/chart/{token}.png", "imageMapName": name,
            "imageMap": f'<map id="{name}" name="{name}"></map>', "width": params["width"],
            "height": params["height"]}
    return respond(request, "chart", data)


@route("/chart/reports", "GET")
async def reports(request: Request) -> Response:
    _caller(request)
    start, limit = _paging(request)
    items = [{"key": k, "name": v} for k, v in charts.REPORTS.items()]
    page = items[start:start + limit]
    data = {"expand": "reports", "link": render.link(request, "chart/reports"),
            "reports": {"size": len(items), "expand": "report", "start-index": start, "max-result": len(page),
                        "report": page}}
    return respond(request, "reports", data)


async def chart_image(request: Request) -> Response:
    """The PNG a `/chart` answer points at; the parameters travel in the URL, so nothing is stored."""
    session = deps.db(request)
    who = deps.authenticate(request, session)
    if who.anonymous:
        raise AuthenticationRequired("You are not authorised to access this resource. Log in and try again.")
    token = request.path_params["token"]
    try:
        if len(token) > MAX_CHART_TOKEN:
            raise ValueError
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(values, dict):
            raise ValueError
        params = _chart_params({k: str(v) for k, v in values.items()})
    except (ValueError, UnicodeDecodeError, Invalid):
        return Response("Unknown chart", status_code=404, media_type="text/plain")
    try:
        plan_ids = _chart_plans(session, params["buildKeys"])
    except NotFound:
        return Response("Unknown chart", status_code=404, media_type="text/plain")
    since, until = charts.window(params.get("dateFilter"), params.get("dateFrom"), params.get("dateTo"),
                                 datetime.now(UTC))
    values_ = charts.points(session, plan_ids, params["reportKey"], params["groupByPeriod"], since, until)
    body = charts.png([p.value for p in values_], params["width"], params["height"])
    return Response(body, media_type="image/png", headers={"Cache-Control": "no-cache"})


router.add_api_route("/bamboo/chart/{token}.png", chart_image, methods=["GET"], include_in_schema=False)
