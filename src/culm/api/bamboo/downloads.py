"""Bamboo's non-REST URLs that clients use (notes §3.8): raw job logs, shared and job artifacts, simple browse
pages, and the stop-plan action. Basic and Bearer (access token) authentication both work here, unlike on
Bamboo 8 (S10). Files are streamed, never read whole; artifact paths cannot leave their artifact's folder."""

from __future__ import annotations

import html
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse

from culm.api.bamboo import render
from culm.api.bamboo import result_access as access
from culm.api.bamboo import results_render as rr
from culm.api.bamboo.plans import _caller, bamboo_errors
from culm.domain.bamboo import service
from culm.domain.bamboo.models import BambooArtifact, BambooJobResult, BambooResult, BambooStageResult

router = APIRouter()
Handler = Callable[[Request], Awaitable[Response]]
CHUNK = 64 * 1024


def _plain_error(status: int, messages: list[str]) -> Response:
    return PlainTextResponse("\n".join(messages), status_code=status)


def page(path: str, *methods: str, root_alias: bool = False) -> Callable[[Handler], Handler]:
    """A non-REST route under /bamboo (and at the root too with `root_alias`: build statuses and the
    `bamboo.buildResultsUrl` variable link `{base}/browse/...`); failures are short plain-text pages with
    Bamboo's status codes."""

    def deco(fn: Handler) -> Handler:
        wrapped = bamboo_errors(fn, _plain_error)
        for prefix in ("/bamboo", "") if root_alias else ("/bamboo",):
            router.add_api_route(f"{prefix}{path}", wrapped, methods=list(methods), include_in_schema=False)
        return wrapped

    return deco


def _stream(path: Path, size: int) -> Iterator[bytes]:
    """The first `size` bytes of a file (a log still growing is served as it was when the request came)."""
    with open(path, "rb") as fh:
        left = size
        while left > 0:
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


def _file_response(path: Path, media_type: str, filename: str | None = None) -> Response:
    size = path.stat().st_size
    # Build output is untrusted: never let a browser run it on this origin.
    headers = {"Content-Length": str(size), "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "sandbox; default-src 'none'"}
    if filename:
        headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
    return StreamingResponse(_stream(path, size), media_type=media_type, headers=headers)


# ---- users (before the `/browse/{key}/...` routes: a user may be called `log`) ------------------------

@page("/browse/user/{name}", "GET")
async def browse_user(request: Request) -> Response:
    """The user page build reasons link to (`Manual run by <a href=".../browse/user/NAME">`)."""
    from culm.domain.users.models import User

    session, _ = _caller(request)
    name = request.path_params["name"]
    user = session.scalar(select(User).where(User.name_lower == name.lower()))
    if user is None:
        raise service.NotFound(f"User {name} not found")
    return _html(user.display_name or user.name, f"<p>{html.escape(user.name)}</p>")


# ---- logs -----------------------------------------------------------------------------------------------

@page("/download/{jobKey}/build_logs/{fileName}", "GET")
async def build_log(request: Request) -> Response:
    session, who = _caller(request)
    job_key = request.path_params["jobKey"]
    name = request.path_params["fileName"]
    key = access.parse_key(job_key)
    if key is None or key.job is None or key.number is not None or not name.endswith(".log"):
        raise service.NotFound(f"Log {name} not found")
    jrk = name[:-4]
    parsed = access.parse_key(jrk)
    if parsed is None or parsed.number is None or not parsed.number.isdigit() or \
            f"{parsed.plan_key}-{parsed.job}" != job_key:
        raise service.NotFound(f"Log {name} not found")
    access.find_result(session, jrk, who=who)
    path = rr.log_path(jrk)
    if not path.is_file():
        raise service.NotFound(f"Log {name} not found")
    return _file_response(path, "text/plain; charset=utf-8")


def _job_logs(session: Any, who: Any, raw: str) -> list[tuple[str, Path]]:
    project, plan, result, job = access.find_result(session, raw, who=who)
    if job is not None:
        jobs = [job]
    else:
        jobs = list(session.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result.id)
                                    .order_by(BambooJobResult.stage_idx, BambooJobResult.id)).all())
    return [(k, rr.log_path(k)) for k in (rr.job_result_key(project, plan, result, j) for j in jobs)]


@page("/browse/{key}/log", "GET", root_alias=True)
async def browse_log(request: Request) -> Response:
    """The log of a job result, or the logs of every job of a build one after another, as text."""
    session, who = _caller(request)
    logs = _job_logs(session, who, request.path_params["key"])

    def body() -> Iterator[bytes]:
        for jrk, path in logs:
            if len(logs) > 1:
                yield f"==== {jrk} ====\n".encode()
            if path.is_file():
                yield from _stream(path, path.stat().st_size)

    return StreamingResponse(body(), media_type="text/plain; charset=utf-8")


# ---- artifacts ------------------------------------------------------------------------------------------

