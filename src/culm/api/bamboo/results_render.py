"""Bamboo build results as Bamboo shows them (notes §4): plan results, job results, stages, tests, artifacts,
changes, comments, labels, logs, queue entries and running-build status, with Bamboo's expand paths."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request

from culm.api.bamboo import render
from culm.api.urls import base_url
from culm.domain.bamboo import storage
from culm.domain.bamboo.models import (
    BambooArtifact,
    BambooJobResult,
    BambooPlan,
    BambooProject,
    BambooResult,
    BambooResultComment,
    BambooStageResult,
    BambooTestResult,
)
from culm.domain.bamboo.variables import MASK, is_secret
from culm.domain.base import now_ms

# XML: which fields of each entity are attributes (Bamboo's JAXB mapping, notes §2.2 and the seed's examples).
_RESULT_ATTRS = {"expand", "key", "state", "lifeCycleState", "number", "id", "continuable", "onceOff", "restartable",
                 "notRunYet", "finished", "successful"}
_QUEUED_ATTRS = {"expand", "planKey", "buildNumber", "buildResultKey"}
ATTRIBUTES: dict[str, set[str]] = {
    **render.ATTRIBUTES,
    "result": _RESULT_ATTRS,
    "restQueuedBuild": _QUEUED_ATTRS,
    "queuedBuild": _QUEUED_ATTRS,
    "comment": {"author", "id"},
    "parent": {"href", "rel"},
    "change": {"expand", "author", "userName", "fullName", "changesetId"},
    "item": {"key", "value"},
    "variable": {"name", "value"},
    "status": {"expand", "key"},
    "queue": {"expand"},
    "testResult": {"testCaseId", "className", "methodName", "status"},
    "stage": {"expand"},  # the seed's status XML: <stage><name>...</name>...
}
PLAN_RESULT_EXPAND = "changes,metadata,plan,vcsRevisions,artifacts,comments,labels,jiraIssues,stages"
JOB_RESULT_EXPAND = "changes,testResults,metadata,plan,vcsRevisions,artifacts,comments,labels,jiraIssues,logEntries"
# Each expandable test list, with the testResults count it goes with; which rows it holds is _in_list.
TEST_LISTS = {"allTests": "all", "successfulTests": "successful", "failedTests": "failed", "skippedTests": "skipped",
              "newFailedTests": "newFailed", "existingFailedTests": "existingFailed", "fixedTests": "fixed",
              "quarantinedTests": "quarantined"}
_DELTA_COUNTS = {"new": "newFailed", "existing": "existingFailed", "fixed": "fixed"}


@dataclass
class Ctx:
    """What every rendering needs: the request (links) and the session, with user names cached."""

    request: Request
    session: Session
    _users: dict[int, tuple[str, str]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return base_url(self.request)

    def user(self, user_id: int | None) -> tuple[str, str] | None:
        """(name, display name) of a user id, cached per request."""
        if user_id is None:
            return None
        if user_id not in self._users:
            from culm.domain.users.models import User

            row = self.session.get(User, user_id)
            self._users[user_id] = (row.name, row.display_name) if row is not None else ("", "")
        return self._users[user_id]


# ---- time and size formatting ---------------------------------------------------------------------------

def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def pretty(ms: int | None) -> str | None:
    """Bamboo's short form: `Wed, 9 Aug, 09:44 AM`."""
    if ms is None:
        return None
    d = datetime.fromtimestamp(ms / 1000, UTC)
    return f"{d.strftime('%a')}, {d.day} {d.strftime('%b')}, {d.strftime('%I:%M %p')}"


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def duration_description(ms: int) -> str:
    """Bamboo's `buildDurationDescription`: seconds below a minute, whole minutes above."""
    seconds = ms // 1000
    if seconds < 1:
        return "< 1 second"
    if seconds < 60:
        return _plural(seconds, "second")
    return _plural(seconds // 60, "minute")  # S6: 20614 s is "343 minutes"


def short_duration(ms: int) -> str:
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds} sec" if seconds != 1 else "1 sec"
    minutes = seconds // 60
    return f"{minutes} min" if minutes == 1 else f"{minutes} mins"


