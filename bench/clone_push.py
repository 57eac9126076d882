"""Clone and push over smart HTTP: culm against `git http-backend` behind nginx, in the same run.

For each server this measures
  * push: wall time of `git push` of every branch and tag of the generated repository into a new, empty
    repository, and the server's peak RSS meanwhile (median / max over --push-runs pushes);
  * clone: wall time of a full `git clone --bare` (no checkout: that is client-only work), and the
    server's peak RSS meanwhile (median / max over --runs clones);
  * ls-remote: wall time of `git ls-remote` (the ref advertisement alone: the fixed cost of a git
    operation, authentication included), after each clone;
  * idle: the server's RSS at rest after start.
RSS is the sum over the server's process tree (see measure.py). The clone runs alternate between the
servers, so a noisy neighbour slows both alike.

The peer is nginx + fcgiwrap + `git http-backend` (the setup git's documentation describes), installed
with apt when missing; if that is impossible it falls back to a small standard-library CGI server that
runs `git http-backend` (the report says which peer ran). Its repositories get the same safety settings
as culm's (fsck of received objects, fsync of committed objects), so the ratio is the cost of the server,
not of a setting.

    python bench/clone_push.py --small                        # quick, against the installed culm
    python bench/clone_push.py --culm-src /work/wt/git/src    # full, against a source tree
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cgi_peer  # noqa: E402
import gen_repo  # noqa: E402
from measure import MIB, PeakSampler, median, tree_rss  # noqa: E402

USER, PASSWORD = "admin", "bench-Secret-1"
PROJECT = "BENCH"
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
# The settings culm gives every hosted repository that change the cost of a push or clone.
PEER_REPO_CONFIG = {
    "core.fsync": "committed",
    "core.fsyncMethod": "fsync",
    "receive.fsckObjects": "true",
    "uploadpack.allowFilter": "true",
    "http.receivepack": "true",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited at start:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start:\n{log.read_text(errors='replace')[-4000:]}")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started with start_new_session=True and everything in its group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            proc.poll()
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


class Server:
    name = "?"
    kind = "?"

    def pids(self) -> list[int]:
        raise NotImplementedError

    def new_repo(self, slug: str) -> str:
        """Create an empty repository; return its clone URL with credentials."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class Culm(Server):
    name = "culm"

    def __init__(self, work: Path, src: Path | None) -> None:
        self.home = work / "culm-home"
        self.home.mkdir(parents=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in gen_repo.git_env().items() if not k.startswith("CULM_")}
        env["CULM_ADMIN_PASSWORD"] = PASSWORD
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(src.resolve()), *filter(None, [env.get("PYTHONPATH")])])
        where = subprocess.run([sys.executable, "-c", "import culm, os; print(os.path.dirname(culm.__file__))"],
                                   env=env, check=True, capture_output=True, text=True).stdout.strip()
        self.kind = f"culm serve (uvicorn), code from {where}{_commit_of(Path(where))}"
        self.log_path = work / "culm.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "culm.cli", "serve", "--home", str(self.home), "--port", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_http(self.base + "/rest/api/latest/application-properties", self.proc, self.log_path)
            self._rest("POST", "/rest/api/latest/projects", {"key": PROJECT, "name": "Benchmark"})
        except BaseException:
            self.close()
            raise

    def _rest(self, method: str, path: str, body: dict) -> dict:
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:500]!r}") from None

    def pids(self) -> list[int]:
        return [self.proc.pid]

    def new_repo(self, slug: str) -> str:
        repo = self._rest("POST", f"/rest/api/latest/projects/{PROJECT}/repos", {"name": slug})
        return f"http://{USER}:{PASSWORD}@127.0.0.1:{self.port}/scm/{PROJECT}/{repo['slug']}.git"

    def close(self) -> None:
        stop(self.proc)
        self.log.close()


def _commit_of(path: Path) -> str:
    """` at <commit>` (`+ changes` when the tree differs from it) if `path` is in a git work tree."""
    head = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return ""
    dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--", "."], capture_output=True,
                           text=True).stdout.strip()
    return f" at {head.stdout.strip()}" + (" + uncommitted changes" if dirty else "")


def _init_peer_repo(root: Path, slug: str) -> None:
    path = root / PROJECT / f"{slug}.git"
    subprocess.run(["git", "init", "--bare", "--quiet", "--initial-branch=main", str(path)], check=True,
                   env=gen_repo.git_env())
    for key, value in PEER_REPO_CONFIG.items():
        subprocess.run(["git", "-C", str(path), "config", key, value], check=True, env=gen_repo.git_env())


NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    fastcgi_temp_path {d}/tmp/fastcgi;
    proxy_temp_path {d}/tmp/proxy;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location ~ ^/scm(/.*)$ {{
            auth_basic "git";
            auth_basic_user_file {d}/htpasswd;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME {backend};
            fastcgi_param GIT_PROJECT_ROOT {repos};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $1;
            fastcgi_param REMOTE_USER $remote_user;
            fastcgi_request_buffering off;
            fastcgi_buffering off;
            fastcgi_read_timeout 3600s;
            fastcgi_send_timeout 3600s;
            fastcgi_pass unix:{sock};
        }}
    }}
}}
"""


def ensure_nginx() -> str | None:
    """Install nginx and fcgiwrap with apt when missing; None when ready, else why not."""
    def ready() -> bool:
        return all(shutil.which(p, path="/usr/sbin:/usr/bin:/sbin:/bin") for p in ("nginx", "fcgiwrap"))

    if ready():
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "nginx/fcgiwrap missing and apt-get is not usable here"
    print("installing nginx-light fcgiwrap spawn-fcgi with apt-get ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "nginx-light", "fcgiwrap",
                                                "spawn-fcgi"]):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            return f"{' '.join(cmd)} failed: {r.stderr.strip()[-300:]}"
    return None if ready() else "nginx/fcgiwrap still missing after apt-get install"


class NginxPeer(Server):
    name = "peer"
    kind = "nginx + fcgiwrap + git http-backend"

    def __init__(self, work: Path) -> None:
        d = work / "peer"
        self.repos = d / "repos"
        for sub in ("repos", "tmp"):
            (d / sub).mkdir(parents=True)
        (d / "htpasswd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        self.port = free_port()
        sock = d / "fcgiwrap.sock"
        self.log_path = d / "peer.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        # fcgiwrap stays in the foreground, so its preforked workers and their git children are our tree.
        # Its workers outlive a stopped parent: it gets a process group of its own, stopped whole.
        self.fcgi = subprocess.Popen(["fcgiwrap", "-c", "4", "-s", f"unix:{sock}"], env=gen_repo.git_env(),
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        conf = d / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user="user root;\n" if os.geteuid() == 0 else "", d=d, port=self.port,
                                          backend=HTTP_BACKEND, repos=self.repos, sock=sock))
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        self.nginx = subprocess.Popen(["nginx", "-p", str(d), "-e", str(d / "nginx-error.log"), "-c", str(conf)],
                                      stdout=self.log, stderr=subprocess.STDOUT)
        wait_http(f"http://127.0.0.1:{self.port}/", self.nginx, self.log_path)
        self.kind = f"{self.kind} ({_version(['nginx', '-v'])}, fcgiwrap -c 4)"

    def pids(self) -> list[int]:
        return [self.nginx.pid, self.fcgi.pid]

    def new_repo(self, slug: str) -> str:
        _init_peer_repo(self.repos, slug)
        return f"http://{USER}:{PASSWORD}@127.0.0.1:{self.port}/scm/{PROJECT}/{slug}.git"

    def close(self) -> None:
        stop(self.nginx, signal.SIGQUIT)
        stop_group(self.fcgi)
        self.log.close()


class CgiPeer(Server):
    name = "peer"
    kind = "stdlib CGI server (bench/cgi_peer.py) + git http-backend"

    def __init__(self, work: Path) -> None:
        self.repos = work / "peer" / "repos"
        self.repos.mkdir(parents=True)
        self.port = free_port()
        self.log_path = work / "peer" / "peer.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(cgi_peer.__file__)), "--port", str(self.port), "--root", str(self.repos),
             "--user", USER, "--password", PASSWORD], env=gen_repo.git_env(), stdout=self.log,
            stderr=subprocess.STDOUT)
        wait_http(f"http://127.0.0.1:{self.port}/", self.proc, self.log_path)

    def pids(self) -> list[int]:
        return [self.proc.pid]

    def new_repo(self, slug: str) -> str:
        _init_peer_repo(self.repos, slug)
        return f"http://{USER}:{PASSWORD}@127.0.0.1:{self.port}/scm/{PROJECT}/{slug}.git"

    def close(self) -> None:
        stop(self.proc)
        self.log.close()


def _version(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    return (r.stdout + r.stderr).strip().split(":")[-1].strip()


@dataclass
class Figures:
    server: str
    kind: str
    idle_rss: int = 0
    push_walls: list[float] = field(default_factory=list)
    push_peaks: list[int] = field(default_factory=list)
    clone_walls: list[float] = field(default_factory=list)
    clone_peaks: list[int] = field(default_factory=list)
    ls_remote_walls: list[float] = field(default_factory=list)
    error: str | None = None

    def summary(self) -> dict[str, float | None]:
        def mib(v: list[int]) -> float | None:
            return round(max(v) / MIB, 1) if v else None

        def above(v: list[int]) -> float | None:
            return round((max(v) - self.idle_rss) / MIB, 1) if v and self.idle_rss else None

        return {
            "push_wall_s": round(median(self.push_walls), 2) if self.push_walls else None,
            "push_peak_rss_mib": mib(self.push_peaks),
            "clone_wall_s": round(median(self.clone_walls), 2) if self.clone_walls else None,
            "clone_peak_rss_mib": mib(self.clone_peaks),
            "ls_remote_wall_s": round(median(self.ls_remote_walls), 3) if self.ls_remote_walls else None,
            "idle_rss_mib": round(self.idle_rss / MIB, 1) if self.idle_rss else None,
            "clone_peak_above_idle_mib": above(self.clone_peaks),
            "push_peak_above_idle_mib": above(self.push_peaks),
        }


def client_git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["git", *args], cwd=cwd, env=gen_repo.git_env(), capture_output=True, text=True)
    if r.returncode != 0:
        cmd = " ".join(a.split("@")[-1] if "://" in a else a for a in args)  # no credentials in errors
        raise RuntimeError(f"git {cmd} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    return r


def measure_op(server: Server, op: Callable[[], object]) -> tuple[float, int]:
    """Wall seconds of `op` and the server tree's peak RSS meanwhile."""
    roots = server.pids()
    with PeakSampler(lambda: tree_rss(roots)) as sampler:
        t0 = time.perf_counter()
        op()
        wall = time.perf_counter() - t0
    return wall, sampler.peak


