"""Bamboo REST: build agents (list, details, online status, enable/disable, delete) and their capabilities.
Reads need a logged-in user; changes need a Bamboo administrator, as in Bamboo."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from culm.api.bamboo import render
from culm.api.bamboo.plans import _caller, json_object, route
from culm.api.bamboo.rest_render import respond
from culm.domain.bamboo import agents_admin as admin
from culm.domain.bamboo.models import BambooAgent
from culm.domain.bamboo.service import Invalid, NotFound
from culm.domain.base import now_ms
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import require_global

AGENT_ATTRS = {"capability": {"key", "value"}}


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    return raw is not None and raw.lower() in ("", "true", "1", "yes")


def agent_json(agent: BambooAgent, online: bool, busy: bool) -> dict[str, Any]:
    return {"id": agent.id, "name": agent.name, "type": agent.type, "active": online, "enabled": agent.enabled,
            "busy": busy}


def _capabilities(request: Request, agent: BambooAgent) -> list[dict[str, str]]:
    base = render.link(request, f"agent/{agent.id}/capability")["href"]
    return [{"key": k, "value": v, "self": f"{base}/{k}"} for k, v in sorted((agent.capabilities or {}).items())]


def _listing(request: Request, remote_only: bool) -> Response:
    session, _ = _caller(request)
    rows = admin.agents(session, online_only=_flag(request, "online"), remote_only=remote_only)
    busy, now = admin.busy_ids(session), now_ms()
    items = [agent_json(a, admin.is_online(a, now), a.id in busy) for a in rows]
    return respond(request, "agents", items, item="agent")


@route("/agent", "GET")
async def agents(request: Request) -> Response:
    return _listing(request, remote_only=False)


@route("/agent/remote", "GET")
async def remote_agents(request: Request) -> Response:
    return _listing(request, remote_only=True)


@route("/agent/{agentId}", "GET", "DELETE")
async def agent(request: Request) -> Response:
    session, who = _caller(request)
    row = admin.agent(session, render.strip_suffix(request.path_params["agentId"]))
    if request.method == "DELETE":
        require_global(session, who, L.G_ADMIN)
        admin.delete(session, row)
        return Response(status_code=204)
    caps = _capabilities(request, row)
    data = {"expand": "capabilities,executableEnvironments,executableJobs",
            "link": render.link(request, f"agent/{row.id}"),
            "general": agent_json(row, admin.is_online(row), row.id in admin.busy_ids(session)),
            "capabilities": {"size": len(caps), "start-index": 0, "max-result": len(caps), "capabilities": caps},
            "executableJobs": {"size": 0, "start-index": 0, "max-result": 0},
            "executableEnvironments": {"size": 0, "start-index": 0, "max-result": 0}}
    return respond(request, "agent", data, attrs=AGENT_ATTRS)


@route("/agent/{agentId}/status", "GET")
async def agent_status(request: Request) -> Response:
    session, _ = _caller(request)
    row = admin.agent(session, request.path_params["agentId"])
    return respond(request, "agentStatus", {"online": admin.is_online(row)})


async def _toggle(request: Request, enabled: bool) -> Response:
    session, who = _caller(request)
    row = admin.agent(session, request.path_params["agentId"])
    require_global(session, who, L.G_ADMIN)
    row.enabled = enabled
    data = {"id": row.id, "type": row.type.lower(), "name": row.name, "description": "", "enabled": row.enabled,
            "link": render.link(request, f"agent/{row.id}")["href"]}
    return respond(request, "agent", data)


@route("/agent/{agentId}/enable", "PUT")
async def enable(request: Request) -> Response:
    return await _toggle(request, True)


@route("/agent/{agentId}/disable", "PUT")
async def disable(request: Request) -> Response:
    return await _toggle(request, False)


async def _body(request: Request) -> dict[str, Any]:
    return json_object(await request.body(), "a JSON object with 'key' and 'value'")


@route("/agent/{agentId}/capability", "GET", "POST", "DELETE")
async def capabilities(request: Request) -> Response:
    session, who = _caller(request)
    row = admin.agent(session, request.path_params["agentId"])
    if request.method == "GET":
        return respond(request, "capabilities", _capabilities(request, row), item="capability",
                       attrs=AGENT_ATTRS)
    require_global(session, who, L.G_ADMIN)
    if request.method == "DELETE":
        admin.remove_capability(row, None)
    else:
        body = await _body(request)
        key, value = admin.check_capability(body.get("key"), body.get("value"))
        admin.set_capability(row, key, value, must_exist=False)
    return Response(status_code=204)


@route("/agent/{agentId}/capability/{capabilityKey}", "GET", "PUT", "DELETE")
async def capability(request: Request) -> Response:
    session, who = _caller(request)
    row = admin.agent(session, request.path_params["agentId"])
    key = request.path_params["capabilityKey"]
    if request.method == "GET":
        found = [c for c in _capabilities(request, row) if c["key"] == key]
        if not found:
            raise NotFound(f"Capability {key} not found on agent {row.name}")
        return respond(request, "capability", found[0], attrs=AGENT_ATTRS)
    require_global(session, who, L.G_ADMIN)
    if request.method == "DELETE":
        admin.remove_capability(row, key)
    else:
        body = await _body(request)
        if body.get("key") not in (None, key):
            raise Invalid(f"The capability key in the body ({body.get('key')}) does not match {key}.")
        key, value = admin.check_capability(key, body.get("value"))
        admin.set_capability(row, key, value, must_exist=True)
    return Response(status_code=204)
