"""What a pull request proposes: its commits, its changes and diff (the effective diff: from the merge
base of the target and the source to the source), the patch, diff stats and the merge base.

A pull request from a fork has its source commits in the fork: they are read through the target
repository with the fork's object store as a per-request alternate (as `compare` does with `fromRepo`).
This module sorts before `pull_requests`, so `{id}.diff` / `{id}.patch` are routed here first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session

from culm.api.bitbucket.commits import Ctx, changes_body, context, param
from culm.api.bitbucket.diffs import TEXT_TYPE, context_lines, ignore_whitespace, serve_diff, serve_stats
from culm.api.bitbucket.pull_requests import PR
from culm.api.bitbucket.render_git import commit_json, commits_json
from culm.api.bitbucket.streaming import GitStream
from culm.api.deps import db, flag, page, principal
from culm.core.errors import ValidationError
from culm.core.paging import PageRequest, page_envelope
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import queries
from culm.domain.pullrequests.models import PullRequest
from culm.git import diff as gitdiff
from culm.git import history, prcontent
from culm.git.revisions import commit_info
from culm.git.storage import repo_dir

router = APIRouter()
DIFF_TYPES = ("EFFECTIVE", "RANGE", "COMMIT")


@dataclass
class PrCtx:
    ctx: Ctx
    pr: PullRequest
    fork_dir: Path | None  # the source repository's git dir when it is not the target

    @property
    def env(self) -> dict[str, str] | None:
        return history.alternate_env(self.fork_dir)

    def base(self) -> str | None:
        """The merge base of the target and the source (None: unrelated histories)."""
        return history.merge_base(self.ctx.git, self.pr.from_commit, self.pr.to_commit)


def pr_context(session: Session, who: Principal, project_key: str, slug: str, pr_id: str,
               request: Request) -> PrCtx:
    ctx = context(session, who, project_key, slug, request)
    pr = queries.require(session, ctx.repo, pr_id)
    fork_dir = None
    if pr.from_repository_id != ctx.repo.id:
        fork_dir = repo_dir(pr.from_repository_id)
        history.add_alternate(ctx.git, fork_dir)
    return PrCtx(ctx, pr, fork_dir)


@router.get(PR + "/commits")
def pr_commits(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
               session: Session = Depends(db), who: Principal = Depends(principal),
               req: PageRequest = Depends(page)) -> dict[str, Any]:
    """The source's commits the target lacks, newest first."""
    p = pr_context(session, who, projectKey, repositorySlug, pullRequestId, request)
    query = history.LogQuery(include=(p.pr.from_commit,), exclude=(p.pr.to_commit,))
    commits, is_last = history.log_page(p.ctx.git_dir, p.ctx.git, query, req.start, req.limit, env=p.env)
    body = page_envelope(commits_json(commits, p.ctx.people), req, is_last)
    if flag(request, "withCounts"):
        total, authors = prcontent.log_counts(p.ctx.git_dir, p.pr.from_commit, p.pr.to_commit, p.env)
        body.update(authorCount=authors, totalCount=total)
    return body


@router.get(PR + "/changes")
def pr_changes(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
               session: Session = Depends(db), who: Principal = Depends(principal),
               req: PageRequest = Depends(page)) -> dict[str, Any]:
    """The effective changes (merge base → source). `changeScope`, `sinceId`, `untilId` and `withComments`
    are accepted and ignored: every change of the pull request is listed."""
    p = pr_context(session, who, projectKey, repositorySlug, pullRequestId, request)
    base = p.base()
    old = base or history.empty_tree(len(p.pr.from_commit))
    return changes_body(p.ctx, old, p.pr.from_commit, req, env=p.env, from_hash=base)


def _diff_request(p: PrCtx, request: Request) -> gitdiff.DiffRequest:
    """The effective diff, or `sinceId`..`untilId` within the pull request (`diffType` COMMIT: a commit
    against its first parent when no `sinceId` is given)."""
    kind = (param(request, "diffType") or "EFFECTIVE").upper()
    if kind not in DIFF_TYPES:
        raise ValidationError(f"'{param(request, 'diffType')}' is not a valid diff type; use "
                              + ", ".join(DIFF_TYPES) + ".", context="diffType")
    since_name, until_name = param(request, "sinceId"), param(request, "untilId")
    until = str(p.ctx.resolve(until_name).id) if until_name else p.pr.from_commit
    if since_name:
        base: str | None = str(p.ctx.resolve(since_name).id)
    elif kind == "COMMIT" and until_name:
        parents = p.ctx.git.get(until).parent_ids
        base = str(parents[0]) if parents else None
    else:
        base = history.merge_base(p.ctx.git, until, p.pr.to_commit)
    return gitdiff.DiffRequest(p.ctx.git_dir, base, until, context_lines=context_lines(request),
                               ignore_whitespace=ignore_whitespace(request),
                               alternates=(p.fork_dir,) if p.fork_dir else ())


@router.get(PR + "/diff", response_model=None)
@router.get(PR + "/diff/{path:path}", response_model=None)
def pr_diff(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request, path: str = "",
            session: Session = Depends(db), who: Principal = Depends(principal)) -> StreamingResponse:
    p = pr_context(session, who, projectKey, repositorySlug, pullRequestId, request)
    return serve_diff(request, _diff_request(p, request), path)


@router.get(PR + "/diff-stats-summary", response_model=None)
@router.get(PR + "/diff-stats-summary/{path:path}", response_model=None)
def pr_diff_stats(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request, path: str = "",
                  session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    p = pr_context(session, who, projectKey, repositorySlug, pullRequestId, request)
    return serve_stats(request, _diff_request(p, request), path)


@router.get(PR + ".diff", response_model=None)
def pr_raw_diff(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
                session: Session = Depends(db), who: Principal = Depends(principal)) -> StreamingResponse:
    p = pr_context(session, who, projectKey, repositorySlug, pullRequestId, request)
    req = gitdiff.DiffRequest(p.ctx.git_dir, p.base(), p.pr.from_commit, context_lines=context_lines(request),
                              ignore_whitespace=ignore_whitespace(request),
                              alternates=(p.fork_dir,) if p.fork_dir else ())
    return GitStream(gitdiff.raw_diff(req), media_type=TEXT_TYPE)


@router.get(PR + ".patch", response_model=None)
def pr_patch(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
             session: Session = Depends(db), who: Principal = Depends(principal)) -> StreamingResponse:
    """`git format-patch` of the pull request's commits (merge base..source)."""
    p = pr_context(session, who, projectKey, repositorySlug, pullRequestId, request)
    return GitStream(prcontent.patch(p.ctx.git_dir, p.base(), p.pr.from_commit, p.env), media_type=TEXT_TYPE)


@router.get(PR + "/merge-base", response_model=None)
def pr_merge_base(projectKey: str, repositorySlug: str, pullRequestId: str, request: Request,
                  session: Session = Depends(db), who: Principal = Depends(principal)) -> Any:
    p = pr_context(session, who, projectKey, repositorySlug, pullRequestId, request)
    base = p.base()
    if base is None:
        return Response(status_code=204)
    return commit_json(commit_info(p.ctx.git.get(base)), p.ctx.people)
