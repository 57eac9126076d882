"""CI queue: how fast a trivial build starts and how many run per minute, culm beside Buildbot, in one run.

Both systems run on this machine with two build slots: culm with two local agents (`CULM_LOCAL_AGENTS=2`,
threads of the server), Buildbot with a master and two workers (separate processes, `max_builds=1` each).
The build is one shell command that appends `date +%s.%N` to a file of its own, i.e. the moment the
build's command actually runs, read with the same clock as the client's.

  1. Latency with a free agent: --builds builds (default 30) triggered one at a time after 2 untimed
     warm-ups, each waited for before the next; culm and Buildbot alternate, so a busy neighbour slows
     both alike. For each build:
       trigger request     the round trip of the trigger call (culm: POST /bamboo/rest/api/latest/queue/
                           BENCH-CI, form-encoded; Buildbot: the force scheduler's JSON-RPC POST
                           /api/v2/forceschedulers/force)
       trigger -> runs     from sending the trigger to the command's timestamp
       queued -> started   as each system records it: culm's result queued_date -> its job's started_date (ms);
                           Buildbot's buildrequest submitted_at -> build started_at (whole SECONDS in its
                           database, so only good to +-1 s)
       trigger -> seen done  from sending the trigger until a poll of the result (every 25 ms) says finished
                           (culm: GET /result/{key}; Buildbot: GET /api/v2/buildrequests/{id})
     p50 and p95 of each.
  2. Throughput: --queue builds (default 40) triggered back to back, then waited for; builds per minute
     from the first trigger to the last build seen finished. culm's batch runs first, then Buildbot's.

Peak RSS is the sum of VmHWM (the kernel's high-water mark of resident memory) over each system's
processes (culm: the server, its agents are threads; Buildbot: master and workers), read from /proc at the
end; the build commands' own short-lived shells are not counted.

Buildbot is not a dependency of culm: install it beside, e.g. in a virtual environment the script finds
by itself (--buildbot-bin names another folder holding `buildbot` and `buildbot-worker`):

    python -m venv bench/.cache/buildbot-venv && bench/.cache/buildbot-venv/bin/pip install buildbot buildbot-worker
    python bench/ci_queue.py --culm-src src            # 30 + 40 builds
    python bench/ci_queue.py --quick                   # 10 + 12 builds
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clone_push import _commit_of, free_port, stop_group, wait_http  # noqa: E402
from measure import MIB, tree_pids  # noqa: E402

USER, PASSWORD = "admin", "bench-Secret-1"
PROJECT, PLAN = "BENCH", "CI"
BAMBOO = "/bamboo/rest/api/latest"
SLOTS = 2
POLL_LATENCY = 0.025
POLL_THROUGHPUT = 0.1
BUILD_TIMEOUT = 120.0
DEFAULT_VENV = Path(__file__).resolve().parent / ".cache" / "buildbot-venv" / "bin"


class Http:
    """One keep-alive HTTP/1.1 connection (reopened once on a dropped connection)."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.port = port
        self.headers = headers or {}
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> Any:
        status, data = self.request(method, path, body, headers)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {data[:400]!r}")
        return json.loads(data)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def vm_hwm(pids: set[int]) -> int:
    """Sum of the peak resident memory (VmHWM) of `pids`, in bytes."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total


def vm_rss(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total


class System:
    """A CI server with two build slots; each build appends a timestamp to `self.stamps`."""

    name = "?"
    kind = "?"
    stamps: Path

    def trigger(self) -> str:
        """Queue one build; return a handle for `done` and `reported`."""
        raise NotImplementedError

    def done(self, handle: str) -> bool:
        raise NotImplementedError

    def reported(self, handles: list[str]) -> dict[str, dict[str, float | None]]:
        """Per handle, as the system records it (epoch seconds): queued, started, completed; ok (bool)."""
        raise NotImplementedError

    def pids(self) -> set[int]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def last_stamp(self) -> float | None:
        try:
            lines = self.stamps.read_text().split()
        except OSError:
            return None
        return float(lines[-1]) if lines else None


# ---- Buildbot -----------------------------------------------------------------------------------------

MASTER_CFG = """\
from buildbot.plugins import schedulers, steps, util, worker