def _safe_file(root: Path, rel: str) -> Path:
    """`rel` inside `root`: no `..`, no absolute parts, nothing resolving (symlinks included) outside."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if any(p == ".." or "\\" in p or "\x00" in p for p in parts):
        raise service.NotFound("Artifact file not found")
    base = root.resolve()
    target = base.joinpath(*parts).resolve() if parts else base
    if target != base and base not in target.parents:
        raise service.NotFound("Artifact file not found")
    return target


def _serve_artifact(request: Request, artifact: BambooArtifact, rel: str, title: str) -> Response:
    root = rr.artifact_dir(artifact)
    target = _safe_file(root, rel)
    if target.is_dir():
        entries = sorted(os.listdir(target))
        base = request.url.path if request.url.path.endswith("/") else request.url.path + "/"
        links = "".join(f'<li><a href="{html.escape(base + quote(e))}{"/" if (target / e).is_dir() else ""}">'
                        f"{html.escape(e)}</a></li>" for e in entries)
        return HTMLResponse(f"<html><head><title>{html.escape(title)}</title></head><body>"
                            f"<h1>{html.escape(title)}</h1><ul>{links}</ul></body></html>")
    if not target.is_file():
        raise service.NotFound("Artifact file not found")
    return _file_response(target, "application/octet-stream", target.name)


def _artifact(session: Any, result: BambooResult, name: str, job_key: str | None) -> BambooArtifact:
    query = (select(BambooArtifact).join(BambooJobResult, BambooJobResult.id == BambooArtifact.job_result_id)
             .where(BambooJobResult.result_id == result.id, BambooArtifact.name == name))
    query = query.where(BambooJobResult.job_key == job_key) if job_key else query.where(
        BambooArtifact.shared.is_(True))
    found = session.scalars(query.order_by(BambooArtifact.id)).first()
    if found is None:
        raise service.NotFound(f"Artifact {name} not found")
    return found


def _result_for_build(session: Any, who: Any, plan_key: str, build: str, name: str, job_key: str | None
                      ) -> BambooResult:
    """`build-N`, or `build-latest`: the newest build of the plan that kept this artifact."""
    if not build.startswith("build-"):
        raise service.NotFound(f"Build {build} not found")
    number = build[len("build-"):]
    if number == "latest":
        key = access.parse_key(plan_key)
        if key is None or key.job is not None or key.number is not None:
            raise service.NotFound(f"Plan {plan_key} not found")
        _, plan = access.readable_plan(session, who, plan_key)
        query = (select(BambooResult).join(BambooJobResult, BambooJobResult.result_id == BambooResult.id)
                 .join(BambooArtifact, BambooArtifact.job_result_id == BambooJobResult.id)
                 .where(BambooResult.plan_id == plan.id, BambooArtifact.name == name))
        query = query.where(BambooJobResult.job_key == job_key) if job_key else query.where(
            BambooArtifact.shared.is_(True))
        result = session.scalars(query.order_by(BambooResult.number.desc()).limit(1)).first()
        if result is None:
            raise service.NotFound(f"Artifact {name} not found")
        return result
    if not number.isdigit():
        raise service.NotFound(f"Build {build} not found")
    _, _, result, _ = access.find_result(session, f"{plan_key}-{number}", who=who)
    return result


@page("/artifact/{planKey}/shared/{build}/{name}", "GET")
@page("/artifact/{planKey}/shared/{build}/{name}/{path:path}", "GET")
async def shared_artifact(request: Request) -> Response:
    session, who = _caller(request)
    p = request.path_params
    result = _result_for_build(session, who, p["planKey"], p["build"], p["name"], None)
    artifact = _artifact(session, result, p["name"], None)
    return _serve_artifact(request, artifact, p.get("path", ""), p["name"])


@page("/artifact/{planKey}/{jobKey}/{build}/{name}", "GET")
@page("/artifact/{planKey}/{jobKey}/{build}/{name}/{path:path}", "GET")
async def job_artifact(request: Request) -> Response:
    session, who = _caller(request)
    p = request.path_params
    result = _result_for_build(session, who, p["planKey"], p["build"], p["name"], p["jobKey"])
    artifact = _artifact(session, result, p["name"], p["jobKey"])
    return _serve_artifact(request, artifact, p.get("path", ""), p["name"])


@page("/browse/{key}/artifact/{scope}/{name}", "GET", root_alias=True)
@page("/browse/{key}/artifact/{scope}/{name}/{path:path}", "GET", root_alias=True)
async def browse_artifact(request: Request) -> Response:
    """`/browse/PROJ-PLAN-42/artifact/shared/{name}/...` or `/browse/PROJ-PLAN-JOB1-42/artifact/JOB1/{name}/...`."""
    session, who = _caller(request)
    p = request.path_params
    _, _, result, job = access.find_result(session, p["key"], who=who)
    job_key = None if p["scope"] == "shared" else p["scope"]
    if job is not None and job_key is not None and job_key != job.job_key:
        raise service.NotFound(f"Artifact {p['name']} not found")
    artifact = _artifact(session, result, p["name"], job_key)
    return _serve_artifact(request, artifact, p.get("path", ""), p["name"])


# ---- browse pages and actions ---------------------------------------------------------------------------

def _html(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
                        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>")


@page("/browse/{key}", "GET", root_alias=True)
async def browse(request: Request) -> Response:
    """A small HTML page for a plan, a build or a job result (the links Bitbucket and GitLab show)."""
    session, who = _caller(request)
    raw = request.path_params["key"]
    key = access.parse_key(raw)
    ctx = rr.Ctx(request, session)
    if key is None:
        raise service.NotFound(f"{raw} not found")
    if key.number is None:
        project, plan = access.readable_plan(session, who, key.plan_key)
        rows = session.scalars(select(BambooResult).where(BambooResult.plan_id == plan.id)
                               .order_by(BambooResult.number.desc()).limit(25)).all()
        items = "".join(f'<li><a href="{ctx.base}/bamboo/browse/{raw}-{r.number}">#{r.number}</a> '
                        f"{r.life_cycle} {r.state}</li>" for r in rows)
        return _html(f"{project.name} › {plan.name}", f"<p>Plan {html.escape(raw)}</p><ul>{items}</ul>")
    project, plan, result, job = access.find_result(session, raw, who=who)
    reason = rr.build_reason(ctx, result)
    if job is not None:
        log = f'{ctx.base}/bamboo/browse/{raw}/log'
        body = (f"<p>Job {html.escape(job.name)}: {job.life_cycle} {job.state}</p>"
                f"<p>{html.escape(job.failure_reason or '')}</p><p><a href=\"{log}\">Log</a></p>")
        return _html(f"{project.name} › {plan.name} › {job.name} #{result.number}", body)
    stages = session.scalars(select(BambooStageResult).where(BambooStageResult.result_id == result.id)
                             .order_by(BambooStageResult.idx)).all()
    jobs = session.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result.id)
                           .order_by(BambooJobResult.stage_idx, BambooJobResult.id)).all()
    parts = [f"<p>{result.life_cycle} {result.state} — {reason}</p>"]
    if result.revision:
        parts.append(f"<p>Revision {html.escape(result.revision)}</p>")
    for stage in stages:
        rows = "".join(f'<li><a href="{ctx.base}/bamboo/browse/{project.key}-{plan.key}-{j.job_key}-{result.number}">'
                       f"{html.escape(j.name)}</a> {j.life_cycle} {j.state}</li>"
                       for j in jobs if j.stage_idx == stage.idx)
        parts.append(f"<h2>{html.escape(stage.name)}</h2><ul>{rows}</ul>")
    return _html(f"{project.name} › {plan.name} #{result.number}", "".join(parts))


@page("/build/admin/stopPlan.action", "GET", "POST")
async def stop_plan(request: Request) -> Response:
    """The UI action python-api's `stop_build` posts (`?planKey=PROJ-PLAN`, a result key works too)."""
    from culm.api.bamboo.queue_api import stop_key

    session, who = _caller(request)
    key = render.strip_suffix(request.query_params.get("planKey", "") or request.query_params.get("planResultKey", ""))
    if not key:
        raise service.Invalid("planKey is required")
    stop_key(session, who, key)
    return Response(status_code=204)


