"""Scheduled (cron) triggers of Bamboo plans: Quartz expressions, and firing each schedule slot exactly once
even when several server processes run the scheduler.

Bamboo takes Quartz expressions (`sec min hour day-of-month month day-of-week [year]`, `?` for "no specific
value", days of week 1-7 from Sunday); plain 5-field cron is accepted too. Both are rewritten into croniter's
form with the seconds first. Schedules are evaluated in UTC.

Firing: every plan trigger has a row holding the last slot it fired for. A scheduler that finds a newer due
slot moves the row with `UPDATE ... WHERE last_slot = <the value it read>` and enqueues the build in the same
transaction only when its UPDATE changed the row; a racing scheduler's UPDATE matches nothing (PostgreSQL
re-checks the WHERE after the winner commits; SQLite serialises writers), so a slot builds once. A plan seen
for the first time starts at its latest slot already past: nothing fires for times before the server knew it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from croniter import croniter
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from culm.core.worker import PeriodicWorker
from culm.domain.bamboo.models import BambooPlan, BambooResult
from culm.domain.bamboo.trigger_models import BambooTriggerFire
from culm.domain.base import now_ms

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
REASON = "Scheduled"
MAX_EXPRESSION = 200
# A plan whose build is still waiting or running gets no further scheduled build (Bamboo runs one at a time).
UNFINISHED = ("Pending", "Queued", "InProgress")
_NUMBER = re.compile(r"\d+")


class CronInvalid(ValueError):
    """A cron expression that cannot be scheduled; the message says why."""


def _quartz_weekdays(field: str) -> str:
    """Quartz numbers days of week 1 (Sunday) to 7; cron 0 (Sunday) to 6. Steps (`/n`) and the `#n` of
    "n-th weekday of the month" are counts, not days, and stay."""
    parts = []
    for part in field.split(","):
        base, slash, step = part.partition("/")
        day, hash_, nth = base.partition("#")
        day = _NUMBER.sub(lambda m: str(int(m.group()) - 1) if 1 <= int(m.group()) <= 7 else "x", day)
        parts.append(day + hash_ + nth + slash + step)
    return ",".join(parts)


def normalise(expression: str) -> str:
    """croniter's 6-field form (seconds first) of a Quartz or 5-field cron expression; CronInvalid if bad."""
    if not isinstance(expression, str) or not expression.strip():
        raise CronInvalid("a cron expression must not be empty")
    if len(expression) > MAX_EXPRESSION:
        raise CronInvalid(f"a cron expression must be at most {MAX_EXPRESSION} characters")
    fields = expression.split()
    if len(fields) == 5:
        seconds, (minute, hour, dom, month, dow) = "0", fields
    elif len(fields) in (6, 7):
        seconds, minute, hour, dom, month, dow = fields[:6]
        if len(fields) == 7 and fields[6] != "*":
            raise CronInvalid(f"cron expression '{expression}': only '*' is supported in the year field")
        if "?" in (dom, dow) and dom == dow:
            raise CronInvalid(f"cron expression '{expression}': '?' is allowed in only one of day-of-month "
                              "and day-of-week")
        dow = _quartz_weekdays(dow) if dow != "?" else "*"
        dom = "*" if dom == "?" else dom
    else:
        raise CronInvalid(f"cron expression '{expression}' must have 5, 6 or 7 fields (Quartz: seconds minutes "
                          "hours day-of-month month day-of-week [year])")
    if "?" in (seconds, minute, hour, month) or "?" in dom or "?" in dow:
        raise CronInvalid(f"cron expression '{expression}': '?' is only allowed in day-of-month or day-of-week")
    result = " ".join((seconds, minute, hour, dom, month, dow))
    try:
        valid = croniter.is_valid(result, second_at_beginning=True)
    except Exception:  # croniter raises assorted errors on odd input
        valid = False
    if not valid or "H" in result.upper().replace("TH", ""):
        raise CronInvalid(f"cron expression '{expression}' is not valid")
    return result


def check(expression: Any) -> str | None:
    """None when the expression can be scheduled, else why not (used by the specs validation)."""
    try:
        normalise(expression)
    except CronInvalid as exc:
        return str(exc)
    return None


def previous_slot(expression: str, now: int) -> int | None:
    """The latest slot (epoch ms) at or before `now` (ms); None when the expression never fires before."""
    start = datetime.fromtimestamp(now / 1000, UTC)
    try:
        slot = croniter(normalise(expression), start, second_at_beginning=True, max_years_between_matches=5,
                        ret_type=datetime).get_prev(datetime)
    except Exception:  # CroniterBadDateError & co: no slot in reach
        return None
    ms = int(slot.timestamp() * 1000)
    # croniter's get_prev is strictly before `start`; a slot exactly at `now` is due too.
    nxt = next_slot(expression, ms)
    return nxt if nxt is not None and nxt <= now else ms