c = BuildmasterConfig = {{}}
c["workers"] = [worker.Worker(f"w{{i}}", "bench-pass", max_builds=1) for i in range({slots})]
c["protocols"] = {{"pb": {{"port": "tcp:{pb}:interface=127.0.0.1"}}}}
c["change_source"] = []
c["schedulers"] = [schedulers.ForceScheduler(name="force", builderNames=["ci"])]
factory = util.BuildFactory()
factory.addStep(steps.ShellCommand(name="stamp", command="date +%s.%N >> {stamps}"))
c["builders"] = [util.BuilderConfig(name="ci", workernames=[f"w{{i}}" for i in range({slots})], factory=factory)]
c["collapseRequests"] = False  # every forced build runs, as in culm
c["services"] = []
c["title"] = "bench"
c["titleURL"] = "http://127.0.0.1:{www}/"
c["buildbotURL"] = "http://127.0.0.1:{www}/"
c["www"] = {{"port": "tcp:{www}:interface=127.0.0.1", "plugins": {{}}}}
c["db"] = {{"db_url": "sqlite:///state.sqlite"}}
c["buildbotNetUsageData"] = None
"""


def find_buildbot(given: Path | None) -> Path | None:
    """The folder holding the `buildbot` and `buildbot-worker` programs."""
    candidates = [given] if given else []
    on_path = shutil.which("buildbot")
    if not given:
        if on_path and shutil.which("buildbot-worker"):
            candidates.append(Path(on_path).parent)
        candidates.append(DEFAULT_VENV)
    for c in candidates:
        if c and (c / "buildbot").exists() and (c / "buildbot-worker").exists():
            return c
    return None


class Buildbot(System):
    name = "buildbot"

    def __init__(self, root: Path, bin_dir: Path) -> None:
        self.dir = root
        self.dir.mkdir(parents=True)
        self.stamps = self.dir / "stamps"
        self.stamps.touch()
        self.www, pb = free_port(), free_port()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Any] = []
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        master = self.dir / "master"
        run = self._run
        run([str(bin_dir / "buildbot"), "create-master", "-r", str(master)], env)
        (master / "master.cfg").write_text(MASTER_CFG.format(slots=SLOTS, pb=pb, www=self.www, stamps=self.stamps))
        version = run([str(bin_dir / "buildbot"), "--version"], env).split("\n")[0].split(":")[-1].strip()
        self.kind = f"Buildbot {version} master + {SLOTS} workers (max_builds=1), SQLite"
        self.api = Http(self.www)
        try:
            self.master = self._start([str(bin_dir / "buildbot"), "start", "--nodaemon", str(master)], env, "master")
            self.builderid = self._wait_master(master / "twistd.log")
            for i in range(SLOTS):
                wdir = self.dir / f"w{i}"
                run([str(bin_dir / "buildbot-worker"), "create-worker", "--umask=0o22", str(wdir),
                     f"127.0.0.1:{pb}", f"w{i}", "bench-pass"], env)
                self._start([str(bin_dir / "buildbot-worker"), "start", "--nodaemon", str(wdir)], env, f"w{i}")
            self._wait_workers()
        except BaseException:
            self.close()
            raise

    def _wait_master(self, log: Path) -> int:
        """The id of builder `ci` once this master answers (not another server that took the port meanwhile)."""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.master.poll() is not None:
                break
            try:
                status, body = self.api.request("GET", "/api/v2/builders/ci")
                if status == 200:
                    return int(json.loads(body)["builders"][0]["builderid"])
            except (OSError, ValueError, KeyError, IndexError):
                pass
            time.sleep(0.1)
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise RuntimeError(f"the Buildbot master did not start:\n{tail}")

    @staticmethod
    def _run(cmd: list[str], env: dict[str, str]) -> str:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {(r.stdout + r.stderr)[-1500:]}")
        return r.stdout

    def _start(self, cmd: list[str], env: dict[str, str], label: str) -> subprocess.Popen[bytes]:
        log = open(self.dir / f"{label}.log", "wb")  # noqa: SIM115
        self.logs.append(log)
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def _wait_workers(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = self.api.json("GET", "/api/v2/workers")["workers"]
            if len([w for w in workers if w.get("connected_to")]) == SLOTS:
                return
            time.sleep(0.1)
        raise RuntimeError("Buildbot workers did not connect:\n"
                           + (self.dir / "w0" / "twistd.log").read_text(errors="replace")[-2000:])

    def trigger(self) -> str:
        body = {"id": 1, "jsonrpc": "2.0", "method": "force",
                "params": {"builderid": str(self.builderid), "reason": "bench",
                           "username": "bench <bench@example.com>"}}
        r = self.api.json("POST", "/api/v2/forceschedulers/force", json.dumps(body).encode(),
                          {"Content-Type": "application/json"})
        if "result" not in r:
            raise RuntimeError(f"force: {r}")
        _bsid, brids = r["result"]
        return str(next(iter(brids.values())))

    def done(self, handle: str) -> bool:
        return bool(self.api.json("GET", f"/api/v2/buildrequests/{handle}")["buildrequests"][0]["complete"])

    def reported(self, handles: list[str]) -> dict[str, dict[str, float | None]]:
        out: dict[str, dict[str, float | None]] = {}
        for h in handles:
            br = self.api.json("GET", f"/api/v2/buildrequests/{h}")["buildrequests"][0]
            builds = self.api.json("GET", f"/api/v2/builds?buildrequestid={h}")["builds"]
            b = builds[-1] if builds else {}
            out[h] = {"queued": br.get("submitted_at"), "started": b.get("started_at"),
                      "completed": b.get("complete_at"), "ok": float(br.get("results") == 0)}
        return out

    def pids(self) -> set[int]:
        return tree_pids(p.pid for p in self.procs if p.poll() is None)

    def close(self) -> None:
        for p in reversed(self.procs):
            stop_group(p)
        for log in self.logs:
            log.close()
        if getattr(self, "api", None):
            self.api.close()


# ---- culm ---------------------------------------------------------------------------------------------

PLAN_YAML = """\
---
version: 2
plan:
  project-key: {project}
  key: {plan}
  name: CI queue benchmark
