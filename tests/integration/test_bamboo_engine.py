"""The build engine against a real database (SQLite or PostgreSQL) and real git repositories: numbering and
claims under concurrency, requirements, stage semantics (manual, final, failure), rerun, stop, reaping lost
agents, variables, changes and the build statuses posted to the forge."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bamboo_support import enqueue, maker_fixture, repo_id, server_fixture
from culm.domain.bamboo import builds, queue, service
from culm.domain.bamboo.models import (
    BambooAgent,
    BambooJobResult,
    BambooPlan,
    BambooResult,
    BambooStageResult,
    BambooTestResult,
    BambooVariable,
)
from culm.domain.bamboo.service import Conflict, Invalid, NotFound
from culm.domain.base import now_ms
from culm.domain.builds.models import BuildStatus
from support import LiveServer, pushed_repo, validating_client

KEY, SLUG = "ENG", "engine-repo"


server = server_fixture({"CULM_LOCAL_AGENTS": "0"})
maker = maker_fixture()


@pytest.fixture(scope="module")
def repo(server: LiveServer, maker: sessionmaker[Session], tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[int, list[str]]:
    with validating_client(server) as admin:
        commits = pushed_repo(server, admin, KEY, SLUG, tmp_path_factory.mktemp("eng"),
                              [("a.txt", "one\n"), ("b.txt", "two\n"), ("dir/c.txt", "three\n")])
    return repo_id(maker, SLUG), commits


def spec(plan: str, stages: list[tuple[str, dict[str, Any], list[str]]], *, variables: dict[str, str] | None = None,
         suite: str | None = None, extra_jobs: str = "") -> str:
    """A specs document; every job requires capability `suite` = plan key so tests never take each other's jobs."""
    suite = suite or plan
    lines = ["---", "version: 2", "plan:", "  project-key: ENGP", f"  key: {plan}", f"  name: Plan {plan}",
             "stages:"]
    for name, opts, jobs in stages:
        lines.append(f"  - {name}:")
        lines.append(f"      manual: {str(opts.get('manual', False)).lower()}")
        lines.append(f"      final: {str(opts.get('final', False)).lower()}")
        lines.append(f"      jobs: [{', '.join(jobs)}]")
    for _, _, jobs in stages:
        for job in jobs:
            lines += [f"{job}:", f"  key: {job.upper()}", "  tasks:", "    - script:", f"        - echo {job}",
                      "  requirements:", f"    - suite: {suite}"]
    if variables:
        lines.append("variables:")
        lines += [f"  {k}: {v}" for k, v in variables.items()]
    return "\n".join(lines) + "\n" + extra_jobs


def make_plan(maker: sessionmaker[Session], text: str, repo_id: int | None = None) -> int:
    with maker() as s:
        plan = service.import_specs(s, text)[0]
        plan.repository_id = repo_id
        s.commit()
        return plan.id


def make_agent(maker: sessionmaker[Session], suite: str, **caps: str) -> int:
    with maker() as s:
        agent = BambooAgent(uuid=uuid.uuid4().hex, name=f"agent-{suite}-{uuid.uuid4().hex[:6]}", type="REMOTE",
                            enabled=True, capabilities={"suite": suite, **caps}, last_seen=now_ms())
        s.add(agent)
        s.commit()
        return agent.id


def claim(maker: sessionmaker[Session], agent_id: int) -> queue.Claimed | None:
    with maker() as s:
        agent = s.get(BambooAgent, agent_id)
        assert agent is not None
        got = queue.claim(s, agent)
        s.commit()
        return got


def finish(maker: sessionmaker[Session], job: queue.Claimed, ok: bool = True, **kw: Any) -> None:
    with maker() as s:
        queue.finish(s, job.job_result_id, job.claim_token, successful=ok,
                     failure_reason=kw.pop("failure_reason", None if ok else "Script failed"),
                     tests=kw.pop("tests", []), artifacts=kw.pop("artifacts", []),
                     result_variables=kw.pop("result_variables", {}))
        s.commit()


def run_one(maker: sessionmaker[Session], agent_id: int, ok: bool = True, **kw: Any) -> queue.Claimed:
    job = claim(maker, agent_id)
    assert job is not None
    finish(maker, job, ok, **kw)
    return job


def state(maker: sessionmaker[Session], result_id: int) -> dict[str, Any]:
    with maker() as s:
        r = s.get(BambooResult, result_id)
        assert r is not None
        stages = s.scalars(select(BambooStageResult).where(BambooStageResult.result_id == result_id)
                           .order_by(BambooStageResult.idx)).all()
        jobs = s.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result_id)
                         .order_by(BambooJobResult.stage_idx, BambooJobResult.id)).all()
        return {"life": r.life_cycle, "state": r.state, "continuable": r.continuable, "number": r.number,
                "reason": r.reason, "restarts": r.restart_count, "completed": r.completed_date,
                "stages": [(st.name, st.life_cycle, st.state) for st in stages],
                "jobs": {j.job_key: (j.life_cycle, j.state) for j in jobs},
                "failure": {j.job_key: j.failure_reason for j in jobs}}


# -- numbering ------------------------------------------------------------------------------------------------------
def test_numbering_is_sequential_and_safe_under_concurrency(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("NUM", [("Build", {}, ["Compile"])]))
    first = [enqueue(maker, plan_id) for _ in range(3)]
    assert [state(maker, r)["number"] for r in first] == [1, 2, 3]
    numbers: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(3):
                numbers.append(state(maker, enqueue(maker, plan_id))["number"])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(numbers) == list(range(4, 22))
    with maker() as s:
        assert s.get(BambooPlan, plan_id).next_number == 22  # type: ignore[union-attr]
        queued = s.scalars(select(BambooJobResult.life_cycle).join(BambooResult)
                           .where(BambooResult.plan_id == plan_id)).all()
        assert set(queued) == {"Queued"} and len(queued) == 21


