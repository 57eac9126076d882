"""Builds: queueing a plan (numbering, revision, changes, stage and job rows), the stage state machine that
moves a build on as its jobs end, continuing / rerunning, stopping, and reaping jobs whose agent vanished.

Concurrency: build numbers come from one conditional `UPDATE ... SET next_number = next_number + 1`, which
row-locks the plan until commit. Everything that changes a running build updates its job rows first and then
locks the result row (`SELECT ... FOR UPDATE`), always in that order, so two jobs of one stage ending at the
same moment cannot both miss that the stage is complete, and no two paths wait on each other. SQLite runs
one writer at a time (`BEGIN IMMEDIATE`), which gives the same guarantees."""

from __future__ import annotations

import copy
import logging
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from culm.domain.bamboo import forge_status
from culm.domain.bamboo.models import (
    BambooAgent,
    BambooArtifact,
    BambooJobResult,
    BambooPlan,
    BambooProject,
    BambooResult,
    BambooStageResult,
    BambooTestResult,
)
from culm.domain.bamboo.service import Conflict, Invalid, NotFound
from culm.domain.base import now_ms
from culm.domain.repos.models import Repository
from culm.git.branches import branch_commit
from culm.git.build_changes import files_by_commit
from culm.git.history import LogQuery, log_page
from culm.git.revisions import commit_info, find_commit, open_repo
from culm.git.storage import repo_dir

log = logging.getLogger(__name__)

MAX_CHANGES = 100
MAX_CHANGE_FILES = 100
STOPPED = "Stopped by user"
AGENT_LOST = "Agent lost"
TIMED_OUT = "Timed out"
# How long past its timeout a job that still reports is first asked to cancel, then failed.
TIMEOUT_GRACE_MS = 60_000
ACTIVE = ("Queued", "InProgress")
DONE = ("Finished", "NotBuilt")


def job_timeout_seconds() -> int:
    """The longest a job may run (Settings.job_timeout, when the agent settings define it)."""
    from culm.core.config import get_settings

    try:
        return max(1, int(getattr(get_settings(), "job_timeout", 3600) or 3600))
    except (TypeError, ValueError):
        return 3600


def result_key(session: Session, result: BambooResult) -> str:
    plan = session.get(BambooPlan, result.plan_id)
    project = session.get(BambooProject, plan.project_id) if plan else None
    return f"{project.key if project else '?'}-{plan.key if plan else '?'}-{result.number}"


# -- queueing -----------------------------------------------------------------------------------------------
def _next_number(session: Session, plan: BambooPlan) -> int:
    """Take the plan's next build number: one atomic UPDATE (row-locked on PostgreSQL until commit)."""
    new = session.execute(update(BambooPlan).where(BambooPlan.id == plan.id)
                          .values(next_number=BambooPlan.next_number + 1)
                          .returning(BambooPlan.next_number)
                          .execution_options(synchronize_session=False)).scalar_one()
    session.expire(plan, ["next_number"])
    return int(new) - 1


def _short_branch(ref: str | None) -> str | None:
    if ref and ref.startswith("refs/heads/"):
        return ref[len("refs/heads/"):]
    return ref


def _resolve_revision(plan: BambooPlan, repo: Repository, revision: str | None,
                      branch: str | None) -> tuple[str, str]:
    """(full commit id, short branch name) the build will check out."""
    name = _short_branch(branch or plan.branch_name or repo.default_branch) or "main"
    if name.startswith("-") or "\x00" in name:
        raise Invalid(f"Invalid branch name '{name}'")
    if revision is not None:
        commit = find_commit(open_repo(repo.id), revision.strip())
        if commit is None:
            raise Invalid(f"Revision '{revision}' does not exist in repository {repo.name}")
        return str(commit.id), name
    tip = branch_commit(repo.id, f"refs/heads/{name}")
    if tip is None:
        raise Invalid(f"Branch '{name}' has no commits in repository {repo.name}")
    return tip, name


def _change(info: Any, files: list[str]) -> dict[str, Any]:
    return {"id": info.id, "author": info.author.name, "email": info.author.email, "message": info.message,
            "date": info.author_ms, "files": files}