stages:
  - Default: [Stamp]
Stamp:
  key: JOB1
  tasks:
    - script:
        - 'date +%s.%N >> {stamps}'
"""


class Culm(System):
    name = "culm"

    def __init__(self, root: Path, src: Path | None, database_url: str | None) -> None:
        self.home = root / "home"
        self.home.mkdir(parents=True)
        self.stamps = root / "stamps"
        self.stamps.touch()
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CULM_")}
        env.update({"CULM_ADMIN_PASSWORD": PASSWORD, "CULM_LOCAL_AGENTS": str(SLOTS)})
        if database_url:
            env["CULM_DATABASE_URL"] = database_url
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(src.resolve()), *filter(None, [env.get("PYTHONPATH")])])
        where = subprocess.run([sys.executable, "-c", "import culm, os; print(os.path.dirname(culm.__file__))"],
                               env=env, check=True, capture_output=True, text=True).stdout.strip()
        self.db = database_url or f"sqlite:///{self.home / 'culm.db'}"
        self.kind = (f"culm serve, {SLOTS} local agents, {'PostgreSQL' if database_url else 'SQLite'}; "
                     f"code from {where}{_commit_of(Path(where))}")
        self.log_path = root / "culm.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "culm.cli", "serve", "--home", str(self.home), "--port", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.api = Http(self.port, {"Authorization": auth, "Accept": "application/json"})
        self.poll_db = False
        try:
            wait_http(f"http://127.0.0.1:{self.port}/rest/api/latest/application-properties", self.proc,
                      self.log_path)
            self.api.json("POST", f"{BAMBOO}/import/plan",
                          PLAN_YAML.format(project=PROJECT, plan=PLAN, stamps=self.stamps).encode(),
                          {"Content-Type": "application/x-yaml"})
        except BaseException:
            self.close()
            raise

    def trigger(self) -> str:
        r = self.api.json("POST", f"{BAMBOO}/queue/{PROJECT}-{PLAN}", b"",
                          {"Content-Type": "application/x-www-form-urlencoded"})
        return str(r["buildResultKey"])

    def done(self, handle: str) -> bool:
        if not self.poll_db:
            status, data = self.api.request("GET", f"{BAMBOO}/result/{handle}")
            if status == 200:
                return json.loads(data).get("lifeCycleState") in ("Finished", "NotBuilt")
            # The results API is not there (yet): read the database, as the results API would.
            print(f"culm: GET /result/{handle} answered {status}; polling the database instead", file=sys.stderr)
            self.poll_db = True
        row = self._query("SELECT r.life_cycle FROM bamboo_results r JOIN bamboo_plans p ON p.id = r.plan_id "
                          "WHERE r.number = ? AND p.key = ?", (int(handle.rsplit("-", 1)[1]), PLAN))
        return bool(row) and row[0][0] in ("Finished", "NotBuilt")

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self.db.startswith("sqlite:///"):
            conn = sqlite3.connect(f"file:{self.db.removeprefix('sqlite:///')}?mode=ro", uri=True, timeout=30)
            try:
                return conn.execute(sql, params).fetchall()
            finally:
                conn.close()
        import psycopg  # PostgreSQL runs only where culm's own dependencies are installed

        with psycopg.connect(self.db.replace("postgresql+psycopg://", "postgresql://")) as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()

    def reported(self, handles: list[str]) -> dict[str, dict[str, float | None]]:
        rows = self._query(
            "SELECT r.number, r.queued_date, j.started_date, r.completed_date, r.state "
            "FROM bamboo_results r JOIN bamboo_plans p ON p.id = r.plan_id "
            "JOIN bamboo_job_results j ON j.result_id = r.id WHERE p.key = ?", (PLAN,))
        by_number = {n: (q, s, c, state) for n, q, s, c, state in rows}
        out: dict[str, dict[str, float | None]] = {}
        for h in handles:
            q, s, c, state = by_number.get(int(h.rsplit("-", 1)[1]), (None, None, None, None))
            out[h] = {"queued": q / 1000 if q else None, "started": s / 1000 if s else None,
                      "completed": c / 1000 if c else None, "ok": float(state == "Successful")}
        return out

    def pids(self) -> set[int]:
        return tree_pids([self.proc.pid]) if self.proc.poll() is None else set()

    def close(self) -> None:
        self.api.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---- measuring ----------------------------------------------------------------------------------------

@dataclass
class Figures:
    name: str
    kind: str
    trigger_ms: list[float] = field(default_factory=list)
    runs_ms: list[float] = field(default_factory=list)
    reported_ms: list[float] = field(default_factory=list)
    done_ms: list[float] = field(default_factory=list)
    failed_builds: int = 0
    batch: int = 0
    batch_wall_s: list[float] = field(default_factory=list)
    batch_reported_s: list[float] = field(default_factory=list)
    queueing_s: list[float] = field(default_factory=list)
    idle_rss: int = 0
    peak_rss: int = 0
    error: str | None = None


def wait_done(system: System, handle: str, interval: float, deadline_s: float = BUILD_TIMEOUT) -> float:
    """Poll until the build is finished; the wall clock (time.time) when it was seen so."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if system.done(handle):
            return time.time()
        time.sleep(interval)
    raise RuntimeError(f"build {handle} not finished after {deadline_s:.0f}s")


