"""Generate a large, deterministic git repository for the clone/push benchmark.

The repository is written by `git fast-import` from a stream made here (fast, and the same bytes for
the same parameters), then repacked into one pack, and cached under `bench/.cache/` so a benchmark run
pays for it once. History: one linear `main` with a few release branches and tags; files grow from a
few hundred to a few thousand over the first part of history; most commits edit a few text files, some
add files, a few delete one, and about one in twenty adds or replaces a binary asset (random bytes,
which do not compress or delta, as images and archives in real repositories do not).

    python bench/gen_repo.py            # the full repository (20,000 commits, a few hundred MiB)
    python bench/gen_repo.py --small    # 500 commits, a few MiB
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
FORMAT_VERSION = 1  # bump when the generator changes, so stale caches are not reused

_VOCAB = (
    "self return def class import from if else elif for while in not and or is None True False try except "
    "finally with as yield lambda pass break continue raise assert global value result items index count "
    "name path data config request response user project repository branch commit tree blob object ref "
    "update create delete list get set add remove parse render check build test run start stop open close "
    "read write buffer stream offset limit size length error message status code key id hash token cache "
    "node child parent left right first last next prev head tail line column width height total sum max "
    "min range len str int float dict bool bytes print logger debug info warning options args kwargs"
)
_WORDS = _VOCAB.split()
_PUNCT = ("(", ")", ":", ",", ".", " = ", " == ", "[", "]", " + ", " - ", "{", "}", "'", '"', " # ")
_TEXT_EXT = (".py", ".py", ".py", ".java", ".md", ".txt", ".json", ".yaml", ".c", ".h", ".js", ".html")
_BIN_EXT = (".png", ".jpg", ".bin", ".zip", ".pdf")


@dataclass(frozen=True)
class Spec:
    """What to generate; the cache key is derived from every field."""

    commits: int = 20_000
    files: int = 3_000          # files present at the end of the file-growth phase
    text_median: int = 3_000    # bytes; text file sizes are log-normal around this
    binary_median: int = 100_000
    binary_rate: float = 0.05   # share of commits that add or replace a binary asset
    seed: int = 1

    @property
    def key(self) -> str:
        return (f"v{FORMAT_VERSION}-c{self.commits}-f{self.files}-t{self.text_median}-b{self.binary_median}"
                f"-r{self.binary_rate:g}-s{self.seed}")


FULL = Spec()
SMALL = Spec(commits=500, files=400, binary_median=50_000)


class _History:
    """The evolving tree and the stream writer (all randomness from one seeded generator)."""

    def __init__(self, spec: Spec, out: BinaryIO) -> None:
        self.spec = spec
        self.out = out
        self.rng = random.Random(spec.seed)
        self.text: dict[str, list[bytes]] = {}   # path -> lines
        self.binary: set[str] = set()
        self.dirs = self._make_dirs(max(4, spec.files // 15))
        self.next_file = 0
        self.time = 1_420_070_400  # 2015-01-01T00:00:00Z

    def _make_dirs(self, n: int) -> list[str]:
        tops = ["src", "lib", "tests", "docs", "tools", "web", "assets"]
        out: list[str] = []
        for i in range(n):
            top = tops[i % len(tops)]
            depth = 1 + i % 3
            parts = [top] + [f"{top[:3]}_{(i * 7 + d * 13) % 97:02d}" for d in range(depth)]
            out.append("/".join(parts))
        return sorted(set(out))

    def _lognormal(self, median: int, sigma: float, cap: int) -> int:
        return max(16, min(cap, int(self.rng.lognormvariate(math.log(median), sigma))))

    def _line(self) -> bytes:
        rng = self.rng
        indent = "    " * rng.randrange(0, 4)
        n = rng.randrange(2, 10)
        words = [rng.choice(_WORDS) + (rng.choice(_PUNCT) if rng.random() < 0.4 else " ") for _ in range(n)]
        return (indent + "".join(words).rstrip() + "\n").encode()

    def _lines(self, nbytes: int) -> list[bytes]:
        out: list[bytes] = []
        total = 0
        while total < nbytes:
            line = self._line()
            out.append(line)
            total += len(line)
        return out

    def _new_path(self, binary: bool) -> str:
        self.next_file += 1
        ext = self.rng.choice(_BIN_EXT if binary else _TEXT_EXT)
        return f"{self.rng.choice(self.dirs)}/file_{self.next_file:05d}{ext}"

    def _blob(self, path: str, data: bytes) -> None:
        self.out.write(b"M 100644 inline %s\ndata %d\n" % (path.encode(), len(data)))
        self.out.write(data)
        self.out.write(b"\n")

    def _add_text(self) -> None:
        path = self._new_path(False)
        self.text[path] = self._lines(self._lognormal(self.spec.text_median, 1.1, 400_000))
        self._blob(path, b"".join(self.text[path]))

    def _edit_text(self) -> None:
        path = self.rng.choice(list(self.text)) if len(self.text) < 64 else self._pick_text()
        lines = self.text[path]
        at = self.rng.randrange(0, len(lines) + 1)
        drop = min(len(lines) - at, self.rng.randrange(0, 12))
        median = self.spec.text_median  # edits of 40..2,400 bytes for the default 3,000
        lines[at:at + drop] = self._lines(self.rng.randrange(max(8, median // 75), max(9, median * 4 // 5)))
        self._blob(path, b"".join(lines))

    def _pick_text(self) -> str:
        # Recent files are edited more often than old ones, as in real projects.
        keys = self._text_keys
        return keys[min(len(keys) - 1, int(len(keys) * (1 - self.rng.random() ** 2)))]

    def _binary(self) -> None:
        if self.binary and self.rng.random() < 0.4:
            path = self.rng.choice(sorted(self.binary))
        else:
            path = self._new_path(True)
            self.binary.add(path)
        self._blob(path, self.rng.randbytes(self._lognormal(self.spec.binary_median, 1.0, 4_000_000)))

    def _delete(self) -> None:
        path = self._pick_text()
        del self.text[path]
        self.out.write(b"D %s\n" % path.encode())

    def commit(self, n: int) -> None:
        rng = self.rng
        self.time += rng.randrange(600, 4 * 3600)
        self._text_keys = list(self.text)
        who = f"Dev {rng.randrange(40):02d}"
        msg = f"Change {n}: {' '.join(rng.choice(_WORDS) for _ in range(rng.randrange(3, 12)))}\n".encode()
        self.out.write(b"commit refs/heads/main\nmark :%d\n" % (n + 1))
        ident = f"{who} <{who.replace(' ', '.').lower()}@example.com> {self.time} +0000\n".encode()
        self.out.write(b"author " + ident + b"committer " + ident)
        self.out.write(b"data %d\n%s" % (len(msg), msg))
        growth_end = max(1, int(self.spec.commits * 0.6))
        if n == 0:
            for _ in range(max(1, self.spec.files // 10)):
                self._add_text()
            self.out.write(b"\n")
            return
        want = self.spec.files * min(1.0, 0.1 + 0.9 * n / growth_end)
        adds = 0
        while len(self.text) + len(self.binary) + adds < want and adds < 6:
            adds += 1
        for _ in range(adds or (1 if rng.random() < 0.05 else 0)):
            self._add_text()
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 6))):
            self._edit_text()
        if rng.random() < self.spec.binary_rate:
            self._binary()
        if len(self.text) > 50 and rng.random() < 0.01:
            self._delete()
        self.out.write(b"\n")

    def refs(self) -> None:
        """Release tags every 1,000 commits (every 100 when small) and a branch on every fifth tag."""
        step = 1000 if self.spec.commits >= 5000 else 100
        for i, mark in enumerate(range(step, self.spec.commits + 1, step), start=1):
            self.out.write(b"reset refs/tags/v%d.0\nfrom :%d\n\n" % (i, mark))
            if i % 5 == 0:
                self.out.write(b"reset refs/heads/release/%d\nfrom :%d\n\n" % (i, mark))


def write_stream(spec: Spec, out: BinaryIO) -> None:
    out.write(b"feature done\n")
    history = _History(spec, out)
    for n in range(spec.commits):
        history.commit(n)
    history.refs()
    out.write(b"done\n")


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env=git_env()).stdout


def git_env() -> dict[str, str]:
    """A git environment that ignores the user's and the system's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0"})
    return env


