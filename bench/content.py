"""Content reads over the REST API at two history lengths, beside the `git` program on the same repository.

What a page costs must follow the page, not the repository: a page of commits, the root folder, one
diff, a filtered page of branches should take about as long on 100,000 commits as on 1,000. This
starts culm on a temporary home (as clone_push.py does), pushes the two generated repositories of
gen_content_repo.py (same tree of 50,000 files, same 10,000 branches, same large-diff commit; 1,000
and 100,000 commits) over smart HTTP, and then times, on each:

  floor              GET {R}                                   git rev-parse --verify HEAD
  commits page 1     GET {R}/commits?limit=25                  git log -n 25
  commits page 100   GET {R}/commits?start=2475&limit=25       git log --skip=2475 -n 25
  browse root        GET {R}/browse                            git ls-tree -l HEAD
  large diff         GET {R}/commits/{id}/diff                 git diff -M -U10 <parent> <id>, read up to
                                                               10,000 content lines (culm's cap), then stopped
  branches, filter   GET {R}/branches?filterText=release&limit=25&orderBy=ALPHABETICAL | MODIFICATION
                                                               git for-each-ref refs/heads/ [--sort=-committerdate],
                                                               the first 25 names holding "release"

The `git` reads run on culm's own bare repository of each size (the "peer": what reading the
repository costs without a server). "floor" is the fixed cost of a request (an authenticated GET of
the repository) and of starting git. For each, the median and 90th percentile over --runs runs after
--warmup warm-ups; culm and git alternate, so a busy neighbour slows both alike. An endpoint culm does
not serve (404/405) is reported as "not served" and the others are still measured.

Note: 1,000 commits hold no page 100 (start=2475): there the read walks the whole history and
returns an empty page, so the 100k/1k ratio of that row is bounded by 2,500/1,000, not 1. With --small
the deep page is page 40 (start=975), inside the 2,000 commits but past the 200.

Each push is timed too (`git push --mirror` over HTTP), beside the same push into `git http-backend`
(bench/cgi_peer.py) on a repository with culm's settings that change its cost (fsync, reflogs, fsck).

    python bench/content.py --small                       # 2,000 vs 200 commits, 5,000 files, 500 branches
    python bench/content.py --culm-src /work/wt/x/src     # full, culm from a source tree
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
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen_content_repo as gen  # noqa: E402
from clone_push import PASSWORD, PROJECT, USER, CgiPeer, Culm, client_git, measure_op  # noqa: E402
from gen_repo import git_env  # noqa: E402
from measure import MIB, median  # noqa: E402

LIMIT = 25
DIFF_MAX_LINES = 10_000  # culm.git.diff.MAX_LINES, Bitbucket's page.max.diff.lines
FILTER = "release"
LOG_FORMAT = "%H%x00%h%x00%P%x00%an%x00%ae%x00%at%x00%cn%x00%ce%x00%ct%x00%B"
SIZES = ("small", "big")


@dataclass(frozen=True)
class Op:
    """One read: the culm request (path under the repository's REST root) and its git counterpart."""

    key: str
    label: str
    culm: str
    git: Callable[[Path], int]  # runs the read on a bare repository; returns the number of items


def _git(repo: Path, *args: str) -> bytes:
    r = subprocess.run(["git", *args], cwd=repo, env=git_env(), capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {r.stderr.decode(errors='replace').strip()[-300:]}")
    return r.stdout


def _log(skip: int) -> Callable[[Path], int]:
    def read(repo: Path) -> int:
        out = _git(repo, "log", "-z", f"--format={LOG_FORMAT}", f"--skip={skip}", f"-n{LIMIT}", "HEAD", "--")
        return (out.count(b"\0") + 1) // 10 if out else 0  # 10 fields a commit; fields and commits NUL-separated
    return read


def _branches(by_date: bool) -> Callable[[Path], int]:
    def read(repo: Path) -> int:
        sort = ["--sort=-committerdate"] if by_date else []
        out = _git(repo, "for-each-ref", *sort, "--format=%(refname)%00%(objectname)", "refs/heads/")
        want = FILTER.encode()
        page = [line for line in out.splitlines() if want in line.split(b"\0")[0][len(b"refs/heads/"):].lower()]
        return len(page[:LIMIT])
    return read


def _diff(parent: str, commit: str) -> Callable[[Path], int]:
    def read(repo: Path) -> int:
        """`git diff` with culm's defaults (renames, 10 context lines), read until the cap on content lines
        that culm and Bitbucket apply (10,000), then stopped. Returns the lines read."""
        proc = subprocess.Popen(["git", "diff", "-M", "-U10", parent, commit, "--"], cwd=repo, env=git_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        content = lines = 0
        in_hunk = capped = False
        for line in proc.stdout:
            lines += 1
            if line.startswith(b"@@"):
                in_hunk = True
            elif line.startswith(b"diff --git"):
                in_hunk = False
            elif in_hunk and line[:1] in (b" ", b"+", b"-"):
                content += 1
                if content >= DIFF_MAX_LINES:
                    capped = True
                    break
        proc.stdout.close()
        if capped:
            proc.kill()
        if proc.wait() != 0 and not capped:
            raise RuntimeError(f"git diff exited with {proc.returncode}")
        return lines
    return read


def deep_page(commits: int) -> int:
    """The deep page to read: 100 (start=2475) on the full pair; within the larger history on smaller ones."""
    return min(100, max(2, commits // (2 * LIMIT)))


def operations(meta: dict, page: int = 100) -> list[Op]:
    """The reads, for a repository generated with `meta`; `page` is the deep page of commits (1-based)."""
    big, parent = meta["big_diff_commit"], meta["big_diff_parent"]
    skip = (page - 1) * LIMIT
    return [
        Op("floor", "floor (repository / rev-parse)", "",
           lambda r: len(_git(r, "rev-parse", "--verify", "HEAD")) // 41),
        Op("commits_page_1", "commits page 1", f"/commits?limit={LIMIT}", _log(0)),
        Op("commits_page_deep", f"commits page {page}", f"/commits?start={skip}&limit={LIMIT}", _log(skip)),
        Op("browse_root", "browse root", "/browse", lambda r: _git(r, "ls-tree", "-l", "-z", "HEAD").count(b"\0")),
        Op("large_diff", "large diff", f"/commits/{big}/diff", _diff(parent, big)),
        Op("branches_alpha", "branches filter, by name",
           f"/branches?filterText={FILTER}&limit={LIMIT}&orderBy=ALPHABETICAL", _branches(False)),
        Op("branches_modified", "branches filter, by date",
           f"/branches?filterText={FILTER}&limit={LIMIT}&orderBy=MODIFICATION", _branches(True)),
    ]


@dataclass
class Series:
    """Timings of one read on one side at one size."""

    times: list[float] = field(default_factory=list)
    status: str = "ok"      # ok | not served (404) | error ...
    bytes: int = 0          # size of the last response (culm) or output (git)
    items: int | None = None

    def summary(self) -> dict:
        return {"status": self.status, "median_ms": _ms(median(self.times)) if self.times else None,
                "p90_ms": _ms(p90(self.times)) if self.times else None, "runs": len(self.times),
                "bytes": self.bytes, "items": self.items}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def p90(values: list[float]) -> float:
    """The 90th percentile (nearest rank)."""
    if not values:
        raise ValueError("p90 of no values")
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 9 // 10) - 1)]


def _items(body: bytes) -> int | None:
    """How many things a culm response holds: page values, folder children, or diffs."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("values"), list):
        return len(doc["values"])
    if isinstance(doc.get("children"), dict) and isinstance(doc["children"].get("values"), list):
        return len(doc["children"]["values"])
    if isinstance(doc.get("diffs"), list):
        return len(doc["diffs"])
    return None


class Client:
    """A keep-alive HTTP/1.1 client with Basic authentication (one connection, as a UI backend would)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        """Status and body of GET `path`, following redirects as clients do (the time includes them)."""
        for _ in range(3):
            status, body, location = self._get(path)
            if status not in (301, 302, 303, 307, 308) or not location:
                break
            parts = urllib.parse.urlsplit(location)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        return status, body

    def _get(self, path: str) -> tuple[int, bytes, str | None]:
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            try:
                self.conn.request("GET", path, headers={"Authorization": self.auth, "Accept": "application/json"})
                resp = self.conn.getresponse()
                return resp.status, resp.read(), resp.getheader("Location")
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _culm_read(client: Client, path: str, series: Series) -> None:
    t0 = time.perf_counter()
    status, body = client.get(path)
    took = time.perf_counter() - t0
    if 300 <= status < 400:
        series.status = f"not served (still {status} after 3 redirects)"
    elif status in (404, 405):
        series.status = f"not served ({status}): {body[:200].decode(errors='replace')}"
    elif status != 200:
        series.status = f"error {status}: {body[:200].decode(errors='replace')}"
    else:
        series.times.append(took)
        series.bytes, series.items = len(body), _items(body)


def _git_read(op: Op, repo: Path, series: Series) -> None:
    t0 = time.perf_counter()
    try:
        series.items = op.git(repo)
    except Exception as e:  # noqa: BLE001 - report and go on
        series.status = f"error: {e}"
        return
    series.times.append(time.perf_counter() - t0)


def measure(ops: dict[str, list[Op]], repos: dict[str, Path], client: Client | None, rest_roots: dict[str, str],
            runs: int, warmup: int) -> dict[str, dict[str, dict[str, Series]]]:
    """Time every read at every size `runs` times after `warmup` untimed ones.

    Within a run each read goes size after size, culm then git, so a busy neighbour slows all alike.
    Returns size -> read -> side -> Series.
    """
    out = {name: {op.key: {"culm": Series(), "git": Series()} for op in ops[name]} for name in ops}
    for i in range(warmup + runs):
        for k in range(len(next(iter(ops.values())))):
            for name in ops:
                op = ops[name][k]
                sides = out[name][op.key]
                if client is not None and sides["culm"].status == "ok":
                    _culm_read(client, rest_roots[name] + op.culm, sides["culm"])
                if sides["git"].status == "ok":
                    _git_read(op, repos[name], sides["git"])
        if i == warmup - 1:  # the warm-ups are not counted
            for reads in out.values():
                for sides in reads.values():
                    for series in sides.values():
                        series.times.clear()
    return out


def culm_repo_path(culm: Culm, repo_id: int) -> Path:
    return culm.home / "shared" / "data" / "repositories" / str(repo_id)


def push(culm: Culm, peer: CgiPeer | None, slug: str, source: Path) -> tuple[dict, Path]:
    """Create `slug` through the API and push every ref of `source` into it; time it. The peer: the same
    push over HTTP into `git http-backend` (a repository with culm's settings that change its cost)."""
    repo = culm._rest("POST", f"/rest/api/latest/projects/{PROJECT}/repos", {"name": slug})
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:{culm.port}/scm/{PROJECT}/{repo['slug']}.git"
    wall, peak = measure_op(culm, lambda: client_git("push", "--quiet", "--mirror", url, cwd=source))
    path = culm_repo_path(culm, int(repo["id"]))
    want = gen.counts(source).branches
    got = len(_git(path, "for-each-ref", "--format=%(refname)", "refs/heads/").split())
    if got != want:
        raise RuntimeError(f"push left {got} branches in {path}, expected {want}")
    info: dict = {"slug": repo["slug"], "push_s": round(wall, 2), "push_peak_rss_mib": round(peak / MIB, 1),
                  "git_http_push_s": None}
    if peer is not None:
        peer_url = peer.new_repo(slug)
        client_git("-C", str(peer.repos / PROJECT / f"{slug}.git"), "config", "core.logAllRefUpdates", "true")
        info["git_http_push_s"] = round(measure_op(peer, lambda: client_git("push", "--quiet", "--mirror", peer_url,
                                                                             cwd=source))[0], 2)
        shutil.rmtree(peer.repos / PROJECT / f"{slug}.git", ignore_errors=True)
    return info, path


def run(args: argparse.Namespace, pair: tuple[gen.Spec, gen.Spec] | None = None,
        cache_dir: Path = gen.CACHE_DIR) -> dict:
    """Generate (or find) the pair of repositories (larger first), push them to culm, time the reads."""
    specs = dict(zip(("big", "small"), pair or (gen.SMALL if args.small else gen.FULL), strict=True))
    repos: dict[str, Path] = {}
    for name in SIZES:
        t0 = time.monotonic()
        repos[name] = gen.ensure(specs[name], cache_dir)
        if time.monotonic() - t0 > 1:
            print(f"generated {repos[name].name} in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    meta = {name: gen.meta(repos[name]) for name in SIZES}
    result: dict = {
        "sizes": {name: {"commits": specs[name].commits, "files": specs[name].files,
                         "branches": specs[name].branches, "big_diff_files": specs[name].big_diff_files,
                         "big_diff_lines": specs[name].big_diff_lines, "source": str(repos[name]),
                         "generated_s": meta[name].get("generated_s")} for name in SIZES},
        "runs": args.runs, "warmup": args.warmup, "pack_refs": bool(getattr(args, "pack_refs", False)),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "git": client_git("--version").stdout.strip(), "load_before": _load()},
        "server": None, "push": {}, "reads": {}, "errors": [],
    }
    work = Path(tempfile.mkdtemp(prefix="culm-bench-content-"))
    culm: Culm | None = None
    client: Client | None = None
    targets = dict(repos)  # what git reads: culm's own copy once pushed
    try:
        if not args.git_only:
            try:
                culm = Culm(work, args.culm_src)
                result["server"] = culm.kind
                client = Client(culm.port)
                peer = None if args.no_push_peer else CgiPeer(work)
                try:
                    for name in SIZES:
                        info, targets[name] = push(culm, peer, f"content-{specs[name].commits}", repos[name])
                        if getattr(args, "pack_refs", False):
                            _git(targets[name], "pack-refs", "--all")
                        result["push"][name] = info
                        peer_s = info["git_http_push_s"]
                        print(f"pushed {specs[name].commits} commits in {info['push_s']}s"
                              + (f" (to git http-backend: {peer_s}s)" if peer_s is not None else ""), file=sys.stderr)
                finally:
                    if peer is not None:
                        peer.close()
            except Exception as e:  # noqa: BLE001 - still measure git on the generated repositories
                result["errors"].append(f"culm: {str(e)[-1500:]}")
                print(f"culm: {e}", file=sys.stderr)
                if client is not None:
                    client.close()
                client = None
                targets = dict(repos)
        roots = {name: f"/rest/api/latest/projects/{PROJECT}/repos/{result['push'].get(name, {}).get('slug', '-')}"
                 for name in SIZES}
        print(f"measuring: {args.warmup} warm-ups, {args.runs} runs ...", file=sys.stderr)
        page = deep_page(specs["big"].commits)
        series = measure({name: operations(meta[name], page) for name in SIZES}, targets, client, roots, args.runs,
                         args.warmup)
        for name in SIZES:
            result["reads"][name] = {k: {side: s.summary() for side, s in v.items()} for k, v in series[name].items()}
        result["git_repositories"] = {name: str(targets[name]) for name in SIZES}
    finally:
        if client is not None:
            client.close()
        if culm is not None:
            culm.close()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["machine"]["load_after"] = _load()
    result["labels"] = {op.key: op.label for op in operations(meta["big"], deep_page(specs["big"].commits))}
    result["ratios"] = ratios(result)
    return result


def _load() -> list[float]:
    with contextlib.suppress(OSError):
        return [round(x, 2) for x in os.getloadavg()]
    return []


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def ratios(result: dict) -> dict:
    """Per read: big/small for each side, and culm/git at each size (medians)."""
    out: dict = {}
    small, big = result["reads"].get("small", {}), result["reads"].get("big", {})
    for key in result["labels"]:
        cell = {}
        for side in ("culm", "git"):
            cell[f"{side}_big_over_small"] = _ratio(big.get(key, {}).get(side, {}).get("median_ms"),
                                                     small.get(key, {}).get(side, {}).get("median_ms"))
        for name, reads in (("small", small), ("big", big)):
            r = reads.get(key, {})
            cell[f"culm_over_git_{name}"] = _ratio(r.get("culm", {}).get("median_ms"),
                                                   r.get("git", {}).get("median_ms"))
        out[key] = cell
    return out


def _cell(summary: dict, stat: str = "median_ms") -> str:
    if summary.get("status", "ok") != "ok":
        return "n/s" if summary["status"].startswith("not served") else "ERR"
    v = summary.get(stat)
    return "-" if v is None else (f"{v:.1f}" if v < 100 else f"{v:.0f}")


def _rcell(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def header(result: dict) -> list[str]:
    sizes = result["sizes"]
    lines = [f"repositories: {sizes['small']['commits']:,} and {sizes['big']['commits']:,} commits; "
             f"{sizes['big']['files']:,} files, {sizes['big']['branches']:,} branches, large diff "
             f"{sizes['big']['big_diff_files']:,} files x {sizes['big']['big_diff_lines']} lines; "
             f"{result['runs']} runs after {result['warmup']} warm-ups",
             f"culm: {result['server'] or 'not run'}"
             + ("; its repositories' refs packed after the push (--pack-refs)" if result.get("pack_refs") else ""),
             f"{result['machine']['cpus']} CPUs, load average before {result['machine']['load_before']}, "
             f"after {result['machine'].get('load_after')}"]
    for name in SIZES:
        if name in result["push"]:
            p = result["push"][name]
            peer = p.get("git_http_push_s")
            lines.append(f"push {sizes[name]['commits']:,} commits (git push --mirror over HTTP): culm {p['push_s']} s "
                         f"(server peak RSS {p['push_peak_rss_mib']} MiB)"
                         + (f", git http-backend {peer} s" if peer is not None else ""))
    return lines + [f"error: {e[:300]}" for e in result["errors"]]


def _short(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def table(result: dict, stat: str = "median_ms") -> list[str]:
    """One line per read: culm, git and culm/git at each size, then the big/small ratio of each side."""
    small, big = _short(result["sizes"]["small"]["commits"]), _short(result["sizes"]["big"]["commits"])
    lines = [f"{'median' if stat == 'median_ms' else 'p90'} latency (ms); n/s = not served by culm",
             f"{'operation':<32}{small + ' culm':>10}{'git':>8}{'c/g':>7}{big + ' culm':>11}{'git':>8}{'c/g':>7}"
             f"{big + '/' + small + ' culm':>15}{'git':>7}"]
    for key, label in result["labels"].items():
        s, b = result["reads"].get("small", {}).get(key, {}), result["reads"].get("big", {}).get(key, {})
        sc, sg, bc, bg = (s.get("culm", {}), s.get("git", {}), b.get("culm", {}), b.get("git", {}))
        cs = _ratio(sc.get(stat), sg.get(stat))
        cb = _ratio(bc.get(stat), bg.get(stat))
        lines.append(f"{label:<32}{_cell(sc, stat):>10}{_cell(sg, stat):>8}{_rcell(cs):>7}"
                     f"{_cell(bc, stat):>11}{_cell(bg, stat):>8}{_rcell(cb):>7}"
                     f"{_rcell(_ratio(bc.get(stat), sc.get(stat))):>15}{_rcell(_ratio(bg.get(stat), sg.get(stat))):>7}")
    return lines


def notes(result: dict) -> list[str]:
    """What each side answered (sizes and item counts), and why a read was not measured."""
    out = []
    for key in result["labels"]:
        for name in SIZES:
            reads = result["reads"].get(name, {}).get(key)
            if not reads:
                continue
            c, g = reads["culm"], reads["git"]
            where = f"  {key} at {result['sizes'][name]['commits']:,}:"
            if g["status"] != "ok":
                out.append(f"{where} git {g['status'][:200]}")
            if c["status"] != "ok":
                out.append(f"{where} culm {c['status'][:200]}")
            elif c["runs"]:
                out.append(f"{where} culm answered {c['bytes']:,} bytes, "
                           f"{c['items'] if c['items'] is not None else '?'} items; git {g['items']} items")
    return ["", "responses:", *out] if out else []


def report(result: dict) -> str:
    return "\n".join([*header(result), "", *table(result), "", *table(result, "p90_ms"), *notes(result)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="python bench/content.py [--small] [--runs 15] [--warmup 2] [--culm-src DIR] [--git-only] "
              "[--no-push-peer] [--pack-refs] [--json] [--keep]")
    p.add_argument("--small", action="store_true",
                   help="the small pair: 2,000 vs 200 commits, 5,000 files, 500 branches, a 200-file diff")
    p.add_argument("--runs", type=int, default=15, help="timed runs of every read (median and p90 reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first")
    p.add_argument("--culm-src", type=Path, help="run culm from this source tree (put first on PYTHONPATH)")
    p.add_argument("--git-only", action="store_true", help="measure the git side only (no server)")
    p.add_argument("--no-push-peer", action="store_true",
                   help="skip the push into git http-backend (the peer of the push time)")
    p.add_argument("--pack-refs", action="store_true",
                   help="pack the refs of culm's repositories after the push (as `git gc` would; culm does not)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (server home and log)")
    args = p.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be at least 1 and --warmup at least 0")
    if args.culm_src is not None and not (args.culm_src / "culm" / "__init__.py").exists():
        p.error(f"--culm-src {args.culm_src}: no culm package there (give the folder that holds culm/)")
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