def one_build(system: System, f: Figures | None) -> str:
    """Trigger one build and wait for it; record its figures in `f` (None: a warm-up)."""
    before = system.last_stamp()
    sent = time.time()
    t0 = time.perf_counter()
    handle = system.trigger()
    took = time.perf_counter() - t0
    seen = wait_done(system, handle, POLL_LATENCY)
    stamp = system.last_stamp()
    if f is not None:
        f.trigger_ms.append(took * 1000)
        f.done_ms.append((seen - sent) * 1000)
        if stamp is not None and stamp != before:
            f.runs_ms.append((stamp - sent) * 1000)
    return handle


def latency(systems: list[System], figures: dict[str, Figures], builds: int, warmups: int) -> None:
    handles: dict[str, list[str]] = {s.name: [] for s in systems}
    for i in range(warmups + builds):
        for s in systems:
            f = figures[s.name]
            if f.error:
                continue
            try:
                h = one_build(s, f if i >= warmups else None)
                if i >= warmups:
                    handles[s.name].append(h)
            except Exception as e:  # noqa: BLE001 - report and go on with the other system
                f.error = f"latency build {i + 1}: {e}"
                print(f"{s.name}: {f.error}", file=sys.stderr)
        if (i + 1) % 10 == 0:
            print(f"latency: {i + 1}/{warmups + builds} builds", file=sys.stderr)
    for s in systems:
        f = figures[s.name]
        if f.error or not handles[s.name]:
            continue
        rep = s.reported(handles[s.name])
        for r in rep.values():
            if r["queued"] is not None and r["started"] is not None:
                f.reported_ms.append((r["started"] - r["queued"]) * 1000)
            f.failed_builds += int(not r["ok"])


