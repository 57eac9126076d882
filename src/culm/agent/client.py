"""The agent side of the agent protocol: JSON over HTTP under `/bamboo/rest/culm-agent/1.0/`.

Every call carries the installation's agent token and the agent's uuid; job calls also carry the claim token,
so an agent whose job was requeued meanwhile cannot touch it (the server answers 404: `JobGone`). When the server
is unreachable or answers 5xx, calls are retried with exponential backoff (0.5 s doubling to 30 s) until they
succeed or the agent is stopped, so a server restart does not lose a running build's report."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

PREFIX = "/bamboo/rest/culm-agent/1.0"
FIRST_DELAY = 0.5
MAX_DELAY = 30.0

log = logging.getLogger("culm.agent")


class AgentStopped(Exception):
    """The agent is shutting down: give up waiting for the server."""


class AgentRefused(Exception):
    """The server refuses this agent (wrong token, disabled): retrying will not help."""


class NotRegistered(Exception):
    """The server does not know this agent's uuid (e.g. its row was deleted): register again."""


class JobGone(Exception):
    """The job is no longer ours (requeued, finished or stopped elsewhere): stop working on it, report nothing."""


def _file_chunks(path: Path, size: int = 1 << 16) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(size):
            yield chunk


class AgentClient:
    def __init__(self, server: str, token: str, uuid: str, stop: threading.Event | None = None,
                 timeout: float = 60.0) -> None:
        self.server = server.rstrip("/")
        self.base = self.server + PREFIX
        self.uuid = uuid
        self.stop = stop or threading.Event()
        self.http = httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0),
                                 headers={"X-Culm-Agent-Token": token, "X-Culm-Agent-Uuid": uuid})

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, *, body: Callable[[], Any] | None = None,
                 read_timeout: float | None = None, **kw: Any) -> httpx.Response:
        """One call, retried with backoff while the server is unreachable or failing (5xx, 429)."""
        delay = FIRST_DELAY
        attempt = 0
        while True:
            attempt += 1
            if self.stop.is_set():
                raise AgentStopped()
            if body is not None:
                kw["content"] = body()
            if read_timeout is not None:
                kw["timeout"] = httpx.Timeout(read_timeout, connect=10.0)
            try:
                resp = self.http.request(method, self.base + path, **kw)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code < 500 and resp.status_code != 429:
                    return resp
                problem = f"HTTP {resp.status_code}"
            # The first failures are usual (a local agent starts before its server listens): no alarm yet.
            log.log(logging.WARNING if attempt > 2 else logging.INFO,
                    "culm agent: %s %s failed (%s); retrying in %.1f s", method, path, problem, delay)
            if self.stop.wait(delay):
                raise AgentStopped()
            delay = min(delay * 2, MAX_DELAY)

    @staticmethod
    def _check(resp: httpx.Response, job: bool = False) -> httpx.Response:
        if resp.status_code in (401, 403):
            raise AgentRefused(f"the server refused the agent (HTTP {resp.status_code}): {resp.text[:300]}")
        if resp.status_code == 412:
            raise NotRegistered(resp.text[:300])
        if job and resp.status_code in (404, 409):
            raise JobGone(resp.text[:300])
        if resp.status_code >= 400:
            raise RuntimeError(f"agent protocol error HTTP {resp.status_code}: {resp.text[:300]}")
        return resp

    # -- agent --------------------------------------------------------------------------------------------
    def register(self, name: str, agent_type: str, capabilities: dict[str, str]) -> dict[str, Any]:
        resp = self._request("POST", "/register", json={"uuid": self.uuid, "name": name, "type": agent_type,
                                                        "capabilities": capabilities})
        return self._check(resp).json()

    def claim(self, wait: float = 20.0) -> dict[str, Any] | None:
        """Long-poll for a job: the claimed job's description, or None when none came within `wait` seconds."""
        resp = self._request("POST", "/claim", params={"wait": str(wait)}, read_timeout=wait + 30)
        if resp.status_code == 204:
            return None
        return self._check(resp).json()

    # -- one job ------------------------------------------------------------------------------------------
    def _job_headers(self, claim_token: str) -> dict[str, str]:
        return {"X-Claim-Token": claim_token}

    def log(self, job_id: int, claim_token: str, data: bytes) -> bool:
        """Append to the job's log; True when the job must be cancelled."""
        resp = self._request("POST", f"/jobs/{job_id}/log", content=data,
                             headers={**self._job_headers(claim_token), "Content-Type": "application/octet-stream"})
        return bool(self._check(resp, job=True).json().get("cancel"))

    def heartbeat(self, job_id: int, claim_token: str) -> bool:
        resp = self._request("POST", f"/jobs/{job_id}/heartbeat", headers=self._job_headers(claim_token))
        return bool(self._check(resp, job=True).json().get("cancel"))

    def upload_artifact(self, job_id: int, claim_token: str, name: str, shared: bool, tar: Path) -> dict[str, Any]:
        resp = self._request("PUT", f"/jobs/{job_id}/artifacts/{name}", body=lambda: _file_chunks(tar),
                             params={"shared": "true" if shared else "false"},
                             headers={**self._job_headers(claim_token), "Content-Type": "application/x-tar"})
        return self._check(resp, job=True).json()

    def download_artifact(self, job_id: int, claim_token: str, artifact_id: int, dest: Path) -> None:
        """Stream an earlier shared artifact of the same build (a tar) into `dest`."""
        delay = FIRST_DELAY
        while True:
            if self.stop.is_set():
                raise AgentStopped()
            try:
                with self.http.stream("GET", f"{self.base}/jobs/{job_id}/artifacts/{artifact_id}",
                                      headers=self._job_headers(claim_token)) as resp:
                    if resp.status_code < 500:
                        if resp.status_code == 404:
                            raise RuntimeError(f"artifact {artifact_id} not found on the server")
                        self._check(resp, job=True)
                        with dest.open("wb") as out:
                            for chunk in resp.iter_bytes():
                                out.write(chunk)
                        return
                    problem = f"HTTP {resp.status_code}"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            log.warning("culm agent: artifact download failed (%s); retrying in %.1f s", problem, delay)
            if self.stop.wait(delay):
                raise AgentStopped()
            delay = min(delay * 2, MAX_DELAY)

    def finish(self, job_id: int, claim_token: str, report: dict[str, Any]) -> None:
        resp = self._request("POST", f"/jobs/{job_id}/finish", json=report, headers=self._job_headers(claim_token))
        self._check(resp, job=True)
