"""Commit history: `{R}/commits` (getCommits), `{R}/commits/{commitId}` (getCommit), the changes of a
commit (`{R}/commits/{commitId}/changes`, `{R}/changes`) and `{R}/commits/{commitId}/merge-base`.

Handlers resolve what the client named (Bitbucket's rules, `revisions.resolve_commit`), then ask
`git.history` / `git.changes` for one page. The shared pieces (the request's repository, RestChange)
are used by `compare` and `last_modified` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pygit2
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render_git import People, commit_json, commits_json, path_json
from culm.api.bitbucket.repo_access import repo_at
from culm.api.deps import db, flag, page, principal
from culm.api.urls import base_url
from culm.core.errors import NoSuchCommit, ValidationError
from culm.core.paging import PageRequest, page_envelope
from culm.domain.permissions.service import Principal
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.domain.users.models import User
from culm.git import history
from culm.git.changes import EXECUTABLE, Change, changes_page
from culm.git.revisions import commit_info, find_commit, open_repo, resolve_commit
from culm.git.storage import repo_dir

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}"


@dataclass
class Ctx:
    """What every history route needs: the repository row, its git handle and the people renderer."""

    project: Project
    repo: Repository
    git: pygit2.Repository
    git_dir: Path
    people: People
    browse: str

    def resolve(self, rev: str | None) -> pygit2.Commit:
        return resolve_commit(self.git, rev, self.repo.name)

    def default_tip(self) -> pygit2.Commit | None:
        """The default branch's commit; None while it is unborn."""
        return find_commit(self.git, self.repo.default_branch)


def browse_base(session: Session, project: Project, repo: Repository, base: str) -> str:
    """The repository's web `browse` URL (personal repositories live under /users/{slug})."""
    owner = session.get(User, project.owner_id) if project.owner_id else None
    if project.type == "PERSONAL" and owner is not None:
        return f"{base}/users/{owner.slug}/repos/{repo.slug}/browse"
    return f"{base}/projects/{project.key}/repos/{repo.slug}/browse"


def context(session: Session, who: Principal, project_key: str, slug: str, request: Request) -> Ctx:
    project, repo = repo_at(session, who, project_key, slug)
    base = base_url(request)
    return Ctx(project, repo, open_repo(repo.id), repo_dir(repo.id), People(session, base),
               browse_base(session, project, repo, base))


def param(request: Request, name: str) -> str | None:
    """A query parameter; an empty value counts as absent, as Bitbucket's REST layer treats it."""
    value = request.query_params.get(name)
    return value if value else None


def change_json(c: Change, browse: str, at: str, from_at: str | None) -> dict[str, Any]:
    """RestChange. `links.self` browses the file at the commit that has it (the old side for a
    deletion)."""
    body: dict[str, Any] = {"contentId": c.new_id, "fromContentId": c.old_id, "path": path_json(c.path)}
    if c.src_path is not None:
        body["srcPath"] = path_json(c.src_path)
    if c.type != "DELETE":
        body["executable"] = c.new_mode == EXECUTABLE
    body["percentUnchanged"] = c.score if c.score is not None else -1
    body["type"] = c.type
    body["nodeType"] = c.node_type
    if c.type != "ADD":
        body["srcExecutable"] = c.old_mode == EXECUTABLE
    link_at = from_at if c.type == "DELETE" and from_at else at
    body["links"] = {"self": [{"href": f"{browse}/{quote(c.path)}?at={link_at}"}]}
    body["properties"] = {"gitChangeType": c.git_type}
    return body


def changes_body(ctx: Ctx, old: str | None, new: str, req: PageRequest,
                 env: dict[str, str] | None = None, from_hash: str | None = None) -> dict[str, Any]:
    """A page of RestChange between two commits, with Bitbucket's `fromHash` / `toHash`."""
    changes, is_last = changes_page(ctx.git_dir, old, new, req.start, req.limit, env)
    body = page_envelope([change_json(c, ctx.browse, new, from_hash) for c in changes], req, is_last)
    return {"fromHash": from_hash, "toHash": new, **body}


def merges_mode(request: Request) -> str:
    value = param(request, "merges")
    if value is None:
        return "include"
    if value.lower() not in history.MERGES:
        raise ValidationError(f"'{value}' is not a valid value for merges; use include, exclude or only.",
                              context="merges")
    return value.lower()