def throughput(system: System, f: Figures, count: int) -> None:
    """One batch: `count` builds triggered back to back, then waited for."""
    t0 = time.time()
    handles = [system.trigger() for _ in range(count)]
    f.queueing_s.append(time.time() - t0)
    last = t0
    for h in handles:
        last = max(last, wait_done(system, h, POLL_THROUGHPUT, BUILD_TIMEOUT + 10 * count))
    f.batch = count
    f.batch_wall_s.append(last - t0)
    rep = system.reported(handles)
    queued = [r["queued"] for r in rep.values() if r["queued"]]
    completed = [r["completed"] for r in rep.values() if r["completed"]]
    if queued and len(completed) == count:
        f.batch_reported_s.append(max(completed) - min(queued))
    f.failed_builds += sum(1 for r in rep.values() if not r["ok"])


@contextlib.contextmanager
def throwaway_database(server: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on `server` for culm, dropped afterwards."""
    import psycopg  # only where culm's PostgreSQL driver is installed

    server = server.rstrip("/")
    name = f"culm_bench_ci_{os.getpid()}_{int(time.time() * 1000) % 100000}"
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(server + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start(name: str, make: Callable[[int], System], figures: dict[str, Figures], tries: int = 3) -> System | None:
    """Start a system, again on fresh ports if it fails (a test server elsewhere may take a free port first)."""
    for attempt in range(1, tries + 1):
        try:
            return make(attempt)
        except Exception as e:  # noqa: BLE001 - report and still measure the other system
            print(f"{name}: start attempt {attempt} failed: {str(e)[-1500:]}", file=sys.stderr)
            if attempt == tries:
                figures[name] = Figures(name, name, error=f"start: {str(e)[-1500:]}")
    return None


def pct(values: list[float], q: int) -> float | None:
    """The q-th percentile (inclusive method: p50 is the median)."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="culm-bench-ci-"))
    systems: list[System] = []
    figures: dict[str, Figures] = {}
    load_before = _load()
    stack = contextlib.ExitStack()  # the throwaway PostgreSQL databases, dropped after the servers stop
    try:
        if args.only in (None, "culm"):
            culm = start("culm", lambda n: Culm(work / f"culm-{n}", args.culm_src, stack.enter_context(
                throwaway_database(args.postgres)) if args.postgres else None), figures)
            systems += [culm] if culm else []
        if args.only in (None, "buildbot"):
            bin_dir = find_buildbot(args.buildbot_bin)
            if bin_dir is None:
                figures["buildbot"] = Figures("buildbot", "Buildbot", error="buildbot and buildbot-worker not found "
                                              "(pip install buildbot buildbot-worker buildbot-www, see --help)")
                print(f"buildbot: {figures['buildbot'].error}", file=sys.stderr)
            else:
                bb = start("buildbot", lambda n: Buildbot(work / f"buildbot-{n}", bin_dir), figures)
                systems += [bb] if bb else []
        time.sleep(1)
        for s in systems:
            figures[s.name] = Figures(s.name, s.kind, idle_rss=vm_rss(s.pids()))
        latency(systems, figures, args.builds, args.warmups)
        for r in range(args.rounds):
            for s in systems:  # rounds alternate, so a busy neighbour slows both alike
                f = figures[s.name]
                if f.error:
                    continue
                try:
                    throughput(s, f, args.queue)
                    print(f"{s.name}: round {r + 1}/{args.rounds}, {args.queue} builds in {f.batch_wall_s[-1]:.1f}s",
                          file=sys.stderr)
                except Exception as e:  # noqa: BLE001
                    f.error = f"throughput: {e}"
                    print(f"{s.name}: {f.error}", file=sys.stderr)
        expected = args.warmups + args.builds + args.rounds * args.queue
        for s in systems:
            f = figures[s.name]
            f.peak_rss = vm_hwm(s.pids())
            ran = len(s.stamps.read_text().split())
            if not f.error and ran != expected:  # every build must have run its command, once
                f.error = f"{ran} build commands ran, {expected} builds were triggered"
    finally:
        for s in systems:
            try:
                s.close()
            except Exception as e:  # noqa: BLE001
                print(f"closing {s.name}: {e}", file=sys.stderr)
        stack.close()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "runs": {"builds": args.builds, "warmups": args.warmups, "queue": args.queue, "rounds": args.rounds,
                 "slots": SLOTS},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_before": load_before,
                    "load_after": _load()},
        "systems": {name: summary(f) for name, f in figures.items()},
    }


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def rate(builds: int, walls: list[float]) -> float | None:
    """Builds per minute over the median wall (None without a positive wall)."""
    wall = med(walls)
    return round(builds * 60 / wall, 1) if wall else None