def relative(ms: int | None, now: int) -> str | None:
    if ms is None:
        return None
    seconds = max(0, (now - ms) // 1000)
    if seconds < 60:
        return "< 1 minute ago" if seconds >= 1 else "just now"
    for size, unit in ((86400 * 365, "year"), (86400 * 30, "month"), (86400 * 7, "week"), (86400, "day"),
                       (3600, "hour"), (60, "minute")):
        if seconds >= size:
            return f"{_plural(seconds // size, unit)} ago"
    return "just now"  # pragma: no cover


def pretty_size(size: int) -> str:
    if size < 1024:
        return _plural(size, "byte")
    for unit, div in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= div:
            return f"{size / div:.1f} {unit}".replace(".0 ", " ")
    return str(size)  # pragma: no cover


# ---- keys, links, storage -------------------------------------------------------------------------------

def plan_key(project: BambooProject, plan: BambooPlan) -> str:
    return f"{project.key}-{plan.key}"


def result_key(project: BambooProject, plan: BambooPlan, result: BambooResult) -> str:
    return f"{project.key}-{plan.key}-{result.number}"


def job_result_key(project: BambooProject, plan: BambooPlan, result: BambooResult, job: BambooJobResult) -> str:
    return f"{project.key}-{plan.key}-{job.job_key}-{result.number}"


def log_path(jrk: str) -> Path:
    """The job log file (the engine's storage layout)."""
    return storage.log_path(jrk)


def artifact_dir(artifact: BambooArtifact) -> Path:
    return storage.artifact_dir(artifact)


def log_url(ctx: Ctx, jrk: str) -> str:
    job_key = jrk.rsplit("-", 1)[0]
    return f"{ctx.base}/bamboo/download/{job_key}/build_logs/{jrk}.log"


def browse_url(ctx: Ctx, key: str) -> str:
    return f"{ctx.base}/bamboo/browse/{key}"


def user_link(ctx: Ctx, user_id: int | None) -> str:
    who = ctx.user(user_id)
    if who is None or not who[0]:
        return "an anonymous user"
    return f'<a href="{ctx.base}/bamboo/browse/user/{quote(who[0])}">{html.escape(who[1] or who[0])}</a>'


def build_reason(ctx: Ctx, result: BambooResult) -> str:
    """Bamboo's HTML reason text (notes §2.7)."""
    by = user_link(ctx, result.trigger_user_id)
    reason = result.reason
    if reason == "Manual":
        return f"Manual run by {by}"
    if reason == "RerunBuild":
        return f"Rerun by {by}"
    if reason == "CustomRevisionBuild":
        return f"Custom build of revision {html.escape(result.revision or '')} by {by}"
    if reason == "CodeChanged":
        authors = sorted({c.get("author", "") for c in result.changes or [] if c.get("author")})
        if authors:
            return "Changes by " + ", ".join(f"<a>{html.escape(a)}</a>" for a in authors)
        return "Code has changed"
    if reason == "Scheduled":
        return "Scheduled"
    if reason == "InitialBuild":
        return "Initial clean build"
    if reason == "RemoteTrigger":
        return "Remote trigger"
    return html.escape(reason)


def trigger_reason_text(result: BambooResult) -> str:
    """The plain text of `RestQueuedBuild.triggerReason` (S8: "Manual build")."""
    return {"Manual": "Manual build", "RerunBuild": "Rerun build", "CodeChanged": "Code has changed",
            "Scheduled": "Scheduled", "CustomRevisionBuild": "Custom revision build",
            "InitialBuild": "Initial clean build", "RemoteTrigger": "Remote trigger"}.get(result.reason, result.reason)


def test_summary(passed: int, failed: int, skipped: int) -> str:
    total = passed + failed
    if total == 0:
        return "No tests found" if skipped == 0 else f"{skipped} skipped"
    if failed:
        return f"{failed} of {total} failed"
    return f"{passed} passed"


# ---- entities -------------------------------------------------------------------------------------------

def plan_ref(ctx: Ctx, project: BambooProject, plan: BambooPlan, job: BambooJobResult | None = None) -> dict[str, Any]:
    """The short plan (or job) object a result carries (S6)."""
    key = plan_key(project, plan)
    if job is not None:
        key = f"{key}-{job.job_key}"
        return {"shortName": job.name, "shortKey": job.job_key, "type": "job", "enabled": True,
                "link": render.link(ctx.request, f"plan/{key}"), "key": key, "name": f"{project.name} - "
                f"{plan.name} - {job.name}", "planKey": {"key": key}}
    out: dict[str, Any] = {"shortName": plan.name, "shortKey": plan.key,
                           "type": "chain_branch" if plan.master_id else "chain", "enabled": plan.enabled,
                           "link": render.link(ctx.request, f"plan/{key}"), "key": key,
                           "name": f"{project.name} - {plan.name}", "planKey": {"key": key}}
    if plan.master_id:
        master = ctx.session.get(BambooPlan, plan.master_id)
        if master is not None:
            mkey = plan_key(project, master)
            out["master"] = {"shortName": master.name, "shortKey": master.key, "type": "chain",
                             "enabled": master.enabled, "link": render.link(ctx.request, f"plan/{mkey}"),
                             "key": mkey, "name": f"{project.name} - {master.name}"}
    return out


def _times(result_like: Any, now: int) -> dict[str, Any]:
    started, completed, queued = result_like.started_date, result_like.completed_date, result_like.queued_date
    out: dict[str, Any] = {}
    if started is not None:
        out["buildStartedTime"] = iso(started)
        out["prettyBuildStartedTime"] = pretty(started)
    if completed is not None:
        out["buildCompletedTime"] = iso(completed)
        out["buildCompletedDate"] = iso(completed)
        out["prettyBuildCompletedTime"] = pretty(completed)
    if started is not None:
        duration = max(0, (completed if completed is not None else now) - started)
        out["buildDurationInSeconds"] = duration // 1000
        out["buildDuration"] = duration
        out["buildDurationDescription"] = duration_description(duration)
    when = relative(completed if completed is not None else started or queued, now)
    if when is not None:
        out["buildRelativeTime"] = when
    if queued is not None:
        out["queueStartedTime"] = iso(queued)
        out["prettyQueueStartedTime"] = pretty(queued)
        if started is not None:
            waited = max(0, started - queued)
            out["queueTimeInSeconds"] = waited // 1000
            out["queueDuration"] = waited
            out["prettyQueueDuration"] = duration_description(waited)
    return out


def _flags(life: str, state: str, continuable: bool, restartable: bool, once_off: bool) -> dict[str, Any]:
    return {"continuable": continuable, "onceOff": once_off, "restartable": restartable,
            "notRunYet": life in ("Pending", "Queued", "NotBuilt"), "finished": life in ("Finished", "NotBuilt"),
            "successful": state == "Successful"}


def _page(items: list[Any], start: int, limit: int) -> list[Any]:
    return items[start:start + limit]


def change_json(ctx: Ctx, result: BambooResult, change: dict[str, Any], with_files: bool) -> dict[str, Any]:
    files = [str(f) for f in change.get("files") or []]
    author = change.get("author") or ""
    out: dict[str, Any] = {"expand": "files", "author": author, "userName": change.get("userName") or author,
                           "fullName": author, "changesetId": change.get("id", ""),
                           "comment": change.get("message", ""),
                           "date": iso(change["date"]) if isinstance(change.get("date"), int) else change.get("date")}
    repo = _repo_coordinates(ctx, result.repository_id)
    if repo is not None:
        out["commitUrl"] = f"{ctx.base}/projects/{repo[0]}/repos/{repo[1]}/commits/{change.get('id', '')}"
    if with_files:
        items = [{"name": f, "revision": change.get("id", "")} for f in files]
        out["files"] = render.collection("file", items, len(items), 0, len(items))
    else:
        out["files"] = render.collapsed(len(files))
    return out


def _repo_coordinates(ctx: Ctx, repository_id: int | None) -> tuple[str, str, str] | None:
    """(project key, slug, name) of a forge repository, or None."""
    if repository_id is None:
        return None
    from culm.domain.projects.models import Project
    from culm.domain.repos.models import Repository

    row = ctx.session.execute(select(Project.key, Repository.slug, Repository.name)
                              .join(Repository, Repository.project_id == Project.id)
                              .where(Repository.id == repository_id)).first()
    return (row[0], row[1], row[2]) if row else None


def changes_json(ctx: Ctx, result: BambooResult, asked: Any) -> dict[str, Any]:
    changes = list(result.changes or [])
    if not asked("changes"):
        return render.collapsed(len(changes))
    items = [change_json(ctx, result, c, asked("changes.change.files")) for c in changes]
    return {"expand": "change", **render.collection("change", items, len(items), 0, len(items))}


def artifact_json(ctx: Ctx, rkey: str, producer: str, artifact: BambooArtifact) -> dict[str, Any]:
    """`rkey` is the plan result key, `producer` the job's plan key (`PROJ-PLAN-JOB1`)."""
    href = f"{ctx.base}/bamboo/browse/{rkey}/artifact/shared/{quote(artifact.name)}/"
    if not artifact.shared:
        job = producer.rsplit("-", 1)[1]
        number = rkey.rsplit("-", 1)[1]
        href = f"{ctx.base}/bamboo/browse/{producer}-{number}/artifact/{job}/{quote(artifact.name)}/"
    return {"name": artifact.name, "link": {"href": href, "rel": "self"}, "producerJobKey": producer,
            "shared": artifact.shared, "size": artifact.size, "prettySizeDescription": pretty_size(artifact.size)}


def comments_list(ctx: Ctx, result: BambooResult, start: int, limit: int) -> dict[str, Any]:
    total = ctx.session.scalar(select(func.count()).select_from(BambooResultComment)
                               .where(BambooResultComment.result_id == result.id)) or 0
    rows = ctx.session.scalars(select(BambooResultComment).where(BambooResultComment.result_id == result.id)
                               .order_by(BambooResultComment.id).offset(start).limit(limit)).all()
    items = [comment_json(ctx, c) for c in rows]
    return render.collection("comment", items, total, start, len(items))


def comment_json(ctx: Ctx, comment: BambooResultComment) -> dict[str, Any]:
    who = ctx.user(comment.author_id)
    return {"author": who[0] if who else "", "id": comment.id, "content": comment.content,
            "creationDate": iso(comment.created_date), "modificationDate": iso(comment.updated_date)}


def labels_list(result: BambooResult, start: int, limit: int) -> dict[str, Any]:
    labels = list(result.labels or [])
    items = [{"name": n} for n in _page(labels, start, limit)]
    return render.collection("label", items, len(labels), start, len(items))


def _comment_count(ctx: Ctx, result: BambooResult) -> int:
    return ctx.session.scalar(select(func.count()).select_from(BambooResultComment)
                              .where(BambooResultComment.result_id == result.id)) or 0


def variables_json(result: BambooResult, asked: bool) -> dict[str, Any]:
    merged = {**(result.variables or {}), **(result.result_variables or {})}
    if not asked:
        return render.collapsed(len(merged))
    items = [{"name": k, "value": MASK if is_secret(k) else str(v)} for k, v in merged.items()]
    return render.collection("variable", items, len(items), 0, len(items))


def metadata_json(ctx: Ctx, result: BambooResult, asked: bool) -> dict[str, Any]:
    items: list[dict[str, str]] = []
    who = ctx.user(result.trigger_user_id)
    if result.reason == "Manual" and who:
        items.append({"key": "ManualBuildTriggerReason.userName", "value": who[0]})
    if result.revision:
        items.append({"key": "planRepository.revision", "value": result.revision})
    if result.branch:
        items.append({"key": "planRepository.branch", "value": result.branch})
    if not asked:
        return render.collapsed(len(items))
    return render.collection("item", items, len(items), 0, len(items))


def vcs_json(ctx: Ctx, result: BambooResult, asked: bool) -> dict[str, Any]:
    if not result.revision:
        return render.collapsed(0)
    if not asked:
        return render.collapsed(1)
    repo = _repo_coordinates(ctx, result.repository_id)
    item = {"repositoryId": str(result.repository_id), "repositoryName": repo[2] if repo else "",
            "vcsRevisionKey": result.revision}
    return render.collection("vcsRevision", [item], 1, 0, 1)


def _common(ctx: Ctx, project: BambooProject, plan: BambooPlan, result: BambooResult, wanted: set[str], prefix: str,
            key: str, life: str, state: str, dates: Any, now: int) -> tuple[dict[str, Any], Any]:
    def asked(name: str) -> bool:
        return f"{prefix}{name}" in wanted

    out: dict[str, Any] = {"link": render.link(ctx.request, f"result/{key}")}
    out.update({"planName": plan.name, "projectName": project.name, "buildResultKey": key,
                "lifeCycleState": life, "id": 0})
    out.update(_times(dates, now))
    out["vcsRevisionKey"] = result.revision
    out["vcsRevisions"] = vcs_json(ctx, result, asked("vcsRevisions"))
    return out, asked


def _result_tail(out: dict[str, Any], key: str, plan_full: str, number: int, state: str) -> None:
    out.update({"key": key, "planResultKey": {"key": key, "entityKey": {"key": plan_full}, "resultNumber": number},
                "state": state, "buildState": state, "number": number, "buildNumber": number})


def result_json(ctx: Ctx, project: BambooProject, plan: BambooPlan, result: BambooResult, wanted: set[str],
                prefix: str = "") -> dict[str, Any]:
    """A plan (or plan branch) result; `wanted` holds expand paths, relative to this result after `prefix`."""
    now = now_ms()
    key = result_key(project, plan, result)
    session = ctx.session
    jobs = session.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result.id)
                           .order_by(BambooJobResult.stage_idx, BambooJobResult.id)).all()
    passed = sum(j.tests_successful for j in jobs)
    failed = sum(j.tests_failed for j in jobs)
    skipped = sum(j.tests_skipped for j in jobs)
    quarantined = sum(j.tests_quarantined for j in jobs)
    out, asked = _common(ctx, project, plan, result, wanted, prefix, key, result.life_cycle, result.state, result,
                         now)
    out = {"expand": PLAN_RESULT_EXPAND, **out}
    out["id"] = result.id
    out["plan"] = plan_ref(ctx, project, plan)
    out.update({"buildTestSummary": test_summary(passed, failed, skipped), "successfulTestCount": passed,
                "failedTestCount": failed, "quarantinedTestCount": quarantined, "skippedTestCount": skipped,
                "restartCount": result.restart_count})
    restartable = (result.life_cycle == "Finished" and result.state == "Failed") or result.life_cycle == "NotBuilt"
    out.update(_flags(result.life_cycle, result.state, result.continuable, restartable, result.once_off))
    reason = build_reason(ctx, result)
    out.update({"buildReason": reason, "reasonSummary": reason, "specsResult": False})
    if result.life_cycle == "InProgress":
        out["progress"] = progress_json(result.started_date, average_duration(session, plan.id), now)
    waiting = [j for j in jobs if j.life_cycle == "Queued"]
    if waiting:
        # Say why a build waits (users' first complaint about Bamboo, notes §7): the first blocked job's reason.
        blocked = next((j.blocked_reason for j in waiting if j.blocked_reason), None)
        out["hasExecutableAgents"] = blocked is None
        if blocked:
            out["blockedReason"] = blocked
    job_keys = {j.id: f"{plan_key(project, plan)}-{j.job_key}" for j in jobs}
    artifacts = session.scalars(select(BambooArtifact).where(BambooArtifact.job_result_id.in_(list(job_keys)))
                                .order_by(BambooArtifact.id)).all() if job_keys else []
    if asked("artifacts"):
        items = [artifact_json(ctx, key, job_keys[a.job_result_id], a) for a in artifacts]
        out["artifacts"] = render.collection("artifact", items, len(items), 0, len(items))
    else:
        out["artifacts"] = render.collapsed(len(artifacts))
    out["comments"] = comments_list(ctx, result, 0, 25) if asked("comments") else render.collapsed(
        _comment_count(ctx, result))
    out["labels"] = labels_list(result, 0, 25) if asked("labels") else render.collapsed(len(result.labels or []))
    out["jiraIssues"] = render.collection("issue", [], 0, 0, 0) if asked("jiraIssues") else render.collapsed(0)
    out["variables"] = variables_json(result, asked("variables"))
    out["changes"] = changes_json(ctx, result, asked)
    out["metadata"] = metadata_json(ctx, result, asked("metadata"))
    out["logFiles"] = []
    stages = session.scalars(select(BambooStageResult).where(BambooStageResult.result_id == result.id)
                             .order_by(BambooStageResult.idx)).all()
    if asked("stages"):
        items = [stage_json(ctx, project, plan, result, s, [j for j in jobs if j.stage_idx == s.idx], wanted,
                            f"{prefix}stages.stage.") for s in stages]
        out["stages"] = {"expand": "stage", **render.collection("stage", items, len(items), 0, len(items))}
    else:
        out["stages"] = render.collapsed(len(stages))
    _result_tail(out, key, plan_key(project, plan), result.number, result.state)
    return out