def run(args: argparse.Namespace) -> dict:
    spec = gen_repo.SMALL if args.small else gen_repo.FULL
    t0 = time.monotonic()
    source = gen_repo.ensure(spec)
    if time.monotonic() - t0 > 1:
        print(f"generated {source} in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    st = gen_repo.stats(source)
    work = Path(tempfile.mkdtemp(prefix="culm-bench-"))
    servers: list[Server] = []
    figures: dict[str, Figures] = {}
    clone_urls: dict[str, str] = {}
    try:
        if args.only in (None, "culm"):
            try:
                servers.append(Culm(work, args.culm_src))
            except Exception as e:  # noqa: BLE001 - report and still measure the peer
                figures["culm"] = Figures("culm", "culm serve", error=f"start: {str(e)[-1500:]}")
                print(f"culm: {figures['culm'].error}", file=sys.stderr)
        if args.only in (None, "peer"):
            why = ensure_nginx() if args.peer != "cgi" else "asked for the CGI peer"
            if why:
                print(f"peer: {why}; using the stdlib CGI server", file=sys.stderr)
            servers.append(NginxPeer(work) if why is None else CgiPeer(work))
        time.sleep(1)
        for s in servers:
            figures[s.name] = Figures(s.name, s.kind, idle_rss=tree_rss(s.pids()))
        refspecs = ["refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"]
        for i in range(args.push_runs):
            for s in servers:
                f = figures[s.name]
                if f.error:
                    continue
                try:
                    url = s.new_repo(f"push-{i}")
                    wall, peak = measure_op(s, lambda u=url: client_git("push", "--quiet", u, *refspecs,
                                                                         cwd=source))
                    refs = len(client_git("ls-remote", "--refs", url).stdout.splitlines())
                    if refs != st.refs:
                        raise RuntimeError(f"push left {refs} refs on the server, expected {st.refs}")
                    f.push_walls.append(wall)
                    f.push_peaks.append(peak)
                    clone_urls.setdefault(s.name, url)
                    print(f"{s.name}: push {i + 1}/{args.push_runs} {wall:.2f}s, peak {peak / MIB:.0f} MiB",
                          file=sys.stderr)
                except Exception as e:  # noqa: BLE001 - report and go on with the other server
                    f.error = f"push: {e}"
                    print(f"{s.name}: {f.error}", file=sys.stderr)
        for i in range(args.runs):
            for s in servers:
                f = figures[s.name]
                if f.error:
                    continue
                dest = work / f"clone-{s.name}-{i}.git"
                try:
                    url = clone_urls[s.name]
                    wall, peak = measure_op(s, lambda u=url, d=dest: client_git("clone", "--bare", "--quiet", u,
                                                                                 str(d)))
                    if i == 0:
                        got = int(client_git("rev-list", "--all", "--count", cwd=dest).stdout)
                        if got != st.commits:
                            raise RuntimeError(f"clone has {got} commits, expected {st.commits}")
                    f.clone_walls.append(wall)
                    f.clone_peaks.append(peak)
                    f.ls_remote_walls.append(measure_op(s, lambda u=url: client_git("ls-remote", u))[0])
                    print(f"{s.name}: clone {i + 1}/{args.runs} {wall:.2f}s, peak {peak / MIB:.0f} MiB",
                          file=sys.stderr)
                except Exception as e:  # noqa: BLE001
                    f.error = f"clone: {e}"
                    print(f"{s.name}: {f.error}", file=sys.stderr)
                finally:
                    shutil.rmtree(dest, ignore_errors=True)
    finally:
        for s in servers:
            try:
                s.close()
            except Exception as e:  # noqa: BLE001
                print(f"closing {s.name}: {e}", file=sys.stderr)
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    summaries = {name: {**f.summary(), "kind": f.kind, "error": f.error,
                        "push_walls": [round(w, 3) for w in f.push_walls],
                        "clone_walls": [round(w, 3) for w in f.clone_walls],
                        "ls_remote_walls": [round(w, 3) for w in f.ls_remote_walls]} for name, f in figures.items()}
    ratios: dict[str, float | None] = {}
    if "culm" in summaries and "peer" in summaries:
        for _, key in ROWS:
            a, b = summaries["culm"][key], summaries["peer"][key]
            ratios[key] = round(a / b, 2) if isinstance(a, float) and isinstance(b, float) and b else None
    return {
        "repository": {"path": str(source), "commits": st.commits, "refs": st.refs, "objects": st.objects,
                       "pack_mib": round(st.pack_bytes / MIB, 1), "small": bool(args.small)},
        "runs": {"clone": args.runs, "push": args.push_runs},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "git": client_git("--version").stdout.strip()},
        "servers": summaries,
        "ratios": ratios,
    }