def test_bad_enqueues_change_nothing(maker: sessionmaker[Session], repo: tuple[int, list[str]]) -> None:
    plan_id = make_plan(maker, spec("BAD", [("Build", {}, ["Compile"])]), repo[0])
    with maker() as s:
        plan = s.get(BambooPlan, plan_id)
        with pytest.raises(Invalid, match="Stage 'Nope'"):
            builds.enqueue(s, plan, reason="Manual", stage="Nope")  # type: ignore[arg-type]
        with pytest.raises(Invalid, match="does not exist"):
            builds.enqueue(s, plan, reason="Manual", revision="0" * 40)  # type: ignore[arg-type]
        with pytest.raises(Invalid, match="no commits"):
            builds.enqueue(s, plan, reason="Manual", branch="no-such-branch")  # type: ignore[arg-type]
        with pytest.raises(Invalid, match="Invalid branch"):
            builds.enqueue(s, plan, reason="Manual", branch="--upload-pack=x")  # type: ignore[arg-type]
        plan.enabled = False  # type: ignore[union-attr]
        with pytest.raises(Invalid, match="disabled"):
            builds.enqueue(s, plan, reason="Manual")  # type: ignore[arg-type]
        s.rollback()
    with maker() as s:
        assert s.scalars(select(BambooResult).where(BambooResult.plan_id == plan_id)).all() == []
        assert s.get(BambooPlan, plan_id).next_number == 1  # type: ignore[union-attr]


# -- claims ---------------------------------------------------------------------------------------------------------
def test_concurrent_claims_run_each_job_exactly_once(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("RACE", [("Build", {}, ["J1", "J2", "J3", "J4", "J5"])]))
    for _ in range(4):
        enqueue(maker, plan_id)
    agents = [make_agent(maker, "RACE") for _ in range(8)]
    claimed: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(agents))

    def worker(agent_id: int) -> None:
        try:
            barrier.wait()
            while True:
                got = claim(maker, agent_id)
                if got is None:
                    return
                claimed.append((got.job_result_id, agent_id))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    ids = [job for job, _ in claimed]
    assert len(ids) == 20 and len(set(ids)) == 20
    with maker() as s:
        rows = s.scalars(select(BambooJobResult).where(BambooJobResult.id.in_(ids))).all()
        owner = dict(claimed)
        assert all(r.life_cycle == "InProgress" and r.attempt == 1 and r.agent_id == owner[r.id] for r in rows)
        results = s.scalars(select(BambooResult).where(BambooResult.plan_id == plan_id)).all()
        assert {r.life_cycle for r in results} == {"InProgress"}
        tokens = {r.id: r.claim_token for r in rows}
    for job_id in ids:  # two finishing at once must not leave a build running
        finish(maker, queue.Claimed(job_id, tokens[job_id] or "", "", "", "", "", 0, [], [], [], [], {}, [], None, 1))
    with maker() as s:
        results = s.scalars(select(BambooResult).where(BambooResult.plan_id == plan_id)).all()
        assert {(r.life_cycle, r.state) for r in results} == {("Finished", "Successful")}


def test_requirements_and_blocked_reason(maker: sessionmaker[Session]) -> None:
    assert queue.match_requirements([], {}) is None
    caps = {"os": "linux", "jdk": "17.0.2"}
    assert queue.match_requirements([{"key": "os", "match": "EXISTS"}], caps) is None
    assert queue.match_requirements([{"key": "os", "match": "EQUALS", "value": "linux"}], caps) is None
    assert queue.match_requirements([{"key": "jdk", "match": "MATCHES", "value": r"17\..*"}], caps) is None
    assert queue.match_requirements([{"key": "jdk", "match": "MATCHES", "value": "("}], caps) is not None
    assert queue.match_requirements([{"key": "os", "match": "EQUALS", "value": "windows"}], caps) \
        == "capability 'os' = 'windows'"
    assert queue.match_requirements([{"key": "docker"}], caps) == "capability 'docker'"

    plan_id = make_plan(maker, spec("REQ", [("Build", {}, ["Compile"])], suite="REQGPU"))
    result_id = enqueue(maker, plan_id)
    wrong = make_agent(maker, "REQCPU")
    assert claim(maker, wrong) is None
    with maker() as s:
        builds.refresh_blocked(s)
        s.commit()
        job = s.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result_id)).one()
        assert job.blocked_reason == "No agent has the capability 'suite' = 'REQGPU'"
    right = make_agent(maker, "REQGPU")
    with maker() as s:
        builds.refresh_blocked(s)
        s.commit()
        job = s.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result_id)).one()
        assert job.blocked_reason is None
        s.get(BambooAgent, right).enabled = False  # type: ignore[union-attr]
        s.commit()
    assert claim(maker, right) is None  # a disabled agent takes nothing
    with maker() as s:
        s.get(BambooAgent, right).enabled = True  # type: ignore[union-attr]
        s.commit()
    got = claim(maker, right)
    assert got is not None and got.job_key == "COMPILE" and got.build_number == 1
    assert got.tasks[0]["type"] == "script" and got.repository is None
    assert got.to_json()["job_result_key"] == "ENGP-REQ-COMPILE-1"
    finish(maker, got)
    assert state(maker, result_id)["state"] == "Successful"


# -- stages -----------------------------------------------------------------------------------------------------------
MANUAL = [("Build", {}, ["Compile"]), ("Deploy", {"manual": True}, ["Ship"]), ("Tidy", {"final": True}, ["Clean"])]


