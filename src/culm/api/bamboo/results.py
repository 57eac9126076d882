"""Bamboo REST build results: lists (all plans, a project, a plan, a job, a plan branch), one result (`latest`
too), results by changeset, and the status of a running build. Comments and labels live in result_comments.py
(registered first: their paths would otherwise match `/result/{key}/{number}`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from culm.api import deps
from culm.api.bamboo import render
from culm.api.bamboo import result_access as access
from culm.api.bamboo import results_render as rr
from culm.api.bamboo.plans import _caller, _paging, route
from culm.domain.bamboo import service
from culm.domain.bamboo.models import BambooFavourite, BambooJobResult, BambooPlan, BambooProject, BambooResult

_STATES = {"unknown": "Unknown", "successful": "Successful", "failed": "Failed"}
_LIFE = {"pending": "Pending", "queued": "Queued", "inprogress": "InProgress", "finished": "Finished",
         "notbuilt": "NotBuilt"}
_CSID = re.compile(r"^[0-9a-fA-F]{4,64}$")
LIST_PREFIX = "results.result."
MAX_LOG_LINES = 1000


@dataclass
class Filters:
    """The list filters of `/result...` (seed: buildstate, label, issueKey, favourite, includeAllStates,
    continuable, lifeCycleState)."""

    states: list[str] | None
    life_cycles: list[str] | None
    labels: list[str]
    no_match: bool
    continuable: bool
    favourite_user: int | None


def _csv(request: Request, name: str) -> list[str]:
    out: list[str] = []
    for raw in request.query_params.getlist(name):
        out.extend(v.strip() for v in raw.split(",") if v.strip())
    return out


def filters(request: Request, user_id: int | None) -> Filters:
    states = None
    if request.query_params.get("buildstate"):
        states = []
        for value in _csv(request, "buildstate"):
            if value.lower() not in _STATES:
                raise service.Invalid(f"Invalid build state '{value}'. Valid values are Unknown, Successful, Failed")
            states.append(_STATES[value.lower()])
    life = None
    if request.query_params.get("lifeCycleState"):
        life = []
        for value in _csv(request, "lifeCycleState"):
            if value.lower() not in _LIFE:
                raise service.Invalid(f"Invalid life cycle state '{value}'. Valid values are Pending, Queued, "
                                      "InProgress, Finished, NotBuilt")
            life.append(_LIFE[value.lower()])
    include_all = deps.flag(request, "includeAllStates")
    if states is None and life is None and not include_all:
        states = list(access.finished_states())
    return Filters(states=states, life_cycles=life, labels=[v.lower() for v in _csv(request, "label")],
                   no_match=bool(_csv(request, "issueKey")), continuable=deps.flag(request, "continuable"),
                   favourite_user=user_id if deps.flag(request, "favourite") else None)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(query: Any, f: Filters, job: bool = False) -> Any:
    """Apply the filters to a query over BambooResult (joined to BambooJobResult when `job`)."""
    state_col = BambooJobResult.state if job else BambooResult.state
    life_col = BambooJobResult.life_cycle if job else BambooResult.life_cycle
    if f.no_match:
        query = query.where(BambooResult.id < 0)
    if f.states is not None:
        query = query.where(state_col.in_(f.states))
    if f.life_cycles is not None:
        query = query.where(life_col.in_(f.life_cycles))
    if f.continuable:
        query = query.where(BambooResult.continuable.is_(True))
    if f.labels:
        text = cast(BambooResult.labels, String)
        # Match the label as the JSON column stores it (json.dumps: quoted, non-ASCII escaped).
        query = query.where(or_(*[text.like(f"%{_like_escape(json.dumps(lbl))}%", escape="\\") for lbl in f.labels]))
    if f.favourite_user is not None:
        query = query.where(BambooResult.plan_id.in_(select(BambooFavourite.plan_id)
                                                     .where(BambooFavourite.user_id == f.favourite_user)))
    return query


def _list_wanted(request: Request) -> set[str]:
    """Expand paths for list items: `results.result.X` (as documented) or plain `X` (as clients also send)."""
    wanted = render.expands(request)
    out = {w[len(LIST_PREFIX):] for w in wanted if w.startswith(LIST_PREFIX)}
    out |= {w for w in wanted if not w.startswith("results")}
    return out


def _respond_list(request: Request, ctx: rr.Ctx, rows: list[tuple[Any, ...]], total: int, start: int,
                  self_path: str) -> Response:
    wanted = _list_wanted(request)
    items = []
    for row in rows:
        project, plan, result = row[0], row[1], row[2]
        job = row[3] if len(row) > 3 else None
        if job is None:
            items.append(rr.result_json(ctx, project, plan, result, wanted))
        else:
            items.append(rr.job_json(ctx, project, plan, result, None, job, wanted))
    data = {"expand": "results", "link": render.link(request, self_path),
            "results": {"expand": "result", **render.collection("result", items, total, start, len(items))}}
    return rr.respond(request, "results", data)


def _latest_per_plan(session: Session, who: Any, f: Filters, start: int, limit: int, project_id: int | None = None
                     ) -> tuple[int, list[tuple[Any, ...]]]:
    """The newest matching result of each top-level plan, ordered by project and plan key."""
    newest = _filtered(select(BambooResult.plan_id, func.max(BambooResult.number).label("n")), f) \
        .group_by(BambooResult.plan_id).subquery()
    query = (select(BambooProject, BambooPlan, BambooResult)
             .join(BambooPlan, BambooPlan.project_id == BambooProject.id)
             .join(newest, newest.c.plan_id == BambooPlan.id)
             .join(BambooResult, (BambooResult.plan_id == BambooPlan.id) & (BambooResult.number == newest.c.n))
             .where(BambooPlan.master_id.is_(None), access.readable_plans(session, who)))
    if project_id is not None:
        query = query.where(BambooPlan.project_id == project_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(BambooProject.key, BambooPlan.key).offset(start).limit(limit)).all()
    return total, [tuple(r) for r in rows]


def _plan_history(session: Session, project: BambooProject, plan: BambooPlan, f: Filters, start: int, limit: int,
                  job_key: str | None = None) -> tuple[int, list[tuple[Any, ...]]]:
    if job_key is None:
        query = _filtered(select(BambooResult).where(BambooResult.plan_id == plan.id), f)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(BambooResult.number.desc()).offset(start).limit(limit)).all()
        return total, [(project, plan, r) for r in rows]
    query = _filtered(select(BambooResult, BambooJobResult)
                      .join(BambooJobResult, BambooJobResult.result_id == BambooResult.id)
                      .where(BambooResult.plan_id == plan.id, BambooJobResult.job_key == job_key), f, job=True)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pairs = session.execute(query.order_by(BambooResult.number.desc()).offset(start).limit(limit)).all()
    return total, [(project, plan, r, j) for r, j in pairs]


def _job_exists(session: Session, plan: BambooPlan, job_key: str) -> bool:
    """A job of the plan now, or one that ran in an earlier build (its history stays readable)."""
    if any(j.get("key") == job_key for s in (plan.spec or {}).get("stages", []) for j in s.get("jobs", [])):
        return True
    return session.scalar(select(BambooJobResult.id).join(BambooResult, BambooResult.id == BambooJobResult.result_id)
                          .where(BambooResult.plan_id == plan.id, BambooJobResult.job_key == job_key).limit(1)) \
        is not None


@route("/result", "GET")
async def all_results(request: Request) -> Response:
    session, who = _caller(request)
    start, limit = _paging(request)
    f = filters(request, who.user.id if who.user else None)
    total, rows = _latest_per_plan(session, who, f, start, limit)
    return _respond_list(request, rr.Ctx(request, session), rows, total, start, "result")


@route("/result/status/{projectKey}-{buildKey}-{buildNumber}", "GET")
@route("/result/status/{key}", "GET")
async def status(request: Request) -> Response:
    """Progress of a build being built; 404 once it is finished (as Bamboo's in-memory status)."""
    session, who = _caller(request)
    raw = access.key_param(request)
    key = access.parse_key(raw)
    if key is None or key.number is None or not key.number.isdigit():
        raise service.NotFound(f"Result {raw} not found")
    project, plan, result, _job = access.find_result(session, raw, who=who)
    if result.life_cycle in ("Finished", "NotBuilt"):
        raise service.NotFound(f"Result {raw} is not being built")
    average = rr.average_duration(session, plan.id)
    data = rr.status_json(rr.Ctx(request, session), project, plan, result, average, render.expands(request))
    return rr.respond(request, "status", data)


async def _by_changeset(request: Request, checkout_only: bool) -> Response:
    session, who = _caller(request)
    start, limit = _paging(request)
    csid = render.strip_suffix(request.path_params["csid"]).lower()
    if not _CSID.match(csid):
        raise service.NotFound(f"No build results for changeset {csid}")
    cond = BambooResult.revision == csid
    if not checkout_only:
        cond = or_(cond, cast(BambooResult.changes, String).like(f'%"{csid}"%'))
    query = (select(BambooProject, BambooPlan, BambooResult)
             .join(BambooPlan, BambooPlan.project_id == BambooProject.id)
             .join(BambooResult, BambooResult.plan_id == BambooPlan.id)
             .where(cond, access.readable_plans(session, who)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(BambooProject.key, BambooPlan.key, BambooResult.number)
                           .offset(start).limit(limit)).all()
    kind = "byCheckoutChangeset" if checkout_only else "byChangeset"
    return _respond_list(request, rr.Ctx(request, session), [tuple(r) for r in rows], total, start,
                         f"result/{kind}/{csid}")


@route("/result/byChangeset/{csid}", "GET")
async def by_changeset(request: Request) -> Response:
    return await _by_changeset(request, False)


@route("/result/byCheckoutChangeset/{csid}", "GET")
async def by_checkout_changeset(request: Request) -> Response:
    return await _by_changeset(request, True)


@route("/result/{projectKey}-{buildKey}/branch/{branchName}", "GET")
@route("/result/{key}/branch/{branchName}", "GET")
async def branch_results(request: Request) -> Response:
    session, who = _caller(request)
    raw = access.key_param(request, ("key", "projectKey", "buildKey"))
    name = render.strip_suffix(request.path_params["branchName"])
    project, master = access.readable_plan(session, who, raw)
    branches = session.scalars(select(BambooPlan).where(BambooPlan.master_id == master.id)
                               .order_by(BambooPlan.id)).all()
    found = next((b for b in branches if name in (b.name, b.branch_name, (b.branch_name or "").replace("/", "-"))),
                 None)
    if found is None:
        raise service.NotFound(f"Branch {name} not found for plan {raw}")
    start, limit = _paging(request)
    f = filters(request, who.user.id if who.user else None)
    total, rows = _plan_history(session, project, found, f, start, limit)
    return _respond_list(request, rr.Ctx(request, session), rows, total, start, f"result/{raw}/branch/{name}")


@route("/result/{projectKey}-{buildKey}/{buildNumber}", "GET")
@route("/result/{key}/{number}", "GET")
async def result_by_number(request: Request) -> Response:
    key = access.key_param(request, ("key", "projectKey", "buildKey"))
    number = access.key_param(request, ("number", "buildNumber"))
    if number != "latest" and not number.isdigit():
        raise service.NotFound(f"Result {key}-{number} not found")
    return await _one(request, f"{key}-{number}")


@route("/result/{projectKey}-{buildKey}-{buildNumber}", "GET")
@route("/result/{projectKey}-{buildKey}", "GET")
@route("/result/{key}", "GET")
async def result_or_list(request: Request) -> Response:
    """One key, four meanings: a project (`P`), a plan or branch (`P-K`), a job (`P-K-J`), a result
    (`P-K-42`, `P-K-latest`, `P-K-J-42`)."""
    session, who = _caller(request)
    raw = access.key_param(request)
    key = access.parse_key(raw)
    if key is not None and key.number is not None:
        return await _one(request, raw)
    start, limit = _paging(request)
    f = filters(request, who.user.id if who.user else None)
    ctx = rr.Ctx(request, session)
    if key is None:
        if not re.match(r"^[A-Z][A-Z0-9_]*$", raw):
            raise service.NotFound(f"Result {raw} not found")
        project = service.project(session, raw)
        total, rows = _latest_per_plan(session, who, f, start, limit, project.id)
        return _respond_list(request, ctx, rows, total, start, f"result/{raw}")
    project, plan = access.readable_plan(session, who, key.plan_key)
    if key.job is not None and not _job_exists(session, plan, key.job):
        raise service.NotFound(f"Plan {raw} not found")
    total, rows = _plan_history(session, project, plan, f, start, limit, key.job)
    return _respond_list(request, ctx, rows, total, start, f"result/{raw}")


def _log_page(request: Request) -> tuple[int, int]:
    start, _ = _paging(request)
    raw = request.query_params.get("max-results") or request.query_params.get("max-result")
    limit = int(raw) if raw and raw.isdigit() and int(raw) > 0 else 100
    return start, min(limit, MAX_LOG_LINES)


async def _one(request: Request, raw: str) -> Response:
    session, who = _caller(request)
    raw = render.strip_suffix(raw)
    include_all = deps.flag(request, "includeAllStates")
    project, plan, result, job = access.find_result(session, raw, include_all, who=who)
    ctx = rr.Ctx(request, session)
    wanted = render.expands(request)
    if job is None:
        data = rr.result_json(ctx, project, plan, result, wanted)
    else:
        data = rr.job_json(ctx, project, plan, result, None, job, wanted, log_page=_log_page(request))
    return rr.respond(request, "result", data)
