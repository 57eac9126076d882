"""Git questions a rescope asks: which commits a pull request gained and lost when one of its ends
moved. A pull request's commits are those reachable from its source tip and not from its target tip,
so `added = new − old` and `removed = old − new` of those sets, counted with bounded walks."""

from __future__ import annotations

from dataclasses import dataclass

import pygit2

from culm.git.revisions import CommitInfo, commit_info, open_repo

# Walk at most this many commits per side: a rescope of a huge history still costs a bounded amount.
MAX_WALK = 10000


@dataclass(frozen=True)
class Delta:
    """The first `limit` commits (newest first) and how many there are (up to MAX_WALK)."""

    commits: list[CommitInfo]
    total: int


def _has(repo: pygit2.Repository, oid: str) -> bool:
    try:
        return isinstance(repo.get(oid), pygit2.Commit)
    except (ValueError, KeyError, pygit2.GitError):
        return False


def _walk(repo: pygit2.Repository, tip: str, hide: list[str]) -> list[pygit2.Commit]:
    """Commits reachable from `tip` and from none of `hide` (unknown or zero ids are ignored)."""
    if not _has(repo, tip):
        return []
    walker = repo.walk(pygit2.Oid(hex=tip), pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
    for oid in hide:
        if oid and _has(repo, oid):
            walker.hide(pygit2.Oid(hex=oid))
    found = []
    for commit in walker:
        found.append(commit)
        if len(found) >= MAX_WALK:
            break
    return found


def _ids(repo: pygit2.Repository, tip: str, hide: list[str]) -> set[str]:
    return {str(c.id) for c in _walk(repo, tip, hide)}


def _delta(repo: pygit2.Repository, gained_from: str, gained_to: str, lost_from: str, lost_to: str,
           limit: int) -> Delta:
    """Commits in (reach(gained_from) − reach(gained_to)) but not in (reach(lost_from) − reach(lost_to))."""
    candidates = _walk(repo, gained_from, [gained_to])
    if not candidates:
        return Delta([], 0)
    old = _ids(repo, lost_from, [lost_to])
    kept = [c for c in candidates if str(c.id) not in old]
    return Delta([commit_info(c) for c in kept[:limit]], len(kept))


def scope_change(repo_ids: tuple[int, ...], old_from: str, old_to: str, new_from: str, new_to: str,
                 limit: int = 25) -> tuple[Delta, Delta]:
    """(added, removed) commits of a pull request whose ends moved from (old_from, old_to) to
    (new_from, new_to), answered in the first repository that knows the new source tip."""
    for repo_id in repo_ids:
        try:
            repo = open_repo(repo_id)
        except pygit2.GitError:
            continue
        if _has(repo, new_from) or _has(repo, old_from):
            added = _delta(repo, new_from, new_to, old_from, old_to, limit)
            removed = _delta(repo, old_from, old_to, new_from, new_to, limit)
            return added, removed
    return Delta([], 0), Delta([], 0)