def test_manual_stage_pauses_and_continues(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("MAN", MANUAL))
    agent = make_agent(maker, "MAN")
    result_id = enqueue(maker, plan_id)
    assert state(maker, result_id)["life"] == "Queued"
    assert run_one(maker, agent).job_key == "COMPILE"
    st = state(maker, result_id)
    assert (st["life"], st["state"], st["continuable"]) == ("Finished", "Successful", True)
    assert st["stages"][1:] == [("Deploy", "Pending", "Unknown"), ("Tidy", "Pending", "Unknown")]
    assert claim(maker, agent) is None  # nothing queued while paused
    with maker() as s:
        with pytest.raises(Invalid, match="Stage 'Nope'"):
            builds.continue_build(s, s.get(BambooResult, result_id), stage="Nope",  # type: ignore[arg-type]
                                  execute_all_stages=False, variables={}, user_id=None)
        builds.continue_build(s, s.get(BambooResult, result_id), stage=None,  # type: ignore[arg-type]
                              execute_all_stages=False, variables={"extra": "1"}, user_id=None)
        s.commit()
    st = state(maker, result_id)
    assert (st["life"], st["continuable"]) == ("Queued", False) and st["jobs"]["SHIP"] == ("Queued", "Unknown")
    with maker() as s, pytest.raises(Conflict, match="currently executing"):
        builds.continue_build(s, s.get(BambooResult, result_id), stage=None,  # type: ignore[arg-type]
                              execute_all_stages=False, variables={}, user_id=None)
    assert run_one(maker, agent).job_key == "SHIP"
    assert state(maker, result_id)["life"] == "InProgress"
    assert run_one(maker, agent).job_key == "CLEAN"
    st = state(maker, result_id)
    assert (st["life"], st["state"], st["continuable"]) == ("Finished", "Successful", False)
    assert [x[1:] for x in st["stages"]] == [("Finished", "Successful")] * 3
    with maker() as s, pytest.raises(Invalid, match="not continuable"):
        builds.continue_build(s, s.get(BambooResult, result_id), stage=None,  # type: ignore[arg-type]
                              execute_all_stages=False, variables={}, user_id=None)


@pytest.mark.parametrize("how", [{"stage": "Deploy"}, {"execute_all_stages": True}])
def test_stage_or_execute_all_runs_through_manual_stage(maker: sessionmaker[Session], how: dict[str, Any]) -> None:
    key = "THRU" + ("S" if "stage" in how else "A")
    plan_id = make_plan(maker, spec(key, MANUAL))
    agent = make_agent(maker, key)
    result_id = enqueue(maker, plan_id, **how)
    assert [run_one(maker, agent).job_key for _ in range(3)] == ["COMPILE", "SHIP", "CLEAN"]
    assert state(maker, result_id)["state"] == "Successful"


def test_leading_manual_stage_waits_before_anything_runs(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("LEAD", [("Approve", {"manual": True}, ["Gate"]), ("Build", {}, ["Compile"])]))
    agent = make_agent(maker, "LEAD")
    result_id = enqueue(maker, plan_id)
    st = state(maker, result_id)
    assert (st["life"], st["continuable"]) == ("Finished", True)
    assert claim(maker, agent) is None
    with maker() as s:
        builds.continue_build(s, s.get(BambooResult, result_id), stage=None, execute_all_stages=True,  # type: ignore
                              variables={}, user_id=None)
        s.commit()
    assert [run_one(maker, agent).job_key for _ in range(2)] == ["GATE", "COMPILE"]
    assert state(maker, result_id)["state"] == "Successful"


def test_failure_skips_later_stages_but_final_runs_then_rerun(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("FAIL", [("Build", {}, ["Good", "Bad"]), ("Test", {}, ["Unit"]),
                                             ("Tidy", {"final": True}, ["Clean"])]))
    agent = make_agent(maker, "FAIL")
    result_id = enqueue(maker, plan_id)
    first, second = claim(maker, agent), claim(maker, agent)  # one stage: both jobs run in parallel
    assert first is not None and second is not None and claim(maker, agent) is None
    for job in (first, second):
        finish(maker, job, ok=job.job_key == "GOOD")
    assert run_one(maker, agent).job_key == "CLEAN"  # the final stage runs after the failure
    st = state(maker, result_id)
    assert (st["life"], st["state"]) == ("Finished", "Failed")
    assert st["stages"] == [("Build", "Finished", "Failed"), ("Test", "NotBuilt", "Unknown"),
                            ("Tidy", "Finished", "Successful")]
    assert st["jobs"]["UNIT"] == ("NotBuilt", "Unknown") and st["failure"]["BAD"] == "Script failed"
    with maker() as s:
        builds.continue_build(s, s.get(BambooResult, result_id), stage=None,  # type: ignore[arg-type]
                              execute_all_stages=False, variables={}, user_id=None)
        s.commit()
    st = state(maker, result_id)
    assert (st["reason"], st["restarts"], st["life"]) == ("RerunBuild", 1, "Queued")
    assert st["jobs"]["GOOD"] == ("Finished", "Successful") and st["jobs"]["BAD"] == ("Queued", "Unknown")
    rerun = run_one(maker, agent)
    assert rerun.job_key == "BAD"
    assert run_one(maker, agent).job_key == "UNIT"
    assert claim(maker, agent) is None  # the final stage already ran
    st = state(maker, result_id)
    assert (st["life"], st["state"], st["restarts"]) == ("Finished", "Successful", 1)
    with maker() as s:
        job = s.get(BambooJobResult, rerun.job_result_id)
        assert job is not None and job.attempt == 1 and job.failure_reason is None


