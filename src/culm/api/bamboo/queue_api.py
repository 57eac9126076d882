"""Bamboo REST build queue: list queued builds, trigger a plan (`POST /queue/{planKey}`), continue or rerun a
build (`PUT /queue/{resultKey}`), stop or dequeue (`DELETE /queue/{key}`), as notes §2.8 / §3.3. The work is
the build engine's (culm.domain.bamboo.builds); this module only maps HTTP onto it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from culm.api import deps
from culm.api.bamboo import render
from culm.api.bamboo import result_access as access
from culm.api.bamboo import results_render as rr
from culm.api.bamboo.plans import _caller, _paging, error, route
from culm.domain.bamboo import service
from culm.domain.bamboo.models import BambooJobResult, BambooPlan, BambooProject, BambooResult
from culm.domain.bamboo.variables_admin import NAME as VARIABLE_NAME

VARIABLE_PREFIX = "bamboo.variable."
MAX_FORM = 256 * 1024
MAX_VARIABLES = 200
FORM_TYPE = "application/x-www-form-urlencoded"


def _builds() -> Any:
    from culm.domain.bamboo import builds

    return builds


def _is_conflict(exc: Exception) -> bool:
    return type(exc).__name__ == "Conflict"


async def _form(request: Request) -> list[tuple[str, str]]:
    """The form-encoded body's fields; any other non-empty body is refused with 415 (as Bamboo)."""
    raw = await request.body()
    if not raw.strip():
        return []
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != FORM_TYPE:
        raise _UnsupportedMedia(f"Unsupported media type {ctype or '(none)'}: send {FORM_TYPE}")
    if len(raw) > MAX_FORM:
        raise service.Invalid("The request body is too large.")
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise service.Invalid("The form body is not valid UTF-8 form data.") from None


class _UnsupportedMedia(Exception):
    pass


