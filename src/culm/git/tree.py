"""Reading trees: checking the paths clients send, finding a path at a commit, listing one page of a
directory, and streaming a page of every file below a directory.

Paths come from URLs as text; git stores names as bytes. A name that is not UTF-8 is shown to clients
with replacement characters (`revisions.text`), so a path component that does not match any name exactly
is also matched against the shown form of each name: what a client was shown, it can send back.

Nothing here reads a blob: sizes come from the object database's header (`Odb.read_header`), and
directory pages index the tree entries they need, so the root of a 50,000-file tree costs one page.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pygit2

from culm.core.errors import ValidationError
from culm.git import command
from culm.git.revisions import text

FILE = "FILE"
DIRECTORY = "DIRECTORY"
SUBMODULE = "SUBMODULE"

MODE_TREE = 0o040000
MODE_GITLINK = 0o160000


def clean_path(raw: str | None) -> str:
    """The repository path a client asked for, '' for the root. Refuses what could leave the tree or be
    read as an option: `..`/`.` components, absolute paths, empty components, NUL, a leading `-`."""
    if raw is None:
        return ""
    path = raw.rstrip("/")
    if not path:
        return "" if not raw else _bad(raw)
    if path.startswith("/") or path.startswith("-") or "\x00" in path:
        _bad(raw)
    if any(part in ("", ".", "..") for part in path.split("/")):
        _bad(raw)
    return path


def _bad(raw: str) -> str:
    raise ValidationError(f"The path '{raw}' is not valid.", context="path")


def kind_of(mode: int) -> str:
    if mode == MODE_TREE:
        return DIRECTORY
    if mode == MODE_GITLINK:
        return SUBMODULE
    return FILE


@dataclass(frozen=True)
class Node:
    """One path at one commit: what it is, its object id, mode, and its name as git stores it."""

    path: str  # as shown to clients ('' for the root)
    raw_path: bytes  # exactly as stored in git
    kind: str
    oid: str
    mode: int


def _child(tree: pygit2.Tree, name: str) -> pygit2.Object | None:
    try:
        return tree[name]
    except (KeyError, ValueError, TypeError):
        pass
    # Not an exact (UTF-8) name: a name that is not UTF-8 was shown to the client with replacements.
    if "\ufffd" not in name:
        return None
    for entry in tree:
        if text(entry.raw_name) == name:
            return entry
    return None


def find(commit: pygit2.Commit, path: str) -> Node | None:
    """The node `path` (already `clean_path`ed) names at `commit`, or None when it does not exist."""
    tree = commit.tree
    if not path:
        return Node("", b"", DIRECTORY, str(tree.id), MODE_TREE)
    raw_parts: list[bytes] = []
    shown: list[str] = []
    parts = path.split("/")
    entry: pygit2.Object | None = None
    for i, part in enumerate(parts):
        entry = _child(tree, part)
        if entry is None:
            return None
        raw_parts.append(entry.raw_name)
        shown.append(text(entry.raw_name))
        if i < len(parts) - 1:
            if entry.filemode != MODE_TREE:
                return None
            tree = entry.peel(pygit2.Tree)
    assert entry is not None
    return Node("/".join(shown), b"/".join(raw_parts), kind_of(entry.filemode), str(entry.id), entry.filemode)


@dataclass(frozen=True)
class Child:
    name: str
    kind: str
    oid: str
    mode: int
    size: int | None  # files (and symlinks) only


def blob_size(repo: pygit2.Repository, oid: str) -> int:
    """A blob's size from the object header: the content is never inflated."""
    return int(repo.odb.read_header(oid)[1])


def list_dir(repo: pygit2.Repository, tree_oid: str, start: int, limit: int) -> tuple[list[Child], bool]:
    """One page of a directory's entries in git's order, plus whether it is the last page."""
    tree = repo.get(tree_oid)
    if not isinstance(tree, pygit2.Tree):
        return [], True
    total = len(tree)
    end = min(total, start + limit)
    out: list[Child] = []
    for i in range(start, end):
        entry = tree[i]
        kind = kind_of(entry.filemode)
        size = blob_size(repo, str(entry.id)) if kind == FILE else None
        out.append(Child(text(entry.raw_name), kind, str(entry.id), entry.filemode, size))
    return out, end >= total


def list_files(git_dir: Path, tree_oid: str, start: int, limit: int) -> tuple[list[str], bool]:
    """A page of every file below a tree, recursively, paths relative to it. Streams `git ls-tree -r`
    and stops reading after start+limit+1 entries, so a page's cost follows its position, not the tree."""
    wanted = start + limit + 1
    seen = 0
    page: list[str] = []
    with closing(command.stream(git_dir, "ls-tree", "-r", "-z", tree_oid)) as chunks:  # closing stops git
        for record in command.nul_records(chunks):
            meta, _, name = record.partition(b"\t")
            if meta.split(b" ", 2)[1:2] != [b"blob"]:
                continue  # submodules (commit entries) are not files
            if start <= seen < start + limit:
                page.append(text(name))
            seen += 1
            if seen >= wanted:
                break
    return page, seen < wanted