# -- stop -------------------------------------------------------------------------------------------------------------
def test_stop_queued_build_is_not_built(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("STOPQ", [("Build", {}, ["A", "B"]), ("Tidy", {"final": True}, ["Clean"])]))
    agent = make_agent(maker, "STOPQ")
    result_id = enqueue(maker, plan_id)
    with maker() as s:
        builds.stop(s, s.get(BambooResult, result_id))  # type: ignore[arg-type]
        s.commit()
    st = state(maker, result_id)
    assert (st["life"], st["state"]) == ("NotBuilt", "Unknown")
    assert set(st["jobs"].values()) == {("NotBuilt", "Unknown")}
    assert claim(maker, agent) is None
    with maker() as s:  # idempotent
        builds.stop(s, s.get(BambooResult, result_id))  # type: ignore[arg-type]
        s.commit()
    assert state(maker, result_id)["life"] == "NotBuilt"


def test_stop_running_job_cancels_it(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("STOPR", [("Build", {}, ["A"]), ("Later", {}, ["B"])]))
    agent = make_agent(maker, "STOPR")
    result_id = enqueue(maker, plan_id)
    job = claim(maker, agent)
    assert job is not None
    with maker() as s:
        assert queue.heartbeat(s, job.job_result_id, job.claim_token, 10) is False
        s.commit()
    with maker() as s:
        builds.stop(s, s.get(BambooResult, result_id))  # type: ignore[arg-type]
        s.commit()
    with maker() as s:
        assert queue.heartbeat(s, job.job_result_id, job.claim_token, 5) is True
        with pytest.raises(NotFound):
            queue.heartbeat(s, job.job_result_id, "0" * 32)
        s.commit()
        assert s.get(BambooJobResult, job.job_result_id).log_size == 15  # type: ignore[union-attr]
    finish(maker, job, ok=False, failure_reason="Stopped by user")
    st = state(maker, result_id)
    assert (st["life"], st["state"]) == ("Finished", "Failed")
    assert st["jobs"] == {"A": ("Finished", "Failed"), "B": ("NotBuilt", "Unknown")}
    assert claim(maker, agent) is None


# -- reaping -------------------------------------------------------------------------------------------------------
def test_reap_requeues_once_then_fails(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("REAP", [("Build", {}, ["A"])]))
    agent = make_agent(maker, "REAP")
    result_id = enqueue(maker, plan_id)
    lost = claim(maker, agent)
    assert lost is not None
    with maker() as s:
        assert builds.reap(s, now_ms(), 60_000) == 0  # still fresh
        assert builds.reap(s, now_ms() + 120_000, 60_000) == 1
        s.commit()
    assert state(maker, result_id)["jobs"]["A"] == ("Queued", "Unknown")
    with maker() as s, pytest.raises(NotFound):
        queue.finish(s, lost.job_result_id, lost.claim_token, successful=True, failure_reason=None, tests=[],
                     artifacts=[], result_variables={})
    again = claim(maker, agent)
    assert again is not None and again.job_result_id == lost.job_result_id and again.claim_token != lost.claim_token
    with maker() as s:
        assert builds.reap(s, now_ms() + 120_000, 60_000) == 1
        s.commit()
    st = state(maker, result_id)
    assert (st["life"], st["state"]) == ("Finished", "Failed") and st["failure"]["A"] == "Agent lost"


# -- variables -------------------------------------------------------------------------------------------------------
def test_variables_precedence_and_masking(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("VARS", [("One", {}, ["First"]), ("Two", {}, ["Second"])],
                                    variables={"level": "plan-spec", "fromspec": "s", "spec.password": "sp3c"}))
    agent = make_agent(maker, "VARS")
    with maker() as s:
        plan = s.get(BambooPlan, plan_id)
        assert plan is not None
        for scope, owner, name, value in [("GLOBAL", 0, "level", "global"), ("GLOBAL", 0, "onlyglobal", "g"),
                                          ("PROJECT", plan.project_id, "level", "project"),
                                          ("PROJECT", plan.project_id, "onlyproject", "p"),
                                          ("PLAN", plan_id, "fromspec", "row"),
                                          ("GLOBAL", 0, "deploy.secretKey", "gl0bal-s3cret")]:
            # An import may already have mirrored the spec's variables into rows: update those.
            row = s.scalar(select(BambooVariable).where(BambooVariable.scope == scope, BambooVariable.owner_id == owner,
                                                        BambooVariable.name == name))
            if row is None:
                s.add(BambooVariable(scope=scope, owner_id=owner, name=name, value=value))
            else:
                row.value = value
        s.commit()
    result_id = enqueue(maker, plan_id, variables={"level": "trigger", "api_token": "tok-123"})
    first = claim(maker, agent)
    assert first is not None
    v = first.variables
    assert (v["level"], v["onlyglobal"], v["onlyproject"], v["fromspec"]) == ("trigger", "g", "p", "row")
    assert v["buildKey"] == "ENGP-VARS-FIRST" and v["buildNumber"] == "1"
    assert v["buildResultKey"] == "ENGP-VARS-FIRST-1" and v["planKey"] == "ENGP-VARS"
    assert v["shortJobKey"] == "FIRST" and v["buildResultsUrl"].endswith("/browse/ENGP-VARS-FIRST-1")
    assert "planRepository.revision" not in v
    assert set(first.masked) == {"sp3c", "gl0bal-s3cret", "tok-123"}
    finish(maker, first, result_variables={"inject.level": "result", "level": "result"})
    second = claim(maker, agent)
    assert second is not None and second.variables["level"] == "result"
    assert second.variables["inject.level"] == "result" and second.variables["buildKey"] == "ENGP-VARS-SECOND"
    finish(maker, second)
    assert state(maker, result_id)["state"] == "Successful"