ROWS = (
    ("clone wall, median (s)", "clone_wall_s"),
    ("clone peak RSS (MiB)", "clone_peak_rss_mib"),
    ("push wall, median (s)", "push_wall_s"),
    ("push peak RSS (MiB)", "push_peak_rss_mib"),
    ("clone peak - idle (MiB)", "clone_peak_above_idle_mib"),
    ("push peak - idle (MiB)", "push_peak_above_idle_mib"),
    ("ls-remote wall, median (s)", "ls_remote_wall_s"),
    ("idle RSS (MiB)", "idle_rss_mib"),
)


def table(result: dict) -> str:
    repo = result["repository"]
    servers = result["servers"]
    lines = [f"repository: {repo['commits']} commits, {repo['refs']} refs, {repo['objects']} objects, "
             f"{repo['pack_mib']} MiB packed; {result['runs']['clone']} clone(s), {result['runs']['push']} push(es)"]
    for name, s in servers.items():
        lines.append(f"{name}: {s['kind']}" + (f"  [FAILED {s['error'][:200]}]" if s["error"] else ""))

    def cell(v: object) -> str:
        if not isinstance(v, float):
            return "-" if v is None else str(v)
        return f"{v:.3f}" if v < 1 else f"{v:.2f}"

    lines.append("")
    lines.append(f"{'figure':<28}{'culm':>10}{'peer':>10}{'culm/peer':>11}")
    for label, key in ROWS:
        c = servers.get("culm", {}).get(key)
        p = servers.get("peer", {}).get(key)
        lines.append(f"{label:<28}{cell(c):>10}{cell(p):>10}{cell(result['ratios'].get(key)):>11}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="use the small repository (500 commits)")
    p.add_argument("--runs", type=int, default=3, help="clones per server (the median is reported)")
    p.add_argument("--push-runs", type=int, default=1, help="pushes per server, each into a new empty repository")
    p.add_argument("--culm-src", type=Path, help="run culm from this source tree (put first on PYTHONPATH)")
    p.add_argument("--only", choices=("culm", "peer"), help="benchmark one server only")
    p.add_argument("--peer", choices=("auto", "cgi"), default="auto",
                   help="auto: nginx + fcgiwrap (installed with apt if missing), else the stdlib CGI server")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (server homes and logs)")
    args = p.parse_args(argv)
    if args.runs < 1 or args.push_runs < 1:
        p.error("--runs and --push-runs must be at least 1")
    if args.culm_src is not None and not (args.culm_src / "culm" / "__init__.py").exists():
        p.error(f"--culm-src {args.culm_src}: no culm package there (give the folder that holds culm/)")
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 1 if any(s["error"] for s in result["servers"].values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
