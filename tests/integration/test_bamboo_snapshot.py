"""A build runs the plan as it was when the build was queued: re-importing the plan's specs between queueing and
running (or before a continue or rerun) does not change what an already-queued build runs; new builds run the new
spec. A fake agent in the test process claims and finishes jobs through the real engine on the server's database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from bamboo_build_support import _agent

from bamboo_support import import_specs, plan_row
from support import LiveServer, live_server, server_db, server_home

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}


def _specs(word: str, *, second_job: str = "Ship") -> str:
    """SNAP-SHOT: a build stage (job Build, key JOB1, echoing `word`) and a manual stage (job `second_job`)."""
    key = second_job.upper()[:4]
    return f"""\
---
version: 2
plan: {{project-key: SNAP, key: SHOT, name: Snapshot}}
stages:
  - Build stage: [Build]
  - Later:
      manual: true
      description: {word} stage
      jobs: [{second_job}]
Build:
  requirements: [{word}.tool]
  tasks:
    - script:
        - echo {word}
  artifacts:
    - name: {word}-out
      pattern: "*.txt"
{second_job}:
  key: {key}
  tasks:
    - script:
        - echo {word} {second_job}
"""


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    """No local agents (the test's fake agent takes every job) and no build on push."""
    with live_server({"CULM_LOCAL_AGENTS": "0", "CULM_BAMBOO_TRIGGERS": "0"}) as s:
        yield s
        log = (s.home / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]


def _run(server: LiveServer, fail: set[str] = frozenset()) -> dict[str, dict[str, Any]]:  # type: ignore[assignment]
    """Claim and finish every queued job (failing those whose job key is in `fail`); job result key -> claim."""
    import culm.domain.models  # noqa: F401
    from culm.domain.bamboo import queue

    ran: dict[str, dict[str, Any]] = {}
    with server_home(server), server_db(server) as session:
        agent = _agent(session)
        agent.capabilities = {"old.tool": "", "new.tool": ""}
        session.flush()
        while (claimed := queue.claim(session, agent)) is not None:
            ran[claimed.job_result_key] = claimed.to_json()
            queue.finish(session, claimed.job_result_id, claimed.claim_token,
                         successful=claimed.job_key not in fail, failure_reason=None, tests=[], artifacts=[],
                         result_variables={})
            session.commit()
    return ran


def _scripts(claim: dict[str, Any]) -> list[str]:
    return [line for task in claim["tasks"] if task.get("type") == "script" for line in task.get("scripts") or []]


def _queue(admin: httpx.Client) -> int:
    r = admin.post(f"{B}/queue/SNAP-SHOT", headers=J)
    assert r.status_code == 200, r.text
    return int(r.json()["buildNumber"])


def _job_rows(server: LiveServer, number: int) -> list[tuple[str, list[Any]]]:
    from sqlalchemy import select

    from culm.domain.bamboo.models import BambooJobResult, BambooResult

    plan = plan_row(server, "SNAP", "SHOT")
    with server_db(server) as session:
        rows = session.execute(select(BambooJobResult.job_key, BambooJobResult.requirements)
                               .join(BambooResult, BambooResult.id == BambooJobResult.result_id)
                               .where(BambooResult.plan_id == plan.id, BambooResult.number == number)
                               .order_by(BambooJobResult.id)).all()
    return [(k, list(r)) for k, r in rows]


def test_queued_build_runs_the_spec_it_was_queued_with(server: LiveServer, admin: httpx.Client) -> None:
    import_specs(admin, _specs("old"))
    first = _queue(admin)
    import_specs(admin, _specs("new", second_job="Deploy"))  # a changed script, artifact, requirement and job
    ran = _run(server)
    claim = ran[f"SNAP-SHOT-JOB1-{first}"]
    assert _scripts(claim) == ["echo old"]
    assert [a["name"] for a in claim["artifacts"]] == ["old-out"]
    assert _job_rows(server, first)[0][1] == [{"key": "old.tool", "match": "EXISTS"}]
    # The paused build shows its own stages; continuing it runs its own manual job, not the plan's new one.
    res = admin.get(f"{B}/result/SNAP-SHOT-{first}", params={"expand": "stages.stage.results.result"},
                    headers=J).json()
    later = res["stages"]["stage"][1]
    assert later["description"] == "old stage" and later["results"]["result"][0]["plan"]["shortKey"] == "SHIP"
    r = admin.put(f"{B}/queue/SNAP-SHOT-{first}", headers=J)
    assert r.status_code == 200, r.text
    ran = _run(server)
    assert list(ran) == [f"SNAP-SHOT-SHIP-{first}"]
    assert _scripts(ran[f"SNAP-SHOT-SHIP-{first}"]) == ["echo old Ship"]
    assert admin.get(f"{B}/result/SNAP-SHOT-{first}", headers=J).json()["state"] == "Successful"

    second = _queue(admin)
    ran = _run(server)
    claim = ran[f"SNAP-SHOT-JOB1-{second}"]
    assert _scripts(claim) == ["echo new"] and [a["name"] for a in claim["artifacts"]] == ["new-out"]
    assert [k for k, _ in _job_rows(server, second)] == ["JOB1", "DEPL"]
    assert _job_rows(server, second)[0][1] == [{"key": "new.tool", "match": "EXISTS"}]


def test_rerun_after_a_spec_change_runs_the_old_spec(server: LiveServer, admin: httpx.Client) -> None:
    import_specs(admin, _specs("old"))
    number = _queue(admin)
    ran = _run(server, fail={"JOB1"})
    assert _scripts(ran[f"SNAP-SHOT-JOB1-{number}"]) == ["echo old"]
    assert admin.get(f"{B}/result/SNAP-SHOT-{number}", headers=J).json()["state"] == "Failed"
    import_specs(admin, _specs("new", second_job="Deploy"))
    r = admin.put(f"{B}/queue/SNAP-SHOT-{number}", headers=J)
    assert r.status_code == 200, r.text
    ran = _run(server)
    assert _scripts(ran[f"SNAP-SHOT-JOB1-{number}"]) == ["echo old"]
    assert f"SNAP-SHOT-SHIP-{number}" not in ran  # still paused at its (old) manual stage
    res = admin.get(f"{B}/result/SNAP-SHOT-{number}", headers=J).json()
    assert res["state"] == "Successful" and res["continuable"] is True


def test_builds_queued_before_snapshots_read_the_plan(server: LiveServer, admin: httpx.Client) -> None:
    """A result without a snapshot (queued before the column existed) falls back to the plan's current spec."""
    from sqlalchemy import update

    from culm.domain.bamboo.models import BambooResult

    import_specs(admin, _specs("old"))
    number = _queue(admin)
    plan = plan_row(server, "SNAP", "SHOT")
    with server_db(server) as session:
        session.execute(update(BambooResult).where(BambooResult.plan_id == plan.id, BambooResult.number == number)
                        .values(spec=None))
    import_specs(admin, _specs("new"))
    ran = _run(server)
    assert _scripts(ran[f"SNAP-SHOT-JOB1-{number}"]) == ["echo new"]
