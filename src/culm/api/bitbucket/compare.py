"""Comparing two commits: `{R}/compare/commits` (streamCommits: reachable from `from`, not from `to`)
and `{R}/compare/changes` (streamChanges: what `from` changed since its merge base with `to`, the
changes a pull request from `from` into `to` would bring).

`from` may live in another repository (`fromRepo`, e.g. a fork): its objects are then read through a
per-request alternate object directory; nothing is written to either repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pygit2
from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from culm.api.bitbucket.commits import Ctx, R, changes_body, context, param
from culm.api.bitbucket.render_git import commits_json
from culm.api.bitbucket.repo_access import repo_at
from culm.api.deps import db, page, principal
from culm.core.errors import NoSuchRepository
from culm.core.paging import PageRequest, page_envelope
from culm.domain.permissions.service import Principal
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.git import history
from culm.git.revisions import find_commit, open_repo, resolve_commit
from culm.git.storage import repo_dir

router = APIRouter()


def _from_repo(session: Session, who: Principal, ctx: Ctx, value: str | None) -> tuple[Repository, Path | None]:
    """The repository `fromRepo` names (`42` or `KEY/slug`), readable by the caller; the current one
    when absent. The second item is its git dir when it differs from the current repository."""
    if value is None:
        return ctx.repo, None
    if value.isdigit():
        found = session.get(Repository, int(value))
        project = session.get(Project, found.project_id) if found is not None else None
        if found is None or project is None:
            raise NoSuchRepository(f"Repository {value} does not exist.", context="fromRepo")
        key, slug = project.key, found.slug
    else:
        key, _, slug = value.partition("/")
        if not key or not slug:
            raise NoSuchRepository(f"Repository {value} does not exist.", context="fromRepo")
    _, source = repo_at(session, who, key, slug)
    if source.id == ctx.repo.id:
        return source, None
    return source, repo_dir(source.id)


def _ends(session: Session, who: Principal, ctx: Ctx,
          request: Request) -> tuple[pygit2.Commit | None, pygit2.Commit | None, Path | None]:
    """(`from` commit, `to` commit, git dir of the source repository if another). An absent end is
    its repository's default branch, None while that branch is unborn; a named end that does not
    exist is a 404."""
    source, other_dir = _from_repo(session, who, ctx, param(request, "fromRepo"))
    source_git = ctx.git if other_dir is None else open_repo(source.id)
    from_name, to_name = param(request, "from"), param(request, "to")
    if from_name is None:
        frm = find_commit(source_git, source.default_branch)
    else:
        frm = resolve_commit(source_git, from_name, source.name)
    to = ctx.default_tip() if to_name is None else ctx.resolve(to_name)
    if other_dir is not None:
        history.add_alternate(ctx.git, other_dir)
        frm = ctx.git.get(frm.id) if frm is not None else None
    return frm, to, other_dir


@router.get(R + "/compare/commits")
def compare_commits(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                    who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    ctx = context(session, who, projectKey, repositorySlug, request)
    frm, to, other_dir = _ends(session, who, ctx, request)
    if frm is None:
        return page_envelope([], req, True)
    query = history.LogQuery(include=(str(frm.id),), exclude=(str(to.id),) if to is not None else ())
    commits, is_last = history.log_page(ctx.git_dir, ctx.git, query, req.start, req.limit,
                                        env=history.alternate_env(other_dir))
    return page_envelope(commits_json(commits, ctx.people), req, is_last)


@router.get(R + "/compare/changes")
def compare_changes(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                    who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    ctx = context(session, who, projectKey, repositorySlug, request)
    frm, to, other_dir = _ends(session, who, ctx, request)
    if frm is None:
        return page_envelope([], req, True)
    base = history.merge_base(ctx.git, str(frm.id), str(to.id)) if to is not None else None
    old = base or history.empty_tree(len(str(frm.id)))
    return changes_body(ctx, old, str(frm.id), req, env=history.alternate_env(other_dir), from_hash=base)

