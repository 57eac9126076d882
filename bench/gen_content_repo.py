"""Generate the repositories of the content benchmark: long history, wide tree, many branches.

The content benchmark (bench/content.py) reads a repository the way the REST API does (a page of
commits, the root folder, one large diff, a filtered page of branches) at two history lengths, to show
that what a page costs follows the page and not the size of the repository. So the two repositories
it compares differ in history length only:

* a linear `main` of `commits` commits; the first imports half of the files, the rest are added over
  the first half of history, and every other commit edits one to three files (a line or a few);
* at the head, a tree of `files` files in a few hundred folders (about 150 files in each, three levels
  deep), a few dozen entries at the root;
* `branches` branches in all (`main` included) named like real ones (`feature/abc-123`,
  `bugfix/...`, `hotfix/...`, `release/x.y`, `users/dev07/...`), pointing at commits spread through
  history;
* one commit three quarters into history that changes `big_diff_files` files, replacing
  `big_diff_lines` consecutive lines in each (the "large diff").

The stream for `git fast-import` is written here from one seeded generator, so the same parameters give
the same repository, commit ids included. The result is repacked into one pack with its refs packed and
cached under `bench/.cache/content-<commits>-...git`; `bench-content.json` in that folder records the
parameters and the ids the benchmark needs (the large-diff commit and its parent).

    python bench/gen_content_repo.py                 # 100,000 and 1,000 commits (50,000 files, 10,000 branches)
    python bench/gen_content_repo.py --small         # 2,000 and 200 commits (5,000 files, 500 branches)
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_repo import CACHE_DIR, git_env  # noqa: E402

FORMAT_VERSION = 1  # bump when the generator changes, so stale caches are not reused
META = "bench-content.json"

_VOCAB = (
    "self return def class import from if else for while in not and or is None True False try except with as "
    "yield value result items index count name path data config request response user project repository "
    "branch commit tree blob ref update create delete list get set add remove parse render check build run "
    "start stop open close read write buffer stream offset limit size length error message status code key"
)
_WORDS = _VOCAB.split()
_PUNCT = ("(", ")", ":", ",", ".", " = ", " == ", "[", "]", " + ", "{", "}", " # ")
_EXT = (".py", ".py", ".py", ".java", ".ts", ".md", ".json", ".yaml", ".c", ".h", ".go", ".rs")
_TOPS = ("api", "app", "assets", "bench", "build", "ci", "cli", "client", "core", "db", "docs", "examples",
         "i18n", "infra", "lib", "migrations", "plugins", "scripts", "sdk", "server", "services", "src", "tests",
         "tools", "ui", "vendor", "web", "worker")
_MIDS = ("common", "internal", "model", "util", "handlers", "views", "io", "store")
_ROOT_FILES = ("README.md", "LICENSE", "CHANGELOG.md", "CONTRIBUTING.md", "Makefile", "pyproject.toml",
               "package.json", ".gitignore", ".editorconfig", "setup.cfg")
_PROJECTS = ("abc", "api", "core", "web", "ui", "db", "ops", "sec", "perf", "docs", "mob", "pay")
_TOPICS = ("login", "cache", "paging", "search", "export", "import", "avatar", "webhook", "audit", "theme",
           "retry", "quota", "upload", "session", "locale", "metrics")
_POOL = 4096  # distinct lines that file contents are drawn from


@dataclass(frozen=True)
class Spec:
    """What to generate; the cache name is derived from every field."""

    commits: int = 100_000
    files: int = 50_000
    branches: int = 10_000       # refs/heads/* in all, main included
    big_diff_files: int = 2_000
    big_diff_lines: int = 25     # consecutive lines replaced in each of those files
    files_per_dir: int = 150
    seed: int = 1

    @property
    def key(self) -> str:
        return (f"content-{self.commits}-f{self.files}-b{self.branches}-d{self.big_diff_files}x{self.big_diff_lines}"
                f"-p{self.files_per_dir}-s{self.seed}-v{FORMAT_VERSION}")

    @property
    def big_diff_index(self) -> int:
        """Position in history (0 = root) of the large-diff commit: three quarters in, past the growth."""
        return min(self.commits - 1, max(1, self.commits * 3 // 4))


# The pairs the benchmark compares: same tree, branches and large diff; only history length differs.
FULL = (Spec(), Spec(commits=1_000))
SMALL_BIG = Spec(commits=2_000, files=5_000, branches=500, big_diff_files=200)
SMALL = (SMALL_BIG, replace(SMALL_BIG, commits=200))


class _Stream:
    """The evolving tree and the fast-import stream (all randomness from one seeded generator)."""

    def __init__(self, spec: Spec, out: BinaryIO) -> None:
        if spec.commits < 2 or spec.files < 1 or spec.branches < 1:
            raise ValueError("need at least 2 commits, 1 file and 1 branch")
        if spec.big_diff_files > spec.files:
            raise ValueError("the large diff cannot change more files than there are")
        self.spec = spec
        self.out = out
        self.rng = random.Random(spec.seed)
        self.pool = [self._line() for _ in range(_POOL)]
        self.dirs = self._dirs()
        self.files: dict[str, list[int]] = {}  # path -> indices into the line pool
        self.paths: list[str] = []             # in creation order, for cheap random choice
        self.time = 1_420_070_400              # 2015-01-01T00:00:00Z

    def _line(self) -> bytes:
        rng = self.rng
        words = [rng.choice(_WORDS) + (rng.choice(_PUNCT) if rng.random() < 0.4 else " ")
                 for _ in range(rng.randrange(2, 10))]
        return ("    " * rng.randrange(0, 4) + "".join(words).rstrip() + "\n").encode()

    def _dirs(self) -> list[str]:
        leaves = max(4, self.spec.files // self.spec.files_per_dir)
        tops = _TOPS[:max(2, min(len(_TOPS), leaves // 4))]
        return [f"{tops[i % len(tops)]}/{_MIDS[(i // len(tops)) % len(_MIDS)]}/pkg_{i:03d}" for i in range(leaves)]

    def _blob(self, path: str) -> None:
        data = b"".join(self.pool[i] for i in self.files[path])
        self.out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))

    def _add(self) -> None:
        n = len(self.paths)
        if n < len(_ROOT_FILES):
            path = _ROOT_FILES[n]
        else:
            path = f"{self.dirs[n % len(self.dirs)]}/file_{n:05d}{self.rng.choice(_EXT)}"
        self.files[path] = [self.rng.randrange(_POOL) for _ in range(self.rng.randrange(30, 60))]
        self.paths.append(path)
        self._blob(path)

    def _edit(self) -> None:
        rng = self.rng
        # Recent files are edited more often than old ones, as in real projects.
        path = self.paths[min(len(self.paths) - 1, int(len(self.paths) * (1 - rng.random() ** 2)))]
        lines = self.files[path]
        at = rng.randrange(0, len(lines))
        lines[at:at + rng.randrange(0, 3)] = [rng.randrange(_POOL) for _ in range(rng.randrange(1, 4))]
        if len(lines) > 90:
            del lines[:20]
        self._blob(path)

    def _big_diff(self) -> None:
        """Replace `big_diff_lines` lines in `big_diff_files` files spread over the whole tree."""
        spec = self.spec
        ordered = sorted(self.paths)
        step = len(ordered) / spec.big_diff_files
        for k in range(spec.big_diff_files):
            path = ordered[int(k * step)]
            lines = self.files[path]
            while len(lines) < spec.big_diff_lines:
                lines.append(self.rng.randrange(_POOL))
            at = self.rng.randrange(0, len(lines) - spec.big_diff_lines + 1)
            # New lines found nowhere else, so the diff is exactly big_diff_lines out and in per file.
            first = len(self.pool)
            self.pool.extend(self.pool[lines[at + j]].rstrip(b"\n") + b"  # reformatted %d.%d\n" % (k, j)
                             for j in range(spec.big_diff_lines))
            lines[at:at + spec.big_diff_lines] = range(first, first + spec.big_diff_lines)
            self._blob(path)

    def commit(self, n: int) -> None:
        spec, rng = self.spec, self.rng
        self.time += rng.randrange(300, 3 * 3600)
        who = f"Dev {rng.randrange(60):02d}"
        big = n == spec.big_diff_index
        words = " ".join(rng.choices(_WORDS, k=rng.randrange(3, 10)))
        title = "Reformat the code base" if big else f"Change {n}: {words}"
        msg = f"{title}\n".encode()
        ident = f"{who} <{who.replace(' ', '.').lower()}@example.com> {self.time} +0000\n".encode()
        self.out.write(b"commit refs/heads/main\nmark :%d\nauthor %scommitter %sdata %d\n%s"
                       % (n + 1, ident, ident, len(msg), msg))
        if n == 0:
            for _ in range(max(1, spec.files // 2)):
                self._add()
        else:
            # The other half of the files arrives over the first half of history, evenly.
            growth = max(1, (spec.commits - 1) // 2)
            want = spec.files // 2 + (spec.files - spec.files // 2) * min(n, growth) // growth
            while len(self.paths) < want:
                self._add()
            if big:
                self._big_diff()
            else:
                for _ in range(rng.choice((1, 1, 1, 2, 3))):
                    self._edit()
        self.out.write(b"\n")

    def branch_names(self) -> list[str]:
        """`branches - 1` unique names besides main: features mostly, then bugfixes, users, hotfixes, releases."""
        rng = self.rng
        names: list[str] = []
        for i in range(self.spec.branches - 1):
            kind = i % 20
            if kind < 11:
                names.append(f"feature/{rng.choice(_PROJECTS)}-{100 + i}")
            elif kind < 15:
                names.append(f"bugfix/{rng.choice(_PROJECTS).upper()}-{1000 + i}-{rng.choice(_TOPICS)}")
            elif kind < 17:
                names.append(f"users/dev{rng.randrange(60):02d}/{rng.choice(_TOPICS)}-{i}")
            elif kind < 19:
                names.append(f"hotfix/{rng.choice(_TOPICS)}-{i}")
            else:  # one in twenty: release/<major>.<minor>, in order through history
                r = i // 20
                names.append(f"release/{r // 10 + 1}.{r % 10}")
        return names

    def refs(self) -> None:
        commits = self.spec.commits
        names = self.branch_names()
        for i, name in enumerate(names):
            # Spread over history, with some jitter; marks are 1-based.
            at = min(commits - 1, int((i + self.rng.random()) * commits / max(1, len(names))))
            self.out.write(b"reset refs/heads/%s\nfrom :%d\n\n" % (name.encode(), at + 1))


def write_stream(spec: Spec, out: BinaryIO) -> None:
    out.write(b"feature done\n")
    stream = _Stream(spec, out)
    for n in range(spec.commits):
        stream.commit(n)
    stream.refs()
    out.write(b"done\n")


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env=git_env()).stdout


def build(spec: Spec, dest: Path, repack: bool = True) -> Path:
    """Build the bare repository at `dest` (which must not exist), atomically; record its metadata."""
    tmp = dest.with_name(f".tmp-{dest.name}-{uuid.uuid4().hex[:8]}")
    t0 = time.monotonic()
    try:
        _git("init", "--bare", "--quiet", "--initial-branch=main", str(tmp))
        proc = subprocess.Popen(["git", "fast-import", "--quiet", "--depth=50", "--active-branches=1"], cwd=tmp,
                                stdin=subprocess.PIPE, env=git_env())
        assert proc.stdin is not None
        with proc.stdin as stdin:
            write_stream(spec, stdin)  # type: ignore[arg-type]
        if proc.wait() != 0:
            raise RuntimeError(f"git fast-import failed with {proc.returncode}")
        if repack:
            _git("repack", "-a", "-d", "-q", "--write-bitmap-index", cwd=tmp)
            _git("prune-packed", cwd=tmp)
        _git("pack-refs", "--all", cwd=tmp)
        back = spec.commits - 1 - spec.big_diff_index
        big = _git("rev-parse", f"main~{back}", cwd=tmp).strip()
        meta = {**asdict(spec), "format": FORMAT_VERSION, "big_diff_commit": big,
                "big_diff_parent": _git("rev-parse", f"{big}^", cwd=tmp).strip(),
                "head": _git("rev-parse", "main", cwd=tmp).strip(),
                "generated_s": round(time.monotonic() - t0, 1)}
        (tmp / META).write_text(json.dumps(meta, indent=2) + "\n")
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def ensure(spec: Spec, cache_dir: Path = CACHE_DIR) -> Path:
    """The cached repository for `spec`, generated on first use."""
    dest = cache_dir / f"{spec.key}.git"
    if not (dest / META).exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(dest, ignore_errors=True)
        build(spec, dest)
    return dest


def meta(repo: Path) -> dict:
    """The parameters and commit ids recorded beside a generated repository."""
    return json.loads((repo / META).read_text())


@dataclass(frozen=True)
class Counts:
    commits: int
    files: int
    root_entries: int
    branches: int
    pack_mib: float


def counts(repo: Path) -> Counts:
    sizes = dict(line.split(": ", 1) for line in _git("count-objects", "-v", cwd=repo).splitlines())
    return Counts(
        commits=int(_git("rev-list", "--count", "main", cwd=repo)),
        files=len(_git("ls-tree", "-r", "--name-only", "-z", "main", cwd=repo).split("\0")) - 1,
        root_entries=len(_git("ls-tree", "--name-only", "-z", "main", cwd=repo).split("\0")) - 1,
        branches=len(_git("for-each-ref", "--format=%(refname)", "refs/heads/", cwd=repo).split()),
        pack_mib=round((int(sizes["size-pack"]) + int(sizes["size"])) / 1024, 1),
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="the small pair (2,000 and 200 commits)")
    p.add_argument("--commits", type=int, help="generate one repository with this many commits instead")
    args = p.parse_args(argv)
    specs = SMALL if args.small else FULL
    if args.commits:
        specs = (replace(specs[0], commits=args.commits),)
    for spec in specs:
        t0 = time.monotonic()
        repo = ensure(spec)
        c = counts(repo)
        took = time.monotonic() - t0
        print(f"{repo}\n  {c.commits} commits, {c.files} files ({c.root_entries} at the root), {c.branches} "
              f"branches, {c.pack_mib} MiB packed; generated in {meta(repo)['generated_s']}s"
              + ("" if took > 1 else " (cached)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
