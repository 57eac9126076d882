"""Builds run by the server's local agents (threads running the remote agent loop over HTTP): checkout of the
build's revision with the job token, scripts, variables (masked passwords, values as data), injected variables,
artifacts between stages, JUnit results, logs streamed while a job runs, stop killing the script's process group,
artifacts escaping the workdir refused, and the agent protocol refusing bad callers."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import culm.domain.models  # noqa: F401  (every table known, for foreign keys)
from bamboo_support import enqueue, import_specs, maker_fixture, process_alive, repo_id, server_fixture
from culm.domain.bamboo import builds
from culm.domain.bamboo.models import (
    BambooAgent,
    BambooArtifact,
    BambooJobResult,
    BambooPlan,
    BambooResult,
    BambooTestResult,
)
from support import ADMIN, LiveServer, git, pushed_repo, validating_client

B = "/bamboo/rest/api/latest"
P = "/bamboo/rest/culm-agent/1.0"
KEY, SLUG = "AGR", "agent-repo"

FULL = """\
---
version: 2
plan: {project-key: AGT, key: FULL, name: Full build}
stages:
  - Build: [Build]
  - Check: [Check]
Build:
  tasks:
    - checkout
    - script:
        - git rev-parse HEAD > rev.txt
        - echo "head=$(cat rev.txt)"
        - echo "file=$(cat a.txt)"
        - mkdir -p out && cp a.txt out/a.txt
        - echo "target=${bamboo.target} env=$bamboo_target"
        - echo "secret=${bamboo.deploy.password} $bamboo_deploy_password"
        - printf '%s\\n' "evil=$bamboo_evil"
        - printf 'answer=42\\n' > vars.properties
    - inject-variables: {file: vars.properties, scope: RESULT, namespace: got}
    - script:
        - echo "injected=$bamboo_got_answer"
  artifacts:
    - name: out
      pattern: "out/**"
Check:
  tasks:
    - artifact-download:
        artifacts: [{name: out}]
        destination: dl
    - script:
        - echo "downloaded=$(cat dl/out/a.txt)"
        - mkdir -p reports
        - printf '<testsuite><testcase classname="a.B" name="ok" time="0.1"/></testsuite>' > reports/t.xml
        - mkdir -p sub
        - printf '%s\\n' 'echo "args=$1|$2 greeting=$GREETING dir=${PWD##*/}"' > run.sh
    - script:
        file: run.sh
        argument: one 'two words'
        working-dir: sub
        environment: GREETING="hello world"
    - test-parser: {type: junit, test-results: "reports/*.xml"}
variables:
  target: mars
  deploy.password: hunter2
"""

ESCAPES = """\
---
version: 2
plan: {project-key: AGT, key: ESC, name: Escapes}
stages:
  - Build: [Build]
Build:
  tasks:
    - script:
        - ln -s /etc/passwd leak
        - echo fine > fine.txt
  artifacts:
    - name: fine
      pattern: fine.txt
    - name: link
      pattern: leak
    - name: parent
      pattern: "../*"
"""

SLOW = """\
---
version: 2
plan: {project-key: AGT, key: SLOW, name: Slow}
stages:
  - Build: [Build]
Build:
  tasks:
    - checkout
    - script:
        - sleep 1000 &
        - echo "child=$!"
        - echo "started"
        - sleep 1000
"""

FAILING = """\
---
version: 2
plan: {project-key: AGT, key: FAIL, name: Failing}
stages:
  - Build: [Build]
  - Later: [Later]
Build:
  tasks:
    - script: [echo before, "exit 4", echo never]
  final-tasks:
    - script: [echo cleanup-ran]
Later:
  tasks:
    - script: [echo later]
"""

LOUD = """\
---
version: 2
plan: {project-key: AGT, key: LOUD, name: Loud}
stages:
  - Build: [Build]
Build:
  tasks:
    - script:
        - printf 'bad \\377\\376 bytes\\n'
        - head -c 15000000 /dev/zero | tr '\\0' 'x' | fold -w 100
        - echo tail-marker
