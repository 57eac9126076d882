"""Writing a commit that changes one file, without a work tree or an index.

The blob, the trees along the path and the commit object are written with the `git` program
(`hash-object -w`, `mktree`, `commit-tree`), so the repository's `core.fsync` setting covers them;
pygit2 only reads the existing trees. Moving the branch is not done here: the caller hands the new
commit to `culm.domain.refs.service.apply`, which compare-and-swaps the ref and records the change.
Objects written for an edit that loses the race stay unreachable until git's normal expiry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pygit2

from culm.git.command import run
from culm.git.storage import repo_dir

TREE_MODE = 0o040000
BLOB_MODE = 0o100644
BLOB_MODES = (0o100644, 0o100755, 0o120000)
_TYPE_OF_MODE = {0o040000: "tree", 0o160000: "commit"}


@dataclass(frozen=True)
class PathState:
    """What a tree holds at a path: `missing`, `blob`, `tree` or `commit` (a submodule), or `blocked`
    when a leading part of the path is a file (the path would have to live under a file)."""

    kind: str
    oid: str | None = None
    mode: int | None = None
    blocker: str | None = None


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


def branch_head(repo: pygit2.Repository, ref: str) -> str | None:
    """The commit id `ref` points at now (read fresh from disk), or None when it does not exist."""
    found = repo.references.get(ref)
    if found is None:
        return None
    return str(found.resolve().target)


def has_branches(repo: pygit2.Repository) -> bool:
    return any(name.startswith("refs/heads/") for name in repo.references)


def _entry(tree: pygit2.Tree, name: str) -> pygit2.Object | None:
    wanted = name.encode("utf-8")
    for entry in tree:
        if entry.raw_name == wanted:
            return entry
    return None


def path_state(repo: pygit2.Repository, tree: pygit2.Tree | None, parts: list[str]) -> PathState:
    """Walk `parts` down from `tree` (None: an empty repository) without reading any blob."""
    current = tree
    for i, part in enumerate(parts):
        if current is None:
            return PathState("missing")
        entry = _entry(current, part)
        if entry is None:
            return PathState("missing")
        last = i == len(parts) - 1
        mode = entry.filemode
        if last:
            kind = _TYPE_OF_MODE.get(mode, "blob")
            return PathState(kind, str(entry.id), mode)
        if mode == TREE_MODE:
            current = repo[entry.id]  # type: ignore[assignment]
            continue
        return PathState("blocked", blocker="/".join(parts[: i + 1]))
    return PathState("missing")


def write_blob(repo_id: int, data: bytes) -> str:
    """Store `data` byte for byte (no filters, no line-ending conversion) and return its id."""
    out = run(repo_dir(repo_id), "hash-object", "-w", "--no-filters", "--stdin", input=data)
    return out.stdout.decode().strip()


def _mktree(repo_id: int, entries: list[tuple[int, str, str, bytes]]) -> str:
    """`git mktree -z` from (mode, type, oid, raw name) entries; git sorts and checks them."""
    lines = b"".join(f"{mode:06o} {kind} {oid}\t".encode() + name + b"\0" for mode, kind, oid, name in entries)
    out = run(repo_dir(repo_id), "mktree", "-z", input=lines)
    return out.stdout.decode().strip()


def _rebuild(repo_id: int, repo: pygit2.Repository, tree: pygit2.Tree | None, parts: list[str],
             blob: str, mode: int) -> str:
    name = parts[0].encode("utf-8")
    entries: list[tuple[int, str, str, bytes]] = []
    below: pygit2.Tree | None = None
    for entry in tree or ():
        if entry.raw_name == name:
            if len(parts) > 1 and entry.filemode == TREE_MODE:
                below = repo[entry.id]  # type: ignore[assignment]
            continue
        kind = _TYPE_OF_MODE.get(entry.filemode, "blob")
        entries.append((entry.filemode, kind, str(entry.id), entry.raw_name))
    if len(parts) == 1:
        entries.append((mode, "blob", blob, name))
    else:
        entries.append((TREE_MODE, "tree", _rebuild(repo_id, repo, below, parts[1:], blob, mode), name))
    return _mktree(repo_id, entries)


def tree_with_file(repo_id: int, repo: pygit2.Repository, base: pygit2.Tree | None, parts: list[str],
                   blob: str, mode: int = BLOB_MODE) -> str:
    """A new tree: `base` with the file at `parts` set to `blob`, missing directories created. Only
    the trees along the path are rewritten; every other entry keeps its id, mode and raw name."""
    return _rebuild(repo_id, repo, base, parts, blob, mode)


def _clean(value: str) -> str:
    """git refuses or mangles identities containing these; they never come from a real name."""
    return "".join(ch for ch in value if ch not in "<>\n\r\0").strip()


def commit_tree(repo_id: int, tree: str, parents: list[str], author: Identity, message: str,
                when: int | None = None) -> str:
    """Write a commit object (author = committer) and return its id; no ref moves."""
    stamp = f"{int(time.time()) if when is None else when} +0000"
    name, email = _clean(author.name) or "unknown", _clean(author.email)
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": stamp,
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": stamp}
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    out = run(repo_dir(repo_id), *args, "-F", "-", input=message.encode("utf-8"), env=env)
    return out.stdout.decode().strip()