def compute_changes(session: Session, plan: BambooPlan, repo_id: int, revision: str) -> list[dict[str, Any]]:
    """Commits since the previous build of this plan (newest first, at most MAX_CHANGES); the first build
    lists just the commit it builds."""
    previous = session.scalar(select(BambooResult.revision)
                              .where(BambooResult.plan_id == plan.id, BambooResult.revision.is_not(None),
                                     BambooResult.repository_id == repo_id)
                              .order_by(BambooResult.number.desc()).limit(1))
    repo = open_repo(repo_id)
    if previous == revision:
        return []
    if previous and find_commit(repo, previous) is not None and len(previous) in (40, 64):
        commits, _ = log_page(repo_dir(repo_id), repo, LogQuery(include=(revision,), exclude=(previous,)),
                              0, MAX_CHANGES)
    else:
        commit = find_commit(repo, revision)
        commits = [commit_info(commit)] if commit is not None else []
    files = files_by_commit(repo_dir(repo_id), [c.id for c in commits], MAX_CHANGE_FILES)
    return [_change(info, files.get(info.id, [])) for info in commits]


def _stage_index(spec: dict[str, Any], stage: str | None) -> int | None:
    if stage is None:
        return None
    for idx, entry in enumerate(spec.get("stages") or []):
        if entry.get("name") == stage:
            return idx
    raise Invalid(f"Stage '{stage}' does not exist in this plan")


def enqueue(session: Session, plan: BambooPlan, *, reason: str, user_id: int | None = None,
            revision: str | None = None, branch: str | None = None, variables: dict[str, str] | None = None,
            stage: str | None = None, execute_all_stages: bool = False, once_off: bool = False) -> BambooResult:
    """Create build N of `plan` and queue its first stage (or stop at a leading manual stage)."""
    if not plan.enabled:
        raise Invalid(f"Plan {_plan_key(session, plan)} is disabled and cannot be built")
    # The build's own copy: a later import or push changing the plan does not change what this build runs.
    spec = copy.deepcopy(plan.spec or {})
    stages = list(spec.get("stages") or [])
    if not stages:
        raise Invalid(f"Plan {_plan_key(session, plan)} has no stages")
    run_through = _stage_index(spec, stage)
    if execute_all_stages:
        run_through = len(stages) - 1
    repo = session.get(Repository, plan.repository_id) if plan.repository_id is not None else None
    rev: str | None = None
    short_branch: str | None = _short_branch(branch or plan.branch_name)
    changes: list[dict[str, Any]] = []
    if repo is not None:
        rev, short_branch = _resolve_revision(plan, repo, revision, branch)
    # Numbering first: it row-locks the plan, so concurrent builds of one plan see each other's revisions.
    trigger_vars = {str(k): "" if v is None else str(v) for k, v in (variables or {}).items()}
    number = _next_number(session, plan)
    if repo is not None and rev is not None:
        changes = compute_changes(session, plan, repo.id, rev)
    now = now_ms()
    result = BambooResult(plan_id=plan.id, number=number, life_cycle="Queued", state="Unknown", continuable=False,
                          reason=reason, trigger_user_id=user_id, repository_id=repo.id if repo else None,
                          revision=rev, branch=short_branch, variables=trigger_vars, result_variables={},
                          changes=changes, labels=[], spec=spec,
                          run_through_stage=-1 if run_through is None else run_through, once_off=once_off,
                          restart_count=0, queued_date=now)
    session.add(result)
    session.flush()
    for idx, entry in enumerate(stages):
        session.add(BambooStageResult(result_id=result.id, idx=idx, name=entry.get("name") or f"Stage {idx + 1}",
                                      description=entry.get("description") or "", manual=bool(entry.get("manual")),
                                      final=bool(entry.get("final")), life_cycle="Pending", state="Unknown"))
        for job in entry.get("jobs") or []:
            session.add(BambooJobResult(result_id=result.id, stage_idx=idx, job_key=job["key"],
                                        name=job.get("name") or job["key"], life_cycle="Pending", state="Unknown",
                                        requirements=list(job.get("requirements") or []), attempt=0,
                                        cancel_requested=False, log_size=0))
    session.flush()
    advance(session, result)
    return result