# -- repositories: revision, changes, forge statuses ----------------------------------------------------------------
def test_revision_changes_and_forge_status(maker: sessionmaker[Session], repo: tuple[int, list[str]]) -> None:
    repo_id, commits = repo
    plan_id = make_plan(maker, spec("GIT", [("Build", {}, ["Compile"])]), repo_id)
    agent = make_agent(maker, "GIT")
    first = enqueue(maker, plan_id, revision=commits[0])
    with maker() as s:
        r = s.get(BambooResult, first)
        assert r is not None and r.revision == commits[0] and r.branch == "main"
        assert [c["id"] for c in r.changes] == [commits[0]] and r.changes[0]["files"] == ["a.txt"]
        assert r.changes[0]["email"] == "author@example.com"
    job = claim(maker, agent)
    assert job is not None and job.repository == {"id": repo_id, "project_key": KEY, "slug": SLUG,
                                                  "revision": commits[0], "branch": "main"}
    assert job.variables["planRepository.revision"] == commits[0]
    assert job.variables["planRepository.repositoryUrl"].endswith(f"/scm/{KEY.lower()}/{SLUG}.git")
    with maker() as s:
        row = s.scalars(select(BuildStatus).where(BuildStatus.commit_id == commits[0])).one()
        assert (row.key, row.state, row.build_number, row.ref) == ("ENGP-GIT", "INPROGRESS", "1", "refs/heads/main")
        assert row.url.endswith("/browse/ENGP-GIT-1") and row.repository_id == repo_id
    finish(maker, job, tests=[{"className": "T", "methodName": "ok", "status": "successful", "durationMs": 3},
                              {"className": "T", "methodName": "skip", "status": "skipped"}])
    with maker() as s:
        row = s.scalars(select(BuildStatus).where(BuildStatus.commit_id == commits[0])).one()
        assert (row.state, row.tests_successful, row.tests_skipped, row.tests_failed) == ("SUCCESSFUL", 1, 1, 0)
        assert len(s.scalars(select(BambooTestResult).where(BambooTestResult.job_result_id == job.job_result_id))
                   .all()) == 2
    second = enqueue(maker, plan_id)  # the tip of the default branch; changes since build 1
    with maker() as s:
        r = s.get(BambooResult, second)
        assert r is not None and r.revision == commits[2]
        assert [c["id"] for c in r.changes] == [commits[2], commits[1]]
        assert r.changes[0]["files"] == ["dir/c.txt"]
    job = claim(maker, agent)
    assert job is not None
    finish(maker, job, ok=False)
    with maker() as s:
        row = s.scalars(select(BuildStatus).where(BuildStatus.commit_id == commits[2])).one()
        assert (row.state, row.key, row.build_number) == ("FAILED", "ENGP-GIT", "2")
    third = enqueue(maker, plan_id)
    with maker() as s:
        assert s.get(BambooResult, third).changes == []  # type: ignore[union-attr]
        builds.stop(s, s.get(BambooResult, third))  # type: ignore[arg-type]
        s.commit()


def test_wake_event_set_on_commit(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("WAKE", [("Build", {}, ["A"])]))
    queue.work_available.clear()
    with maker() as s:
        builds.enqueue(s, s.get(BambooPlan, plan_id), reason="Manual")  # type: ignore[arg-type]
        s.flush()
        assert not queue.work_available.is_set()
        s.rollback()
    assert not queue.work_available.is_set()
    enqueue(maker, plan_id)
    assert queue.work_available.is_set()


def test_storage_paths(maker: sessionmaker[Session], server: LiveServer) -> None:
    from culm.domain.bamboo import storage
    from culm.domain.bamboo.models import BambooArtifact

    assert storage.log_path("ENGP-GIT-COMPILE-12") == \
        Path(server.home).resolve() / "bamboo/logs/ENGP-GIT-COMPILE/ENGP-GIT-COMPILE-12.log"
    for bad in ("../x-1", "ENGP-GIT-12", "ENGP-GIT-COMPILE-1/../../x"):
        with pytest.raises(ValueError):
            storage.log_path(bad)
    assert storage.artifact_dir(BambooArtifact(id=7, path="7")) == storage.artifact_root() / "7"


# -- more edges --------------------------------------------------------------------------------------------------------
ARTIFACTS = """\
---
version: 2
plan: {project-key: ENGP, key: ARTS, name: Artifacts}
stages:
  - Make: [Maker]
  - Use: [User]
Maker:
  key: MAKER
  tasks: [{script: [echo hi > out.txt]}]
  artifacts:
    - {name: out, pattern: out.txt, shared: true}
  requirements: [{suite: ARTS}]
User:
  key: USER
  artifact-subscriptions: [{artifact: out, destination: got}]
  tasks:
    - artifact-download: {artifacts: [{name: out}]}
    - script: [cat got/out.txt]
  requirements: [{suite: ARTS}]
"""


def test_artifacts_flow_to_later_stages(maker: sessionmaker[Session]) -> None:
    from culm.domain.bamboo import storage
    from culm.domain.bamboo.models import BambooArtifact

    plan_id = make_plan(maker, ARTIFACTS)
    agent = make_agent(maker, "ARTS")
    enqueue(maker, plan_id)
    made = claim(maker, agent)
    assert made is not None and made.artifacts[0]["name"] == "out"
    with maker() as s:
        row = queue.add_artifact(s, made.job_result_id, made.claim_token, "out", True)
        assert row.path == str(row.id) and storage.artifact_dir(row) == storage.artifact_root() / str(row.id)
        with pytest.raises(Invalid):
            queue.add_artifact(s, made.job_result_id, made.claim_token, "", True)
        with pytest.raises(NotFound):
            queue.add_artifact(s, made.job_result_id, "f" * 32, "x", True)
        again = queue.add_artifact(s, made.job_result_id, made.claim_token, "out", True)  # a re-upload replaces
        assert again.id == row.id
        s.commit()
        art_id = row.id
    finish(maker, made, artifacts=[{"name": "out", "shared": True, "size": 3, "fileCount": 1, "artifact_id": art_id}])
    with maker() as s:
        art = s.get(BambooArtifact, art_id)
        assert art is not None and (art.size, art.file_count) == (3, 1)
    used = claim(maker, agent)
    assert used is not None
    assert used.subscriptions == [{"name": "out", "destination": "got", "artifact_id": art_id}]
    assert used.tasks[0]["artifacts"][0]["artifact_id"] == art_id
    finish(maker, used)