def summary(f: Figures) -> dict[str, Any]:
    def r(v: float | None, digits: int = 1) -> float | None:
        return None if v is None else round(v, digits)

    return {
        "kind": f.kind, "error": f.error, "failed_builds": f.failed_builds,
        "trigger_p50_ms": r(pct(f.trigger_ms, 50)), "trigger_p95_ms": r(pct(f.trigger_ms, 95)),
        "runs_p50_ms": r(pct(f.runs_ms, 50)), "runs_p95_ms": r(pct(f.runs_ms, 95)),
        "reported_p50_ms": r(pct(f.reported_ms, 50)), "reported_p95_ms": r(pct(f.reported_ms, 95)),
        "done_p50_ms": r(pct(f.done_ms, 50)), "done_p95_ms": r(pct(f.done_ms, 95)),
        "batch": f.batch, "queueing_s": r(med(f.queueing_s), 2), "batch_wall_s": r(med(f.batch_wall_s), 2),
        "builds_per_min": rate(f.batch, f.batch_wall_s),
        # Buildbot's whole seconds can make a short batch last 0 s as recorded: no rate then.
        "builds_per_min_reported": rate(f.batch, f.batch_reported_s),
        "idle_rss_mib": r(f.idle_rss / MIB) if f.idle_rss else None,
        "peak_rss_mib": r(f.peak_rss / MIB) if f.peak_rss else None,
        "samples": {"trigger_ms": [round(v, 1) for v in f.trigger_ms], "runs_ms": [round(v, 1) for v in f.runs_ms],
                    "reported_ms": [round(v) for v in f.reported_ms], "done_ms": [round(v, 1) for v in f.done_ms],
                    "batch_wall_s": [round(v, 2) for v in f.batch_wall_s],
                    "batch_reported_s": [round(v, 2) for v in f.batch_reported_s]},
    }


ROWS = (
    ("trigger request, p50 (ms)", "trigger_p50_ms"),
    ("trigger request, p95 (ms)", "trigger_p95_ms"),
    ("trigger -> command runs, p50 (ms)", "runs_p50_ms"),
    ("trigger -> command runs, p95 (ms)", "runs_p95_ms"),
    ("queued -> started as recorded, p50 (ms)*", "reported_p50_ms"),
    ("queued -> started as recorded, p95 (ms)*", "reported_p95_ms"),
    ("trigger -> seen finished, p50 (ms)", "done_p50_ms"),
    ("trigger -> seen finished, p95 (ms)", "done_p95_ms"),
    ("queueing a batch, median (s)", "queueing_s"),
    ("batch wall, trigger to all done, median (s)", "batch_wall_s"),
    ("throughput (builds/min)", "builds_per_min"),
    ("throughput as recorded (builds/min)*", "builds_per_min_reported"),
    ("idle RSS (MiB)", "idle_rss_mib"),
    ("peak RSS, VmHWM (MiB)", "peak_rss_mib"),
)