def build_spec(session: Session, result: BambooResult, plan: BambooPlan | None = None) -> dict[str, Any]:
    """The spec a build runs: its snapshot taken when it was queued; the plan's current spec for builds queued
    before snapshots were kept."""
    if result.spec is not None:
        return result.spec
    plan = plan if plan is not None else session.get(BambooPlan, result.plan_id)
    return (plan.spec if plan is not None else None) or {}


def _plan_key(session: Session, plan: BambooPlan) -> str:
    project = session.get(BambooProject, plan.project_id)
    return f"{project.key if project else '?'}-{plan.key}"


# -- the state machine ------------------------------------------------------------------------------------
def lock_result(session: Session, result_id: int) -> BambooResult:
    """The result row, locked until commit and re-read (another transaction may have just changed it)."""
    row = session.scalars(select(BambooResult).where(BambooResult.id == result_id).with_for_update()
                          .execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound(f"Result {result_id} not found")
    return row


def _stages(session: Session, result: BambooResult) -> list[BambooStageResult]:
    return list(session.scalars(select(BambooStageResult).where(BambooStageResult.result_id == result.id)
                                .order_by(BambooStageResult.idx).execution_options(populate_existing=True)))


def _jobs(session: Session, result: BambooResult) -> list[BambooJobResult]:
    return list(session.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result.id)
                                .order_by(BambooJobResult.stage_idx, BambooJobResult.id)
                                .execution_options(populate_existing=True)))


def _stage_outcome(jobs: list[BambooJobResult]) -> tuple[str, str]:
    """(life_cycle, state) of a stage whose jobs have all ended."""
    if any(j.state == "Failed" for j in jobs):
        return "Finished", "Failed"
    if jobs and all(j.life_cycle == "NotBuilt" for j in jobs):
        return "NotBuilt", "Unknown"
    if any(j.life_cycle == "NotBuilt" for j in jobs):
        return "Finished", "Failed"
    return "Finished", "Successful"


def _was_stopped(jobs: list[BambooJobResult]) -> bool:
    return any(j.failure_reason == STOPPED for j in jobs)


def _not_built(job: BambooJobResult, reason: str | None = None) -> None:
    job.life_cycle, job.state = "NotBuilt", "Unknown"
    job.claim_token = None
    if reason:
        job.failure_reason = reason


def advance(session: Session, result: BambooResult) -> None:
    """Move the build on: settle ended stages, queue the next stage, pause at a manual stage, skip what a
    failure or a stop makes pointless, and finish the build. Idempotent; call with the result locked."""
    stages = _stages(session, result)
    jobs = _jobs(session, result)
    by_stage: dict[int, list[BambooJobResult]] = {}
    for job in jobs:
        by_stage.setdefault(job.stage_idx, []).append(job)
    stopped = _was_stopped(jobs)
    failed = False
    for stage in stages:
        stage_jobs = by_stage.get(stage.idx, [])
        if any(j.life_cycle in ACTIVE for j in stage_jobs):
            stage.life_cycle = "InProgress" if any(j.life_cycle == "InProgress" for j in stage_jobs) else "Queued"
            stage.state = "Unknown"
            _set_running(result, started=any(j.life_cycle == "InProgress" for j in jobs))
            return
        if stage.life_cycle in DONE and all(j.life_cycle in DONE for j in stage_jobs):
            if stage.state == "Failed":
                failed = True
            continue
        pending = [j for j in stage_jobs if j.life_cycle == "Pending"]
        if stage.life_cycle in ("Queued", "InProgress") and not pending:
            stage.life_cycle, stage.state = _stage_outcome(stage_jobs)
            if stage.state == "Failed":
                failed = True
            continue
        # A stage that has not started (or was reset for a rerun).
        if stopped or (failed and not stage.final):
            for job in pending:
                _not_built(job)
            if any(j.life_cycle == "Finished" for j in stage_jobs):
                stage.life_cycle, stage.state = _stage_outcome(stage_jobs)
            else:
                stage.life_cycle, stage.state = "NotBuilt", "Unknown"
            failed = failed or stage.state == "Failed"
            continue
        if stage.manual and stage.idx > result.run_through_stage and not failed:
            _pause(session, result, stages, jobs)
            return
        if not pending:  # an empty stage
            stage.life_cycle, stage.state = _stage_outcome(stage_jobs)
            continue
        now = now_ms()
        for job in pending:
            job.life_cycle, job.state, job.queued_date = "Queued", "Unknown", now
            job.blocked_reason = None
        stage.life_cycle, stage.state = "Queued", "Unknown"
        _set_running(result, started=any(j.life_cycle == "InProgress" for j in jobs))
        session.flush()
        _work_queued(session)
        return
    _complete(session, result, stages, jobs)


