"""The agent loop and the running of one job: one executor for local (thread) and remote (`culm agent`) agents.

A job runs in its own folder `{work}/build-dir/{PROJ-PLAN-JOB1}` (emptied first, kept afterwards for debugging
until the same job runs again on this agent). Every script is a process group of its own, so a timeout or a
user's stop kills it with every child it started (SIGTERM, then SIGKILL after a grace period), and nothing of a
finished script outlives it. Output is streamed to the server as it comes, in bounded chunks: a build printing
megabytes per second never makes the agent hold the whole log."""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import platform
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from culm.agent.client import AgentClient, AgentStopped, JobGone, NotRegistered

log = logging.getLogger("culm.agent")

CHUNK = 64 * 1024
FLUSH_SECONDS = 0.5
HEARTBEAT_SECONDS = 2.0
KILL_GRACE_SECONDS = 5.0
LOG_CAP = 64 << 20
MASK = "********"
# The agent's own environment passed on to build scripts: never the server's settings (CULM_*: a local agent
# runs inside the server process, whose environment may hold the database password).
ENV_KEEP = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "USER", "LOGNAME", "SHELL",
            "TMPDIR", "TZ", "TERM", "JAVA_HOME", "MAVEN_HOME", "GRADLE_HOME", "GOPATH", "GOROOT", "CARGO_HOME",
            "RUSTUP_HOME", "NODE_PATH", "VIRTUAL_ENV", "PYTHONPATH", "PYENV_ROOT", "SSL_CERT_FILE",
            "REQUESTS_CA_BUNDLE", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


# -- output: decode, mask, chunk, cap ------------------------------------------------------------------------

class LogStream:
    """Turns a process's raw output into log text for the server: invalid UTF-8 replaced, masked values (even split
    across reads) replaced by `********`, sent in chunks of at most 64 KiB, and capped at `cap` bytes per job."""

    def __init__(self, send: Callable[[bytes], None], masked: list[str] | None = None, cap: int = LOG_CAP) -> None:
        self._send = send
        self._secrets = sorted({m for m in (masked or []) if m}, key=len, reverse=True)
        # A masked value may be cut by a read: keep this many characters back until more output (or the end) comes.
        self._hold = max((len(s) for s in self._secrets), default=1) - 1
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._lock = threading.RLock()
        self._cap = cap
        self.sent_bytes = 0
        self.truncated = False
        self._line_open = False  # the last text sent did not end a line
        self.last_flush = time.monotonic()

    def write(self, data: bytes) -> None:
        with self._lock:
            self._pending += self._decoder.decode(data)
            if len(self._pending) >= CHUNK:
                self._flush(final=False)

    def line(self, text: str) -> None:
        """A message of the agent itself, on a line of its own."""
        with self._lock:
            self._pending += self._decoder.decode(b"", final=True)
            if (self._pending and not self._pending.endswith("\n")) or (not self._pending and self._line_open):
                self._pending += "\n"
            self._pending += f"[culm-agent] {text}\n"
            self._flush(final=True)

    def flush(self, final: bool = False) -> None:
        with self._lock:
            if final:
                self._pending += self._decoder.decode(b"", final=True)
            self._flush(final)

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def _flush(self, final: bool) -> None:
        self.last_flush = time.monotonic()
        text = self._mask(self._pending)
        cut = len(text) if final or self._hold <= 0 else max(0, len(text) - self._hold)
        out, self._pending = text[:cut], text[cut:]
        if out:
            self._line_open = not out.endswith("\n")
        while out:
            piece, out = out[:CHUNK], out[CHUNK:]
            self._emit(piece.encode("utf-8"))

    def _emit(self, data: bytes) -> None:
        if self.truncated:
            return
        room = self._cap - self.sent_bytes
        if len(data) > room:
            data = data[:max(0, room)] + b"\n[culm-agent] The log is truncated: it exceeded the size limit.\n"
            self.truncated = True
        self.sent_bytes += len(data)
        self._send(data)


# -- processes: one group per script -------------------------------------------------------------------------

def _group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is in the group. Zombies are ignored: they run nothing, and who
    reaps them (init) is not ours to wait for."""
    proc = Path("/proc")
    if not proc.is_dir():  # pragma: no cover - non-Linux
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run_process(argv: list[str], cwd: Path, env: dict[str, str], output: Callable[[bytes], None],
                should_stop: Callable[[], str | None], timeout: float,
                grace: float = KILL_GRACE_SECONDS) -> tuple[int, str | None]:
    """Run argv as a new process group, feeding its merged stdout/stderr to `output` as it comes.

    Returns (exit code, why it was stopped: what `should_stop` answered, "timeout", or None). When the script
    ends, anything it left running in its group is killed too, so a build never leaves processes behind."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    pgid = proc.pid
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + max(0.0, timeout)
    reason: str | None = None
    term_at: float | None = None
    killed = False
    eof = False
    exited_at: float | None = None
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    try:
        while True:
            if not eof:
                for _key, _events in selector.select(0.1):
                    data = os.read(fd, CHUNK)
                    if data:
                        output(data)
                    else:
                        eof = True
                        selector.unregister(fd)
            else:
                time.sleep(0.05)
            now = time.monotonic()
            if reason is None and term_at is None:
                reason = should_stop() or ("timeout" if now >= deadline else None)
            exited = proc.poll() is not None
            if term_at is None and (reason is not None or (exited and _group_alive(pgid))):
                _signal_group(pgid, signal.SIGTERM)
                term_at = now
            if term_at is not None and not killed and now - term_at >= grace and _group_alive(pgid):
                _signal_group(pgid, signal.SIGKILL)
                killed = True
            if exited and (term_at is None or not _group_alive(pgid)):
                if eof:
                    break
                exited_at = exited_at or now
                if now - exited_at > 2.0:  # something that left the group still holds the pipe: stop reading
                    break
    finally:
        if proc.poll() is None:
            _signal_group(pgid, signal.SIGKILL)
            proc.wait()
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        selector.close()
        proc.stdout.close()
    return proc.returncode, reason