def shown_life_cycle(life_cycle: str, result: BambooResult) -> str:
    """A stage or job still waiting when its build has ended (paused at a manual stage, or stopped) shows as
    NotBuilt, as Bamboo shows the stages after a manual one."""
    return "NotBuilt" if life_cycle == "Pending" and result.life_cycle in ("Finished", "NotBuilt") else life_cycle


def stage_display(stage: BambooStageResult, jobs: list[BambooJobResult]) -> tuple[str, str]:
    total = len(jobs)
    not_run = sum(1 for j in jobs if j.life_cycle in ("Pending", "NotBuilt"))
    failed = sum(1 for j in jobs if j.state == "Failed")
    done = sum(1 for j in jobs if j.life_cycle == "Finished")
    if stage.life_cycle in ("Pending", "NotBuilt") or (not_run == total and total):
        return "NotBuilt", f"{not_run} of {_plural(total, 'job')} not executed"
    if failed:
        return "Failed", f"{failed} of {_plural(total, 'job')} failed"
    if done < total:
        return "InProgress", f"{done} of {_plural(total, 'job')} completed"
    return "Successful", f"{_plural(total, 'job')} passed" if total != 1 else "1 job passed"


def stage_json(ctx: Ctx, project: BambooProject, plan: BambooPlan, result: BambooResult, stage: BambooStageResult,
               jobs: list[BambooJobResult], wanted: set[str], prefix: str) -> dict[str, Any]:
    display_class, message = stage_display(stage, jobs)
    out: dict[str, Any] = {
        "expand": "results", "name": stage.name, "id": stage.id, "description": stage.description,
        "lifeCycleState": shown_life_cycle(stage.life_cycle, result), "state": stage.state,
        "displayClass": display_class,
        "displayMessage": message, "collapsedByDefault": stage.state == "Successful", "manual": stage.manual,
        "final": stage.final, "restartable": result.life_cycle == "Finished" and stage.state == "Failed",
        "runnable": stage.manual and stage.life_cycle in ("Pending", "NotBuilt") and result.continuable,
        "isBuilding": stage.life_cycle in ("Queued", "InProgress"), "isCompleted": stage.life_cycle == "Finished",
        "isSuccessful": stage.state == "Successful", "index": stage.idx,
    }
    if f"{prefix}results.result" in wanted:
        items = [job_json(ctx, project, plan, result, stage, j, wanted, f"{prefix}results.result.") for j in jobs]
        out["results"] = {"expand": "result", **render.collection("result", items, len(items), 0, len(items))}
    else:
        out["results"] = render.collapsed(len(jobs))
    return out