# Buildbot records these in whole seconds (0 or 1000 ms): a ratio would mean nothing.
NO_RATIO = ("reported_p50_ms", "reported_p95_ms")


def _cell(v: object) -> str:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "-" if v is None else str(v)
    if v == 0:
        return "0"
    return f"{v:.3f}" if abs(v) < 1 else f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}"


def report(result: dict) -> str:
    systems, runs, m = result["systems"], result["runs"], result["machine"]
    lines = [f"latency: {runs['builds']} builds one at a time after {runs['warmups']} warm-ups; throughput: "
             f"{runs['rounds']} x {runs['queue']} builds queued at once; {runs['slots']} build slots each",
             f"{m['cpus']} CPUs, load average before {m['load_before']}, after {m['load_after']}"]
    for name, s in systems.items():
        lines.append(f"{name}: {s['kind']}" + (f"  [FAILED {s['error'][:300]}]" if s["error"] else "")
                     + (f"  [{s['failed_builds']} builds not successful]" if s["failed_builds"] else ""))
    lines += ["", f"{'figure':<46}{'culm':>10}{'buildbot':>10}{'culm/bb':>9}"]
    for label, key in ROWS:
        c = systems.get("culm", {}).get(key)
        b = systems.get("buildbot", {}).get(key)
        ratio = c / b if isinstance(c, float) and isinstance(b, float) and b and key not in NO_RATIO else None
        lines.append(f"{label:<46}{_cell(c):>10}{_cell(b):>10}{'-' if ratio is None else f'{ratio:.2f}':>9}")
    lines.append("")
    lines += textwrap.wrap("* as each system records it: culm in milliseconds; Buildbot stores whole seconds "
                           "(submitted_at, started_at, complete_at), so its recorded figures are only good to "
                           "+-1 s. 'command runs' is the build's own `date +%s.%N`, the same clock for both.", 110)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--builds", type=int, default=30, help="latency: builds triggered one at a time (default 30)")
    p.add_argument("--queue", type=int, default=40, help="throughput: builds queued at once (default 40)")
    p.add_argument("--rounds", type=int, default=3, help="throughput: batches per system, alternating (default 3)")
    p.add_argument("--warmups", type=int, default=2, help="untimed builds first (default 2)")
    p.add_argument("--quick", action="store_true", help="10 builds, one batch of 12, 1 warm-up")
    p.add_argument("--culm-src", type=Path, help="run culm from this source tree (put first on PYTHONPATH)")
    p.add_argument("--postgres", metavar="SERVER",
                   help="run culm on a throwaway database of this PostgreSQL server (e.g. "
                        "postgresql://postgres@127.0.0.1:5432; default: SQLite in its temporary home)")
    p.add_argument("--buildbot-bin", type=Path,
                   help=f"folder holding buildbot and buildbot-worker (default: PATH, else {DEFAULT_VENV})")
    p.add_argument("--only", choices=("culm", "buildbot"), help="benchmark one system only")
    p.add_argument("--json", action="store_true", help="print the figures (and every sample) as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (homes and logs)")
    args = p.parse_args(argv)
    if args.quick:
        args.builds, args.queue, args.rounds, args.warmups = 10, 12, 1, 1
    if args.builds < 1 or args.queue < 1 or args.rounds < 1 or args.warmups < 0:
        p.error("--builds, --queue and --rounds must be at least 1, --warmups at least 0")
    if args.culm_src is not None and not (args.culm_src / "culm" / "__init__.py").exists():
        p.error(f"--culm-src {args.culm_src}: no culm package there (give the folder that holds culm/)")
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 1 if any(s["error"] or s["failed_builds"] for s in result["systems"].values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