def _set_running(result: BambooResult, started: bool) -> None:
    result.continuable = False
    result.completed_date = None
    result.state = "Unknown"
    if started or result.life_cycle == "InProgress":
        result.life_cycle = "InProgress"
    else:
        result.life_cycle = "Queued"


def _pause(session: Session, result: BambooResult, stages: list[BambooStageResult],
           jobs: list[BambooJobResult]) -> None:
    """Stop before a manual stage: Finished and continuable, like Bamboo."""
    ran = any(j.life_cycle == "Finished" for j in jobs)
    was_running = result.life_cycle == "InProgress"
    result.life_cycle = "Finished"
    result.state = "Successful" if ran else "Unknown"
    result.continuable = True
    result.completed_date = now_ms()
    session.flush()
    if was_running and ran:
        forge_status.post(session, result, "SUCCESSFUL")


def _complete(session: Session, result: BambooResult, stages: list[BambooStageResult],
              jobs: list[BambooJobResult]) -> None:
    ran = [j for j in jobs if j.life_cycle == "Finished"]
    already = result.life_cycle in DONE and not result.continuable
    result.continuable = False
    if not ran:
        result.life_cycle, result.state = "NotBuilt", "Unknown"
    else:
        failed = any(s.state == "Failed" for s in stages) or any(j.state == "Failed" for j in jobs) \
            or _was_stopped(jobs)
        result.life_cycle, result.state = "Finished", "Failed" if failed else "Successful"
    if not already or result.completed_date is None:
        result.completed_date = now_ms()
    session.flush()
    if not already and (ran or result.started_date is not None):
        # A build that posted INPROGRESS always gets a final state, even when it was stopped before any job ended.
        forge_status.post(session, result, "SUCCESSFUL" if result.state == "Successful" else "FAILED")


def _work_queued(session: Session) -> None:
    from culm.domain.bamboo import queue  # queue imports this module

    queue.schedule_wake(session)


# -- continue / rerun -------------------------------------------------------------------------------------
def _reset_job(session: Session, job: BambooJobResult) -> None:
    """Back to Pending for another run: old tests, artifacts and log go."""
    session.execute(delete(BambooTestResult).where(BambooTestResult.job_result_id == job.id))
    for art in session.scalars(select(BambooArtifact).where(BambooArtifact.job_result_id == job.id)):
        session.delete(art)
    job.life_cycle, job.state = "Pending", "Unknown"
    job.claim_token = None
    job.agent_id = None
    job.cancel_requested = False
    job.failure_reason = None
    job.blocked_reason = None
    job.queued_date = job.claimed_date = job.heartbeat_date = job.started_date = job.completed_date = None
    job.log_size = 0
    job.attempt = 0  # a rerun may again be requeued once if its agent is lost
    job.tests_successful = job.tests_failed = job.tests_skipped = job.tests_quarantined = 0


