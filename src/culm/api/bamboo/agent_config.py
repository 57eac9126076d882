"""Bamboo REST agent administration beyond agents.py: remote agent authentication (approval), the admin
agent configuration (`/rest/admin/latest/config/agents`), the server-wide capability listing, and agents
dedicated to jobs (`/config/job/{jobKey}/agent-assignment`), which the engine enforces when agents claim."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from culm.api.bamboo import render
from culm.api.bamboo import result_access as access
from culm.api.bamboo.plan_admin import job_of, json_body
from culm.api.bamboo.plans import _caller, _paging, route
from culm.api.bamboo.rest_render import respond
from culm.api.urls import base_url
from culm.domain.bamboo import agent_access
from culm.domain.bamboo import agents_admin as admin
from culm.domain.bamboo.models import BambooAgent
from culm.domain.bamboo.queue import agent_capabilities, match_requirements
from culm.domain.bamboo.service import Invalid, NotFound
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_global

_EXECUTOR = re.compile(r"^(?:AGENT[-:])?([0-9]{1,18})$", re.IGNORECASE)


def _admin(request: Request) -> tuple[Session, Principal]:
    session, who = _caller(request)
    require_global(session, who, L.G_ADMIN)
    return session, who


# ---- remote agent authentication ---------------------------------------------------------------------------

@route("/agent/authentication", "GET")
async def authentications(request: Request) -> Response:
    """Remote agents and whether they are approved; `pending=true` only those waiting, `false` the others."""
    session, _ = _admin(request)
    raw = request.query_params.get("pending")
    if raw not in (None, "", "true", "false"):
        raise Invalid(f"Invalid value for pending: '{raw}' (true or false)")
    items = []
    for agent, row in agent_access.authentications(session):
        approved = row is None or row.approved
        if raw == "true" and approved or raw == "false" and not approved:
            continue
        items.append({"approved": approved, "ip": row.ip if row else "", "ipPatterns": [], "uuid": agent.uuid})
    return respond(request, "agentAuthentications", items, item="agentAuthentication")


@route("/agent/authentication/{agentUuid}", "PUT")
async def authenticate(request: Request) -> Response:
    session, _ = _admin(request)
    agent_access.approve(session, render.strip_suffix(request.path_params["agentUuid"]))
    return Response(status_code=204)


# ---- admin agent configuration -----------------------------------------------------------------------------

def rest_agent(request: Request, session: Session, agent: BambooAgent) -> dict[str, Any]:
    return {"id": agent.id, "type": agent.type.lower(), "name": agent.name,
            "description": agent_access.description(session, agent), "enabled": agent.enabled,
            "link": f"{base_url(request)}/bamboo/rest/admin/latest/config/agents/{agent.id}"}


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Invalid(f"Invalid value for {name}: '{raw}'")
    return int(raw)


@route("/config/agents", "GET", api="admin")
async def config_agents(request: Request) -> Response:
    session, _ = _admin(request)
    start, limit = _int(request, "start", 0, 0, 1 << 30), _int(request, "limit", 25, 1, 500)
    rows = admin.agents(session)
    if not rows:
        raise NotFound("No agents defined")
    page = rows[start:start + limit]
    here = f"{base_url(request)}/bamboo/rest/admin/latest/config/agents"
    data: dict[str, Any] = {"start": start, "limit": limit, "results": [rest_agent(request, session, a) for a in page],
                            "self": f"{here}?start={start}&limit={limit}"}
    if start + limit < len(rows):
        data["next"] = f"{here}?start={start + limit}&limit={limit}"
    if start:
        data["prev"] = f"{here}?start={max(0, start - limit)}&limit={limit}"
    return respond(request, "agents", data)


@route("/config/agents/{agentId}", "GET", "PUT", api="admin")
async def config_agent(request: Request) -> Response:
    session, _ = _admin(request)
    agent = admin.agent(session, render.strip_suffix(request.path_params["agentId"]))
    if request.method == "PUT":
        body = await json_body(request)
        name, text, enabled = body.get("name"), body.get("description"), body.get("enabled")
        if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 255):
            raise Invalid("The agent name must be 1 to 255 characters.")
        if text is not None and not isinstance(text, str):
            raise Invalid("The description must be text.")
        if enabled is not None and not isinstance(enabled, bool):
            raise Invalid("enabled must be true or false.")
        if body.get("id") not in (None, agent.id):
            raise Invalid(f"The id in the body differs from agent {agent.id}.")
        if name is not None:
            agent.name = name.strip()
        if text is not None:
            agent_access.set_description(session, agent, text)
        if enabled is not None:
            agent.enabled = enabled
        session.flush()
    return respond(request, "agent", rest_agent(request, session, agent))


# ---- capabilities across the server ------------------------------------------------------------------------

def _group(key: str) -> str:
    if key.startswith("system.jdk."):
        return "JDK"
    if key.startswith("system.builder."):
        return "Executable"
    if key.startswith("system.") and key.endswith(".executable"):
        return "Executable"
    if key.startswith("system."):
        return "System"
    if key.startswith("agent."):
        return "Agent"
    return "Custom"


@route("/capability/groupedListing", "GET")
async def grouped_capabilities(request: Request) -> Response:
    """Every capability key some agent has, grouped (JDK, Executable, System, Agent, Custom) and paged by key;
    `lastGroup` (the group the previous page ended in) marks a first group that continues it."""
    session, _ = _caller(request)
    start, limit = _paging(request)
    term = (request.query_params.get("searchTerm") or "").lower()
    found: dict[str, dict[str, Any]] = {}
    for agent in admin.agents(session):
        for key, value in agent_capabilities(agent).items():
            if key in ("agent.id", "agent.name", "agent.type") or term and term not in key.lower():
                continue
            entry = found.setdefault(key, {"key": key, "group": _group(key), "values": set(), "agents": 0})
            entry["values"].add(value)
            entry["agents"] += 1
    order = ["JDK", "Executable", "System", "Agent", "Custom"]
    ordered = sorted(found.values(), key=lambda e: (order.index(e["group"]), e["key"]))
    page = ordered[start:start + limit]
    groups: list[dict[str, Any]] = []
    for entry in page:
        if not groups or groups[-1]["name"] != entry["group"]:
            groups.append({"name": entry["group"], "capabilities": [],
                           "continued": not groups and entry["group"] == request.query_params.get("lastGroup")})
        groups[-1]["capabilities"].append({"key": entry["key"], "values": sorted(entry["values"]),
                                           "agentCount": entry["agents"]})
    data = {"size": len(ordered), "start-index": start, "max-result": len(page), "groups": groups}
    return respond(request, "capabilityGroups", data)


# ---- agents dedicated to jobs ------------------------------------------------------------------------------

def _details(session: Session, agent: BambooAgent, requirements: list[dict[str, Any]],
             removable: bool) -> dict[str, Any]:
    matches = match_requirements(requirements, agent_capabilities(agent)) is None
    return {"id": agent.id, "key": f"AGENT-{agent.id}", "type": "AGENT", "agentType": agent.type,
            "name": agent.name, "capabilitiesMatch": matches,
            "disabled": not agent.enabled, "removable": removable}


def _job(request: Request) -> tuple[Session, Any, Any, dict[str, Any]]:
    session, who = _caller(request)
    _, plan, job = job_of(session, request.path_params["jobKey"])
    access.require_build(session, who, plan)
    return session, plan, job["key"], job


def _executor(session: Session, raw: Any) -> BambooAgent:
    match = _EXECUTOR.match(str(raw).strip()) if isinstance(raw, str | int) and not isinstance(raw, bool) else None
    if match is None:
        raise Invalid(f"Invalid executor key '{raw}': use AGENT-<agent id>.")
    agent = session.get(BambooAgent, int(match.group(1)))
    if agent is None:
        raise Invalid(f"Agent with id {match.group(1)} not found")
    return agent


async def _executor_from_body(request: Request) -> Any:
    """The assignment key: a JSON string (`"AGENT-12"`), or an object naming it (`value`, `executorKey`,
    `key`) or the agent (`executorId`, `id`)."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        body = raw.decode("utf-8", "replace").strip() or None
    if isinstance(body, dict):
        for name in ("value", "executorKey", "key", "executorId", "id"):
            if body.get(name) is not None:
                return body[name]
        return None
    return body


