"""Branches of a repository: `GET/POST {R}/branches` (getBranches, createBranchForRepository).

The default branch routes (`{R}/default-branch`, `{R}/branches/default`) live in `repos.py`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render_git import People, branch_json, commit_json
from culm.api.bitbucket.repo_access import readable, writable
from culm.api.deps import db, flag, json_body, page, principal
from culm.api.urls import base_url
from culm.core.paging import PageRequest, page_envelope
from culm.domain.permissions.service import Principal
from culm.domain.refs import branches
from culm.domain.refs.branches import BranchDetails
from culm.domain.repos.models import Repository
from culm.git.branches import BranchRef

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}"

AHEAD_BEHIND = "com.atlassian.bitbucket.server.bitbucket-branch:ahead-behind-metadata-provider"
LATEST_COMMIT = "com.atlassian.bitbucket.server.bitbucket-branch:latest-commit-metadata"


def branch_with_details(repo: Repository, branch: BranchRef, found: BranchDetails | None,
                        people: People) -> dict[str, Any]:
    """RestBranch, plus the plugin `metadata` Bitbucket adds with `details=true`."""
    body = branch_json(branch.ref, branch.commit, branch.ref == repo.default_branch)
    if found is not None:
        metadata: dict[str, Any] = {}
        if found.ahead_behind is not None:
            metadata[AHEAD_BEHIND] = {"ahead": found.ahead_behind[0], "behind": found.ahead_behind[1]}
        if found.latest is not None:
            metadata[LATEST_COMMIT] = commit_json(found.latest, people)
        body["metadata"] = metadata
    return body


@router.get(R + "/branches")
def get_branches(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                 who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    q = request.query_params
    items, is_last = branches.find(repo, req, q.get("filterText"), q.get("orderBy"), flag(request, "boostMatches"))
    found = branches.details(repo, items, q.get("base")) if flag(request, "details") else {}
    people = People(session, base_url(request))
    people.preload([e for d in found.values() if d.latest for e in (d.latest.author.email, d.latest.committer.email)])
    values = [branch_with_details(repo, b, found.get(b.ref) if found else None, people) for b in items]
    return page_envelope(values, req, is_last)


@router.post(R + "/branches")
def create_branch(projectKey: str, repositorySlug: str, body: dict = Depends(json_body),
                  session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    """200 with the new RestBranch (the branch-utils form answers 201)."""
    repo = writable(session, who, projectKey, repositorySlug)
    branch = branches.create(session, repo, who.user.id if who.user else None, body.get("name"),
                             body.get("startPoint"), body.get("message"))
    return branch_json(branch.ref, branch.commit, branch.ref == repo.default_branch)