def continue_build(session: Session, result: BambooResult, *, stage: str | None, execute_all_stages: bool,
                   variables: dict[str, str], user_id: int | None) -> BambooResult:
    """Resume a build paused at a manual stage, or rerun the failed / not built jobs of an ended build."""
    result = lock_result(session, result.id)
    key = result_key(session, result)
    if result.life_cycle in ("Pending", "Queued", "InProgress"):
        raise Conflict(f"Build {key} is currently executing or waiting in the queue and cannot be continued "
                       "or rerun")
    plan = session.get(BambooPlan, result.plan_id)
    if plan is None:
        raise NotFound(f"Plan of {key} not found")
    stages = _stages(session, result)
    jobs = _jobs(session, result)
    target = None
    if stage is not None:
        names = {s.name: s.idx for s in stages}
        if stage not in names:
            raise Invalid(f"Stage '{stage}' does not exist in build {key}")
        target = names[stage]
    if result.continuable:
        paused = next((s for s in stages if s.life_cycle == "Pending"), None)
        if paused is None:
            raise Invalid(f"Build {key} has nothing to continue")
        through = paused.idx
        if execute_all_stages:
            through = len(stages) - 1
        elif target is not None:
            through = max(target, paused.idx)
        result.run_through_stage = max(result.run_through_stage, through)
    elif result.state == "Failed" or result.life_cycle == "NotBuilt":
        redo = [j for j in jobs if j.state == "Failed" or j.life_cycle == "NotBuilt"]
        if not redo:
            raise Invalid(f"Build {key} has no failed jobs to rerun")
        for job in redo:
            _reset_job(session, job)
        redo_stages = {j.stage_idx for j in redo}
        # A manual stage whose jobs failed is rerun at once: asking for the rerun is the approval.
        failed_stages = [s.idx for s in stages if s.state == "Failed"]
        if failed_stages:
            result.run_through_stage = max(result.run_through_stage, max(failed_stages))
        for s in stages:
            if s.idx in redo_stages or s.life_cycle == "NotBuilt":
                s.life_cycle, s.state = "Pending", "Unknown"
        result.restart_count += 1
        result.reason = "RerunBuild"
        if execute_all_stages:
            result.run_through_stage = len(stages) - 1
        elif target is not None:
            result.run_through_stage = max(result.run_through_stage, target)
    else:
        raise Invalid(f"Build {key} is not continuable and did not fail: there is nothing to continue or rerun")
    if variables:
        result.variables = {**(result.variables or {}), **{str(k): str(v) for k, v in variables.items()}}
    if user_id is not None:
        result.trigger_user_id = user_id
    result.continuable = False
    result.life_cycle = "Queued"
    result.state = "Unknown"
    result.completed_date = None
    session.flush()
    advance(session, result)
    return result


def short_job_key(value: str) -> str:
    """`JOB1` from `JOB1`, `PROJ-PLAN-JOB1` or `PROJ-PLAN-JOB1-42` (project keys have no dashes)."""
    parts = value.split("-")
    return parts[2] if len(parts) in (3, 4) else value


# -- stop -----------------------------------------------------------------------------------------------------
def stop(session: Session, result: BambooResult, job_key: str | None = None) -> None:
    """Queued jobs leave the queue (NotBuilt); running ones are asked to cancel (the agent reports them Failed,
    'Stopped by user'). Finished builds are left alone."""
    now = now_ms()
    scope = [BambooJobResult.result_id == result.id]
    if job_key is not None:
        job_key = short_job_key(job_key)
        if session.scalar(select(BambooJobResult.id).where(*scope, BambooJobResult.job_key == job_key)) is None:
            raise NotFound(f"Job {job_key} not found in build {result_key(session, result)}")
        scope.append(BambooJobResult.job_key == job_key)
    touched = session.execute(update(BambooJobResult).where(*scope, BambooJobResult.life_cycle == "Queued")
                              .values(life_cycle="NotBuilt", state="Unknown", failure_reason=STOPPED,
                                      claim_token=None, completed_date=now)
                              .execution_options(synchronize_session=False)).rowcount
    session.execute(update(BambooJobResult).where(*scope, BambooJobResult.life_cycle == "InProgress")
                    .values(cancel_requested=True).execution_options(synchronize_session=False))
    locked = lock_result(session, result.id)
    if touched or locked.life_cycle in ("Queued", "InProgress", "Pending"):
        # Stop also whatever has not started yet, so the build cannot move on to later stages.
        for job in _jobs(session, locked):
            if job.life_cycle == "Pending" and (job_key is None or job.job_key == job_key):
                _not_built(job, STOPPED)
        advance(session, locked)


