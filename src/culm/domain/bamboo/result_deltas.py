"""Test result deltas (Bamboo's newFailed / existingFailed / fixed): a finished job's tests compared with the same
job of the plan's previous build that ran it, so a result says which failures are new and which tests it fixed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.domain.bamboo.models import BambooJobResult, BambooPlan, BambooResult, BambooTestResult

NEW, EXISTING, FIXED, QUARANTINED = "new", "existing", "fixed", "quarantined"


def case_key(test: dict[str, Any]) -> tuple[str, str]:
    """(class name, method name) as stored (and as quarantine matches them)."""
    return str(test.get("className") or "")[:1024], str(test.get("methodName") or "")[:1024]


def previous_job(session: Session, job: BambooJobResult) -> int | None:
    """The id of the same job (by key) in the latest earlier build of the same plan that ran it."""
    current = session.execute(select(BambooResult.plan_id, BambooResult.number)
                              .where(BambooResult.id == job.result_id)).first()
    if current is None:
        return None
    return session.scalar(select(BambooJobResult.id).join(BambooResult, BambooResult.id == BambooJobResult.result_id)
                          .where(BambooResult.plan_id == current.plan_id, BambooResult.number < current.number,
                                 BambooJobResult.job_key == job.job_key, BambooJobResult.life_cycle == "Finished")
                          .order_by(BambooResult.number.desc()).limit(1))


def deltas(session: Session, job: BambooJobResult, tests: list[dict[str, Any]],
           statuses: list[str]) -> list[str | None]:
    """The delta of each test of a job that is finishing (see BambooTestResult.delta), in the tests' order."""
    keys = [case_key(t) for t in tests]
    held: set[tuple[str, str]] = set()
    if "failed" in statuses:
        from culm.domain.bamboo import quarantine

        plan = session.scalar(select(BambooPlan).join(BambooResult, BambooResult.plan_id == BambooPlan.id)
                              .where(BambooResult.id == job.result_id))
        held = quarantine.active(session, plan) if plan is not None else set()
    before: set[tuple[str, str]] = set()
    if statuses:
        previous = previous_job(session, job)
        if previous is not None:
            before = {(c, m) for c, m in session.execute(
                select(BambooTestResult.class_name, BambooTestResult.method_name)
                .where(BambooTestResult.job_result_id == previous, BambooTestResult.status == "failed"))}
    out: list[str | None] = []
    for key, status in zip(keys, statuses, strict=True):
        if status == "failed":
            out.append(QUARANTINED if key in held else EXISTING if key in before else NEW)
        else:
            out.append(FIXED if status == "successful" and key in before else None)
    return out