def job_json(ctx: Ctx, project: BambooProject, plan: BambooPlan, result: BambooResult, stage: BambooStageResult | None,
             job: BambooJobResult, wanted: set[str], prefix: str = "", log_page: tuple[int, int] | None = None
             ) -> dict[str, Any]:
    """A job result (`PROJ-PLAN-JOB1-42`)."""
    now = now_ms()
    key = job_result_key(project, plan, result, job)
    job_plan = f"{plan_key(project, plan)}-{job.job_key}"
    session = ctx.session
    if stage is None:
        stage = session.scalar(select(BambooStageResult).where(BambooStageResult.result_id == result.id,
                                                               BambooStageResult.idx == job.stage_idx))
    life = shown_life_cycle(job.life_cycle, result)
    out, asked = _common(ctx, project, plan, result, wanted, prefix, key, life, job.state, job, now)
    out = {"expand": JOB_RESULT_EXPAND, **out}
    out["id"] = job.id
    out["parent"] = {"href": render.link(ctx.request, f"result/{result_key(project, plan, result)}")["href"],
                     "rel": "parent"}
    out["plan"] = plan_ref(ctx, project, plan, job)
    out["planName"] = job.name
    out["stage"] = stage.name if stage is not None else ""
    passed, failed, skipped = job.tests_successful, job.tests_failed, job.tests_skipped
    out.update({"buildTestSummary": test_summary(passed, failed, skipped), "successfulTestCount": passed,
                "failedTestCount": failed, "quarantinedTestCount": job.tests_quarantined,
                "skippedTestCount": skipped, "restartCount": result.restart_count})
    restartable = job.life_cycle == "Finished" and job.state == "Failed"
    out.update(_flags(life, job.state, False, restartable, result.once_off))
    reason = build_reason(ctx, result)
    out.update({"buildReason": reason, "reasonSummary": reason, "specsResult": False})
    if job.failure_reason:
        out["failureReason"] = job.failure_reason
    if job.life_cycle == "InProgress":
        out["progress"] = progress_json(job.started_date, 0, now)
    if job.life_cycle == "Queued" and job.blocked_reason:
        out["hasExecutableAgents"] = False
        out["blockedReason"] = job.blocked_reason
    elif job.life_cycle == "Queued":
        out["hasExecutableAgents"] = True
    artifacts = session.scalars(select(BambooArtifact).where(BambooArtifact.job_result_id == job.id)
                                .order_by(BambooArtifact.id)).all()
    if asked("artifacts"):
        items = [artifact_json(ctx, result_key(project, plan, result), job_plan, a) for a in artifacts]
        out["artifacts"] = render.collection("artifact", items, len(items), 0, len(items))
    else:
        out["artifacts"] = render.collapsed(len(artifacts))
    out["comments"] = render.collapsed(0)
    out["labels"] = render.collapsed(0)
    out["jiraIssues"] = render.collection("issue", [], 0, 0, 0) if asked("jiraIssues") else render.collapsed(0)
    out["variables"] = variables_json(result, asked("variables"))
    out["changes"] = changes_json(ctx, result, asked)
    out["metadata"] = metadata_json(ctx, result, asked("metadata"))
    out["testResults"] = tests_json(ctx, job, wanted, f"{prefix}testResults.")
    out["logFiles"] = [log_url(ctx, key)] if job.life_cycle not in ("Pending", "Queued", "NotBuilt") else []
    if asked("logEntries"):
        start, limit = log_page or (0, 100)
        out["logEntries"] = log_entries(key, start, limit)
    _result_tail(out, key, job_plan, result.number, job.state)
    return out


