"""Build results posted as commit build statuses of the built repository (Bamboo's Bitbucket Server build
status updater): INPROGRESS when a build starts running, SUCCESSFUL / FAILED when it finishes."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from culm.core.config import background_base_url
from culm.domain.bamboo.models import BambooJobResult, BambooPlan, BambooProject, BambooResult
from culm.domain.builds.service import StatusInput, store

log = logging.getLogger(__name__)

STATES = ("INPROGRESS", "SUCCESSFUL", "FAILED")


def _cut(text: str, limit: int = 255) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def post(session: Session, result: BambooResult, state: str) -> None:
    """Write (or replace) the status keyed by the plan's full key on the built commit; nothing when the build
    has no repository or revision."""
    if state not in STATES:
        raise ValueError(state)
    if result.repository_id is None or not result.revision:
        return
    plan = session.get(BambooPlan, result.plan_id)
    if plan is None:
        return
    project = session.get(BambooProject, plan.project_id)
    project_key = project.key if project else ""
    plan_key = f"{project_key}-{plan.key}"
    parent = None
    if plan.master_id is not None:
        master = session.get(BambooPlan, plan.master_id)
        parent = f"{project_key}-{master.key}" if master else None
    result_key = f"{plan_key}-{result.number}"
    tests = None
    duration = None
    if state != "INPROGRESS":
        sums = session.execute(select(func.coalesce(func.sum(BambooJobResult.tests_successful), 0),
                                      func.coalesce(func.sum(BambooJobResult.tests_failed), 0),
                                      func.coalesce(func.sum(BambooJobResult.tests_skipped), 0))
                               .where(BambooJobResult.result_id == result.id)).one()
        tests = (int(sums[0]), int(sums[1]), int(sums[2]))
        if result.started_date and result.completed_date:
            duration = max(0, result.completed_date - result.started_date)
    description = {"INPROGRESS": "Build in progress", "SUCCESSFUL": "Build passed",
                   "FAILED": "Build failed"}[state]
    data = StatusInput(
        key=_cut(plan_key), state=state, url=f"{background_base_url()}/browse/{result_key}",
        name=_cut(f"{project.name if project else project_key} \u203a {plan.name} #{result.number}"),
        description=description, build_number=str(result.number), parent=parent,
        ref=f"refs/heads/{result.branch}" if result.branch else None, duration=duration, tests=tests)
    store(session, result.repository_id, result.revision, data)
