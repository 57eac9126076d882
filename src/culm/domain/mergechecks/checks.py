"""The merge checks in force, in the order their vetoes are listed, and the evaluation of a pull
request against them plus the merge itself (conflicts, a strategy that cannot apply).

`GET {PR}/merge` shows the result; `POST {PR}/merge` refuses with the same vetoes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from culm.core.errors import NoSuchBranch, NoSuchCommit, ValidationError
from culm.domain.base import now_ms
from culm.domain.comments import service as comments
from culm.domain.mergechecks import approvals, builds, state, tasks
from culm.domain.mergechecks.model import CheckInput, Veto
from culm.domain.mergechecks.models import MergeResult
from culm.domain.merging import service as merging
from culm.domain.merging import settings as merge_settings
from culm.domain.pullrequests import queries
from culm.domain.pullrequests.models import PullRequest
from culm.domain.repos.models import Repository
from culm.git import storage

Check = Callable[[CheckInput], list[Veto]]

CHECKS: tuple[Check, ...] = (
    state.not_draft,
    builds.required_builds,
    builds.successful_builds,
    approvals.minimum_approvals,
    approvals.default_reviewer_conditions,
    approvals.all_reviewers,
    tasks.all_tasks_complete,
)


def _open_tasks(session: Session, pr: PullRequest) -> int:
    """Open tasks (unresolved BLOCKER comments) of the pull request."""
    return comments.open_task_count(session, pr)


@dataclass(frozen=True)
class Mergeability:
    """RestPullRequestMergeability."""

    conflicted: bool
    outcome: str  # CLEAN | CONFLICTED | UNKNOWN
    vetoes: list[Veto] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def can_merge(self) -> bool:
        return not self.conflicted and self.outcome != "UNKNOWN" and not self.vetoes

    def json(self) -> dict[str, Any]:
        return {"canMerge": self.can_merge, "conflicted": self.conflicted, "outcome": self.outcome,
                "vetoes": [v.json() for v in self.vetoes]}


def vetoes(session: Session, repo: Repository, pr: PullRequest) -> list[Veto]:
    """The vetoes of every registered check (not the git merge itself)."""
    ctx = CheckInput(session, repo, pr, merge_settings.effective(session, repo),
                     list(session.scalars(queries.participants_statement(pr))),
                     open_tasks=_open_tasks(session, pr))
    out: list[Veto] = []
    for check in CHECKS:
        out.extend(check(ctx))
    return out


def git_check(session: Session, repo: Repository, pr: PullRequest, strategy: str | None = None) -> Mergeability:
    """Can the source be merged into the target branch as it is now, with `strategy` (default: the
    repository's default strategy)?"""
    strategy = strategy or merge_settings.strategy_for(session, repo, None)
    target = storage.resolve_ref(repo.id, pr.to_ref)
    try:
        result = merging.check(session, repo, pr.from_repository_id, pr.from_commit, pr.to_ref, strategy)
    except (NoSuchBranch, NoSuchCommit, ValidationError):
        return Mergeability(False, "UNKNOWN", [Veto("Unknown merge outcome",
                                                   "The source or target branch of this pull request no "
                                                   "longer exists.")])
    if target is not None:
        remember(session, pr, target, "CONFLICTED" if result.conflicted else "CLEAN")
    if result.conflicted:
        return Mergeability(True, "CONFLICTED", [], list(result.conflicts))
    if not result.can_merge:
        return Mergeability(False, "CLEAN", [Veto("The merge cannot be done", result.reason or
                                                  "The pull request cannot be merged with this strategy.")])
    return Mergeability(False, "CLEAN")


def remember(session: Session, pr: PullRequest, target_commit: str, outcome: str) -> None:
    """Keep the outcome for `properties.mergeResult` (a savepoint: a concurrent check of the same pull
    request may insert first, then its row stands)."""
    try:
        with session.begin_nested():
            row = session.get(MergeResult, pr.id)
            if row is None:
                row = MergeResult(pull_request_id=pr.id)
                session.add(row)
            row.from_commit, row.to_commit, row.outcome, row.checked_date = (pr.from_commit, target_commit, outcome,
                                                                              now_ms())
    except IntegrityError:
        pass


def merge_result(session: Session, pr: PullRequest) -> dict[str, Any] | None:
    """RestPullRequest `properties.mergeResult`: the last outcome, `current` when it was computed for the
    pull request's present commits; None when no merge was ever checked."""
    row = session.get(MergeResult, pr.id)
    if row is None:
        return None
    return {"outcome": row.outcome, "current": row.from_commit == pr.from_commit and row.to_commit == pr.to_commit}


def evaluate(session: Session, repo: Repository, pr: PullRequest, strategy: str | None = None) -> Mergeability:
    """The git outcome plus every check's vetoes (the pull request must be open)."""
    merge = git_check(session, repo, pr, strategy)
    return Mergeability(merge.conflicted, merge.outcome, vetoes(session, repo, pr) + merge.vetoes, merge.conflicts)