def script_env(variables: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """The agent's safe environment, `bamboo_X` for every variable (dots and other characters -> `_`), then
    the task's own environment. Values are data: they are never evaluated by a shell."""
    env = {k: v for k, v in os.environ.items() if k in ENV_KEEP}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    for name, value in variables.items():
        env["bamboo_" + "".join(c if c.isalnum() or c == "_" else "_" for c in name)] = str(value).replace("\x00", "")
    env.update(extra or {})
    return env


# -- one job -------------------------------------------------------------------------------------------------

class JobFailed(Exception):
    """A task failed; the message is logged and the remaining (non-final) tasks are skipped."""


class JobRun:
    """Runs one claimed job and reports it. The server's `cancel` answer (user stop) and the job timeout kill
    the running script; a job the server no longer knows as ours (requeued) is abandoned without a report."""

    def __init__(self, client: AgentClient, job: dict[str, Any], work_dir: Path, stop: threading.Event,
                 local_timeout: float | None = None) -> None:
        self.client = client
        self.job = job
        self.job_id = int(job["job_result_id"])
        self.claim_token = str(job["claim_token"])
        self.work_dir = work_dir
        build_key = str(job.get("job_result_key", "job")).rsplit("-", 1)[0] or "job"
        self.workdir = work_dir / "build-dir" / build_key
        self.tmpdir = work_dir / "tmp" / build_key
        self.stop = stop
        timeout = float(job.get("timeout_seconds") or 3600)
        if local_timeout:
            timeout = min(timeout, local_timeout)
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.variables: dict[str, str] = {k: str(v) for k, v in (job.get("variables") or {}).items()}
        self.result_variables: dict[str, str] = {}
        self.tests: list[dict[str, Any]] = []
        self.artifacts: list[dict[str, Any]] = []
        self.cancelled = threading.Event()
        self.gone = threading.Event()
        self.stopped_reason: str | None = None
        self.log = LogStream(self._send_log, list(job.get("masked") or []))
        self._last_contact = time.monotonic()

    # -- talking to the server
    def _send_log(self, data: bytes) -> None:
        if self.gone.is_set():
            return
        try:
            if self.client.log(self.job_id, self.claim_token, data):
                self.cancelled.set()
        except JobGone:
            self.gone.set()
        self._last_contact = time.monotonic()

    def _reporter(self, done: threading.Event) -> None:
        """Flushes pending output every 0.5 s and heartbeats every 2 s while the job runs."""
        while not done.wait(FLUSH_SECONDS / 2):
            try:
                if time.monotonic() - self.log.last_flush >= FLUSH_SECONDS:
                    self.log.flush()
                if time.monotonic() - self._last_contact >= HEARTBEAT_SECONDS and not self.gone.is_set():
                    if self.client.heartbeat(self.job_id, self.claim_token):
                        self.cancelled.set()
                    self._last_contact = time.monotonic()
            except JobGone:
                self.gone.set()
            except AgentStopped:
                return
            except Exception:  # keep heartbeating whatever one call did
                log.exception("culm agent: reporting job %s failed", self.job_id)

    def should_stop(self) -> str | None:
        if self.gone.is_set():
            return "gone"
        if self.cancelled.is_set():
            return "cancelled"
        if self.stop.is_set():
            return "agent stopped"
        if time.monotonic() >= self.deadline:
            return "timeout"
        return None

    # -- running
    def run(self) -> None:
        from culm.agent import tasks

        done = threading.Event()
        reporter = threading.Thread(target=self._reporter, args=(done,), name=f"culm-agent-report-{self.job_id}",
                                    daemon=True)
        reporter.start()
        successful, failure = True, None
        try:
            for folder in (self.workdir, self.tmpdir):
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True, exist_ok=True)
            self.variables["build.working.directory"] = str(self.workdir)
            self.variables.setdefault("agentWorkingDirectory", str(self.work_dir))
            self.log.line(f"Build {self.job.get('job_result_key')} started on agent "
                          f"{socket.gethostname()} in {self.workdir}")
            try:
                tasks.download_subscriptions(self)
                for index, task in enumerate(self.job.get("tasks") or []):
                    if self.should_stop():
                        break
                    tasks.run_task(self, task, index)
            except JobFailed as exc:
                successful, failure = False, str(exc)
                self.log.line(f"Failing the job: {exc}")
            if not self.should_stop():
                for index, task in enumerate(self.job.get("final_tasks") or []):
                    if self.should_stop():
                        break
                    try:
                        tasks.run_task(self, task, index, final=True)
                    except JobFailed as exc:
                        if successful:
                            successful, failure = False, str(exc)
                        self.log.line(f"Final task failed: {exc}")
            if not self.should_stop():
                try:
                    tasks.save_artifacts(self)
                except JobFailed as exc:
                    if successful:
                        successful, failure = False, str(exc)
                    self.log.line(f"Failing the job: {exc}")
            if any(t["status"] == "failed" for t in self.tests) and successful:
                successful, failure = False, "Tests failed"
            reason = self.should_stop()
            if reason == "cancelled":
                successful, failure = False, "Stopped by user"
            elif reason == "timeout":
                successful, failure = False, f"Timed out after {int(self.timeout)} seconds"
            if reason in ("cancelled", "timeout"):
                self.log.line(f"Job {failure.lower() if failure else 'stopped'}.")
            if reason in ("gone", "agent stopped"):
                self.log.line("The agent gave the job up: " + ("it was taken from this agent" if reason == "gone"
                                                               else "the agent is shutting down"))
                return
            self.log.line(f"Finished job {self.job.get('job_result_key')} with result: "
                          f"{'Success' if successful else 'Failed'}")
        except (AgentStopped, JobGone):
            return
        except Exception as exc:  # the agent's own failure: report it rather than leaving the job hanging
            log.exception("culm agent: job %s crashed", self.job_id)
            successful, failure = False, f"Agent error: {type(exc).__name__}: {exc}"
            try:
                self.log.line(failure)
            except (AgentStopped, JobGone):
                return
        finally:
            done.set()
            reporter.join(10)
            with contextlib.suppress(AgentStopped, JobGone):
                self.log.flush(final=True)
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        if self.gone.is_set() or self.stop.is_set():
            return
        with contextlib.suppress(AgentStopped, JobGone):
            self.client.finish(self.job_id, self.claim_token, {
                "successful": successful, "failure_reason": failure, "tests": self.tests,
                "artifacts": self.artifacts, "result_variables": self.result_variables})


