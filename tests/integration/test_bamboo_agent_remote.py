"""Remote agents: `culm agent` as a separate process against a server without local agents. It registers (and
updates its capabilities on each start), checks out the build's revision, and runs builds needing its
capabilities; a job running too long is killed; an agent killed mid-build loses its job to the reaper (requeued
once, then failed "Agent lost"), so no build stays InProgress."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_bamboo_agent import import_plan, jobs, log_text, wait_log, wait_result

import culm.domain.models  # noqa: F401  (every table known, for foreign keys)
from bamboo_support import enqueue, maker_fixture, repo_id, server_fixture
from culm.domain.bamboo.models import BambooAgent, BambooJobResult, BambooResult
from support import LiveServer, git, pushed_repo, validating_client

KEY, SLUG = "REM", "remote-repo"
TIMEOUT = 6

BUILD = """\
---
version: 2
plan: {project-key: RAG, key: CHK, name: Checkout}
stages:
  - Build: [Build]
Build:
  requirements:
    - remote: "yes"
  tasks:
    - checkout:
        path: src
    - script:
        - echo "head=$(git -C src rev-parse HEAD)"
        - cat src/a.txt
"""

HANG = """\
---
version: 2
plan: {project-key: RAG, key: HANG, name: Hang}
stages:
  - Build: [Build]
Build:
  requirements:
    - remote: "yes"
  tasks:
    - script:
        - echo "pgid=$$"
        - echo started
        - sleep 1000
