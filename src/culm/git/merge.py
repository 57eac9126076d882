"""The pull request merge engine: Bitbucket's seven merge strategies, computed without a work tree.

Everything happens in memory with libgit2 (pygit2): `merge_commits` / `merge_trees` produce an index,
its conflicts are the merge's conflicts, `write_tree` and `create_commit(None, ...)` write new objects
WITHOUT touching any ref. The result is the commit the target branch must move to; the caller moves it
with `culm.domain.refs.service.apply` (compare-and-swap), so a concurrent push to the target makes the
move fail cleanly and nothing is lost. Objects written for a merge that loses the race stay unreachable
until git's normal expiry.

Strategies (ids as Bitbucket's):
- `no-ff`: always a merge commit (parents: target, source).
- `ff`: fast-forward when the target is an ancestor of the source, otherwise a merge commit.
- `ff-only`: fast-forward, or refuse.
- `rebase-no-ff`: replay the source's commits onto the target, then a merge commit.
- `rebase-ff-only`: replay the source's commits onto the target, then fast-forward to them.
- `squash`: one new commit with the combined change, the target as its single parent.
- `squash-ff-only`: as `squash`, only when the target is an ancestor of the source.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pygit2

STRATEGIES = ("no-ff", "ff", "ff-only", "rebase-no-ff", "rebase-ff-only", "squash", "squash-ff-only")
CLEAN = "CLEAN"
CONFLICTED = "CONFLICTED"
_FLAGS = pygit2.enums.MergeFlag.FIND_RENAMES
# Objects written here must be on disk before the branch (fsynced by `git update-ref`) points at them:
# libgit2 does not read git's `core.fsync`, so turn its own fsync on (process-wide; only merges write
# objects through libgit2, everything else writes with the git program).
pygit2.option(pygit2.enums.Option.ENABLE_FSYNC_GITDIR, 1)
_NOTHING = "The source branch has no changes that are not already on the target branch."


@dataclass(frozen=True)
class MergeCheck:
    """Whether `source` can be merged into `target` with a strategy, and why not."""

    can_merge: bool
    conflicted: bool
    outcome: str  # CLEAN | CONFLICTED
    conflicts: list[str] = field(default_factory=list)
    fast_forward_possible: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class MergeResult:
    """`new_target_oid` is where the target branch must move to."""

    new_target_oid: str
    merge_commit_oid: str | None = None
    rebased_oid: str | None = None


class MergeRefused(Exception):
    """The merge cannot be done (conflicts, fast-forward impossible, nothing to merge)."""

    def __init__(self, check: MergeCheck) -> None:
        super().__init__(check.reason or "The merge cannot be done.")
        self.check = check


class UnknownStrategy(ValueError):
    pass


class _Conflict(Exception):
    def __init__(self, paths: list[str]) -> None:
        super().__init__(", ".join(paths))
        self.paths = paths


def _require_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise UnknownStrategy(strategy)


def _commit(repo: pygit2.Repository, oid: str) -> pygit2.Commit:
    obj = repo.get(oid)
    if obj is None:
        raise KeyError(oid)
    return obj.peel(pygit2.Commit)


def _conflict_paths(index: pygit2.Index) -> list[str]:
    if index.conflicts is None:
        return []
    paths: set[str] = set()
    for ancestor, ours, theirs in index.conflicts:
        for entry in (ancestor, ours, theirs):
            if entry is not None:
                paths.add(entry.path)
    return sorted(paths)


def _merge_index(repo: pygit2.Repository, target: pygit2.Commit, source: pygit2.Commit) -> pygit2.Index:
    index = repo.merge_commits(target, source, flags=_FLAGS)
    paths = _conflict_paths(index)
    if paths:
        raise _Conflict(paths)
    return index


def _to_replay(repo: pygit2.Repository, source: pygit2.Commit, target: pygit2.Commit) -> list[pygit2.Commit]:
    """The source's commits the target lacks, oldest first; merge commits are dropped, as `git rebase`
    does by default (their changes come with the commits they merged)."""
    walker = repo.walk(source.id, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
    walker.hide(target.id)
    return [c for c in walker if len(c.parents) <= 1]


def _signature(author: tuple[str, str], when_ms: int | None) -> pygit2.Signature:
    seconds = int((when_ms if when_ms is not None else time.time() * 1000) // 1000)
    return pygit2.Signature(author[0], author[1], seconds, 0)


def _rebase(repo: pygit2.Repository, source: pygit2.Commit, target: pygit2.Commit,
            committer: pygit2.Signature | None) -> tuple[pygit2.Commit, int]:
    """Replay the source's commits onto the target (original author and message kept, the merging user
    as committer); returns the new tip and how many commits were replayed. Commits that become empty
    are dropped, as `git rebase` does. With `committer` None no commit is written (a dry run that finds
    conflicts and empty results)."""
    if repo.descendant_of(source.id, target.id):
        return source, len(_to_replay(repo, source, target))
    onto = target
    onto_tree = target.tree_id
    replayed = 0
    for commit in _to_replay(repo, source, target):
        base = commit.parents[0].tree if commit.parents else repo[repo.TreeBuilder().write()]
        index = repo.merge_trees(base, onto_tree, commit.tree, flags=_FLAGS)
        paths = _conflict_paths(index)
        if paths:
            raise _Conflict(paths)
        tree = index.write_tree(repo)
        if tree == onto_tree:
            continue
        onto_tree = tree
        replayed += 1
        if committer is not None:
            # The original bytes, author and encoding as they were: nothing is re-encoded.
            encoding = [commit.message_encoding] if commit.message_encoding else []
            oid = repo.create_commit(None, commit.author, committer, commit.raw_message, tree, [onto.id], *encoding)
            onto = _commit(repo, str(oid))
    return onto, replayed


def _preflight(repo: pygit2.Repository, source: pygit2.Commit, target: pygit2.Commit,
               strategy: str) -> tuple[bool, MergeCheck | None]:
    """The cheap answers (no merge computed): whether a fast-forward is possible, and a refusal when
    there is nothing to merge or the strategy needs a fast-forward that is impossible."""
    _require_strategy(strategy)
    ff = source.id == target.id or repo.descendant_of(source.id, target.id)
    if source.id == target.id or repo.descendant_of(target.id, source.id):
        return ff, MergeCheck(False, False, CLEAN, [], ff, _NOTHING)
    if strategy in ("ff-only", "squash-ff-only") and not ff:
        return ff, MergeCheck(False, False, CLEAN, [], False, "The target branch has commits the source branch "
                                                              "lacks, so it cannot be fast-forwarded.")
    return ff, None


def _conflicted(paths: list[str], ff: bool) -> MergeCheck:
    return MergeCheck(False, True, CONFLICTED, paths, ff,
                      "The pull request has conflicts that must be resolved before it can be merged.")


def plan(repo: pygit2.Repository, source_oid: str, target_oid: str, strategy: str) -> MergeCheck:
    """Can `source` be merged into `target` with `strategy`? Computed in memory: writes no ref and no
    commit (merged trees may be written; unreachable, they expire as any loose object)."""
    source, target = _commit(repo, source_oid), _commit(repo, target_oid)
    ff, refusal = _preflight(repo, source, target, strategy)
    if refusal is not None:
        return refusal
    try:
        if ff and strategy in ("ff", "ff-only", "rebase-ff-only", "rebase-no-ff", "squash-ff-only"):
            pass
        elif strategy.startswith("rebase-"):
            if _rebase(repo, source, target, None)[1] == 0:
                return MergeCheck(False, False, CLEAN, [], ff, _NOTHING)
        else:
            tree = _merge_index(repo, target, source).write_tree(repo)
            if strategy.startswith("squash") and tree == target.tree_id:
                return MergeCheck(False, False, CLEAN, [], ff, _NOTHING)
    except _Conflict as conflict:
        return _conflicted(conflict.paths, ff)
    return MergeCheck(True, False, CLEAN, [], ff, None)


def merge(repo: pygit2.Repository, source_oid: str, target_oid: str, strategy: str, message: str,
          author: tuple[str, str], when: int | None = None) -> MergeResult:
    """Do the merge in memory and return the commit the target branch must move to. No ref moves.
    `author` (name, e-mail) is the merging user, author and committer of the commits made here (a
    rebase keeps each commit's original author); `when` is epoch milliseconds (now by default).
    Raises `MergeRefused` (with what `plan` would say) when the merge cannot be done; nothing is then
    left but unreachable objects."""
    source, target = _commit(repo, source_oid), _commit(repo, target_oid)
    ff, refusal = _preflight(repo, source, target, strategy)
    if refusal is not None:
        raise MergeRefused(refusal)
    sig = _signature(author, when)
    try:
        if strategy in ("ff", "ff-only") and ff:
            return MergeResult(str(source.id))
        if strategy in ("no-ff", "ff"):
            tree = _merge_index(repo, target, source).write_tree(repo)
            oid = str(repo.create_commit(None, sig, sig, message, tree, [target.id, source.id]))
            return MergeResult(oid, oid)
        if strategy.startswith("rebase-"):
            rebased, replayed = _rebase(repo, source, target, sig)
            if replayed == 0:
                raise MergeRefused(MergeCheck(False, False, CLEAN, [], ff, _NOTHING))
            rebased_oid = str(rebased.id)
            if strategy == "rebase-ff-only":
                return MergeResult(rebased_oid, None, rebased_oid)
            oid = str(repo.create_commit(None, sig, sig, message, rebased.tree_id, [target.id, rebased.id]))
            return MergeResult(oid, oid, rebased_oid)
        # squash / squash-ff-only
        tree = source.tree_id if ff else _merge_index(repo, target, source).write_tree(repo)
        if tree == target.tree_id:
            raise MergeRefused(MergeCheck(False, False, CLEAN, [], ff, _NOTHING))
        oid = str(repo.create_commit(None, sig, sig, message, tree, [target.id]))
        return MergeResult(oid, oid)
    except _Conflict as conflict:
        raise MergeRefused(_conflicted(conflict.paths, ff)) from None