# -- the agent -----------------------------------------------------------------------------------------------

def builtin_capabilities(name: str, agent_type: str) -> dict[str, str]:
    caps = {"os": platform.system().lower(), "agent.name": name, "agent.type": agent_type.lower(),
            "system.hostname": socket.gethostname()}
    git = shutil.which("git")
    if git:
        caps["system.git.executable"] = git
    for tool in ("sh", "bash", "python3", "make", "docker", "java", "node", "mvn", "gradle", "go"):
        found = shutil.which(tool)
        if found:
            caps[f"system.builder.command.{tool}"] = found
    return caps


def agent_uuid(work_dir: Path) -> str:
    """The agent's identity, kept in its work folder so a restarted agent is the same agent."""
    path = work_dir / "agent-uuid"
    if path.is_file():
        value = path.read_text().strip()
        if value:
            return value
    work_dir.mkdir(parents=True, exist_ok=True)
    value = str(uuidlib.uuid4())
    path.write_text(value + "\n")
    return value


class Agent:
    """Register, then claim and run jobs one at a time until stopped."""

    def __init__(self, server: str, token: str, work_dir: Path, name: str | None = None, agent_type: str = "REMOTE",
                 capabilities: dict[str, str] | None = None, stop: threading.Event | None = None,
                 claim_wait: float = 20.0, uuid: str | None = None) -> None:
        self.work_dir = work_dir.resolve()
        self.uuid = uuid or agent_uuid(self.work_dir)
        self.name = name or f"{socket.gethostname()}"
        self.agent_type = agent_type
        self.capabilities = {**builtin_capabilities(self.name, agent_type), **(capabilities or {})}
        self.stop = stop or threading.Event()
        self.claim_wait = claim_wait
        self._server, self._token = server, token
        self.client = AgentClient(server, token, self.uuid, self.stop)
        self.current: JobRun | None = None

    def register(self) -> dict[str, Any]:
        return self.client.register(self.name, self.agent_type, self.capabilities)

    def run(self) -> None:
        """The loop; returns when `stop` is set. A refused agent (wrong token) raises AgentRefused."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self.client.http.is_closed:  # run again after a crash
            self.client = AgentClient(self._server, self._token, self.uuid, self.stop)
        try:
            self.register()
            log.info("culm agent %s registered with %s", self.name, self._server)
            while not self.stop.is_set():
                try:
                    job = self.client.claim(self.claim_wait)
                except NotRegistered:
                    self.register()
                    continue
                if job is None:
                    continue
                self.current = JobRun(self.client, job, self.work_dir, self.stop)
                log.info("culm agent %s: running %s", self.name, job.get("job_result_key"))
                try:
                    self.current.run()
                finally:
                    self.current = None
                log.info("culm agent %s: done with %s", self.name, job.get("job_result_key"))
        except AgentStopped:
            pass
        finally:
            self.client.close()
