"""Git questions pull requests ask: is the source already merged into the target, does a pull
request's range contain a commit. Each answers from one repository's object store (a fork borrows
its origin's objects through alternates, so either side usually knows both commits)."""

from __future__ import annotations

import pygit2

from culm.git.revisions import open_repo


def _has(repo: pygit2.Repository, oid: str) -> bool:
    try:
        return isinstance(repo.get(oid), pygit2.Commit)
    except (ValueError, KeyError, pygit2.GitError):
        return False


def _ancestor(repo: pygit2.Repository, ancestor: str, descendant: str) -> bool:
    """True when `ancestor` is reachable from `descendant` (or equal to it)."""
    if ancestor == descendant:
        return True
    try:
        return bool(repo.descendant_of(descendant, ancestor))
    except (ValueError, KeyError, pygit2.GitError):
        return False


def already_merged(repo_ids: tuple[int, ...], from_commit: str, to_commit: str) -> bool:
    """The target already contains every commit of the source (nothing to review): asked in the first
    repository that knows both commits; unknown → False."""
    if from_commit == to_commit:
        return True
    for repo_id in repo_ids:
        repo = open_repo(repo_id)
        if _has(repo, from_commit) and _has(repo, to_commit):
            return _ancestor(repo, from_commit, to_commit)
    return False


def in_range(repo_ids: tuple[int, ...], commit: str, from_commit: str, to_commit: str) -> bool:
    """`commit` is one of the pull request's commits: reachable from its source tip, not from its target."""
    for repo_id in repo_ids:
        repo = open_repo(repo_id)
        if _has(repo, commit) and _has(repo, from_commit):
            if not _ancestor(repo, commit, from_commit):
                return False
            return not (_has(repo, to_commit) and _ancestor(repo, commit, to_commit))
    return False