def _in_list(count: str, status: str, delta: str | None) -> bool:
    """Whether a test (status, delta) belongs to the list of `count`. A quarantined test failed, but is listed
    (and counted) as quarantined, not failed, as it did not fail the job."""
    if count == "all":
        return True
    if count == "quarantined":
        return status == "failed" and delta == "quarantined"
    if count == "failed":
        return status == "failed" and delta != "quarantined"
    if count in ("successful", "skipped"):
        return status == count
    return _DELTA_COUNTS.get(delta or "") == count


def tests_json(ctx: Ctx, job: BambooJobResult, wanted: set[str], prefix: str) -> dict[str, Any]:
    """A job's testResults: counts (new / existing failures and fixes against the previous build, see
    result_deltas) and the lists asked for."""
    counts = dict.fromkeys(("all", "successful", "failed", "newFailed", "existingFailed", "fixed", "quarantined",
                            "skipped"), 0)
    if job.tests_successful or job.tests_failed or job.tests_skipped or job.tests_quarantined:
        groups = ctx.session.execute(select(BambooTestResult.status, BambooTestResult.delta, func.count())
                                     .where(BambooTestResult.job_result_id == job.id)
                                     .group_by(BambooTestResult.status, BambooTestResult.delta)).all()
        for status, delta, n in groups:
            for name in counts:
                if _in_list(name, status, delta):
                    counts[name] += n
    out: dict[str, Any] = {"expand": ",".join(TEST_LISTS), **counts}
    rows: list[BambooTestResult] | None = None  # read once, for whichever lists are expanded
    for name, count in TEST_LISTS.items():
        if f"{prefix}{name}" not in wanted:
            out[name] = render.collapsed(counts[count])
            continue
        if rows is None:
            rows = list(ctx.session.scalars(select(BambooTestResult).where(BambooTestResult.job_result_id == job.id)
                                            .order_by(BambooTestResult.id))) if counts["all"] else []
        with_errors = f"{prefix}{name}.testResult.errors" in wanted
        items = [test_json(t, with_errors) for t in rows if _in_list(count, t.status, t.delta)]
        out[name] = {"expand": "testResult", **render.collection("testResult", items, len(items), 0, len(items))}
    return out