def build(spec: Spec, dest: Path, repack: bool = True) -> Path:
    """Build the bare repository at `dest` (which must not exist), atomically."""
    tmp = dest.with_name(f".tmp-{dest.name}-{uuid.uuid4().hex[:8]}")
    try:
        _git("init", "--bare", "--quiet", "--initial-branch=main", str(tmp))
        proc = subprocess.Popen(["git", "fast-import", "--quiet", "--depth=50"], cwd=tmp, stdin=subprocess.PIPE,
                                env=git_env())
        assert proc.stdin is not None
        with proc.stdin as stdin:
            write_stream(spec, stdin)  # type: ignore[arg-type]
        if proc.wait() != 0:
            raise RuntimeError(f"git fast-import failed with {proc.returncode}")
        if repack:
            _git("repack", "-a", "-d", "-q", "--write-bitmap-index", cwd=tmp)
            _git("prune-packed", cwd=tmp)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def ensure(spec: Spec, cache_dir: Path = CACHE_DIR) -> Path:
    """The cached repository for `spec`, generated on first use."""
    dest = cache_dir / f"repo-{spec.key}.git"
    if not dest.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        build(spec, dest)
    return dest


@dataclass(frozen=True)
class RepoStats:
    commits: int
    refs: int
    objects: int
    pack_bytes: int


def stats(repo: Path) -> RepoStats:
    counts = dict(line.split(": ", 1) for line in _git("count-objects", "-v", cwd=repo).splitlines())
    objects = int(counts["count"]) + int(counts["in-pack"])
    pack = int(counts["size-pack"]) * 1024 + int(counts["size"]) * 1024
    return RepoStats(
        commits=int(_git("rev-list", "--all", "--count", cwd=repo)),
        refs=len(_git("for-each-ref", "--format=%(refname)", cwd=repo).split()),
        objects=objects,
        pack_bytes=pack,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="the small repository (500 commits)")
    p.add_argument("--commits", type=int, help="override the number of commits")
    p.add_argument("--out", type=Path, help="write here instead of the cache (must not exist)")
    args = p.parse_args(argv)
    spec = SMALL if args.small else FULL
    if args.commits:
        spec = Spec(**{**spec.__dict__, "commits": args.commits})
    t0 = time.monotonic()
    repo = build(spec, args.out) if args.out else ensure(spec)
    s = stats(repo)
    print(f"{repo}\n  {s.commits} commits, {s.refs} refs, {s.objects} objects, "
          f"{s.pack_bytes / 2**20:.1f} MiB packed ({time.monotonic() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
