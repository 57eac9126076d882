"""The server side of the build agent protocol (`/bamboo/rest/culm-agent/1.0/`), for local and remote agents.

Agents authenticate with the installation's agent token (`X-Culm-Agent-Token`, see culm.agent.token) and name
themselves by uuid (`X-Culm-Agent-Uuid`); every job call also carries the job's claim token (`X-Claim-Token`), so
an agent that lost its job (requeued by the reaper) can no longer write to it. The queue logic itself is the
engine's (culm.domain.bamboo.queue); these endpoints move bytes: logs, artifacts and reports."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from culm.agent import token as agent_token
from culm.agent.artifacts import ArtifactRefused, pack_dir, unpack
from culm.api.bamboo.plans import error
from culm.core.config import get_settings
from culm.core.db import session_scope
from culm.domain.bamboo import service
from culm.domain.bamboo.models import (
    BambooAgent,
    BambooArtifact,
    BambooJobResult,
    BambooPlan,
    BambooProject,
    BambooResult,
)
from culm.domain.base import now_ms

router = APIRouter()
PREFIX = "/bamboo/rest/culm-agent/1.0"
LOG_CAP = 64 << 20
MAX_LOG_REQUEST = 2 << 20
MAX_FINISH_REQUEST = 64 << 20
MAX_ARTIFACT_BYTES = 8 << 30
CLAIM_POLL_SECONDS = 0.25
MAX_CLAIM_WAIT = 20.0
_UUID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ARTIFACT_NAME = re.compile(r"^[^/\\\x00]{1,255}$")
Handler = Callable[[Request], Awaitable[Response]]


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _conflict_types() -> tuple[type[Exception], ...]:
    conflict = getattr(service, "Conflict", None)
    return (conflict,) if isinstance(conflict, type) else ()


def route(path: str, *methods: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def wrapped(request: Request) -> Response:
            try:
                return await fn(request)
            except Refused as exc:
                return error(exc.status, [str(exc)])
            except service.NotFound as exc:
                return error(404, [str(exc)])
            except service.Invalid as exc:
                return error(400, [str(exc)])
            except _conflict_types() as exc:
                return error(409, [str(exc)])

        router.add_api_route(PREFIX + path, wrapped, methods=list(methods), include_in_schema=False)
        return wrapped

    return deco


def _queue() -> Any:
    from culm.domain.bamboo import queue

    return queue


def _storage() -> Any:
    from culm.domain.bamboo import storage

    return storage


# -- who is calling ------------------------------------------------------------------------------------------

def _agent_uuid(request: Request) -> str:
    if not agent_token.matches(request.headers.get("x-culm-agent-token")):
        raise Refused(401, "The agent token is missing or wrong (see `culm admin agent-token`).")
    uuid = request.headers.get("x-culm-agent-uuid", "")
    if not _UUID.match(uuid):
        raise Refused(400, "The X-Culm-Agent-Uuid header is missing or invalid.")
    return uuid


def _agent(session: Session, uuid: str) -> BambooAgent:
    agent = session.scalar(select(BambooAgent).where(BambooAgent.uuid == uuid))
    if agent is None:
        raise Refused(412, "This agent is not registered: register first.")
    return agent


def _claim_token(request: Request) -> str:
    value = request.headers.get("x-claim-token", "")
    if not value or len(value) > 64:
        raise Refused(400, "The X-Claim-Token header is missing or invalid.")
    return value


def _job_id(request: Request) -> int:
    raw = request.path_params["jobId"]
    if not raw.isdigit() or len(raw) > 18:
        raise service.NotFound(f"Job {raw} not found")
    return int(raw)


def _own_job(session: Session, agent: BambooAgent, job_id: int, claim_token: str) -> BambooJobResult:
    """The job, if it is still this agent's current claim."""
    job = _queue().job_for_token(session, job_id, claim_token)
    if job.agent_id is not None and job.agent_id != agent.id:
        raise service.NotFound(f"Job {job_id} is not claimed by this agent")
    return job