# -- reaping ------------------------------------------------------------------------------------------------
def reap(session: Session, now_ms_value: int, lost_after_ms: int) -> int:
    """Jobs whose agent stopped reporting: requeued once, then Failed('Agent lost'); builds that are queued
    or running with no active job are settled. Returns the number of jobs changed."""
    cutoff = now_ms_value - lost_after_ms
    stale = list(session.scalars(select(BambooJobResult).where(BambooJobResult.life_cycle == "InProgress")
                                 .order_by(BambooJobResult.id).execution_options(populate_existing=True)))
    count = 0
    results: set[int] = set()
    overdue = now_ms_value - job_timeout_seconds() * 1000 - TIMEOUT_GRACE_MS
    for job in stale:
        seen = job.heartbeat_date or job.claimed_date or job.started_date or 0
        started = job.started_date or job.claimed_date or now_ms_value
        if seen >= cutoff:
            # Alive but past its timeout: the agent should have killed it. Ask once, then give up on it.
            if started >= overdue:
                continue
            if not job.cancel_requested:
                values: dict[str, Any] = {"cancel_requested": True}
            elif started < overdue - TIMEOUT_GRACE_MS:
                values = {"life_cycle": "Finished", "state": "Failed", "claim_token": None,
                          "failure_reason": TIMED_OUT, "completed_date": now_ms_value}
            else:
                continue
        elif job.attempt < 2 and not job.cancel_requested:
            values = {"life_cycle": "Queued", "state": "Unknown", "claim_token": None,
                                      "agent_id": None, "queued_date": now_ms_value, "heartbeat_date": None,
                                      "claimed_date": None, "started_date": None}
        else:
            values = {"life_cycle": "Finished", "state": "Failed", "claim_token": None,
                      "failure_reason": STOPPED if job.cancel_requested else AGENT_LOST,
                      "completed_date": now_ms_value}
        changed = session.execute(update(BambooJobResult)
                                  .where(BambooJobResult.id == job.id, BambooJobResult.life_cycle == "InProgress",
                                         BambooJobResult.claim_token == job.claim_token)
                                  .values(**values).execution_options(synchronize_session=False)).rowcount
        if changed:
            count += 1
            results.add(job.result_id)
            if values.get("life_cycle") == "Queued":
                _work_queued(session)
    active = select(BambooJobResult.result_id).where(BambooJobResult.life_cycle.in_(ACTIVE))
    stuck = session.scalars(select(BambooResult.id).where(BambooResult.life_cycle.in_(("Queued", "InProgress")),
                                                          BambooResult.id.not_in(active)))
    results.update(stuck)
    for result_id in sorted(results):
        advance(session, lock_result(session, result_id))
    return count


LOST_AFTER_MS = 120_000


def housekeeping(session: Session, now: int | None = None, lost_after_ms: int = LOST_AFTER_MS) -> int:
    """What a server runs every few seconds: reap lost jobs and refresh the blocked notes of queued ones."""
    now = now_ms() if now is None else now
    count = reap(session, now, lost_after_ms)
    refresh_blocked(session, now)
    return count


# -- blocked jobs -------------------------------------------------------------------------------------------
def refresh_blocked(session: Session, now: int | None = None) -> None:
    """Explain queued jobs no enabled, recently seen agent can run; clear the note when one can."""
    from culm.domain.bamboo.queue import agent_capabilities, describe_requirement, match_requirements

    now = now_ms() if now is None else now
    agents = list(session.scalars(select(BambooAgent).where(BambooAgent.enabled.is_(True),
                                                            BambooAgent.last_seen >= now - 60_000)))
    caps = [agent_capabilities(a) for a in agents]
    for job in session.scalars(select(BambooJobResult).where(BambooJobResult.life_cycle == "Queued")):
        reason: str | None = None
        if not caps:
            reason = "No enabled agent is online"
        elif all(match_requirements(job.requirements or [], c) is not None for c in caps):
            reason = None
            for req in job.requirements or []:
                if all(match_requirements([req], c) is not None for c in caps):
                    reason = f"No agent has the {describe_requirement(req)}"
                    break
            reason = reason or "No single agent meets all the requirements of this job"
        from culm.domain.bamboo.agent_access import assignment_note  # a job dedicated to some agents

        reason = assignment_note(session, job, agents) or reason
        if job.blocked_reason != reason:
            job.blocked_reason = reason
    session.flush()
    from culm.domain.bamboo.restart import settle  # a server preparing to restart is ready once idle

    settle(session)


def log_file(session: Session, job: BambooJobResult) -> str:
    """The job result key of a job row (`PROJ-PLAN-JOB1-42`), which names its log file."""
    result = session.get(BambooResult, job.result_id)
    if result is None:
        raise NotFound("Result not found")
    plan_key = result_key(session, result).rsplit("-", 1)[0]
    return f"{plan_key}-{job.job_key}-{result.number}"

