"""The files a commit (or a range) changed, as `git diff-tree --raw` reports them, renames and copies
detected.

The output is streamed and parsing stops after `start + limit + 1` changes, so a commit touching a
million files costs no more than its first pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from culm.git import command
from culm.git.revisions import text

# git's raw status letter → (Bitbucket change type, Bitbucket's `properties.gitChangeType`).
TYPES = {
    "A": ("ADD", "ADD"),
    "M": ("MODIFY", "MODIFY"),
    "D": ("DELETE", "DELETE"),
    "R": ("MOVE", "RENAME"),
    "C": ("COPY", "COPY"),
    "T": ("MODIFY", "MODIFY"),
}

EXECUTABLE = "100755"
GITLINK = "160000"
TREE = "040000"


@dataclass(frozen=True)
class Change:
    type: str
    git_type: str
    path: str
    src_path: str | None
    old_mode: str
    new_mode: str
    old_id: str
    new_id: str
    score: int | None

    @property
    def node_type(self) -> str:
        mode = self.new_mode if self.type != "DELETE" else self.old_mode
        if mode == GITLINK:
            return "SUBMODULE"
        if mode == TREE:
            return "DIRECTORY"
        return "FILE"


def _parse(fields: Iterator[bytes]) -> Iterator[Change]:
    for head in fields:
        if not head.startswith(b":"):
            continue  # the commit id line diff-tree prints for a single commit
        old_mode, new_mode, old_id, new_id, status = head[1:].decode("ascii", errors="replace").split(" ")
        letter, digits = status[:1], status[1:]
        first = next(fields, b"")
        second = next(fields, b"") if letter in ("R", "C") else None
        kind, git_kind = TYPES.get(letter, ("UNKNOWN", "UNKNOWN"))
        if second is not None:
            path, src = text(second), text(first)
        else:
            path, src = text(first), None
        yield Change(kind, git_kind, path, src, old_mode, new_mode, old_id, new_id,
                     int(digits) if digits.isdigit() else None)


def iter_changes(git_dir: Path, old: str | None, new: str, env: dict[str, str] | None = None,
                 paths: tuple[str, ...] = ()) -> Iterator[Change]:
    """Changes from commit `old` to commit `new` (both resolved ids); `old=None` compares with the
    empty tree (a root commit: everything added)."""
    args = ["--literal-pathspecs", "diff-tree", "-r", "-z", "--raw", "--no-abbrev", "-M", "-C", "--no-color"]
    args += ["--root", new] if old is None else [old, new]
    args += ["--", *paths]
    with closing(command.stream(git_dir, *args, env=env)) as chunks:
        yield from _parse(command.nul_records(chunks))


def changes_page(git_dir: Path, old: str | None, new: str, start: int, limit: int,
                 env: dict[str, str] | None = None) -> tuple[list[Change], bool]:
    """One page of changes and whether it is the last; reads at most start + limit + 1 of them."""
    page: list[Change] = []
    more = False
    with closing(iter_changes(git_dir, old, new, env)) as changes:  # closing stops git at once
        for index, change in enumerate(changes):
            if index < start:
                continue
            if len(page) == limit:
                more = True
                break
            page.append(change)
    return page, not more
