"""The variables a job sees: global < project < plan < trigger-time < result (injected by earlier jobs), then
Bamboo's system variables, which nobody can override. Names are given without the `bamboo.` prefix."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.core.config import background_base_url
from culm.domain.bamboo.models import BambooJobResult, BambooPlan, BambooProject, BambooResult, BambooVariable
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.domain.users.models import User

# Bamboo masks variables whose name says they hold a secret: in logs, results, plan and variable listings.
_SECRET = re.compile(r"password|secret|passphrase|sshkey|token", re.IGNORECASE)
MASK = "********"


def is_secret(name: str) -> bool:
    return bool(_SECRET.search(name))


def _rows(session: Session, scope: str, owner_id: int) -> dict[str, str]:
    rows = session.scalars(select(BambooVariable).where(BambooVariable.scope == scope,
                                                        BambooVariable.owner_id == owner_id)
                           .order_by(BambooVariable.name))
    return {row.name: row.value for row in rows}


def _strings(values: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in (values or {}).items()}


def plan_variables(session: Session, plan: BambooPlan) -> dict[str, str]:
    """A plan's own variables: its spec's, then its rows (rows win). A plan branch inherits its master's."""
    out: dict[str, str] = {}
    chain = [plan]
    if plan.master_id is not None:
        master = session.get(BambooPlan, plan.master_id)
        if master is not None:
            chain.insert(0, master)
    for owner in chain:
        out.update(_strings((owner.spec or {}).get("variables")))
        out.update(_rows(session, "PLAN", owner.id))
    return out


def user_variables(session: Session, result: BambooResult, plan: BambooPlan) -> dict[str, str]:
    """Every non-system variable, by precedence."""
    out = _rows(session, "GLOBAL", 0)
    out.update(_rows(session, "PROJECT", plan.project_id))
    out.update(plan_variables(session, plan))
    out.update(_strings(result.variables))
    out.update(_strings(result.result_variables))
    return out


def system_variables(session: Session, result: BambooResult, job: BambooJobResult,
                     plan: BambooPlan) -> dict[str, str]:
    project = session.get(BambooProject, plan.project_id)
    project_key = project.key if project else ""
    plan_key = f"{project_key}-{plan.key}"
    build_key = f"{plan_key}-{job.job_key}"
    job_result_key = f"{build_key}-{result.number}"
    base = background_base_url()
    out = {
        "buildKey": build_key,
        "buildNumber": str(result.number),
        "buildResultKey": job_result_key,
        "buildResultsUrl": f"{base}/browse/{job_result_key}",
        "resultsUrl": f"{base}/browse/{plan_key}-{result.number}",
        "planKey": plan_key,
        "shortPlanKey": plan.key,
        "planName": f"{project.name if project else project_key} - {plan.name}",
        "shortPlanName": plan.name,
        "buildPlanName": f"{project.name if project else project_key} - {plan.name} - {job.name}",
        "shortJobKey": job.job_key,
        "shortJobName": job.name,
        "projectKey": project_key,
        "buildTimeStamp": datetime.fromtimestamp((result.queued_date or 0) / 1000, UTC).isoformat(),
        "triggerReason.key": f"com.atlassian.bamboo.plugin.system.triggerReason:{result.reason}TriggerReason",
    }
    if plan.master_id is not None:
        master = session.get(BambooPlan, plan.master_id)
        if master is not None:
            out["planRepository.branchName"] = plan.branch_name or ""
            out["masterPlanKey"] = f"{project_key}-{master.key}"
    if result.trigger_user_id is not None:
        user = session.get(User, result.trigger_user_id)
        if user is not None:
            out["ManualBuildTriggerReason.userName"] = user.name
    repo = session.get(Repository, result.repository_id) if result.repository_id is not None else None
    if repo is not None:
        repo_project = session.get(Project, repo.project_id)
        url = f"{base}/scm/{(repo_project.key if repo_project else '').lower()}/{repo.slug}.git"
        branch = result.branch or ""
        for prefix in ("planRepository", "planRepository.1"):
            out.update({
                f"{prefix}.revision": result.revision or "",
                f"{prefix}.branch": branch,
                f"{prefix}.branchName": branch,
                f"{prefix}.repositoryUrl": url,
                f"{prefix}.name": repo.name,
                f"{prefix}.type": "bbserver",
            })
        out["repository.revision.number"] = result.revision or ""
        out["repository.git.branch"] = branch
        out["repository.git.repositoryUrl"] = url
    return out


def resolve(session: Session, result: BambooResult, job: BambooJobResult,
            plan: BambooPlan) -> tuple[dict[str, str], list[str]]:
    """(name -> value without the `bamboo.` prefix, values to mask in logs)."""
    merged = user_variables(session, result, plan)
    masked = sorted({value for name, value in merged.items() if value and is_secret(name)})
    merged.update(system_variables(session, result, job, plan))
    return merged, masked