def next_slot(expression: str, after: int) -> int | None:
    start = datetime.fromtimestamp(after / 1000, UTC)
    try:
        slot = croniter(normalise(expression), start, second_at_beginning=True, max_years_between_matches=5,
                        ret_type=datetime).get_next(datetime)
    except Exception:
        return None
    return int(slot.timestamp() * 1000)


def expressions(spec: dict[str, Any]) -> list[str]:
    """The cron expressions of a plan spec's `triggers` (`- cron: EXPR` or `- cron: {expression: EXPR}`)."""
    found: list[str] = []
    triggers = spec.get("triggers")
    if not isinstance(triggers, list):
        return found
    for trigger in triggers:
        if not isinstance(trigger, dict) or "cron" not in trigger:
            continue
        value = trigger["cron"]
        if isinstance(value, dict):
            value = value.get("expression")
        if isinstance(value, str) and value.strip() and value.strip() not in found:
            found.append(value.strip())
    return found


def _key(expression: str) -> str:
    return "cron:" + " ".join(expression.split())[:240]


def _insert_first(session: Session, plan_id: int, key: str, slot: int) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(BambooTriggerFire).values(plan_id=plan_id, trigger=key, last_slot=slot)
                    .on_conflict_do_nothing(index_elements=["plan_id", "trigger"]))


def claim_slot(session: Session, plan_id: int, expression: str, now: int) -> int | None:
    """The slot this caller won the right to build (the row moved by its conditional UPDATE), else None."""
    slot = previous_slot(expression, now)
    if slot is None:
        return None
    key = _key(expression)
    last = session.scalar(select(BambooTriggerFire.last_slot).where(BambooTriggerFire.plan_id == plan_id,
                                                                    BambooTriggerFire.trigger == key))
    if last is None:
        _insert_first(session, plan_id, key, slot)
        return None
    if slot <= last:
        return None
    moved = session.execute(update(BambooTriggerFire)
                            .where(BambooTriggerFire.plan_id == plan_id, BambooTriggerFire.trigger == key,
                                   BambooTriggerFire.last_slot == last)
                            .values(last_slot=slot).execution_options(synchronize_session=False))
    return slot if moved.rowcount == 1 else None


def _busy(session: Session, plan_id: int) -> bool:
    return session.scalar(select(BambooResult.id).where(BambooResult.plan_id == plan_id,
                                                        BambooResult.life_cycle.in_(UNFINISHED)).limit(1)) is not None


def fire_plan(session: Session, plan: BambooPlan, now: int) -> int:
    """Builds enqueued for this plan's due cron slots (0 or 1 per trigger), in the caller's transaction."""
    from culm.domain.bamboo import builds  # late: the engine imports the service, which imports the specs

    fired = 0
    for expression in expressions(plan.spec or {}):
        slot = claim_slot(session, plan.id, expression, now)
        if slot is None or not plan.enabled or _busy(session, plan.id):
            continue
        try:
            with session.begin_nested():
                builds.enqueue(session, plan, reason=REASON)
            fired += 1
        except Exception as exc:  # a plan the engine refuses (disabled, no stage...) must not stop the others
            log.warning("scheduled build of plan %s not queued: %s", plan.key, exc)
    return fired


def due_plan_ids(session: Session, now: int) -> list[int]:
    """Plans with a cron slot not yet fired (or a trigger never seen): only these need a writing transaction."""
    rows = session.execute(select(BambooPlan.id, BambooPlan.spec).where(BambooPlan.enabled.is_(True))).all()
    scheduled = {pid: expressions(spec) for pid, spec in rows if isinstance(spec, dict) and expressions(spec)}
    if not scheduled:
        return []
    fired = {(f.plan_id, f.trigger): f.last_slot for f in session.scalars(
        select(BambooTriggerFire).where(BambooTriggerFire.plan_id.in_(list(scheduled))))}
    due = []
    for plan_id, exprs in scheduled.items():
        for expression in exprs:
            slot = previous_slot(expression, now)
            last = fired.get((plan_id, _key(expression)))
            if slot is not None and (last is None or slot > last):
                due.append(plan_id)
                break
    return due


def tick(session_scope: Callable[[], AbstractContextManager[Session]], now: int | None = None) -> int:
    """Fire every due slot; one transaction per plan so a failing plan does not hold the others back."""
    at = now_ms() if now is None else now
    with session_scope() as session:
        plan_ids = due_plan_ids(session, at)
    fired = 0
    for plan_id in plan_ids:
        try:
            with session_scope() as session:
                plan = session.get(BambooPlan, plan_id)
                if plan is not None:
                    fired += fire_plan(session, plan, at)
        except Exception:
            log.exception("scheduled trigger of plan id %s failed; retrying at the next tick", plan_id)
    return fired


class Scheduler(PeriodicWorker):
    """One thread per server process checking the schedules every `interval` seconds."""

    def __init__(self, run: Callable[[], int], interval: float = TICK_SECONDS) -> None:
        super().__init__(run, interval, name="culm-bamboo-cron", immediately=False, logger=log,
                         failure="the Bamboo scheduler failed; retrying at the next tick")
