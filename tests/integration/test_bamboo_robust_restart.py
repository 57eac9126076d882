"""A server restart loses no build: builds queued on a server without agents (stopped cleanly or killed) all run
once it comes back with local agents, and a build running when the server is killed does not stay InProgress:
the reaper of the next server requeues it and it completes."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support import LiveServer, throwaway_database

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
FAST = {"CULM_AGENT_LOST_SECONDS": "3", "CULM_REAPER_INTERVAL": "0.5"}

SPECS = """\
---
version: 2
plan: {project-key: RST, key: ONE, name: One}
stages:
  - Build: [Build]
Build:
  tasks:
    - script:
        - echo "built ${bamboo.buildResultKey} colour=$bamboo_colour"
---
version: 2
plan: {project-key: RST, key: TWO, name: Two}
stages:
  - First: [A]
  - Second: [B]
A:
  tasks:
    - script:
        - echo first
B:
  key: SEC
  tasks:
    - script:
        - echo second
"""

SLOW = """\
---
version: 2
plan: {project-key: RST, key: SLOW, name: Slow}
stages:
  - Build: [Build]
Build:
  tasks:
    - script:
        - echo "pgid=$$"
        - if [ ! -e "{marker}" ]; then touch "{marker}"; echo started; sleep 30; fi
        - echo finished
"""


@pytest.fixture()
def home() -> Iterator[tuple[Path, str | None]]:
    """A server home and database that outlive one server process."""
    path = Path(tempfile.mkdtemp(prefix="culm-restart-"))
    with throwaway_database() as url:
        try:
            yield path, url
        finally:
            shutil.rmtree(path, ignore_errors=True)


def _kill(server: LiveServer) -> None:
    """SIGKILL: no shutdown hook runs (as a crash or an OOM kill)."""
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(30)
    server.log.close()


def _queue(client: httpx.Client, plan: str, colour: str) -> str:
    r = client.post(f"{B}/queue/{plan}", content=f"bamboo.variable.colour={colour}&executeAllStages=true",
                    headers={**J, **FORM})
    assert r.status_code == 200, r.text
    return r.json()["buildResultKey"]


def _result(client: httpx.Client, key: str) -> dict:
    r = client.get(f"{B}/result/{key}", params={"includeAllStates": "true"}, headers=J)
    assert r.status_code == 200, r.text
    return r.json()


def _wait_finished(client: httpx.Client, keys: list[str], timeout: float = 120) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict] = {}
    while time.monotonic() < deadline:
        for key in keys:
            if key not in done:
                res = _result(client, key)
                if res["lifeCycleState"] == "Finished":
                    done[key] = res
        if len(done) == len(keys):
            return done
        time.sleep(0.2)
    raise AssertionError(f"not finished in time: {sorted(set(keys) - set(done))}")


def _log(client: httpx.Client, job_key: str, number: int) -> str:
    r = client.get(f"/bamboo/download/{job_key}/build_logs/{job_key}-{number}.log")
    assert r.status_code == 200, r.text
    return r.text


def test_queued_builds_survive_a_stop_and_a_kill(home: tuple[Path, str | None]) -> None:
    path, url = home
    server = LiveServer(path, url, {"CULM_LOCAL_AGENTS": "0"})
    try:
        with server.client() as c:
            assert c.post(B + "/import/plan", content=SPECS, headers=J).status_code == 200
            keys = [_queue(c, "RST-ONE", "red"), _queue(c, "RST-TWO", "green")]
    finally:
        server.stop()  # a clean stop (SIGTERM)
    server = LiveServer(path, url, {"CULM_LOCAL_AGENTS": "0"})
    try:
        with server.client() as c:
            for key in keys:  # still queued after the restart
                assert _result(c, key)["lifeCycleState"] == "Queued", key
            queued = c.get(B + "/queue", params={"expand": "queuedBuilds"}, headers=J).json()["queuedBuilds"]
            assert sorted(q["buildResultKey"] for q in queued["queuedBuild"]) == sorted(keys)
            keys += [_queue(c, "RST-ONE", "blue $(touch /tmp/culm-restart-pwned) `id`")]
    finally:
        _kill(server)
    server = LiveServer(path, url, {"CULM_LOCAL_AGENTS": "2", **FAST})
    try:
        with server.client() as c:
            done = _wait_finished(c, keys)
            assert {k: (r["state"], r["buildNumber"]) for k, r in done.items()} == {
                "RST-ONE-1": ("Successful", 1), "RST-TWO-1": ("Successful", 1), "RST-ONE-2": ("Successful", 2)}
            assert "built RST-ONE-JOB1-1 colour=red" in _log(c, "RST-ONE-JOB1", 1)
            assert "colour=blue $(touch /tmp/culm-restart-pwned) `id`" in _log(c, "RST-ONE-JOB1", 2)
            assert not Path("/tmp/culm-restart-pwned").exists()
            assert "second" in _log(c, "RST-TWO-SEC", 1)
            assert c.get(B + "/queue", headers=J).json()["queuedBuilds"]["size"] == 0
            # Numbering goes on where it was: no number is handed out twice after a kill.
            assert _queue(c, "RST-ONE", "x") == "RST-ONE-3"
            _wait_finished(c, ["RST-ONE-3"])
    finally:
        server.stop()
    log = (path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


def test_build_running_when_the_server_is_killed_is_requeued_and_completes(home: tuple[Path, str | None]) -> None:
    path, url = home
    server = LiveServer(path, url, {"CULM_LOCAL_AGENTS": "2", **FAST})
    pgid = None
    try:
        with server.client() as c:
            assert c.post(B + "/import/plan", content=SLOW.replace("{marker}", str(path / "marker")),
                                headers=J).status_code == 200
            key = _queue(c, "RST-SLOW", "red")
            deadline = time.monotonic() + 60
            text = ""
            while time.monotonic() < deadline:
                r = c.get("/bamboo/download/RST-SLOW-JOB1/build_logs/RST-SLOW-JOB1-1.log")
                text = r.text if r.status_code == 200 else ""
                if "\nstarted" in text or text.startswith("started"):
                    break
                time.sleep(0.2)
            assert "started" in text, text
            pgid = int(re.search(r"pgid=(\d+)", text).group(1))  # type: ignore[union-attr]
            assert _result(c, key)["lifeCycleState"] == "InProgress"
        _kill(server)
        server = LiveServer(path, url, {"CULM_LOCAL_AGENTS": "2", **FAST})
        with server.client() as c:
            res = _wait_finished(c, [key], timeout=120)[key]
            assert res["state"] == "Successful", res
            assert "finished" in _log(c, "RST-SLOW-JOB1", 1)
            assert c.get(B + "/queue", headers=J).json()["queuedBuilds"]["size"] == 0
    finally:
        server.stop()
        if pgid is not None:  # the killed server's script was orphaned with it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