def test_stop_one_job_by_its_key(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("STOPJ", [("Build", {}, ["A", "B"]), ("Later", {}, ["C"])]))
    agent = make_agent(maker, "STOPJ")
    result_id = enqueue(maker, plan_id)
    with maker() as s:
        with pytest.raises(NotFound):
            builds.stop(s, s.get(BambooResult, result_id), "NOPE")  # type: ignore[arg-type]
        builds.stop(s, s.get(BambooResult, result_id), "ENGP-STOPJ-B-1")  # type: ignore[arg-type]
        s.commit()
    st = state(maker, result_id)
    assert st["jobs"]["B"] == ("NotBuilt", "Unknown") and st["jobs"]["A"] == ("Queued", "Unknown")
    assert run_one(maker, agent).job_key == "A"
    st = state(maker, result_id)
    assert (st["life"], st["state"]) == ("Finished", "Failed") and st["jobs"]["C"] == ("NotBuilt", "Unknown")


def test_rerun_of_a_failed_manual_stage_does_not_pause_again(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("RMAN", [("Build", {}, ["A"]), ("Deploy", {"manual": True}, ["D"])]))
    agent = make_agent(maker, "RMAN")
    result_id = enqueue(maker, plan_id, stage="Deploy")
    run_one(maker, agent)
    run_one(maker, agent, ok=False)
    assert state(maker, result_id)["state"] == "Failed"
    with maker() as s:
        builds.continue_build(s, s.get(BambooResult, result_id), stage=None,  # type: ignore[arg-type]
                              execute_all_stages=False, variables={}, user_id=None)
        s.commit()
    assert run_one(maker, agent).job_key == "D"
    assert state(maker, result_id)["state"] == "Successful"


def test_claim_skips_many_jobs_it_cannot_run(maker: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue, "CLAIM_WINDOW", 2)
    other = make_plan(maker, spec("SKIPO", [("Build", {}, ["A", "B", "C"])]))
    mine = make_plan(maker, spec("SKIPM", [("Build", {}, ["A"])]))
    others = [enqueue(maker, other) for _ in range(2)]
    result_id = enqueue(maker, mine)
    got = claim(maker, make_agent(maker, "SKIPM"))
    assert got is not None and got.result_key == "ENGP-SKIPM-1"
    finish(maker, got)
    assert state(maker, result_id)["state"] == "Successful"
    with maker() as s:
        for r in others:
            builds.stop(s, s.get(BambooResult, r))  # type: ignore[arg-type]
        s.commit()


def test_job_removed_from_plan_fails_instead_of_running(maker: sessionmaker[Session]) -> None:
    """Builds queued before spec snapshots (spec NULL) read the plan: a job it no longer has cannot run."""
    plan_id = make_plan(maker, spec("GONE", [("Build", {}, ["A"])]))
    agent = make_agent(maker, "GONE")
    result_id = enqueue(maker, plan_id)
    with maker() as s:
        s.get(BambooResult, result_id).spec = None
        s.commit()
    make_plan(maker, spec("GONE", [("Build", {}, ["Other"])], suite="GONEX"))
    assert claim(maker, agent) is None
    st = state(maker, result_id)
    assert (st["life"], st["state"]) == ("Finished", "Failed")
    assert st["failure"]["A"] == "The job no longer exists in the plan"


def test_reap_settles_builds_left_without_active_jobs(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("STUCK", [("Build", {}, ["A"])]))
    result_id = enqueue(maker, plan_id)
    with maker() as s:  # as if a crash had left the build row behind its jobs
        job = s.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result_id)).one()
        job.life_cycle, job.state = "NotBuilt", "Unknown"
        s.commit()
    with maker() as s:
        builds.reap(s, now_ms(), 60_000)
        s.commit()
    assert state(maker, result_id)["life"] == "NotBuilt"


def test_stopped_after_start_posts_final_status(maker: sessionmaker[Session], repo: tuple[int, list[str]]) -> None:
    repo_id, commits = repo
    plan_id = make_plan(maker, spec("GITS", [("Build", {}, ["A"])]), repo_id)
    agent = make_agent(maker, "GITS")
    result_id = enqueue(maker, plan_id, revision=commits[1])
    assert claim(maker, agent) is not None
    with maker() as s:
        assert builds.reap(s, now_ms() + 120_000, 60_000) >= 1  # requeued: started, nothing finished
        builds.stop(s, s.get(BambooResult, result_id))  # type: ignore[arg-type]
        s.commit()
    assert state(maker, result_id)["life"] == "NotBuilt"
    with maker() as s:
        row = s.scalars(select(BuildStatus).where(BuildStatus.commit_id == commits[1],
                                                  BuildStatus.key == "ENGP-GITS")).one()
        assert row.state == "FAILED"


def test_no_repository_no_status(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("NOREPO", [("Build", {}, ["A"])]))
    result_id = enqueue(maker, plan_id, revision="abc")
    with maker() as s:
        r = s.get(BambooResult, result_id)
        assert r is not None and r.revision is None and r.repository_id is None and r.changes == []
        assert s.scalars(select(BuildStatus).where(BuildStatus.key == "ENGP-NOREPO")).all() == []
        builds.stop(s, r)
        s.commit()


