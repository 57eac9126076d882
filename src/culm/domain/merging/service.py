"""Merging one commit into a branch (what merging a pull request does to git): read the target, compute
the merge in memory (`culm.git.merge`), compare-and-swap the branch through `culm.domain.refs.service`
(outbox lock + `repo:refs_changed` event in the same transaction).

When the target moved between the read and the swap (a push, another merge), the swap fails and nothing
is written to the branch; the merge is computed again onto the new target, a bounded number of times.
So two merges into one branch at once both land, one after the other, and no pushed commit is lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from culm.core.errors import Conflict, NoSuchBranch, NoSuchCommit, StaleRef, ValidationError
from culm.domain.repos.models import Repository
from culm.domain.users.models import User
from culm.git import merge as engine
from culm.git import merge_objects, refwrite
from culm.git.command import GitError
from culm.git.commit_write import branch_head
from culm.git.revisions import open_repo

MAX_ATTEMPTS = 5
_BB = "com.atlassian.bitbucket."


class MergeConflicted(Conflict):
    """The merge has conflicts (Bitbucket refuses the merge with 409)."""

    exception_name = _BB + "pull.PullRequestMergeVetoedException"


class MergeNotPossible(Conflict):
    """The strategy cannot be applied (fast-forward impossible, nothing to merge)."""

    exception_name = _BB + "pull.PullRequestMergeVetoedException"


@dataclass(frozen=True)
class MergeOutcome:
    strategy: str
    target_ref: str
    old_target_oid: str
    new_target_oid: str
    merge_commit_oid: str | None
    rebased_oid: str | None
    attempts: int


def _identity(actor: User) -> tuple[str, str]:
    return (actor.display_name or actor.name, actor.email or f"{actor.slug}@culm.invalid")


def check(session: Session, repo: Repository, source_repo_id: int, source_oid: str, target_ref: str,
          strategy: str) -> engine.MergeCheck:
    """Dry run: can `source_oid` be merged into `target_ref` now? Writes no ref."""
    _validate(strategy, target_ref, source_oid)
    _same_family(session, repo, source_repo_id)
    with _objects(repo, source_repo_id, source_oid):
        git_repo = open_repo(repo.id)
        target = branch_head(git_repo, target_ref)
        if target is None:
            raise NoSuchBranch(f"Branch '{target_ref}' does not exist in this repository.", context="target")
        return engine.plan(git_repo, source_oid, target, strategy)


@contextmanager
def _objects(repo: Repository, source_repo_id: int, source_oid: str) -> Iterator[None]:
    """The source commit readable in `repo` (fetched from a fork when needed); 404 when it exists nowhere."""
    missing = NoSuchCommit(f"Commit '{source_oid}' does not exist in repository '{repo.slug}'.", context="source")
    with ExitStack() as stack:
        try:
            stack.enter_context(merge_objects.objects_from(repo.id, source_repo_id, source_oid))
        except GitError:
            raise missing from None
        if not merge_objects.has_commit(repo.id, source_oid):
            raise missing
        yield


def _validate(strategy: str, target_ref: str, source_oid: str) -> None:
    if len(source_oid) != 40 or any(c not in "0123456789abcdef" for c in source_oid):
        raise ValidationError("The source must be a full commit id.", context="source")
    if strategy not in engine.STRATEGIES:
        raise ValidationError(f"'{strategy}' is not a valid merge strategy.", context="strategyId")
    if not target_ref.startswith("refs/heads/") or not refwrite.valid_ref_name(target_ref):
        raise ValidationError("The target must be a branch.", context="target")


def _same_family(session: Session, repo: Repository, source_repo_id: int) -> None:
    """Commits are only merged between a repository and its forks (one hierarchy)."""
    if source_repo_id == repo.id:
        return
    source = session.get(Repository, source_repo_id)
    if source is None or source.hierarchy_id != repo.hierarchy_id:
        raise ValidationError("The source repository is not a fork of the target repository's family.",
                              context="source")


def merge_into(session: Session, repo: Repository, actor: User, source_repo_id: int, source_oid: str,
               target_ref: str, strategy: str, message: str, max_attempts: int = MAX_ATTEMPTS) -> MergeOutcome:
    """Merge commit `source_oid` (of repository `source_repo_id`, the same or a fork) into branch
    `target_ref` of `repo` and move the branch. The caller commits the session (the outbox event and
    the ref move belong together). 409 when the merge is refused, or when the target kept moving."""
    from culm.domain.refs import service as refs

    _validate(strategy, target_ref, source_oid)
    _same_family(session, repo, source_repo_id)
    author = _identity(actor)
    with _objects(repo, source_repo_id, source_oid):
        for attempt in range(1, max_attempts + 1):
            git_repo = open_repo(repo.id)  # fresh: sees the objects and refs written since
            target = branch_head(git_repo, target_ref)
            if target is None:
                raise NoSuchBranch(f"Branch '{target_ref}' does not exist in this repository.", context="target")
            try:
                result = engine.merge(git_repo, source_oid, target, strategy, message, author)
            except engine.MergeRefused as refused:
                kind = MergeConflicted if refused.check.conflicted else MergeNotPossible
                raise kind(refused.check.reason or "The merge cannot be done.", context="merge",
                           conflicts=refused.check.conflicts) from None
            try:
                refs.apply(session, repo, actor.id, target_ref, target, result.new_target_oid,
                           f"merge {source_oid[:12]} ({strategy})")
            except StaleRef:
                if attempt == max_attempts:
                    raise
                continue
            return MergeOutcome(strategy, target_ref, target, result.new_target_oid, result.merge_commit_oid,
                                result.rebased_oid, attempt)
    raise StaleRef(f"'{target_ref}' kept changing; try again.", context="ref")  # pragma: no cover
