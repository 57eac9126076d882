"""Rebasing a pull request: its source branch's commits replayed onto the target branch's tip (the
engine's rebase, in memory in the source repository, which sees the target's objects: a fork borrows its
origin's), then the SOURCE branch moved by `culm.domain.refs.service.apply` (compare-and-swap + outbox)
and the pull request rescoped to the new source commit in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from culm.core.errors import PullRequestRebaseConflict, StaleRef
from culm.domain.base import now_ms
from culm.domain.mergechecks.merge import require_open
from culm.domain.mergechecks.model import Veto
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, deny
from culm.domain.pullrequests.activities import View, emit, record_activity
from culm.domain.pullrequests.lifecycle import check_version
from culm.domain.pullrequests.models import PullRequest
from culm.domain.pullrequests.refs import not_archived
from culm.domain.pullrequests.review import caller
from culm.domain.repos.models import Repository
from culm.domain.users.models import User
from culm.git import merge as engine
from culm.git import storage
from culm.git.command import GitError
from culm.git.revisions import open_repo


def vetoes(session: Session, who: Principal, pr: PullRequest) -> list[Veto]:
    """Bitbucket's rebase preconditions, as vetoes (GET rebase)."""
    out: list[Veto] = []
    if pr.state != "OPEN":
        out.append(Veto("The pull request is not open", "Only open pull requests can be rebased."))
    if not pr.from_ref.startswith("refs/heads/"):
        out.append(Veto("The source is not a branch", "Only pull requests from a branch can be rebased."))
    source = session.get(Repository, pr.from_repository_id)
    if who.user is None:
        out.append(Veto("Authentication required", "Pull requests cannot be rebased anonymously."))
        return out
    if not who.user.email:
        out.append(Veto("An e-mail address is required",
                        "You need an e-mail address to rebase: it is recorded as the committer of the rebased "
                        "commits."))
    if source is None or who.repo_level(session, source) < L.WRITE:
        out.append(Veto("Write access required",
                        "You need write access to the source repository to rebase this pull request."))
    elif source.archived:
        out.append(Veto("The source repository is archived", "Archived repositories cannot be changed."))
    return out


def _identity(user: User) -> tuple[str, str]:
    return (user.display_name or user.name, user.email or f"{user.slug}@culm.invalid")


def rebase(session: Session, view: View, who: Principal, pr: PullRequest, target: Repository,
           version: Any) -> dict[str, Any]:
    """POST rebase → RestPullRequestRebaseResult `{refChange}`. 409 on conflicts, on a rebase that would
    leave nothing, on a stale version, or when the source branch moved meanwhile."""
    user = caller(who)
    source = session.get(Repository, pr.from_repository_id)
    if source is None or who.repo_level(session, source) < L.WRITE:
        raise deny(who)
    not_archived(target)
    not_archived(source)
    require_open(pr)
    check_version(pr, version, view, required=True)
    old = pr.from_commit
    tip = storage.resolve_ref(target.id, pr.to_ref)
    if tip is None or storage.resolve_ref(source.id, pr.from_ref) != old:
        raise StaleRef("The pull request's branches changed since it was last updated; reload it and try again.",
                       context="fromRef")
    git = open_repo(source.id)
    try:
        result = engine.merge(git, old, tip, "rebase-ff-only", "", _identity(user))
    except engine.MergeRefused as refused:
        raise PullRequestRebaseConflict(refused.check.reason or "The pull request cannot be rebased.",
                                        conflicted=refused.check.conflicted) from None
    except (GitError, KeyError, ValueError):
        raise PullRequestRebaseConflict("The pull request cannot be rebased.") from None
    new = result.new_target_oid
    if new != old:
        from culm.domain.refs import service as refs

        refs.apply(session, source, user.id, pr.from_ref, old, new, f"rebase onto {tip[:12]}")
        previous_to = pr.to_commit
        pr.from_commit, pr.to_commit = new, tip
        pr.version += 1
        pr.updated_date = now_ms()
        session.flush()
        record_activity(session, pr, "RESCOPED", user.id, {"fromHash": new, "previousFromHash": old,
                                                            "toHash": tip, "previousToHash": previous_to})
        emit(session, view, "pr:from_ref_updated", pr, user, previousFromHash=old)
    ref = {"id": pr.from_ref, "displayId": pr.from_ref.removeprefix("refs/heads/"), "type": "BRANCH"}
    return {"refChange": {"ref": ref, "refId": pr.from_ref, "fromHash": old, "toHash": new, "type": "UPDATE"}}
