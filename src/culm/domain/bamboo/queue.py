"""The agent side of the build engine: claiming a queued job (atomically: a job runs once), heartbeats, saving
artifacts and reporting the end of a job, which moves its build on.

A Queued job row IS the queue entry. A claim is `UPDATE ... WHERE id = :id AND life_cycle = 'Queued'`: of two
agents racing for one job exactly one sees a row count of 1. Every later report names the claim's token, so an
agent that was given up on (and its job requeued) cannot touch the new run."""

from __future__ import annotations

import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from culm.core.worker import wake_after_commit
from culm.domain.bamboo import builds, forge_status, result_deltas, storage
from culm.domain.bamboo.models import (
    BambooAgent,
    BambooArtifact,
    BambooJobResult,
    BambooPlan,
    BambooProject,
    BambooResult,
    BambooTestResult,
)
from culm.domain.bamboo.service import Invalid, NotFound
from culm.domain.bamboo.variables import resolve
from culm.domain.base import now_ms
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository

# Set after a transaction that queued jobs commits: the agents' long-poll wakes at once instead of polling.
work_available = threading.Event()

# How many queued jobs one claim looks at (oldest first) for one the agent can run.
CLAIM_WINDOW = 200
# An agent's last_seen is refreshed by its polls at most this often.
SEEN_RESOLUTION_MS = 5_000


def schedule_wake(session: Session) -> None:
    """Set `work_available` once this transaction commits (cheap; nothing happens on rollback)."""
    wake_after_commit(session, "bamboo_wake_scheduled", work_available.set)


@dataclass
class Claimed:
    """Everything an executor needs to run one job."""

    job_result_id: int
    claim_token: str
    job_result_key: str
    result_key: str
    plan_key: str
    job_key: str
    build_number: int
    tasks: list[dict[str, Any]]
    final_tasks: list[dict[str, Any]]
    artifacts: list[dict[str, Any]]
    subscriptions: list[dict[str, Any]]
    variables: dict[str, str]
    masked: list[str]
    repository: dict[str, Any] | None
    timeout_seconds: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Claimed:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


# -- requirements ---------------------------------------------------------------------------------------------
def agent_capabilities(agent: BambooAgent) -> dict[str, str]:
    """An agent's capabilities: the built-in ones every culm agent has, then what it declared."""
    caps = {"os": "linux", "system.git.executable": shutil.which("git") or "/usr/bin/git",
            "agent.name": agent.name, "agent.type": agent.type, "agent.id": str(agent.id)}
    caps.update({str(k): "" if v is None else str(v) for k, v in (agent.capabilities or {}).items()})
    return caps


def describe_requirement(req: dict[str, Any]) -> str:
    key, match = req.get("key", ""), str(req.get("match") or "EXISTS").upper()
    if match == "EQUALS":
        return f"capability '{key}' = '{req.get('value', '')}'"
    if match == "MATCHES":
        return f"capability '{key}' matching '{req.get('value', '')}'"
    return f"capability '{key}'"


def _meets(req: dict[str, Any], capabilities: dict[str, str]) -> bool:
    key = str(req.get("key", ""))
    if key not in capabilities:
        return False
    match = str(req.get("match") or "EXISTS").upper()
    have = capabilities[key]
    if match == "EQUALS":
        return have == str(req.get("value", ""))
    if match == "MATCHES":
        pattern = str(req.get("value", ""))
        if len(pattern) > 1000:
            return False
        try:
            return re.fullmatch(pattern, have[:10000]) is not None
        except re.error:
            return False
    return True


def match_requirements(requirements: list[dict[str, Any]], capabilities: dict[str, str]) -> str | None:
    """None when `capabilities` meet every requirement, else the description of the first unmet one."""
    for req in requirements or []:
        if not _meets(req, capabilities):
            return describe_requirement(req)
    return None


# -- claiming ---------------------------------------------------------------------------------------------------
def _job_spec(spec: dict[str, Any], job: BambooJobResult) -> dict[str, Any]:
    """The job's entry in the build's spec (`builds.build_spec`); {} when it has none."""
    stages = spec.get("stages") or []
    candidates = [stages[job.stage_idx]] if 0 <= job.stage_idx < len(stages) else []
    for stage in [*candidates, *stages]:
        for entry in stage.get("jobs") or []:
            if entry.get("key") == job.job_key:
                return entry
    return {}


