"""Bamboo REST: plan variables (`/plan/{k}/variables` and the legacy singular `/variable` clients use),
project variables and global variables (`/rest/admin/latest/globalVariables`). Reads need a logged-in user,
changes a Bamboo administrator; password-like values are always shown masked."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from culm.api.bamboo import render
from culm.api.bamboo.plans import _caller, json_object, route
from culm.api.bamboo.rest_render import respond
from culm.domain.bamboo import service
from culm.domain.bamboo import variables_admin as va
from culm.domain.bamboo.models import BambooVariable
from culm.domain.bamboo.service import Invalid
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_global

ATTRS = {"variable": {"name", "value"}}
MAX_BODY = 256 * 1024


async def body_of(request: Request) -> dict[str, Any]:
    """A JSON object, or Bamboo's XML `<variable name=".." value=".."/>` (attributes or child elements)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Invalid("The request body is too large.")
    if "xml" in request.headers.get("content-type", "").lower():
        from defusedxml import ElementTree as DET

        try:
            root = DET.fromstring(raw)
        except Exception:  # noqa: BLE001  (any XML refusal, including entity tricks, is a bad request)
            raise Invalid("The request body is not valid XML.") from None
        data: dict[str, Any] = dict(root.attrib)
        for child in root:
            data.setdefault(child.tag, child.text or "")
        return data
    return json_object(raw, "a JSON object with 'name' and 'value'")


def simple(row: BambooVariable) -> dict[str, str]:
    return {"name": row.name, "value": va.shown(row)}


# ---- plan variables ----------------------------------------------------------------------------------------

async def _plan_list(request: Request) -> Response:
    session, who = _caller(request)
    _, plan = service.plan(session, render.strip_suffix(request.path_params["planKey"]))
    if request.method == "POST":
        require_global(session, who, L.G_ADMIN)
        body = await body_of(request)
        row = va.create(session, "PLAN", plan.id, body.get("name"), body.get("value"))
        return respond(request, "variable", simple(row), attrs=ATTRS, status=201)
    return respond(request, "variables", [simple(r) for r in va.rows(session, "PLAN", plan.id)], item="variable",
                   attrs=ATTRS)


async def _one(request: Request, session: Session, who: Principal, scope: str, owner_id: int) -> Response:
    """GET, PUT or DELETE one plan or project variable."""
    row = va.find(session, scope, owner_id, render.strip_suffix(request.path_params["variableName"]))
    if request.method == "GET":
        return respond(request, "variable", simple(row), attrs=ATTRS)
    require_global(session, who, L.G_ADMIN)
    if request.method == "DELETE":
        va.remove(session, row)
        return Response(status_code=204)
    body = await body_of(request)
    va.update(session, row, body.get("name"), body.get("value"))
    return respond(request, "variable", simple(row), attrs=ATTRS)


async def _plan_one(request: Request) -> Response:
    session, who = _caller(request)
    _, plan = service.plan(session, request.path_params["planKey"])
    return await _one(request, session, who, "PLAN", plan.id)


for _noun in ("variables", "variable"):
    route(f"/plan/{{planKey}}/{_noun}", "GET", "POST")(_plan_list)
    route(f"/plan/{{planKey}}/{_noun}/{{variableName}}", "GET", "PUT", "DELETE")(_plan_one)


# ---- project variables -------------------------------------------------------------------------------------

def context(row: BambooVariable, kind: str) -> dict[str, Any]:
    return {"key": row.name, "value": va.shown(row), "variableType": kind, "isPassword": va.is_password(row.name)}


async def _project_list(request: Request) -> Response:
    session, who = _caller(request)
    project = service.project(session, render.strip_suffix(request.path_params["projectKey"]))
    if request.method == "POST":
        require_global(session, who, L.G_ADMIN)
        body = await body_of(request)
        row, created = va.upsert(session, "PROJECT", project.id, body.get("name", body.get("key")),
                                 body.get("value"))
        return respond(request, "variable", context(row, "PROJECT"), status=201 if created else 200)
    return respond(request, "variables", [simple(r) for r in va.rows(session, "PROJECT", project.id)],
                   item="variable", attrs=ATTRS)


async def _project_one(request: Request) -> Response:
    session, who = _caller(request)
    project = service.project(session, request.path_params["projectKey"])
    return await _one(request, session, who, "PROJECT", project.id)


for _noun in ("variables", "variable"):
    route(f"/project/{{projectKey}}/{_noun}", "GET", "POST")(_project_list)
    route(f"/project/{{projectKey}}/{_noun}/{{variableName}}", "GET", "PUT", "DELETE")(_project_one)


# ---- global variables --------------------------------------------------------------------------------------

def global_json(request: Request, row: BambooVariable) -> dict[str, Any]:
    base = render.base_url(request)
    return {"id": row.id, "name": row.name, "value": va.shown(row),
            "link": f"{base}/bamboo/rest/admin/latest/globalVariables/{row.id}", "encrypted": va.is_password(row.name)}


@route("/globalVariables", "GET", "POST", api="admin")
async def global_variables(request: Request) -> Response:
    session, who = _caller(request)
    require_global(session, who, L.G_ADMIN)
    if request.method == "POST":
        body = await body_of(request)
        row = va.create(session, "GLOBAL", 0, body.get("name"), body.get("value"))
        return respond(request, "globalVariable", global_json(request, row), status=201)
    rows = va.rows(session, "GLOBAL", 0)
    return respond(request, "globalVariables", [global_json(request, r) for r in rows], item="globalVariable")


@route("/globalVariables/{variableId}", "GET", "PUT", "DELETE", api="admin")
async def global_variable(request: Request) -> Response:
    session, who = _caller(request)
    require_global(session, who, L.G_ADMIN)
    row = va.by_id(session, render.strip_suffix(request.path_params["variableId"]))
    if request.method == "DELETE":
        va.remove(session, row)
        return Response(status_code=204)
    if request.method == "PUT":
        body = await body_of(request)
        va.update(session, row, body.get("name"), body.get("value"))
    return respond(request, "globalVariable", global_json(request, row))