"""


server = server_fixture({"CULM_LOCAL_AGENTS": "2"})
maker = maker_fixture()


@pytest.fixture(scope="module")
def repo(server: LiveServer, maker: sessionmaker[Session], tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[int, list[str]]:
    with validating_client(server) as admin:
        commits = pushed_repo(server, admin, KEY, SLUG, tmp_path_factory.mktemp("agr"),
                              [("a.txt", "first"), ("a.txt", "second")])
        pushed_repo(server, admin, KEY, "other-repo", tmp_path_factory.mktemp("other"), [("o.txt", "other")])
    return repo_id(maker, SLUG), commits


def import_plan(server: LiveServer, maker: sessionmaker[Session], specs: str, repo_id: int | None) -> int:
    with server.client() as c:
        key = import_specs(c, specs)["plans"]["plan"][0]["shortKey"]
    with maker() as s:
        plan = s.scalar(select(BambooPlan).where(BambooPlan.key == key))
        assert plan is not None
        plan.repository_id = repo_id
        s.commit()
        return plan.id


def wait_result(maker: sessionmaker[Session], result_id: int, timeout: float = 90) -> BambooResult:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with maker() as s:
            result = s.get(BambooResult, result_id)
            assert result is not None
            if result.life_cycle in ("Finished", "NotBuilt") and not result.continuable:
                return result
        time.sleep(0.2)
    raise AssertionError(f"build {result_id} did not finish")


def jobs(maker: sessionmaker[Session], result_id: int) -> list[BambooJobResult]:
    with maker() as s:
        return list(s.scalars(select(BambooJobResult).where(BambooJobResult.result_id == result_id)
                              .order_by(BambooJobResult.stage_idx)))


def log_text(server: LiveServer, maker: sessionmaker[Session], job: BambooJobResult) -> str:
    with maker() as s:
        key = builds.log_file(s, job)
    path = server.home / "bamboo" / "logs" / key.rsplit("-", 1)[0] / f"{key}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def wait_log(server: LiveServer, maker: sessionmaker[Session], result_id: int, needle: str,
             timeout: float = 60) -> tuple[BambooJobResult, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job in jobs(maker, result_id):
            text = log_text(server, maker, job)
            if needle in text:
                return job, text
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never appeared in the log of build {result_id}")


def test_local_agents_registered(server: LiveServer, maker: sessionmaker[Session]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with maker() as s:
            agents = list(s.scalars(select(BambooAgent).where(BambooAgent.type == "LOCAL")))
        if len(agents) == 2:
            break
        time.sleep(0.1)
    assert sorted(a.name for a in agents) == ["Local agent 1", "Local agent 2"]
    assert all(a.capabilities.get("os") == "linux" and a.enabled for a in agents)


def test_full_build_on_local_agents(server: LiveServer, maker: sessionmaker[Session],
                                    repo: tuple[int, list[str]]) -> None:
    repo_id, commits = repo
    plan_id = import_plan(server, maker, FULL, repo_id)
    evil = "$(touch /tmp/culm-pwned-agent); rm -rf x `id` ' \""
    result_id = enqueue(maker, plan_id, revision=commits[0], variables={"evil": evil})
    result = wait_result(maker, result_id)
    build, check = jobs(maker, result_id)
    text = log_text(server, maker, build)
    assert (result.state, build.state, check.state) == ("Successful", "Successful", "Successful"), text
    assert f"head={commits[0]}" in text and "file=first" in text
    assert "target=mars env=mars" in text
    assert "secret=******** ********" in text and "hunter2" not in text
    assert f"evil={evil}" in text and not Path("/tmp/culm-pwned-agent").exists()
    assert "injected=42" in text
    assert result.result_variables == {"got.answer": "42"}
    check_log = log_text(server, maker, check)
    assert "downloaded=first" in check_log
    assert "args=one|two words greeting=hello world dir=sub" in check_log
    assert check.tests_successful == 1 and check.tests_failed == 0
    with maker() as s:
        tests = list(s.scalars(select(BambooTestResult).where(BambooTestResult.job_result_id == check.id)))
        artifact = s.scalar(select(BambooArtifact).where(BambooArtifact.job_result_id == build.id))
    assert [(t.class_name, t.method_name, t.status) for t in tests] == [("a.B", "ok", "successful")]
    assert artifact is not None and artifact.name == "out" and artifact.file_count == 1 and artifact.size == 5
    assert (server.home / "bamboo" / "artifacts" / artifact.path / "out" / "a.txt").read_text() == "first"


def test_failed_task_skips_the_rest_but_final_tasks_run(server: LiveServer, maker: sessionmaker[Session]) -> None:
    plan_id = import_plan(server, maker, FAILING, None)
    result = wait_result(maker, enqueue(maker, plan_id))
    first, later = jobs(maker, result.id)
    text = log_text(server, maker, first)
    assert result.state == "Failed" and first.state == "Failed" and later.life_cycle == "NotBuilt"
    assert "before" in text and "cleanup-ran" in text and "\nnever" not in text
    assert "returned 4" in (first.failure_reason or "")


def test_artifacts_escaping_the_workdir_fail_the_job(server: LiveServer, maker: sessionmaker[Session]) -> None:
    plan_id = import_plan(server, maker, ESCAPES, None)
    result = wait_result(maker, enqueue(maker, plan_id))
    (job,) = jobs(maker, result.id)
    text = log_text(server, maker, job)
    assert result.state == "Failed" and job.state == "Failed"
    assert "Artifact 'link' refused" in text and "outside the working directory" in text
    assert "Artifact 'parent' refused" in text
    with maker() as s:
        names = list(s.scalars(select(BambooArtifact.name).where(BambooArtifact.job_result_id == job.id)))
    assert names == ["fine"]
    assert not any("root:" in p.read_text(errors="replace")
                   for p in (server.home / "bamboo" / "artifacts").rglob("*") if p.is_file())


def test_log_streams_job_token_reads_only_its_repository_and_stop_kills_the_group(
        server: LiveServer, maker: sessionmaker[Session], repo: tuple[int, list[str]], tmp_path: Path) -> None:
    repo_id, commits = repo
    plan_id = import_plan(server, maker, SLOW, repo_id)
    result_id = enqueue(maker, plan_id)
    job, text = wait_log(server, maker, result_id, "\nstarted\n")  # readable while the job still runs
    child = int(re.search(r"child=(\d+)", text).group(1))  # type: ignore[union-attr]
    assert process_alive(child)
    with maker() as s:
        row = s.get(BambooJobResult, job.id)
        assert row is not None and row.life_cycle == "InProgress"
        bearer = f"job-{row.id}-{row.claim_token}"
    header = f"http.extraHeader=Authorization: Bearer {bearer}"
    url = f"{server.url}/scm/{KEY}/{SLUG}.git"
    clone = git("-c", header, "clone", "-q", url, str(tmp_path / "clone"), check=False)
    assert clone.returncode == 0, clone.stderr
    assert git("rev-parse", "HEAD", cwd=tmp_path / "clone").stdout.strip() == commits[-1]
    git("commit", "-q", "--allow-empty", "-m", "from a build", cwd=tmp_path / "clone")
    push = git("-c", header, "push", "-q", url, "HEAD:refs/heads/from-build", cwd=tmp_path / "clone", check=False)
    assert push.returncode != 0  # read, never write
    other = git("-c", header, "clone", "-q", f"{server.url}/scm/{KEY}/other-repo.git", str(tmp_path / "o"),
                check=False)
    assert other.returncode != 0
    wrong = git("-c", f"http.extraHeader=Authorization: Bearer job-{row.id}-{'0' * 32}", "clone", "-q", url,
                str(tmp_path / "w"), check=False)
    assert wrong.returncode != 0
    with httpx.Client(base_url=server.url) as c:  # the job token is no key to the REST APIs
        r = c.get(f"/rest/api/latest/projects/{KEY}/repos/other-repo", headers={"Authorization": f"Bearer {bearer}"})
        assert r.status_code in (401, 404)
        assert c.get(B + "/plan", headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
                     ).status_code == 401
    with maker() as s:
        result = s.get(BambooResult, result_id)
        assert result is not None
        builds.stop(s, result)
        s.commit()
    result = wait_result(maker, result_id, timeout=60)
    (job,) = jobs(maker, result_id)
    assert result.state == "Failed" and job.failure_reason == "Stopped by user"
    deadline = time.monotonic() + 10
    while process_alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process_alive(child):
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the script's background child survived the stop")
    assert "Job stopped by user" in log_text(server, maker, job)
    assert git("-c", header, "clone", "-q", url, str(tmp_path / "late"), check=False).returncode != 0


def test_protocol_refuses_bad_callers(server: LiveServer, maker: sessionmaker[Session]) -> None:
    token = (server.home / "shared" / "agent-token").read_text().strip()
    assert oct((server.home / "shared" / "agent-token").stat().st_mode & 0o777) == "0o600"
    with httpx.Client(base_url=server.url) as c:
        for headers in ({}, {"X-Culm-Agent-Token": "wrong", "X-Culm-Agent-Uuid": "u1"}):
            r = c.post(P + "/claim", headers=headers)
            assert r.status_code == 401 and r.json()["errors"] and r.json()["fieldErrors"] == {}
        good = {"X-Culm-Agent-Token": token, "X-Culm-Agent-Uuid": "test-agent-1"}
        assert c.post(P + "/claim", headers=good).status_code == 412  # not registered
        for body in ({"name": ""}, {"name": "x", "type": "SPACE"}, {"name": "x", "capabilities": {"a": 1}},
                     {"name": "x", "uuid": "someone-else"}):
            r = c.post(P + "/register", headers=good, json=body)
            assert r.status_code == 400, body
        assert c.post(P + "/register", headers=good, content=b"[1]").status_code == 400
        with maker() as s:
            assert s.scalar(select(BambooAgent).where(BambooAgent.uuid == "test-agent-1")) is None
        r = c.post(P + "/register", headers=good, json={"name": "Probe", "capabilities": {"none": "x"}})
        assert r.status_code == 200 and r.json()["type"] == "REMOTE"
        with maker() as s:  # never claims anything: keep it out of the way of the local agents
            agent = s.scalar(select(BambooAgent).where(BambooAgent.uuid == "test-agent-1"))
            assert agent is not None and agent.capabilities == {"none": "x"}
            agent.enabled = False
            s.commit()
        assert c.post(P + "/claim", headers=good, params={"wait": "0"}).status_code == 204
        for path in ("/jobs/1/log", "/jobs/1/heartbeat", "/jobs/1/finish"):
            assert c.post(P + path, headers={**good, "X-Claim-Token": "f" * 32}, content=b"{}").status_code in (
                400, 404), path
            assert c.post(P + path, headers=good).status_code == 400
        assert c.get(P + "/jobs/1/artifacts/1", headers={**good, "X-Claim-Token": "f" * 32}).status_code == 404
    assert ADMIN  # the admin client is not needed: agents never use user credentials


def test_megabytes_of_output_and_invalid_utf8(server: LiveServer, maker: sessionmaker[Session]) -> None:
    plan_id = import_plan(server, maker, LOUD, None)
    result = wait_result(maker, enqueue(maker, plan_id), timeout=180)
    (job,) = jobs(maker, result.id)
    with maker() as s:
        path = server.home / "bamboo" / "logs" / "AGT-LOUD-JOB1" / f"{builds.log_file(s, job)}.log"
    assert result.state == "Successful"
    size = path.stat().st_size
    assert 15_000_000 < size < 16_000_000 and job.log_size == size
    with path.open("rb") as f:
        head = f.read(4096).decode()
        f.seek(-500, 2)
        tail = f.read().decode()
    assert "bad \ufffd\ufffd bytes" in head and "tail-marker" in tail