# -- getCommits ---------------------------------------------------------------------------------
@router.get(R + "/commits")
def get_commits(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    """`ignoreMissing` works as git's `--ignore-missing`, which Bitbucket passes it to: a `since` that
    does not exist is left out (nothing excluded); an `until` that does not exist leaves nothing to
    list."""
    ctx = context(session, who, projectKey, repositorySlug, request)
    merges = merges_mode(request)
    path = history.clean_path(param(request, "path"))
    ignore_missing = flag(request, "ignoreMissing")
    with_counts = flag(request, "withCounts")
    until_name, since_name = param(request, "until"), param(request, "since")

    def empty() -> dict[str, Any]:
        body = page_envelope([], req, True)
        if with_counts:
            body.update(authorCount=0, totalCount=0)
        return body

    if until_name is None:
        tip = ctx.default_tip()
    else:
        tip = find_commit(ctx.git, until_name)
        if tip is None and not ignore_missing:
            ctx.resolve(until_name)
    since = None
    if since_name is not None:
        since = find_commit(ctx.git, since_name)
        if since is None and not ignore_missing:
            ctx.resolve(since_name)
    if tip is None:
        return empty()
    query = history.LogQuery(include=(str(tip.id),), exclude=(str(since.id),) if since else (),
                             path=path, merges=merges, follow=flag(request, "followRenames"))
    commits, is_last = history.log_page(ctx.git_dir, ctx.git, query, req.start, req.limit)
    body = page_envelope(commits_json(commits, ctx.people), req, is_last)
    if with_counts:
        total, authors = history.log_counts(ctx.git_dir, query)
        body.update(authorCount=authors, totalCount=total)
    return body


# -- getCommit ------------------------------------------------------------------------------------
@router.get(R + "/commits/{commitId}")
def get_commit(projectKey: str, repositorySlug: str, commitId: str, request: Request,
               session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    ctx = context(session, who, projectKey, repositorySlug, request)
    commit = ctx.resolve(commitId)
    path = history.clean_path(param(request, "path"))
    if path:
        touching = history.first_touching(ctx.git_dir, str(commit.id), path)
        if touching is None:
            raise NoSuchCommit(f"No commit at or before '{commitId}' changes the path '{path}' in repository "
                               f"'{ctx.repo.name}'.", context="path")
        commit = ctx.git.get(touching)
    return commit_json(commit_info(commit), ctx.people)


# -- getChanges / getChanges_1 --------------------------------------------------------------------
def _commit_changes(ctx: Ctx, until: pygit2.Commit, since_name: str | None, req: PageRequest) -> dict[str, Any]:
    """Changes of `until` against `since`, else against its first parent (a merge is shown against
    its first parent), else (a root commit) against nothing: every file added."""
    if since_name is not None:
        old: str | None = str(ctx.resolve(since_name).id)
    else:
        old = str(until.parent_ids[0]) if until.parent_ids else None
    return changes_body(ctx, old, str(until.id), req, from_hash=old)


@router.get(R + "/commits/{commitId}/changes")
def get_changes(projectKey: str, repositorySlug: str, commitId: str, request: Request,
                session: Session = Depends(db), who: Principal = Depends(principal),
                req: PageRequest = Depends(page)) -> dict[str, Any]:
    ctx = context(session, who, projectKey, repositorySlug, request)
    return _commit_changes(ctx, ctx.resolve(commitId), param(request, "since"), req)


@router.get(R + "/changes")
def get_changes_between(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                        who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    ctx = context(session, who, projectKey, repositorySlug, request)
    until = param(request, "until")
    if until is None:
        raise ValidationError("An until commit must be supplied.", context="until")
    return _commit_changes(ctx, ctx.resolve(until), param(request, "since"), req)


# -- getMergeBase -----------------------------------------------------------------------------------
@router.get(R + "/commits/{commitId}/merge-base", response_model=None)
def get_merge_base(projectKey: str, repositorySlug: str, commitId: str, request: Request,
                   session: Session = Depends(db), who: Principal = Depends(principal)) -> Any:
    ctx = context(session, who, projectKey, repositorySlug, request)
    other_name = param(request, "otherCommitId") or param(request, "otherCommit")
    if other_name is None:
        raise ValidationError("The otherCommitId parameter must be supplied.", context="otherCommitId")
    commit = ctx.resolve(commitId)
    other = ctx.resolve(other_name)
    base = history.merge_base(ctx.git, str(commit.id), str(other.id))
    if base is None:
        return Response(status_code=204)
    return commit_json(commit_info(ctx.git.get(base)), ctx.people)