@page("/build/admin/deletePlanResults.action", "POST")
async def delete_plan_result(request: Request) -> Response:
    """python-api's `delete_build_result` (`?buildKey=PROJ-PLAN&buildNumber=N`): administrators remove a finished
    build; its logs and artifact files go once the deletion is committed."""
    import shutil

    from sqlalchemy import event

    from culm.domain.permissions import levels as L

    session, who = _caller(request)
    plan_key = request.query_params.get("buildKey", "")
    number = request.query_params.get("buildNumber", "")
    if not number.isdigit() or len(number) > 9:
        raise service.Invalid("buildNumber must be a build number")
    project, plan, result, job = access.find_result(session, f"{plan_key}-{number}", who=who)
    if job is not None:
        raise service.NotFound(f"Result {plan_key}-{number} not found")
    if who.effective_global(session) < L.G_ADMIN:
        raise access.forbidden()
    if result.life_cycle not in ("Finished", "NotBuilt"):
        raise service.Invalid(f"Build {plan_key}-{number} is still running: stop it first")
    jobs = session.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result.id)).all()
    logs = [rr.log_path(rr.job_result_key(project, plan, result, j)) for j in jobs]
    folders = [rr.artifact_dir(a) for a in session.scalars(
        select(BambooArtifact).where(BambooArtifact.job_result_id.in_([j.id for j in jobs]))).all()] if jobs else []
    session.delete(result)
    session.flush()

    def remove_files(_session: Any) -> None:
        for path in logs:
            path.unlink(missing_ok=True)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    event.listen(session, "after_commit", remove_files, once=True)
    return Response(status_code=204)