def _threads(targets: list[Any]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def wrap(fn: Any) -> None:
        try:
            barrier.wait()
            fn()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(fn,)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_parallel_jobs_finishing_together_advance_the_build_once(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("PAR", [("Build", {}, ["J1", "J2", "J3", "J4"]), ("Next", {}, ["N"])]))
    agent = make_agent(maker, "PAR")
    results = [enqueue(maker, plan_id) for _ in range(3)]
    jobs = [claim(maker, agent) for _ in range(12)]
    assert all(jobs) and claim(maker, agent) is None
    assert not _threads([lambda j=j: finish(maker, j) for j in jobs])
    for result_id in results:
        st = state(maker, result_id)
        assert st["jobs"]["N"] == ("Queued", "Unknown") and st["stages"][0][1:] == ("Finished", "Successful")
    nexts = [claim(maker, agent) for _ in range(3)]
    assert all(nexts) and claim(maker, agent) is None
    assert not _threads([lambda j=j: finish(maker, j) for j in nexts])
    assert {state(maker, r)["state"] for r in results} == {"Successful"}


def test_stop_racing_claims_leaves_no_job_unaccounted(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("RACESTOP", [("Build", {}, ["J1", "J2", "J3", "J4", "J5", "J6"])]))
    result_id = enqueue(maker, plan_id)
    agents = [make_agent(maker, "RACESTOP") for _ in range(4)]
    claimed: list[int] = []

    def claimer(agent_id: int) -> None:
        while (got := claim(maker, agent_id)) is not None:
            claimed.append(got.job_result_id)

    def stopper() -> None:
        with maker() as s:
            builds.stop(s, s.get(BambooResult, result_id))  # type: ignore[arg-type]
            s.commit()

    assert not _threads([*(lambda a=a: claimer(a) for a in agents), stopper])
    with maker() as s:
        rows = s.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result_id)).all()
        assert len(claimed) == len(set(claimed))
        for row in rows:
            if row.id in claimed:
                assert row.life_cycle == "InProgress" and row.cancel_requested
            else:
                assert row.life_cycle == "NotBuilt"
        tokens = {row.id: row.claim_token for row in rows}
    for job_id in claimed:
        with maker() as s:
            assert queue.heartbeat(s, job_id, tokens[job_id] or "") is True
            queue.finish(s, job_id, tokens[job_id] or "", successful=False, failure_reason="Stopped by user",
                         tests=[], artifacts=[], result_variables={})
            s.commit()
    st = state(maker, result_id)
    assert st["life"] == ("Finished" if claimed else "NotBuilt")


def test_finish_checks_its_input_and_failed_tests_fail_the_job(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("FIN", [("Build", {}, ["A"])]))
    agent = make_agent(maker, "FIN")
    result_id = enqueue(maker, plan_id)
    job = claim(maker, agent)
    assert job is not None
    bad: list[dict[str, Any]] = [{"tests": ["x"]}, {"tests": "x"}, {"artifacts": [1]}, {"result_variables": [1]}]
    for kw in bad:
        with maker() as s, pytest.raises(Invalid):
            queue.finish(s, job.job_result_id, job.claim_token, successful=True, failure_reason=None,
                         **{"tests": [], "artifacts": [], "result_variables": {}, **kw})
    with maker() as s:
        for token in ("", "é" * 32, job.claim_token + "x"):
            with pytest.raises(NotFound):
                queue.heartbeat(s, job.job_result_id, token)
        with pytest.raises(NotFound):
            queue.job_for_token(s, 999999, job.claim_token)
        assert queue.job_for_token(s, job.job_result_id, job.claim_token).life_cycle == "InProgress"
    finish(maker, job, ok=True, tests=[{"className": "T", "methodName": "m", "status": "failed",
                                        "errors": "boom"}, {"className": "T", "methodName": "n", "status": "odd"}])
    st = state(maker, result_id)
    assert (st["state"], st["failure"]["A"]) == ("Failed", "2 test(s) failed")
    with maker() as s:
        rows = s.scalars(select(BambooTestResult).where(BambooTestResult.job_result_id == job.job_result_id)
                         .order_by(BambooTestResult.method_name)).all()
        assert [(r.status, r.errors) for r in rows] == [("failed", ["boom"]), ("failed", [])]
        with pytest.raises(NotFound):  # a second finish of the same claim
            queue.finish(s, job.job_result_id, job.claim_token, successful=True, failure_reason=None, tests=[],
                         artifacts=[], result_variables={})


def test_housekeeping_marks_jobs_no_online_agent_can_run(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("HOUSE", [("Build", {}, ["A"])]))
    result_id = enqueue(maker, plan_id)
    with maker() as s:
        builds.housekeeping(s, now_ms() + 10 * 60_000)  # every agent is long gone by then
        s.commit()
        job = s.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result_id)).one()
        assert job.blocked_reason == "No enabled agent is online"
        builds.stop(s, s.get(BambooResult, result_id))  # type: ignore[arg-type]
        s.commit()


def test_paused_server_hands_out_no_job(maker: sessionmaker[Session], server: LiveServer) -> None:
    server_state = pytest.importorskip("culm.domain.bamboo.server_state")
    plan_id = make_plan(maker, spec("PAUSE", [("Build", {}, ["A"])]))
    agent = make_agent(maker, "PAUSE")
    result_id = enqueue(maker, plan_id)
    server_state.write(Path(server.home).resolve(), server_state.PAUSED, "admin")
    try:
        assert claim(maker, agent) is None
    finally:
        server_state.write(Path(server.home).resolve(), server_state.RUNNING, "admin")
    run_one(maker, agent)
    assert state(maker, result_id)["state"] == "Successful"