"""


server = server_fixture({"CULM_LOCAL_AGENTS": "0", "CULM_AGENT_LOST_SECONDS": "3", "CULM_REAPER_INTERVAL": "0.5",
                         "CULM_JOB_TIMEOUT": str(TIMEOUT)})
maker = maker_fixture()


@pytest.fixture(scope="module")
def repo(server: LiveServer, maker: sessionmaker[Session], tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[int, list[str]]:
    with validating_client(server) as admin:
        commits = pushed_repo(server, admin, KEY, SLUG, tmp_path_factory.mktemp("rem"),
                              [("a.txt", "old"), ("a.txt", "new")])
    return repo_id(maker, SLUG), commits


@pytest.fixture(scope="module")
def token(server: LiveServer) -> str:
    out = subprocess.run([sys.executable, "-m", "culm.cli", "admin", "agent-token", "--home", str(server.home)],
                         capture_output=True, text=True, env=_env(), check=True)
    value = out.stdout.strip()
    assert value == (server.home / "shared" / "agent-token").read_text().strip() and len(value) >= 32
    return value


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CULM_")}


class RemoteAgent:
    def __init__(self, server: LiveServer, token: str, work: Path, *caps: str, name: str = "remote-1") -> None:
        self.log = open(work.parent / f"{work.name}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
        args = [sys.executable, "-m", "culm.cli", "agent", "--server", server.url, "--token", token, "--name", name,
                "--work-dir", str(work)]
        for cap in caps:
            args += ["--capability", cap]
        self.proc = subprocess.Popen(args, env=_env(), stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture()
def agents() -> Iterator[list[RemoteAgent]]:
    started: list[RemoteAgent] = []
    yield started
    for agent in started:
        agent.stop()


def _registered(maker: sessionmaker[Session], name: str, want: dict[str, str]) -> BambooAgent:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with maker() as s:
            agent = s.scalar(select(BambooAgent).where(BambooAgent.name == name))
            if agent is not None and all(agent.capabilities.get(k) == v for k, v in want.items()):
                return agent
        time.sleep(0.1)
    raise AssertionError(f"agent {name} never registered with {want}")


def test_wrong_token_is_refused(server: LiveServer, tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "culm.cli", "agent", "--server", server.url, "--token", "nope",
                          "--work-dir", str(tmp_path / "w")], capture_output=True, text=True, env=_env(), timeout=60)
    assert out.returncode == 3 and "refused" in out.stderr


def test_remote_agent_checks_out_the_build_revision(server: LiveServer, maker: sessionmaker[Session],
                                                    repo: tuple[int, list[str]], token: str, tmp_path: Path,
                                                    agents: list[RemoteAgent]) -> None:
    repo_id, commits = repo
    work = tmp_path / "agent"
    agents.append(RemoteAgent(server, token, work, "remote=no"))
    first = _registered(maker, "remote-1", {"remote": "no"})
    assert first.type == "REMOTE" and first.capabilities["os"] == "linux"
    agents.pop().stop()
    agents.append(RemoteAgent(server, token, work, "remote=yes", "extra=1"))  # same uuid, new capabilities
    again = _registered(maker, "remote-1", {"remote": "yes", "extra": "1"})
    assert again.id == first.id and again.uuid == (work / "agent-uuid").read_text().strip()
    plan_id = import_plan(server, maker, BUILD, repo_id)
    result = wait_result(maker, enqueue(maker, plan_id, revision=commits[0]))
    (job,) = jobs(maker, result.id)
    text = log_text(server, maker, job)
    assert result.state == "Successful", text
    assert f"head={commits[0]}" in text and "\nold\n" in text
    src = work / "build-dir" / "RAG-CHK-JOB1" / "src"
    assert (src / "a.txt").read_text() == "old"
    assert git("rev-parse", "HEAD", cwd=src).stdout.strip() == commits[0]
    assert job.agent_id == first.id


def _pgid(text: str) -> int:
    return int(re.search(r"pgid=(\d+)", text).group(1))  # type: ignore[union-attr]


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def test_timeout_kills_the_job(server: LiveServer, maker: sessionmaker[Session], token: str, tmp_path: Path,
                               agents: list[RemoteAgent]) -> None:
    agents.append(RemoteAgent(server, token, tmp_path / "agent", "remote=yes", name="remote-timeout"))
    plan_id = import_plan(server, maker, HANG, None)
    result_id = enqueue(maker, plan_id)
    _, text = wait_log(server, maker, result_id, "\nstarted\n")
    pgid = _pgid(text)
    result = wait_result(maker, result_id, timeout=60)
    (job,) = jobs(maker, result_id)
    assert result.state == "Failed" and job.failure_reason == f"Timed out after {TIMEOUT} seconds"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and subprocess.run(["pgrep", "-g", str(pgid)]).returncode == 0:
        time.sleep(0.1)
    alive = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout.split()
    _kill_group(pgid)
    assert not [p for p in alive if Path(f"/proc/{p}/stat").exists()
                and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]


def test_killed_agent_loses_its_job(server: LiveServer, maker: sessionmaker[Session], token: str, tmp_path: Path,
                                    agents: list[RemoteAgent]) -> None:
    plan_id = import_plan(server, maker, HANG.replace("key: HANG", "key: LOST"), None)
    result_id = enqueue(maker, plan_id)
    groups = []
    try:
        for attempt, expect in ((1, "Queued"), (2, "Finished")):
            agent = RemoteAgent(server, token, tmp_path / f"agent{attempt}", "remote=yes", name=f"doomed-{attempt}")
            agents.append(agent)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # this agent's run (a requeued job's old log is still there)
                (job,) = jobs(maker, result_id)
                if job.life_cycle == "InProgress" and job.attempt == attempt:
                    break
                time.sleep(0.1)
            _, text = wait_log(server, maker, result_id, "\nstarted\n")
            groups.append(_pgid(text))
            agent.stop(signal.SIGKILL)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                (job,) = jobs(maker, result_id)
                if job.life_cycle != "InProgress":
                    break
                time.sleep(0.2)
            assert job.life_cycle == expect and job.attempt == attempt
        result = wait_result(maker, result_id, timeout=30)
        (job,) = jobs(maker, result_id)
        assert result.life_cycle == "Finished" and result.state == "Failed" and job.failure_reason == "Agent lost"
        with maker() as s:
            assert s.scalar(select(BambooJobResult.id).where(BambooJobResult.life_cycle == "InProgress")) is None
            assert s.scalar(select(BambooResult.id).where(BambooResult.life_cycle == "InProgress")) is None
    finally:
        for pgid in groups:  # the killed agents' scripts were orphaned with them
            _kill_group(pgid)