def _shared_artifact(session: Session, result_id: int, name: str) -> int | None:
    return session.scalar(select(BambooArtifact.id).join(BambooJobResult,
                                                         BambooJobResult.id == BambooArtifact.job_result_id)
                          .where(BambooJobResult.result_id == result_id, BambooArtifact.name == name,
                                 BambooArtifact.shared.is_(True))
                          .order_by(BambooArtifact.id.desc()).limit(1))


def _with_artifact_ids(session: Session, result_id: int, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for task in tasks:
        task = dict(task)
        if task.get("type") == "artifact-download" and not task.get("source-plan"):
            task["artifacts"] = [{**a, "artifact_id": _shared_artifact(session, result_id, a.get("name") or "")}
                                 for a in task.get("artifacts") or []]
        out.append(task)
    return out


def _repository(session: Session, result: BambooResult) -> dict[str, Any] | None:
    if result.repository_id is None or not result.revision:
        return None
    repo = session.get(Repository, result.repository_id)
    if repo is None:
        return None
    project = session.get(Project, repo.project_id)
    return {"id": repo.id, "project_key": project.key if project else "", "slug": repo.slug,
            "revision": result.revision, "branch": result.branch}


def _claimed(session: Session, job: BambooJobResult, token: str, agent: BambooAgent) -> Claimed:
    result = session.get(BambooResult, job.result_id)
    assert result is not None
    plan = session.get(BambooPlan, result.plan_id)
    assert plan is not None
    project = session.get(BambooProject, plan.project_id)
    plan_key = f"{project.key if project else '?'}-{plan.key}"
    spec = _job_spec(builds.build_spec(session, result, plan), job)
    variables, masked = resolve(session, result, job, plan)
    variables["agentId"] = str(agent.id)
    subscriptions = [{"name": s.get("name"), "destination": s.get("destination") or "",
                      "artifact_id": _shared_artifact(session, result.id, s.get("name") or "")}
                     for s in spec.get("artifact-subscriptions") or []]
    timeout = builds.job_timeout_seconds()
    return Claimed(
        job_result_id=job.id, claim_token=token, job_result_key=f"{plan_key}-{job.job_key}-{result.number}",
        result_key=f"{plan_key}-{result.number}", plan_key=plan_key, job_key=job.job_key,
        build_number=result.number, tasks=_with_artifact_ids(session, result.id, list(spec.get("tasks") or [])),
        final_tasks=_with_artifact_ids(session, result.id, list(spec.get("final-tasks") or [])),
        artifacts=list(spec.get("artifacts") or []), subscriptions=subscriptions, variables=variables,
        masked=masked, repository=_repository(session, result), timeout_seconds=timeout)


def _candidates(session: Session, caps: dict[str, str]) -> Iterator[tuple[int, int]]:
    """Queued jobs this agent can run, oldest first, read a window at a time."""
    last: tuple[int, int] | None = None
    while True:
        query = (select(BambooJobResult.id, BambooJobResult.requirements, BambooJobResult.result_id,
                        BambooJobResult.queued_date)
                 .where(BambooJobResult.life_cycle == "Queued")
                 .order_by(BambooJobResult.queued_date, BambooJobResult.id).limit(CLAIM_WINDOW))
        if last is not None:
            query = query.where(or_(BambooJobResult.queued_date > last[0],
                                    and_(BambooJobResult.queued_date == last[0], BambooJobResult.id > last[1])))
        rows = session.execute(query).all()
        for job_id, requirements, result_id, queued in rows:
            last = (queued or 0, job_id)
            if match_requirements(requirements or [], caps) is None:
                yield job_id, result_id
        if len(rows) < CLAIM_WINDOW:
            return


def server_paused() -> bool:
    """An administrator paused the server (Bamboo's `/server/pause`): running jobs finish, no new one starts."""
    try:
        from culm.domain.bamboo import server_state  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return False
    from culm.core.config import get_settings

    return bool(server_state.is_paused(get_settings().home))


CLAIM_PASSES = 4


def claim(session: Session, agent: BambooAgent) -> Claimed | None:
    """Take the oldest queued job this agent can run, or None. Safe against any number of concurrent claims."""
    from culm.domain.bamboo import agent_access  # approval of remote agents, agents dedicated to jobs

    if not agent.enabled or server_paused() or not agent_access.may_work(session, agent):
        return None
    now = now_ms()
    if agent.last_seen is None or agent.last_seen < now - SEEN_RESOLUTION_MS:
        agent.last_seen = now  # not on every poll: a long-polling agent would write every quarter second
    caps = agent_capabilities(agent)
    allowed = agent_access.dedication(session, agent)
    # A row held by another transaction is skipped; when that was all there was (housekeeping noting why a job
    # waits, a stop in flight), look again shortly rather than send the agent away empty-handed.
    for attempt in range(CLAIM_PASSES):
        held = False
        for job_id, result_id in _candidates(session, caps):
            if not allowed(job_id):
                continue
            # Skip a job another transaction holds (a rival claim, a stop): on PostgreSQL, an UPDATE that waited for
            # it would keep the row locked even when it then matched nothing, and deadlock with a stop of the build.
            if session.scalar(select(BambooJobResult.id)
                              .where(BambooJobResult.id == job_id, BambooJobResult.life_cycle == "Queued")
                              .with_for_update(skip_locked=True)) is None:
                held = True
                continue
            token = secrets.token_hex(16)
            won = session.execute(update(BambooJobResult)
                                  .where(BambooJobResult.id == job_id, BambooJobResult.life_cycle == "Queued")
                                  .values(life_cycle="InProgress", state="Unknown", agent_id=agent.id,
                                          claim_token=token, claimed_date=now, started_date=now, heartbeat_date=now,
                                          completed_date=None,
                                          cancel_requested=False, failure_reason=None, blocked_reason=None,
                                          attempt=BambooJobResult.attempt + 1)
                                  .execution_options(synchronize_session=False)).rowcount
            if won != 1:
                continue
            result = builds.lock_result(session, result_id)
            job = session.scalars(select(BambooJobResult).where(BambooJobResult.id == job_id)
                                  .execution_options(populate_existing=True)).one()
            _truncate_log(session, job)
            plan = session.get(BambooPlan, result.plan_id)
            if plan is None or not _job_spec(builds.build_spec(session, result, plan), job):
                # Only for builds queued before spec snapshots: the plan changed since and no longer has this job.
                job.life_cycle, job.state, job.claim_token = "Finished", "Failed", None
                job.failure_reason, job.completed_date = "The job no longer exists in the plan", now
                session.flush()
                builds.advance(session, result)
                continue
            first_start = result.life_cycle != "InProgress"
            if result.started_date is None:
                result.started_date = now
            builds.advance(session, result)
            session.flush()
            if first_start:
                forge_status.post(session, result, "INPROGRESS")
            return _claimed(session, job, token, agent)
        if not held:
            break
        time.sleep(0.05 * (attempt + 1))
    return None


def _truncate_log(session: Session, job: BambooJobResult) -> None:
    """A fresh run starts a fresh log (a requeued or rerun job's earlier output is gone)."""
    try:
        path = storage.log_path(builds.log_file(session, job))
    except (ValueError, NotFound):
        return
    path.unlink(missing_ok=True)
    job.log_size = 0


# -- reports ------------------------------------------------------------------------------------------------------
def job_for_token(session: Session, job_result_id: int, claim_token: str) -> BambooJobResult:
    """The running job this claim token belongs to; NotFound for a stale or wrong token."""
    job = session.scalars(select(BambooJobResult).where(BambooJobResult.id == job_result_id)
                          .execution_options(populate_existing=True)).first()
    if (job is None or job.life_cycle != "InProgress" or not job.claim_token or not isinstance(claim_token, str)
            or not secrets.compare_digest(job.claim_token.encode(), claim_token.encode())):
        raise NotFound(f"Job {job_result_id} is not running under this claim")
    return job


def heartbeat(session: Session, job_result_id: int, claim_token: str, log_bytes: int = 0) -> bool:
    """Record that the agent is alive (and how much log it sent); True when it must cancel the job."""
    job = job_for_token(session, job_result_id, claim_token)
    now = now_ms()
    values: dict[str, Any] = {"heartbeat_date": now}
    if log_bytes > 0:
        values["log_size"] = BambooJobResult.log_size + int(log_bytes)
    session.execute(update(BambooJobResult).where(BambooJobResult.id == job.id).values(**values)
                    .execution_options(synchronize_session=False))
    if job.agent_id is not None:
        session.execute(update(BambooAgent).where(BambooAgent.id == job.agent_id).values(last_seen=now)
                        .execution_options(synchronize_session=False))
    session.expire(job)
    return bool(job.cancel_requested)


def add_artifact(session: Session, job_result_id: int, claim_token: str, name: str, shared: bool) -> BambooArtifact:
    """The artifact row for files the agent is about to upload (a second upload of the name replaces them)."""
    job = job_for_token(session, job_result_id, claim_token)
    if not isinstance(name, str) or not name.strip() or len(name) > 255 or "\x00" in name:
        raise Invalid("Artifact name must be 1-255 characters")
    row = session.scalar(select(BambooArtifact).where(BambooArtifact.job_result_id == job.id,
                                                      BambooArtifact.name == name))
    if row is None:
        row = BambooArtifact(job_result_id=job.id, name=name, shared=bool(shared), path="", size=0, file_count=0)
        session.add(row)
        session.flush()
        row.path = str(row.id)
    else:
        row.shared = bool(shared)
        row.size = row.file_count = 0
        shutil.rmtree(storage.artifact_dir(row), ignore_errors=True)
    session.flush()
    return row


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _errors(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(e) for e in value[:50]]
    return []


def _test_status(test: Any) -> str:
    if not isinstance(test, dict):
        raise Invalid("Each test result must be an object")
    status = str(test.get("status") or "failed").lower()
    return status if status in ("successful", "failed", "skipped") else "failed"


def finish(session: Session, job_result_id: int, claim_token: str, *, successful: bool, failure_reason: str | None,
           tests: list[dict[str, Any]], artifacts: list[dict[str, Any]], result_variables: dict[str, str]) -> None:
    """The agent's last word on a job: end the job, store its tests and artifact sizes, move the build on.
    A failed test fails the job; a job asked to cancel ends Failed, 'Stopped by user'."""
    if not isinstance(tests or [], list) or not isinstance(artifacts or [], list):
        raise Invalid("'tests' and 'artifacts' must be lists")
    if not isinstance(result_variables or {}, dict):
        raise Invalid("Result variables must be an object")
    if any(not isinstance(a, dict) for a in artifacts or []):
        raise Invalid("Each artifact must be an object")
    statuses = [_test_status(t) for t in tests or []]
    counts = {k: statuses.count(k) for k in ("successful", "failed", "skipped")}
    job = job_for_token(session, job_result_id, claim_token)
    from culm.domain.bamboo import quarantine  # quarantined failed tests neither count as failed nor fail the job

    held, successful, failure_reason = quarantine.on_finish(session, job, tests or [], statuses, bool(successful),
                                                            failure_reason)
    counts["failed"] -= held
    now = now_ms()
    ok = bool(successful) and not job.cancel_requested and counts["failed"] == 0
    reason = (str(failure_reason)[:2000] or None) if not ok and failure_reason else None
    if job.cancel_requested:
        # Asked to cancel: by a user, or by the reaper for a job past its timeout.
        overdue = (job.started_date or now) < now - builds.job_timeout_seconds() * 1000
        reason = builds.TIMED_OUT if overdue else builds.STOPPED
    elif not ok and not reason:
        reason = f"{counts['failed']} test(s) failed" if counts["failed"] else "The job failed"
    ended = session.execute(update(BambooJobResult)
                            .where(BambooJobResult.id == job.id, BambooJobResult.claim_token == claim_token,
                                   BambooJobResult.life_cycle == "InProgress")
                            .values(life_cycle="Finished", state="Successful" if ok else "Failed",
                                    failure_reason=reason, completed_date=now, heartbeat_date=now,
                                    tests_successful=counts["successful"], tests_failed=counts["failed"],
                                    tests_skipped=counts["skipped"], tests_quarantined=held)
                            .execution_options(synchronize_session=False)).rowcount
    if ended != 1:
        raise NotFound(f"Job {job_result_id} is not running under this claim")
    marks = result_deltas.deltas(session, job, tests or [], statuses)
    session.add_all([BambooTestResult(job_result_id=job.id, class_name=str(t.get("className") or "")[:1024],
                                      method_name=str(t.get("methodName") or "")[:1024], status=status,
                                      delta=mark, duration_ms=_int(t.get("durationMs")),
                                      errors=_errors(t.get("errors")))
                     for t, status, mark in zip(tests or [], statuses, marks, strict=True)])
    for art in artifacts or []:
        row = session.get(BambooArtifact, _int(art.get("artifact_id")))
        if row is not None and row.job_result_id == job.id:
            row.size, row.file_count = _int(art.get("size")), _int(art.get("fileCount"))
    result = builds.lock_result(session, job.result_id)
    if result_variables:
        result.result_variables = {**(result.result_variables or {}),
                                   **{str(k): str(v) for k, v in result_variables.items()}}
    builds.advance(session, result)