@route("/config/job/{jobKey}/agent-assignment", "GET", "POST")
async def job_assignments(request: Request) -> Response:
    session, plan, job_key, job = _job(request)
    requirements = list(job.get("requirements") or [])
    if request.method == "POST":
        raw = await _executor_from_body(request)
        if raw is None:
            raise Invalid("The agent assignment key is required (AGENT-<agent id>).")
        agent = _executor(session, raw)
        agent_access.assign(session, plan, job_key, agent)
        return respond(request, "agentAssignment", _details(session, agent, requirements, True))
    ids = agent_access.assigned_ids(session, plan, job_key)
    agents = [a for a in (session.get(BambooAgent, i) for i in ids) if a is not None]
    return respond(request, "agentAssignments", [_details(session, a, requirements, True) for a in agents],
                   item="agentAssignment")


@route("/config/job/{jobKey}/agent-assignment/possible-agent-assignment", "GET")
async def possible_assignments(request: Request) -> Response:
    session, plan, job_key, job = _job(request)
    start, limit = _paging(request)
    term = (request.query_params.get("searchTerm") or "").lower()
    taken = set(agent_access.assigned_ids(session, plan, job_key))
    rows = [a for a in session.scalars(select(BambooAgent).order_by(BambooAgent.name, BambooAgent.id))
            if a.id not in taken and term in a.name.lower()]
    page = rows[start:start + limit]
    requirements = list(job.get("requirements") or [])
    data = {"start-index": start, "max-result": len(page), "size": len(rows),
            "agents": [_details(session, a, requirements, False) for a in page]}
    return respond(request, "agentAssignmentList", data)


@route("/config/job/{jobKey}/agent-assignment/{executorKey}", "DELETE")
async def remove_assignment(request: Request) -> Response:
    session, plan, job_key, _ = _job(request)
    raw = render.strip_suffix(request.path_params["executorKey"])
    match = _EXECUTOR.match(raw)
    if match is None:
        raise Invalid(f"Invalid executor key '{raw}': use AGENT-<agent id>.")
    agent_access.unassign(session, plan, job_key, int(match.group(1)))
    return Response(status_code=204)
