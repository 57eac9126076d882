"""Default reviewer conditions: `/rest/default-reviewers/latest/projects/{projectKey}[/repos/{slug}]/condition(s)`
and `…/reviewers` (who a new pull request between two refs gets as reviewers).

Listing needs read access; creating, updating and deleting need PROJECT_ADMIN / REPO_ADMIN. A repository's
list includes its project's conditions; only a scope's own conditions can change through it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from culm.api.bitbucket.render import user_json
from culm.api.bitbucket.reviewer_groups import group_json, scope_of
from culm.api.deps import db, json_body, principal
from culm.api.urls import base_url
from culm.core.errors import ValidationError
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_repo
from culm.domain.repos.models import Repository
from culm.domain.reviewers import service as reviewers
from culm.domain.reviewers.models import ReviewerCondition

router = APIRouter()
DP = "/rest/default-reviewers/latest/projects/{projectKey}"
DR = DP + "/repos/{repositorySlug}"


def conditions_json(session: Session, conds: list[ReviewerCondition], base: str) -> list[dict[str, Any]]:
    """RestPullRequestCondition for each, with three queries in all."""
    ids = [c.id for c in conds]
    users = reviewers.condition_users(session, ids)
    groups = reviewers.condition_groups(session, ids)
    members = reviewers.group_users(session, {g.id for gs in groups.values() for g in gs})
    return [{
        "id": c.id,
        "scope": {"type": "PROJECT" if c.repository_id is None else "REPOSITORY",
                  "resourceId": c.project_id if c.repository_id is None else c.repository_id},
        "sourceRefMatcher": reviewers.matcher_json(c.source_type, c.source_id),
        "targetRefMatcher": reviewers.matcher_json(c.target_type, c.target_id),
        "reviewers": [user_json(u, base) for u in users[c.id]],
        "reviewerGroups": [group_json(session, g, base, members[g.id]) for g in groups[c.id]],
        "requiredApprovals": c.required_approvals,
    } for c in conds]


def _one(session: Session, cond: ReviewerCondition, request: Request) -> dict[str, Any]:
    return conditions_json(session, [cond], base_url(request))[0]


def _list(request: Request, session: Session, who: Principal, key: str, slug: str | None) -> list[dict[str, Any]]:
    scope = scope_of(session, who, key, slug, L.READ)
    return conditions_json(session, reviewers.list_conditions(session, scope), base_url(request))


def _create(request: Request, session: Session, who: Principal, body: dict, key: str,
            slug: str | None) -> dict[str, Any]:
    scope = scope_of(session, who, key, slug, L.ADMIN)
    return _one(session, reviewers.create_condition(session, scope, body), request)


def _get(request: Request, session: Session, who: Principal, key: str, slug: str | None, cid: str) -> dict[str, Any]:
    scope = scope_of(session, who, key, slug, L.READ)
    return _one(session, reviewers.get_condition(session, scope, cid, inherited=True), request)


def _update(request: Request, session: Session, who: Principal, body: dict, key: str, slug: str | None,
            cid: str) -> dict[str, Any]:
    scope = scope_of(session, who, key, slug, L.ADMIN)
    return _one(session, reviewers.update_condition(session, scope, cid, body), request)


def _delete(session: Session, who: Principal, key: str, slug: str | None, cid: str) -> Response:
    reviewers.delete_condition(session, scope_of(session, who, key, slug, L.ADMIN), cid)
    return Response(status_code=204)


@router.get(DP + "/conditions")
def list_project_conditions(projectKey: str, request: Request, session: Session = Depends(db),
                            who: Principal = Depends(principal)) -> list[dict[str, Any]]:
    return _list(request, session, who, projectKey, None)


@router.get(DR + "/conditions")
def list_repo_conditions(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                         who: Principal = Depends(principal)) -> list[dict[str, Any]]:
    return _list(request, session, who, projectKey, repositorySlug)


@router.post(DP + "/condition")
def create_project_condition(projectKey: str, request: Request, body: dict = Depends(json_body),
                             session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    return _create(request, session, who, body, projectKey, None)


@router.post(DR + "/condition")
def create_repo_condition(projectKey: str, repositorySlug: str, request: Request, body: dict = Depends(json_body),
                          session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    return _create(request, session, who, body, projectKey, repositorySlug)


@router.get(DP + "/condition/{id}")
def get_project_condition(projectKey: str, id: str, request: Request, session: Session = Depends(db),
                          who: Principal = Depends(principal)) -> dict[str, Any]:
    """Not in the 10.4 spec; atlassian-python-api's get_project_condition calls it."""
    return _get(request, session, who, projectKey, None, id)


@router.get(DR + "/condition/{id}")
def get_repo_condition(projectKey: str, repositorySlug: str, id: str, request: Request,
                       session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    """Not in the 10.4 spec; atlassian-python-api's get_repo_condition calls it."""
    return _get(request, session, who, projectKey, repositorySlug, id)


@router.put(DP + "/condition/{id}")
def update_project_condition(projectKey: str, id: str, request: Request, body: dict = Depends(json_body),
                             session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    return _update(request, session, who, body, projectKey, None, id)


@router.put(DR + "/condition/{id}")
def update_repo_condition(projectKey: str, repositorySlug: str, id: str, request: Request,
                          body: dict = Depends(json_body), session: Session = Depends(db),
                          who: Principal = Depends(principal)) -> dict[str, Any]:
    return _update(request, session, who, body, projectKey, repositorySlug, id)


@router.delete(DP + "/condition/{id}", status_code=204)
def delete_project_condition(projectKey: str, id: str, session: Session = Depends(db),
                             who: Principal = Depends(principal)) -> Response:
    return _delete(session, who, projectKey, None, id)


@router.delete(DR + "/condition/{id}", status_code=204)
def delete_repo_condition(projectKey: str, repositorySlug: str, id: str, session: Session = Depends(db),
                          who: Principal = Depends(principal)) -> Response:
    return _delete(session, who, projectKey, repositorySlug, id)


def _param(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if value is None or not value.strip() or "\x00" in value:
        raise ValidationError(f"{name} is required.", name)
    return value.strip()


def _repo_param(session: Session, request: Request, name: str) -> Repository:
    raw = _param(request, name)
    repo = session.get(Repository, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if repo is None:
        raise ValidationError(f"Repository {raw} does not exist.", name)
    return repo


@router.get(DR + "/reviewers")
def reviewers_for(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                  who: Principal = Depends(principal)) -> list[dict[str, Any]]:
    """The users a pull request from sourceRefId (in sourceRepoId) to targetRefId gets as reviewers."""
    scope = scope_of(session, who, projectKey, repositorySlug, L.READ)
    assert scope.repo is not None
    target = _repo_param(session, request, "targetRepoId")
    if target.id != scope.repo.id:
        raise ValidationError("targetRepoId must be the repository in the URL.", "targetRepoId")
    source = _repo_param(session, request, "sourceRepoId")
    if source.hierarchy_id != target.hierarchy_id:
        raise ValidationError("The source repository must be the target repository or one of its forks.",
                              "sourceRepoId")
    require_repo(session, who, source, L.READ)
    users = reviewers.default_reviewers(session, scope.repo, _param(request, "sourceRefId"),
                                        _param(request, "targetRefId"))
    base = base_url(request)
    return [user_json(u, base) for u in users]

