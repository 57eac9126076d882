"""Reading branches: one `git for-each-ref` per listing (cheap with 10,000 branches), branches that
contain a commit, and ahead/behind counts computed in-process (pygit2) for just one page of branches.

Ref names are bytes in git; they are shown as UTF-8 with invalid sequences replaced, never an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pygit2

from culm.git.command import run
from culm.git.revisions import text
from culm.git.storage import repo_dir

HEADS = "refs/heads/"


@dataclass(frozen=True)
class BranchRef:
    ref: str  # full name, refs/heads/...
    commit: str

    @property
    def name(self) -> str:
        return self.ref[len(HEADS):]


def _rows(out: bytes, fields: int) -> list[list[str]]:
    rows = []
    for line in out.split(b"\n"):
        parts = line.split(b"\x00")
        if len(parts) == fields and parts[-1]:
            rows.append([text(p) for p in parts])
    return rows


def list_branches(repo_id: int, by_modification: bool) -> list[BranchRef]:
    """Every branch, most recently committed first (`by_modification`) or by name (git's byte order).
    One git process whatever the number of branches; commit objects are read only to sort by date."""
    sort = ["--sort=-committerdate"] if by_modification else ["--sort=refname"]
    proc = run(repo_dir(repo_id), "for-each-ref", *sort, "--format=%(objectname)%00%(refname)", HEADS)
    return [BranchRef(ref, oid) for oid, ref in _rows(proc.stdout, 2)]


def containing(repo_id: int, commit: str) -> list[BranchRef]:
    """Branches whose history contains `commit` (a full object id already known to exist), by name."""
    proc = run(repo_dir(repo_id), "for-each-ref", "--sort=refname", "--format=%(objectname)%00%(refname)",
               "--contains", commit, HEADS)
    return [BranchRef(ref, oid) for oid, ref in _rows(proc.stdout, 2)]


def branch_commit(repo_id: int, ref: str) -> str | None:
    """The commit the branch `ref` (full name) points at, or None when there is no such branch."""
    proc = run(repo_dir(repo_id), "for-each-ref", "--format=%(objectname)%00%(refname)", ref, check=False)
    for oid, name in _rows(proc.stdout, 2):
        if name == ref:
            return oid
    return None


def overlapping(repo_id: int, ref: str) -> str | None:
    """An existing ref that makes `ref` impossible to create as a file (`a` vs `a/b`), or None."""
    path = repo_dir(repo_id)
    parts = ref.split("/")
    parents = ["/".join(parts[:i]) for i in range(3, len(parts))]  # refs/heads/a for refs/heads/a/b
    args = ["for-each-ref", "--count=1", "--format=%(refname)", ref + "/"]
    below = text(run(path, *args, check=False).stdout).strip()
    if below:
        return below
    if parents:
        proc = run(path, "for-each-ref", "--format=%(refname)", *parents, check=False)
        for name in text(proc.stdout).splitlines():
            if name in parents:
                return name
    return None


def ahead_behind(repo: pygit2.Repository, base: str, commits: Iterable[str]) -> dict[str, tuple[int, int]]:
    """{commit: (ahead, behind)} of each commit against `base`: commits only on the branch, and commits
    only on the base. Computed in-process, so a page of 25 branches costs no extra git process."""
    result: dict[str, tuple[int, int]] = {}
    base_id = pygit2.Oid(hex=base)
    for commit in set(commits):
        try:
            ahead, behind = repo.ahead_behind(pygit2.Oid(hex=commit), base_id)
        except (pygit2.GitError, ValueError, KeyError):
            continue
        result[commit] = (ahead, behind)
    return result