def test_json(test: BambooTestResult, with_errors: bool) -> dict[str, Any]:
    errors = list(test.errors or [])
    out: dict[str, Any] = {"testCaseId": str(test.id), "className": test.class_name, "methodName": test.method_name,
                           "status": test.status, "duration": test.duration_ms,
                           "durationInSeconds": test.duration_ms // 1000}
    if with_errors:
        out["errors"] = render.collection("error", [{"message": e} for e in errors], len(errors), 0, len(errors))
    else:
        out["errors"] = render.collapsed(len(errors))
    return out


def log_entries(jrk: str, start: int, limit: int) -> dict[str, Any]:
    """Lines `start..start+limit` of a job log, with the total line count (read as a stream, never whole)."""
    path = log_path(jrk)
    items: list[dict[str, Any]] = []
    total = 0
    try:
        mtime = int(os.path.getmtime(path) * 1000)
        with open(path, encoding="utf-8", errors="replace") as fh:
            for i, line in enumerate(fh):
                total = i + 1
                if start <= i < start + limit:
                    text = line.rstrip("\n").rstrip("\r")
                    items.append({"log": html.escape(text), "unstyledLog": text, "date": iso(mtime),
                                  "formattedDate": pretty(mtime)})
    except FileNotFoundError:
        pass
    return {"expand": "logEntry", **render.collection("logEntry", items, total, start, len(items))}


def queued_json(ctx: Ctx, project: BambooProject, plan: BambooPlan, result: BambooResult,
                with_changes: bool = False) -> dict[str, Any]:
    key = result_key(project, plan, result)
    out: dict[str, Any] = {"expand": "changes", "planKey": plan_key(project, plan), "buildNumber": result.number,
                           "buildResultKey": key, "triggerReason": trigger_reason_text(result),
                           "link": render.link(ctx.request, f"result/{key}")}
    out["changes"] = changes_json(ctx, result, lambda name: with_changes and name.startswith("changes"))
    return out


def status_json(ctx: Ctx, project: BambooProject, plan: BambooPlan, result: BambooResult, average_ms: int,
                wanted: set[str]) -> dict[str, Any]:
    """`/result/status/{key}` of a build not finished yet."""
    now = now_ms()
    stages = ctx.session.scalars(select(BambooStageResult).where(BambooStageResult.result_id == result.id)
                                 .order_by(BambooStageResult.idx)).all()
    jobs = ctx.session.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result.id)
                               .order_by(BambooJobResult.stage_idx, BambooJobResult.id)).all()
    current = next((s.name for s in stages if s.life_cycle in ("Queued", "InProgress")), None)
    out: dict[str, Any] = {"expand": "stages", "key": result_key(project, plan, result), "finished": False,
                           "prettyQueuedTime": pretty(result.queued_date),
                           "progress": progress_json(result.started_date, average_ms, now)}
    if current is not None:
        out["currentStage"] = current
    if "stages.stage" in wanted or "stages" in wanted:
        items = []
        for s in stages:
            stage_jobs = [j for j in jobs if j.stage_idx == s.idx]
            results = [{"key": job_result_key(project, plan, result, j), "state": j.state,
                        "lifeCycleState": j.life_cycle, "progress": progress_json(j.started_date, average_ms, now),
                        "waiting": j.life_cycle == "Pending", "queued": j.life_cycle == "Queued",
                        "updatingSource": False} for j in stage_jobs]
            items.append({"results": {"expand": "results", **render.collection("result", results, len(results), 0,
                                                                               len(results))},
                          "name": s.name, "description": s.description,
                          "isBuilding": s.life_cycle in ("Queued", "InProgress"),
                          "isCompleted": s.life_cycle == "Finished", "isSuccessful": s.state == "Successful",
                          "index": s.idx})
        out["stages"] = {"expand": "stage", **render.collection("stage", items, len(items), 0, len(items))}
    else:
        out["stages"] = render.collapsed(len(stages))
    return out