def _variables(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        if name.startswith(VARIABLE_PREFIX):
            short = name[len(VARIABLE_PREFIX):]
            if not VARIABLE_NAME.fullmatch(short):  # a name must make a sane environment variable on the agent
                raise service.Invalid(f"Invalid variable name '{name}'")
            if "\x00" in value:  # no environment (nor PostgreSQL) takes a NUL
                raise service.Invalid(f"Invalid value for variable '{short}'")
            out[short] = value
    if len(out) > MAX_VARIABLES:
        raise service.Invalid(f"Too many variables (at most {MAX_VARIABLES}).")
    return out


def _param(request: Request, form: dict[str, str], name: str) -> str | None:
    if name in request.query_params:
        return request.query_params[name]
    return form.get(name)


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("", "true", "1", "yes")


@route("/queue", "GET")
async def queue(request: Request) -> Response:
    session, who = _caller(request)
    start, limit = _paging(request)
    waiting = select(BambooJobResult.result_id).where(BambooJobResult.life_cycle == "Queued").distinct()
    query = (select(BambooProject, BambooPlan, BambooResult)
             .join(BambooPlan, BambooPlan.project_id == BambooProject.id)
             .join(BambooResult, BambooResult.plan_id == BambooPlan.id)
             .where(BambooResult.id.in_(waiting), access.readable_plans(session, who)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    wanted = render.expands(request)
    ctx = rr.Ctx(request, session)
    if "queuedBuilds" in wanted:
        rows = session.execute(query.order_by(BambooResult.queued_date, BambooResult.id).offset(start)
                               .limit(limit)).all()
        items = [rr.queued_json(ctx, p, pl, r, "queuedBuilds.queuedBuild.changes" in wanted) for p, pl, r in rows]
        builds = {"expand": "queuedBuild", **render.collection("queuedBuild", items, total, start, len(items))}
    else:
        builds = render.collapsed(total)
    data = {"expand": "queuedBuilds", "link": render.link(request, "queue"), "queuedBuilds": builds}
    return rr.respond(request, "queue", data)


def _plan_for_trigger(session: Session, raw: str) -> tuple[BambooProject, BambooPlan]:
    key = access.parse_key(raw)
    if key is None or key.job is not None or key.number is not None:
        raise service.NotFound(f"Plan {raw} not found or is not a top level plan")
    return service.plan(session, key.plan_key)


@route("/queue/{projectKey}-{buildKey}-{buildNumber}", "POST", "PUT", "DELETE")
@route("/queue/{projectKey}-{buildKey}", "POST", "PUT", "DELETE")
@route("/queue/{key}", "POST", "PUT", "DELETE")
async def queue_key(request: Request) -> Response:
    try:
        if request.method == "POST":
            return await _trigger(request)
        if request.method == "PUT":
            return await _continue(request)
        return await _stop(request)
    except _UnsupportedMedia as exc:
        return error(415, [str(exc)])
    except Exception as exc:
        if _is_conflict(exc):
            return error(400, [str(exc)])
        raise


async def _trigger(request: Request) -> Response:
    session, who = _caller(request)
    raw = access.key_param(request)
    project, plan = _plan_for_trigger(session, raw)
    access.require_build(session, who, plan)
    pairs = await _form(request)
    form = dict(pairs)
    variables = {**_variables(pairs), **_variables(list(request.query_params.multi_items()))}
    stage = _param(request, form, "stage")
    execute_all = _flag(_param(request, form, "executeAllStages"))
    revision = (_param(request, form, "customRevision") or "").strip() or None
    if revision is not None and (len(revision) > 255 or revision.startswith("-")):
        raise service.Invalid(f"Invalid custom revision '{revision}'")
    result = _builds().enqueue(session, plan, reason="CustomRevisionBuild" if revision else "Manual",
                               user_id=who.user.id if who.user else None, revision=revision,
                               variables=variables, stage=stage or None, execute_all_stages=execute_all)
    session.flush()
    ctx = rr.Ctx(request, session)
    return rr.respond(request, "restQueuedBuild", rr.queued_json(ctx, project, plan, result, True))


async def _continue(request: Request) -> Response:
    session, who = _caller(request)
    raw = access.key_param(request)
    key = access.parse_key(raw)
    if key is None or key.job is not None or key.number is None or not key.number.isdigit():
        raise service.NotFound(f"Result {raw} not found or is not a top level plan result")
    project, plan, result, _ = access.find_result(session, raw, who=who)
    access.require_build(session, who, plan)
    variables = _variables(list(request.query_params.multi_items()))
    stage = request.query_params.get("stage") or None
    execute_all = deps.flag(request, "executeAllStages")
    result = _builds().continue_build(session, result, stage=stage, execute_all_stages=execute_all,
                                      variables=variables, user_id=who.user.id if who.user else None)
    session.flush()
    ctx = rr.Ctx(request, session)
    return rr.respond(request, "restQueuedBuild", rr.queued_json(ctx, project, plan, result, True))


def stop_key(session: Session, who: Any, raw: str) -> None:
    """Stop what a key names: every unfinished build of a plan, one build, or one job of a build."""
    key = access.parse_key(raw)
    if key is None:
        raise service.NotFound(f"Plan or result {raw} not found")
    builds = _builds()
    if key.number is None:
        if key.job is not None:
            raise service.NotFound(f"Plan or result {raw} not found")
        _, plan = service.plan(session, key.plan_key)
        access.require_build(session, who, plan)
        running = session.scalars(select(BambooResult).where(
            BambooResult.plan_id == plan.id, BambooResult.life_cycle.in_(("Pending", "Queued", "InProgress")))
            .order_by(BambooResult.number)).all()
        for result in running:
            builds.stop(session, result)
        return
    _, plan, result, job = access.find_result(session, raw, who=who)
    access.require_build(session, who, plan)
    builds.stop(session, result, job.job_key if job is not None else None)


async def _stop(request: Request) -> Response:
    session, who = _caller(request)
    stop_key(session, who, access.key_param(request))
    return Response(status_code=204)