def job_result_key(session: Session, job: BambooJobResult) -> str:
    row = session.execute(select(BambooProject.key, BambooPlan.key, BambooResult.number)
                          .join(BambooPlan, BambooPlan.project_id == BambooProject.id)
                          .join(BambooResult, BambooResult.plan_id == BambooPlan.id)
                          .where(BambooResult.id == job.result_id)).one()
    return f"{row[0]}-{row[1]}-{job.job_key}-{row[2]}"


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"The request body is larger than {limit} bytes.")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise Refused(413, f"The request body is larger than {limit} bytes.")
    return bytes(data)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise service.Invalid("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise service.Invalid("The request body must be a JSON object.")
    return data


# -- register and claim --------------------------------------------------------------------------------------

def _register(uuid: str, body: dict[str, Any]) -> dict[str, Any]:
    name = body.get("name")
    kind = str(body.get("type") or "REMOTE").upper()
    caps = body.get("capabilities") or {}
    if body.get("uuid") not in (None, uuid):
        raise service.Invalid("The uuid in the body differs from the X-Culm-Agent-Uuid header.")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise service.Invalid("An agent needs a name of 1 to 255 characters.")
    if kind not in ("LOCAL", "REMOTE"):
        raise service.Invalid("The agent type must be LOCAL or REMOTE.")
    if not isinstance(caps, dict) or len(caps) > 500 or not all(
            isinstance(k, str) and 0 < len(k) <= 255 and isinstance(v, str) and len(v) <= 4000
            for k, v in caps.items()):
        raise service.Invalid("Capabilities must be an object of at most 500 string keys and string values.")
    with session_scope() as session:
        agent = session.scalar(select(BambooAgent).where(BambooAgent.uuid == uuid))
        if agent is None:
            agent = BambooAgent(uuid=uuid, name=name.strip(), type=kind, enabled=True, capabilities=dict(caps))
            session.add(agent)
        else:
            agent.name, agent.type, agent.capabilities = name.strip(), kind, dict(caps)
        agent.last_seen = now_ms()
        session.flush()
        return {"id": agent.id, "uuid": agent.uuid, "name": agent.name, "type": agent.type,
                "enabled": agent.enabled}


@route("/register", "POST")
async def register(request: Request) -> Response:
    uuid = _agent_uuid(request)
    body = _json(await _body(request, 1 << 20))
    return JSONResponse(await run_in_threadpool(_register, uuid, body))


def _try_claim(uuid: str) -> dict[str, Any] | None:
    with session_scope() as session:
        agent = _agent(session, uuid)  # the engine's claim refreshes last_seen (coarsely: polls are frequent)
        if not agent.enabled:
            return None
        claimed = _queue().claim(session, agent)
        return claimed.to_json() if claimed is not None else None


@route("/claim", "POST")
async def claim(request: Request) -> Response:
    """Long poll: a claimed job as soon as one the agent can run is queued, or 204 after `wait` seconds."""
    uuid = _agent_uuid(request)
    try:
        wait = min(max(float(request.query_params.get("wait", MAX_CLAIM_WAIT)), 0.0), MAX_CLAIM_WAIT)
    except ValueError:
        raise service.Invalid("wait must be a number of seconds") from None
    deadline = time.monotonic() + wait
    wake = _queue().work_available
    while True:
        if await request.is_disconnected():
            return Response(status_code=204)
        wake.clear()
        found = await run_in_threadpool(_try_claim, uuid)
        if found is not None:
            return JSONResponse(found)
        # Jobs queued by this process wake us at once (the engine sets the event on commit); others are polled.
        next_poll = min(deadline, time.monotonic() + CLAIM_POLL_SECONDS)
        while time.monotonic() < next_poll and not wake.is_set():
            await asyncio.sleep(0.02)
        if time.monotonic() >= deadline:
            return Response(status_code=204)


# -- a running job -------------------------------------------------------------------------------------------

def _append_log(uuid: str, job_id: int, claim_token: str, data: bytes) -> bool:
    with session_scope() as session:
        agent = _agent(session, uuid)
        job = _own_job(session, agent, job_id, claim_token)
        path: Path = _storage().log_path(job_result_key(session, job))
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with path.open("ab") as f:
            size = f.tell()
            if size < LOG_CAP and data:
                piece = data[:LOG_CAP - size]
                f.write(piece)
                written = len(piece)
                if len(piece) < len(data):
                    note = b"\n[culm] The log is truncated: it exceeded 64 MiB.\n"
                    f.write(note)
                    written += len(note)
        agent.last_seen = now_ms()
        return bool(_queue().heartbeat(session, job_id, claim_token, log_bytes=written))


@route("/jobs/{jobId}/log", "POST")
async def append_log(request: Request) -> Response:
    uuid = _agent_uuid(request)
    token, job_id = _claim_token(request), _job_id(request)
    data = await _body(request, MAX_LOG_REQUEST)
    cancel = await run_in_threadpool(_append_log, uuid, job_id, token, data)
    return JSONResponse({"cancel": cancel})


def _heartbeat(uuid: str, job_id: int, claim_token: str) -> bool:
    with session_scope() as session:
        agent = _agent(session, uuid)
        _own_job(session, agent, job_id, claim_token)
        agent.last_seen = now_ms()
        return bool(_queue().heartbeat(session, job_id, claim_token))


@route("/jobs/{jobId}/heartbeat", "POST")
async def heartbeat(request: Request) -> Response:
    uuid = _agent_uuid(request)
    cancel = await run_in_threadpool(_heartbeat, uuid, _job_id(request), _claim_token(request))
    return JSONResponse({"cancel": cancel})


def _strings(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise service.Invalid(f"{what} must be an object of strings")
    return value


def _finish(uuid: str, job_id: int, claim_token: str, body: dict[str, Any]) -> None:
    successful = body.get("successful")
    if not isinstance(successful, bool):
        raise service.Invalid("'successful' must be true or false")
    reason = body.get("failure_reason")
    if reason is not None and not isinstance(reason, str):
        raise service.Invalid("'failure_reason' must be a string")
    tests, artifacts = body.get("tests") or [], body.get("artifacts") or []
    if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
        raise service.Invalid("'tests' must be a list of objects")
    for test in tests:
        if test.get("status") not in ("successful", "failed", "skipped"):
            raise service.Invalid("a test's status must be successful, failed or skipped")
    if not isinstance(artifacts, list) or not all(isinstance(a, dict) for a in artifacts):
        raise service.Invalid("'artifacts' must be a list of objects")
    variables = _strings(body.get("result_variables") or {}, "'result_variables'")
    with session_scope() as session:
        agent = _agent(session, uuid)
        _own_job(session, agent, job_id, claim_token)
        agent.last_seen = now_ms()
        _queue().finish(session, job_id, claim_token, successful=successful,
                        failure_reason=(reason or None) and reason[:2000], tests=tests, artifacts=artifacts,
                        result_variables=variables)


@route("/jobs/{jobId}/finish", "POST")
async def finish(request: Request) -> Response:
    uuid = _agent_uuid(request)
    token, job_id = _claim_token(request), _job_id(request)
    body = _json(await _body(request, MAX_FINISH_REQUEST))
    await run_in_threadpool(_finish, uuid, job_id, token, body)
    return JSONResponse({"finished": True})


# -- artifacts -----------------------------------------------------------------------------------------------

def _tmp_dir() -> Path:
    path = get_settings().home / "bamboo" / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _store_artifact(uuid: str, job_id: int, claim_token: str, name: str, shared: bool, tar: Path) -> dict[str, Any]:
    with session_scope() as session:
        agent = _agent(session, uuid)
        _own_job(session, agent, job_id, claim_token)
        row = _queue().add_artifact(session, job_id, claim_token, name, shared)
        session.flush()
        target: Path = _storage().artifact_dir(row)
        shutil.rmtree(target, ignore_errors=True)
        try:
            size, count = unpack(tar, target)
        except ArtifactRefused as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise service.Invalid(str(exc)) from None
        except Exception:
            shutil.rmtree(target, ignore_errors=True)
            raise
        row.size, row.file_count = size, count
        return {"artifact_id": row.id, "name": row.name, "size": size, "fileCount": count}


@route("/jobs/{jobId}/artifacts/{name}", "PUT")
async def upload_artifact(request: Request) -> Response:
    uuid = _agent_uuid(request)
    token, job_id = _claim_token(request), _job_id(request)
    name = request.path_params["name"]
    if not _ARTIFACT_NAME.match(name):
        raise service.Invalid("Invalid artifact name")
    shared = request.query_params.get("shared", "true").lower() in ("true", "1", "yes", "")
    fd, raw = tempfile.mkstemp(prefix="upload-", suffix=".tar", dir=_tmp_dir())
    tar = Path(raw)
    try:
        total = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                total += len(chunk)
                if total > MAX_ARTIFACT_BYTES:
                    raise Refused(413, "The artifact is too large.")
                await run_in_threadpool(out.write, chunk)
        saved = await run_in_threadpool(_store_artifact, uuid, job_id, token, name, shared, tar)
    finally:
        tar.unlink(missing_ok=True)
    return JSONResponse(saved)


def _artifact_tar(uuid: str, job_id: int, claim_token: str, artifact_id: int) -> Path:
    with session_scope() as session:
        agent = _agent(session, uuid)
        job = _own_job(session, agent, job_id, claim_token)
        row = session.execute(select(BambooArtifact, BambooJobResult.result_id)
                              .join(BambooJobResult, BambooJobResult.id == BambooArtifact.job_result_id)
                              .where(BambooArtifact.id == artifact_id)).first()
        if row is None or row[1] != job.result_id or not row[0].shared:
            raise service.NotFound(f"Artifact {artifact_id} not found in this build")
        source: Path = _storage().artifact_dir(row[0])
    fd, raw = tempfile.mkstemp(prefix="download-", suffix=".tar", dir=_tmp_dir())
    os.close(fd)
    tar = Path(raw)
    try:
        pack_dir(source, tar)
    except Exception:
        tar.unlink(missing_ok=True)
        raise
    return tar


@route("/jobs/{jobId}/artifacts/{artifactId}", "GET")
async def download_artifact(request: Request) -> Response:
    uuid = _agent_uuid(request)
    token, job_id = _claim_token(request), _job_id(request)
    raw = request.path_params["artifactId"]
    if not raw.isdigit() or len(raw) > 18:
        raise service.NotFound(f"Artifact {raw} not found")
    tar = await run_in_threadpool(_artifact_tar, uuid, job_id, token, int(raw))
    return FileResponse(tar, media_type="application/x-tar",
                        background=BackgroundTask(lambda: tar.unlink(missing_ok=True)))
