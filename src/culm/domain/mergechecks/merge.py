"""Merging a pull request: permission, state and version, the merge checks, then the target branch moved
by `culm.domain.merging.service.merge_into` (compare-and-swap + outbox, retried when the target moved)
and the pull request marked MERGED, all in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from culm.core.errors import IllegalPullRequestState, PullRequestMergeVetoed, ValidationError
from culm.domain.base import now_ms
from culm.domain.mergechecks import checks
from culm.domain.mergechecks.model import Veto
from culm.domain.merging import service as merging
from culm.domain.merging import settings as merge_settings
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, deny
from culm.domain.projects.models import Project
from culm.domain.pullrequests.activities import View, emit, record_activity
from culm.domain.pullrequests.lifecycle import check_version
from culm.domain.pullrequests.models import PullRequest
from culm.domain.pullrequests.refs import not_archived
from culm.domain.pullrequests.review import caller
from culm.domain.repos.models import Repository
from culm.git import merge_message as messages
from culm.git import storage
from culm.git.history import add_alternate
from culm.git.revisions import open_repo

VETOED = "Merging the pull request has been vetoed."


def require_open(pr: PullRequest) -> None:
    """Only open pull requests are checked or merged (409 as Bitbucket)."""
    if pr.state == "MERGED":
        raise IllegalPullRequestState("This pull request has already been merged.")
    if pr.state == "DECLINED":
        raise IllegalPullRequestState("This pull request has been declined and must be reopened before it can "
                                      "be merged.")


def _key(session: Session, repo: Repository) -> str:
    project = session.get(Project, repo.project_id)
    return project.key if project else ""


def message_context(session: Session, repo: Repository, pr: PullRequest) -> messages.MessageContext:
    cross = ""
    if pr.from_repository_id != repo.id:
        source = session.get(Repository, pr.from_repository_id)
        if source is not None:
            cross = f"{_key(session, source)}/{source.slug}:"
    config = merge_settings.repo_config(session, repo)
    return messages.MessageContext(pr.local_id, pr.title, _key(session, repo), repo.slug,
                                   pr.from_ref.removeprefix("refs/heads/"), pr.to_ref.removeprefix("refs/heads/"),
                                   cross, config.template, pr.description or "")


def suggestion(session: Session, repo: Repository, pr: PullRequest) -> dict[str, str]:
    """RestCommitMessageSuggestion: the subject and body of the merge commit message Bitbucket proposes."""
    title, _, body = messages.header(message_context(session, repo, pr)).partition("\n\n")
    return {"title": title, "body": body}


def commit_message(session: Session, repo: Repository, pr: PullRequest, strategy: str, message: str | None,
                   auto_subject: bool) -> str:
    """Bitbucket's message (header + summary of the merged commits); a given `message` goes after the
    generated subject (`autoSubject`, the default) or replaces everything."""
    if message is not None and not auto_subject:
        return message
    ctx = message_context(session, repo, pr)
    git = open_repo(repo.id)
    if pr.from_repository_id != repo.id:
        add_alternate(git, storage.repo_dir(pr.from_repository_id))
    target = storage.resolve_ref(repo.id, pr.to_ref) or pr.to_commit
    summaries = merge_settings.repo_config(session, repo).commit_summaries
    build = messages.squash_message if strategy.startswith("squash") else messages.merge_message
    text = build(git, pr.from_commit, target, ctx, summaries)
    if message is None or not message.strip():
        return text
    subject, _, rest = text.partition("\n\n")
    return f"{subject}\n\n{message.strip()}" + (f"\n\n{rest}" if rest else "")


def _options(body: dict[str, Any]) -> tuple[str | None, str | None, bool]:
    message, strategy, auto = body.get("message"), body.get("strategyId"), body.get("autoSubject", True)
    if message is not None and (not isinstance(message, str) or "\x00" in message):
        raise ValidationError("'message' must be a string without NUL characters.", context="message")
    if strategy is not None and not isinstance(strategy, str):
        raise ValidationError("'strategyId' must be a string.", context="strategyId")
    if isinstance(auto, str) and auto.lower() in ("true", "false"):
        auto = auto.lower() == "true"
    if not isinstance(auto, bool):
        raise ValidationError("'autoSubject' must be true or false.", context="autoSubject")
    return message, strategy, auto


def _vetoed(vetoes: list[Veto], conflicted: bool = False) -> PullRequestMergeVetoed:
    return PullRequestMergeVetoed(VETOED, conflicted=conflicted, vetoes=[v.json() for v in vetoes])


def merge(session: Session, view: View, who: Principal, pr: PullRequest, repo: Repository, version: Any,
          body: dict[str, Any]) -> PullRequest:
    """POST {PR}/merge. The caller commits: the branch move's outbox event and the MERGED state land together."""
    user = caller(who)
    if who.repo_level(session, repo) < L.WRITE:
        raise deny(who)
    not_archived(repo)
    require_open(pr)
    check_version(pr, version, view, missing_is_stale=True)
    message, requested, auto_subject = _options(body)
    strategy = merge_settings.strategy_for(session, repo, requested)
    vetoes = checks.vetoes(session, repo, pr)
    if vetoes:
        git = checks.git_check(session, repo, pr, strategy)
        raise _vetoed(vetoes + git.vetoes, conflicted=git.conflicted)
    text = commit_message(session, repo, pr, strategy, message, auto_subject)
    try:
        outcome = merging.merge_into(session, repo, user, pr.from_repository_id, pr.from_commit, pr.to_ref,
                                     strategy, text)
    except merging.MergeConflicted:
        raise _vetoed([], conflicted=True) from None
    except merging.MergeNotPossible as refused:
        raise _vetoed([Veto("The merge cannot be done", refused.message)]) from None
    merged = outcome.merge_commit_oid or outcome.new_target_oid
    now = now_ms()
    pr.state, pr.closed_date, pr.merge_commit = "MERGED", now, merged
    pr.to_commit = outcome.old_target_oid
    checks.remember(session, pr, outcome.old_target_oid, "CLEAN")
    pr.version += 1
    pr.updated_date = now
    session.flush()
    record_activity(session, pr, "MERGED", user.id, {"commit": {"id": merged, "displayId": merged[:11]}})
    emit(session, view, "pr:merged", pr, user)
    return pr
