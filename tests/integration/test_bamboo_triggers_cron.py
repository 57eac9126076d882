"""Scheduled (cron) triggers: Quartz expressions are checked at import (line-precise errors, nothing imported),
the server's scheduler queues "Scheduled" builds, and a schedule slot fires exactly once even when several
schedulers (server processes) race for it."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bamboo_support import plan_results, server_fixture, wait_for
from bamboo_support import plan_row as bamboo_plan_row
from support import LiveServer, database_url, server_db

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json", "Content-Type": "application/x-yaml"}

SPECS = """\
version: 2
plan:
  project-key: CRON
  key: {key}
  name: Scheduled {key}
stages:
  - Build:
    - Compile
Compile:
  tasks:
    - script:
        - echo tick
triggers:
{triggers}"""


server = server_fixture({"CULM_LOCAL_AGENTS": "0"})


def plan_row(server: LiveServer, key: str) -> Any:
    return bamboo_plan_row(server, "CRON", key)


def results(server: LiveServer, plan_key: str) -> list[Any]:
    return plan_results(server, "CRON", plan_key)


def fire_row(server: LiveServer, plan_id: int) -> Any:
    from culm.domain.bamboo.trigger_models import BambooTriggerFire

    with server_db(server) as session:
        return session.scalar(select(BambooTriggerFire).where(BambooTriggerFire.plan_id == plan_id))


def test_bad_cron_expressions_are_refused_at_import_with_their_line(server: LiveServer,
                                                                    admin: httpx.Client) -> None:
    body = SPECS.format(key="BAD", triggers="  - cron: 0 0 3 ? * *\n  - cron:\n      expression: 0 61 * * * ?\n"
                                           "  - cron: every day\n")
    r = admin.post(B + "/import/plan", content=body, headers=J)
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == [
        "line 16: cron expression '0 61 * * * ?' is not valid",
        "line 17: cron expression 'every day' must have 5, 6 or 7 fields (Quartz: seconds minutes hours "
        "day-of-month month day-of-week [year])"]
    r = admin.post(B + "/import/plan", content=SPECS.format(key="BAD", triggers="  - cron: 0 0 12 ? * ?\n"),
                   headers=J)
    assert r.status_code == 400 and r.json()["errors"] == [
        "line 14: cron expression '0 0 12 ? * ?': '?' is allowed in only one of day-of-month and day-of-week"]
    assert admin.get(B + "/plan/CRON-BAD", headers={"Accept": "application/json"}).status_code == 404


def test_the_scheduler_queues_scheduled_builds_once_per_slot(server: LiveServer, admin: httpx.Client) -> None:
    r = admin.post(B + "/import/plan", content=SPECS.format(key="EVERY", triggers="  - cron: '* * * * * ?'\n"),
                   headers=J)
    assert r.status_code == 200, r.text
    first = wait_for(lambda: results(server, "EVERY"), "a scheduled build")[0]
    assert first.reason == "Scheduled" and first.life_cycle == "Queued" and first.revision is None
    plan = plan_row(server, "EVERY")
    # Slots keep passing (every second) while the build waits: they are claimed but build nothing more,
    # since a plan runs one build at a time.
    wait_for(lambda: (row := fire_row(server, plan.id)) and row.last_slot > first.queued_date + 1000,
             "a later slot")
    assert len(results(server, "EVERY")) == 1


def test_racing_schedulers_fire_a_slot_exactly_once(server: LiveServer, admin: httpx.Client) -> None:
    import culm.domain.models  # noqa: F401  (every table known: the engine's queries join across them)
    from culm.core.db import make_engine
    from culm.domain.bamboo import cron

    r = admin.post(B + "/import/plan", content=SPECS.format(key="DAILY", triggers="  - cron: 0 0 3 ? * *\n"),
                   headers=J)
    assert r.status_code == 200, r.text
    plan_id = plan_row(server, "DAILY").id
    # The server's scheduler has seen the trigger: it starts at the last slot already past.
    start = wait_for(lambda: fire_row(server, plan_id), "the trigger's first sighting").last_slot
    slot = cron.next_slot("0 0 3 ? * *", start)
    assert slot is not None and slot - start == 24 * 3600 * 1000
    racers = 4
    barrier = threading.Barrier(racers)
    fired: list[int] = []
    errors: list[BaseException] = []
    engine = make_engine(database_url(server))

    def race() -> None:
        try:
            barrier.wait(10)
            with Session(engine) as session:
                from culm.domain.bamboo.models import BambooPlan

                with session.begin():
                    plan = session.get(BambooPlan, plan_id)
                    fired.append(cron.fire_plan(session, plan, slot + 500))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        engine.dispose()
    assert not errors, errors
    assert sorted(fired) == [0] * (racers - 1) + [1]
    built = results(server, "DAILY")
    assert [(b.number, b.reason, b.life_cycle) for b in built] == [(1, "Scheduled", "Queued")]
    assert fire_row(server, plan_id).last_slot == slot
    # The same slot again (another process late to it) builds nothing.
    with server_db(server) as session:
        from culm.domain.bamboo.models import BambooPlan

        assert cron.fire_plan(session, session.get(BambooPlan, plan_id), slot + 900) == 0  # type: ignore[attr-defined]
    assert len(results(server, "DAILY")) == 1


@pytest.mark.parametrize(("quartz", "start", "fires"), [
    # Quartz days of week count from Sunday = 1: "2-6" is Monday to Friday (2026-11-29 is a Sunday).
    ("0 0 12 ? * 2-6", "2026-11-29T13:00:00",
     ["2026-11-30T12:00:00", "2026-12-01T12:00:00", "2026-12-02T12:00:00"]),
    ("0 0 12 ? * MON-FRI", "2026-11-29T13:00:00",
     ["2026-11-30T12:00:00", "2026-12-01T12:00:00", "2026-12-02T12:00:00"]),
    ("0 15 10 ? * 6#3", "2026-11-29T13:00:00",  # the third Friday of the month
     ["2026-12-18T10:15:00", "2027-01-15T10:15:00", "2027-02-19T10:15:00"]),
    ("30 0/20 * * * ? *", "2026-11-29T23:30:00",
     ["2026-11-29T23:40:30", "2026-11-30T00:00:30", "2026-11-30T00:20:30"]),
    ("*/10 * * * *", "2026-11-29T23:45:00",
     ["2026-11-29T23:50:00", "2026-11-30T00:00:00", "2026-11-30T00:10:00"]),
])
def test_quartz_expressions_fire_when_bamboo_would(quartz: str, start: str, fires: list[str]) -> None:
    from datetime import UTC, datetime

    from culm.domain.bamboo import cron

    def ms(text: str) -> int:
        return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)

    at: int | None = ms(start)
    got = []
    for _ in fires:
        assert at is not None
        at = cron.next_slot(quartz, at)
        got.append(datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S") if at else None)
    assert got == fires
    assert cron.previous_slot(quartz, ms(fires[1])) == ms(fires[1])  # a slot exactly now is due
    assert cron.previous_slot(quartz, ms(fires[1]) + 999) == ms(fires[1])
