"""Commit history: pages of `git log`, counts, merge bases, and the last commit to touch each entry of
a directory.

Cost follows the page: a page is `git log --skip=S --max-count=L+1`, so git stops walking once the
page and one look-ahead commit are found. Every value a client sent is resolved to a commit id (see
`revisions`) or passed as a literal path after `--` before it reaches git.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pygit2

from culm.core.errors import ValidationError
from culm.git import command
from culm.git.command import run
from culm.git.revisions import CommitInfo, commit_info

MERGES = ("include", "exclude", "only")

# last-modified walks at most this many commits; entries still unresolved are left out.
LAST_MODIFIED_MAX_COMMITS = 20000


@dataclass(frozen=True)
class LogQuery:
    """What a page of history is made of: tips, excluded commits, a path filter and merge handling."""

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    path: str | None = None
    merges: str = "include"
    follow: bool = False


def _log_args(q: LogQuery) -> list[str]:
    args = ["--literal-pathspecs", "-c", "log.follow=false", "log", "--format=%H", "--no-color"]
    if q.merges == "exclude":
        args.append("--no-merges")
    elif q.merges == "only":
        args.append("--merges")
    if q.follow and q.path:
        args.append("--follow")
    return args


def _revs(q: LogQuery) -> list[str]:
    """Commit ids only (already resolved), so nothing here can be read as an option."""
    return [*q.include, *(f"^{oid}" for oid in q.exclude)]


def _pathspec(q: LogQuery) -> list[str]:
    return ["--", q.path] if q.path else ["--"]


def log_page(git_dir: Path, repo: pygit2.Repository, q: LogQuery, start: int, limit: int,
             env: dict[str, str] | None = None) -> tuple[list[CommitInfo], bool]:
    """One page of commits (newest first, git's default order) and whether it is the last page.
    `env` (from `alternate_env`) lets the tips live in another repository's objects."""
    if not q.include:
        return [], True
    out = run(git_dir, *_log_args(q), f"--skip={int(start)}", f"--max-count={int(limit) + 1}",
              *_revs(q), *_pathspec(q), env=env).stdout
    oids = out.decode("ascii", errors="replace").split()
    commits = [commit_info(repo.get(oid)) for oid in oids[:limit]]
    return commits, len(oids) <= limit


def log_counts(git_dir: Path, q: LogQuery) -> tuple[int, int]:
    """(total commits, distinct authors) of a whole query: only on request (`withCounts`), as it
    walks the full history."""
    if not q.include:
        return 0, 0
    args = _log_args(q)
    args[args.index("--format=%H")] = "--format=%aE"
    total = 0
    authors: set[bytes] = set()
    for line in _stream_lines(git_dir, [*args, *_revs(q), *_pathspec(q)]):
        total += 1
        authors.add(line.strip().lower())
    return total, len(authors)


def _stream_lines(git_dir: Path, args: Sequence[str]) -> Iterator[bytes]:
    """Lines of a git command's output, read as they come (bounded memory)."""
    with command.popen(git_dir, *args) as proc:
        assert proc.stdout is not None
        yield from proc.stdout


def first_touching(git_dir: Path, oid: str, path: str) -> str | None:
    """The first commit from `oid` backwards that changed `path` (getCommit's `path`)."""
    out = run(git_dir, "--literal-pathspecs", "log", "--format=%H", "--max-count=1", oid, "--", path).stdout
    return out.decode("ascii", errors="replace").strip() or None


def merge_base(repo: pygit2.Repository, a: str, b: str) -> str | None:
    try:
        oid = repo.merge_base(a, b)
    except (pygit2.GitError, KeyError, ValueError):
        return None
    return str(oid) if oid is not None else None


def add_alternate(repo: pygit2.Repository, other_git_dir: Path) -> None:
    """Let `repo` read another repository's objects for this handle only (compare with `fromRepo`).
    Nothing is written to disk."""
    repo.odb.add_disk_alternate(str(other_git_dir / "objects"))


def alternate_env(other_git_dir: Path | None) -> dict[str, str] | None:
    """The same for a git process: read-only access to another repository's objects."""
    return {"GIT_ALTERNATE_OBJECT_DIRECTORIES": str(other_git_dir / "objects")} if other_git_dir else None


# -- last modified ----------------------------------------------------------------------------------
def _tree_at(commit: pygit2.Commit, path: str) -> pygit2.Tree | None:
    tree = commit.tree
    if not path:
        return tree
    try:
        entry = tree[path]
    except (KeyError, ValueError):
        return None
    return entry if isinstance(entry, pygit2.Tree) else None


def directory_entries(commit: pygit2.Commit, path: str) -> dict[bytes, str] | None:
    """Raw entry name → object id of the directory `path` at `commit`; None if it is not a directory."""
    tree = _tree_at(commit, path)
    if tree is None:
        return None
    return {entry.raw_name: str(entry.id) for entry in tree}


def entry_kind(commit: pygit2.Commit, path: str) -> str | None:
    """'tree', 'blob', 'commit' (a submodule) or None when `path` is absent at `commit`."""
    if not path:
        return "tree"
    try:
        entry = commit.tree[path]
    except (KeyError, ValueError):
        return None
    return entry.type_str


def _entry_id(tree: pygit2.Tree, raw_name: bytes) -> str | None:
    """The id of entry `raw_name` of `tree` (a binary search in libgit2); names that are not UTF-8
    cannot be looked up by name through pygit2, so those few are found by a scan."""
    try:
        name = raw_name.decode("utf-8")
    except UnicodeDecodeError:
        return next((str(e.id) for e in tree if e.raw_name == raw_name), None)
    try:
        return str(tree[name].id)
    except KeyError:
        return None


@dataclass
class LastModified:
    files: dict[bytes, CommitInfo]
    latest: CommitInfo | None


def last_modified(repo: pygit2.Repository, at: pygit2.Commit, path: str, only: bytes | None = None,
                  max_commits: int = LAST_MODIFIED_MAX_COMMITS) -> LastModified:
    """For each entry of directory `path` at `at`, the newest commit that introduced the version the
    entry has at `at`: a commit whose entry id equals the target id while none of its parents has
    that id. Walks history newest first and stops once every entry is resolved (or after
    `max_commits`). Only tree entry ids are compared; nothing is diffed. `only` restricts the answer
    to one entry (last-modified of a single file)."""
    target = directory_entries(at, path) or {}
    if only is not None:
        target = {only: target[only]} if only in target else {}
    here = _tree_at(at, path)
    wanted: dict[bytes | None, str] = {name: oid for name, oid in target.items()}
    if path and here is not None:
        wanted[None] = str(here.id)  # None stands for the directory itself (latestCommit)
    found: dict[bytes | None, CommitInfo] = {}
    walker = repo.walk(at.id, pygit2.enums.SortMode.TIME)
    seen = 0
    for commit in walker:
        if not wanted or seen >= max_commits:
            break
        seen += 1
        dir_here = _tree_at(commit, path)
        if dir_here is None:
            continue
        parent_dirs = [_tree_at(p, path) for p in commit.parents]
        if any(p is not None and p.id == dir_here.id for p in parent_dirs):
            continue  # the directory is the same as in a parent: this commit introduced nothing here
        for name in list(wanted):
            oid = wanted[name]
            if name is None:
                if str(dir_here.id) == oid:
                    found[None] = commit_info(commit)
                    del wanted[None]
                continue
            if _entry_id(dir_here, name) != oid:
                continue
            if any(p is not None and _entry_id(p, name) == oid for p in parent_dirs):
                continue
            found[name] = commit_info(commit)
            del wanted[name]
    latest = found.pop(None, None) if path else commit_info(at)
    files = {name: found[name] for name in target if name in found}  # tree order
    return LastModified(files=files, latest=latest)


def clean_path(value: str | None, context: str = "path") -> str | None:
    """A repository path as clients send it (`/src/x/`, `src//x`) made canonical, or None for the
    root. `..`, `.` and NUL are refused: paths name entries of a tree, never walk out of one."""
    if value is None:
        return None
    if "\x00" in value:
        raise ValidationError(f"The path '{value}' is not valid.", context=context)
    parts = [p for p in value.replace("\\", "/").split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ValidationError(f"The path '{value}' is not valid.", context=context)
    return "/".join(parts) or None


def empty_tree(oid_length: int) -> str:
    """The empty tree's id (known to git without being stored), for diffs against nothing."""
    if oid_length == 64:
        return "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"
    return "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