def test_job_past_its_timeout_is_cancelled_then_failed(maker: sessionmaker[Session]) -> None:
    plan_id = make_plan(maker, spec("SLOW", [("Build", {}, ["A"]), ("Tidy", {"final": True}, ["T"])]))
    agent = make_agent(maker, "SLOW")
    result_id = enqueue(maker, plan_id)
    job = claim(maker, agent)
    assert job is not None
    hour = builds.job_timeout_seconds() * 1000
    with maker() as s:  # the agent still reports, but the job started long ago
        row = s.get(BambooJobResult, job.job_result_id)
        assert row is not None
        row.started_date = row.claimed_date = now_ms() - hour - 2 * builds.TIMEOUT_GRACE_MS - 1000
        row.heartbeat_date = now_ms()
        s.commit()
    with maker() as s:
        assert builds.reap(s, now_ms(), 60_000) >= 1
        s.commit()
        assert queue.heartbeat(s, job.job_result_id, job.claim_token) is True
        s.commit()
    with maker() as s:
        assert builds.reap(s, now_ms() + builds.TIMEOUT_GRACE_MS, 60_000 + builds.TIMEOUT_GRACE_MS) >= 1
        s.commit()
    st = state(maker, result_id)
    assert st["jobs"]["A"] == ("Finished", "Failed") and st["failure"]["A"] == "Timed out"
    assert run_one(maker, agent).job_key == "T"  # a timeout is a failure, not a stop: the final stage runs
    assert state(maker, result_id)["state"] == "Failed"


def test_plan_branch_numbers_statuses_and_variables(maker: sessionmaker[Session], repo: tuple[int, list[str]]) -> None:
    repo_id, commits = repo
    master_id = make_plan(maker, spec("BRM", [("Build", {}, ["A"])], variables={"where": "master"}), repo_id)
    agent = make_agent(maker, "BRM")
    with maker() as s:
        master = s.get(BambooPlan, master_id)
        assert master is not None
        branch = BambooPlan(project_id=master.project_id, key="BRM1", name="Plan BRM - main", master_id=master_id,
                            branch_name="main", spec=master.spec, repository_id=repo_id, labels=[])
        s.add(branch)
        s.flush()
        s.add(BambooVariable(scope="PLAN", owner_id=branch.id, name="only.branch", value="b"))
        s.commit()
        branch_id = branch.id
    enqueue(maker, master_id, revision=commits[0])
    result_id = enqueue(maker, branch_id)
    assert state(maker, result_id)["number"] == 1  # a branch numbers its own builds
    jobs = [claim(maker, agent), claim(maker, agent)]
    assert all(jobs)
    branch_job = next(j for j in jobs if j and j.plan_key == "ENGP-BRM1")
    assert branch_job.variables["where"] == "master" and branch_job.variables["only.branch"] == "b"
    assert branch_job.variables["masterPlanKey"] == "ENGP-BRM"
    for job in jobs:
        finish(maker, job)  # type: ignore[arg-type]
    with maker() as s:
        row = s.scalars(select(BuildStatus).where(BuildStatus.commit_id == commits[2],
                                                  BuildStatus.key == "ENGP-BRM1")).one()
        assert (row.parent, row.state, row.build_number) == ("ENGP-BRM", "SUCCESSFUL", "1")
        assert row.url.endswith("/browse/ENGP-BRM1-1") and "Plan BRM - main #1" in (row.name or "")


def test_claims_finishes_stops_and_reaps_all_at_once(maker: sessionmaker[Session]) -> None:
    """Everything the engine does, concurrently: no error (no deadlock), every build ends, no job runs twice."""
    import random
    import time

    plan_id = make_plan(maker, spec("CHAOS", [("One", {}, ["A", "B", "C"]), ("Two", {}, ["D", "E"]),
                                              ("End", {"final": True}, ["F"])]))
    results = [enqueue(maker, plan_id) for _ in range(6)]
    agents = [make_agent(maker, "CHAOS") for _ in range(5)]
    claimed: list[int] = []
    rng = random.Random(7)
    deadline = time.monotonic() + 60

    def busy() -> bool:
        with maker() as s:
            return bool(s.scalars(select(BambooResult.id).where(BambooResult.id.in_(results),
                                                                 BambooResult.life_cycle.in_(("Queued", "InProgress")))
                                  .limit(1)).first())

    def agent_loop(agent_id: int) -> None:
        while time.monotonic() < deadline and busy():
            job = claim(maker, agent_id)
            if job is None:
                time.sleep(0.01)
                continue
            claimed.append(job.job_result_id)
            with maker() as s:
                cancel = queue.heartbeat(s, job.job_result_id, job.claim_token, 1)
                s.commit()
            finish(maker, job, ok=not cancel and rng.random() > 0.2,
                   failure_reason="Stopped by user" if cancel else None)

    def stopper() -> None:
        for result_id in results[::2]:
            time.sleep(0.02)
            with maker() as s:
                builds.stop(s, s.get(BambooResult, result_id))  # type: ignore[arg-type]
                s.commit()

    def reaper() -> None:
        while time.monotonic() < deadline and busy():
            with maker() as s:
                builds.housekeeping(s, now_ms(), 60_000)
                s.commit()
            time.sleep(0.01)

    assert not _threads([*(lambda a=a: agent_loop(a) for a in agents), stopper, reaper])
    assert not busy()
    assert len(claimed) == len(set(claimed))
    for result_id in results:
        st = state(maker, result_id)
        assert st["life"] in ("Finished", "NotBuilt") and not st["continuable"]
        assert all(life in ("Finished", "NotBuilt") for life, _ in st["jobs"].values())
