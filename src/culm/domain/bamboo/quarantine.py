"""Quarantined tests (Bamboo's "quarantine" of a flaky test): per plan, by class and method name. When a job
finishes, its failed tests that are quarantined count as quarantined, not failed, and do not fail the job."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.domain.bamboo.admin_models import BambooQuarantine
from culm.domain.bamboo.models import BambooJobResult, BambooPlan, BambooResult, BambooTestResult
from culm.domain.bamboo.service import Invalid
from culm.domain.base import now_ms

PERIODS_MS = {"DAYS": 86_400_000, "WEEKS": 7 * 86_400_000, "MONTHS": 30 * 86_400_000}
# What the agent's executor reports when tests alone failed the job (culm/agent/executor.py).
TESTS_FAILED = "Tests failed"


def _plan_ids(session: Session, plan: BambooPlan) -> list[int]:
    """A plan branch shares its master plan's quarantine (as Bamboo's branches share the test history)."""
    return [plan.id] if plan.master_id is None else [plan.id, plan.master_id]


def test_of_plan(session: Session, plan: BambooPlan, raw_id: str) -> BambooTestResult:
    """The test result `raw_id` of a build of `plan` (or of one of its branches); Invalid (Bamboo's 400) if not."""
    test = session.get(BambooTestResult, int(raw_id)) if raw_id.isdigit() and len(raw_id) < 18 else None
    if test is not None:
        owner = session.scalar(select(BambooResult.plan_id).join(BambooJobResult,
                                                                 BambooJobResult.result_id == BambooResult.id)
                               .where(BambooJobResult.id == test.job_result_id))
        owner_plan = session.get(BambooPlan, owner) if owner is not None else None
        if owner_plan is not None and plan.id in (owner_plan.id, owner_plan.master_id):
            return test
    raise Invalid(f"Test with id {raw_id} not found in plan")


def expiry(body: dict[str, Any]) -> int | None:
    """RestQuarantineExpiry {expiryDuration, expiryPeriod DAYS|WEEKS|MONTHS} -> an end date, or None (forever)."""
    duration, period = body.get("expiryDuration"), body.get("expiryPeriod")
    if duration in (None, 0) and period in (None, ""):
        return None
    if not isinstance(duration, int) or isinstance(duration, bool) or not 0 < duration <= 3650:
        raise Invalid("expiryDuration must be a whole number from 1 to 3650.")
    unit = PERIODS_MS.get(str(period or "DAYS").upper())
    if unit is None:
        raise Invalid(f"Invalid expiryPeriod '{period}': one of {', '.join(PERIODS_MS)}.")
    return now_ms() + duration * unit


def quarantine(session: Session, plan: BambooPlan, test: BambooTestResult, user_id: int | None,
               expires: int | None) -> BambooQuarantine:
    """Quarantine the test (again: the expiry is replaced)."""
    row = session.scalar(select(BambooQuarantine).where(BambooQuarantine.plan_id == plan.id,
                                                        BambooQuarantine.class_name == test.class_name,
                                                        BambooQuarantine.method_name == test.method_name))
    if row is None:
        row = BambooQuarantine(plan_id=plan.id, class_name=test.class_name, method_name=test.method_name)
        session.add(row)
    row.user_id, row.created_date, row.expiry_date = user_id, now_ms(), expires
    session.flush()
    return row


def unleash(session: Session, plan: BambooPlan, test: BambooTestResult) -> None:
    rows = list(session.scalars(select(BambooQuarantine).where(BambooQuarantine.plan_id.in_(_plan_ids(session, plan)),
                                                               BambooQuarantine.class_name == test.class_name,
                                                               BambooQuarantine.method_name == test.method_name)))
    if not rows:
        raise Invalid(f"Test {test.class_name}.{test.method_name} is not quarantined")
    for row in rows:
        session.delete(row)
    session.flush()


def active(session: Session, plan: BambooPlan) -> set[tuple[str, str]]:
    """(class name, method name) of the tests quarantined now for builds of `plan`."""
    now = now_ms()
    rows = session.execute(select(BambooQuarantine.class_name, BambooQuarantine.method_name,
                                  BambooQuarantine.expiry_date)
                           .where(BambooQuarantine.plan_id.in_(_plan_ids(session, plan)))).all()
    return {(c, m) for c, m, until in rows if until is None or until > now}


def on_finish(session: Session, job: BambooJobResult, tests: list[dict[str, Any]], statuses: list[str],
              successful: bool, failure_reason: str | None) -> tuple[int, bool, str | None]:
    """Called by the engine when a job finishes: (failed tests that are quarantined, successful, reason).
    A job that failed only because of tests, all of them quarantined, is successful."""
    failed = [(str(t.get("className") or "")[:1024], str(t.get("methodName") or "")[:1024])
              for t, s in zip(tests, statuses, strict=True) if s == "failed"]
    if not failed:
        return 0, successful, failure_reason
    plan = session.scalar(select(BambooPlan).join(BambooResult, BambooResult.plan_id == BambooPlan.id)
                          .where(BambooResult.id == job.result_id))
    held = active(session, plan) if plan is not None else set()
    count = sum(1 for f in failed if f in held)
    if count and count == len(failed) and not successful and failure_reason == TESTS_FAILED:
        successful, failure_reason = True, None
    return count, successful, failure_reason