def average_duration(session: Session, plan_id: int) -> int:
    """Mean duration (ms) of the plan's last ten successful builds; 0 when it has none."""
    recent = session.execute(select(BambooResult.started_date, BambooResult.completed_date)
                             .where(BambooResult.plan_id == plan_id, BambooResult.state == "Successful",
                                    BambooResult.started_date.is_not(None), BambooResult.completed_date.is_not(None))
                             .order_by(BambooResult.number.desc()).limit(10)).all()
    return sum(c - s for s, c in recent) // len(recent) if recent else 0


def progress_json(started: int | None, average_ms: int, now: int) -> dict[str, Any]:
    elapsed = max(0, now - started) if started is not None else 0
    valid = average_ms > 0
    fraction = min(elapsed / average_ms, 1.0) if valid else 0.0
    remaining = max(0, average_ms - elapsed)
    if not valid:
        remaining_text = "Unknown"
    elif remaining == 0:
        remaining_text = f"{duration_description(elapsed - average_ms)} slower than usual"
    else:
        remaining_text = f"Approximately {duration_description(remaining)} remaining"
    out: dict[str, Any] = {"isValid": valid, "isUnderAverageTime": elapsed <= average_ms,
                           "percentageCompleted": fraction, "percentageCompletedPretty": f"{int(fraction * 100)}%",
                           "prettyTimeRemaining": remaining_text, "prettyTimeRemainingLong": remaining_text,
                           "averageBuildDuration": average_ms, "prettyAverageBuildDuration": short_duration(
                               average_ms), "buildTime": elapsed, "prettyBuildTime": short_duration(elapsed)}
    if started is not None:
        out.update({"startedTime": iso(started), "prettyStartedTime": pretty(started)})
    return out


def _strip_none(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _strip_none(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_strip_none(v) for v in data]
    return data


def respond(request: Request, root: str, data: dict[str, Any], status: int = 200) -> Any:
    """render.respond with the result entities' XML attributes; absent values are left out (never null)."""
    return render.respond(request, root, _strip_none(data), status, attributes=ATTRIBUTES)
