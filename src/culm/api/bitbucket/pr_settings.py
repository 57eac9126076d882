"""Pull request merge settings: `{R}/settings/pull-requests` (merge strategies and merge checks of a
repository), `/projects/{projectKey}/settings/pull-requests/{scmId}` (a project's merge strategies) and
`/admin/pull-requests/{scmId}` (the server's). Rules and inheritance live in `culm.domain.merging.settings`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.deps import db, json_body, principal
from culm.core.errors import AuthenticationRequired
from culm.domain.merging import settings as S
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_global, require_project, require_repo
from culm.domain.projects import service as projects
from culm.domain.repos import service as repos

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}"


def _strategy_json(sid: str, enabled: bool) -> dict[str, Any]:
    _, name, description, flag = next(s for s in S.STRATEGIES if s[0] == sid)
    return {"id": sid, "name": name, "description": description, "flag": flag, "enabled": enabled, "links": {}}


def merge_config_json(config: S.MergeConfigValue) -> dict[str, Any]:
    """RestPullRequestMergeConfig: every strategy, each saying whether it is enabled."""
    out: dict[str, Any] = {
        "commitSummaries": config.commit_summaries,
        "defaultStrategy": _strategy_json(config.default_strategy, True),
        "strategies": [_strategy_json(sid, sid in config.enabled) for sid in S.STRATEGY_IDS],
        "type": config.type,
    }
    if config.template is not None:
        out["commitMessageTemplate"] = {"title": config.template[0], "body": config.template[1]}
    return out


def _repo_settings_json(settings: S.MergeSettings) -> dict[str, Any]:
    return {
        "mergeConfig": merge_config_json(settings.merge_config),
        "requiredAllApprovers": settings.required_all_approvers,
        "requiredAllTasksComplete": settings.required_all_tasks_complete,
        "requiredApprovers": {"count": str(settings.required_approvers), "enabled": settings.required_approvers > 0},
        "requiredApproversDeprecated": settings.required_approvers,
        "requiredSuccessfulBuilds": {"count": str(settings.required_successful_builds),
                                     "enabled": settings.required_successful_builds > 0},
        "requiredSuccessfulBuildsDeprecated": settings.required_successful_builds,
        S.APPROVERS_HOOK: {"enabled": settings.required_approvers > 0, "count": settings.required_approvers},
        S.BUILDS_HOOK: {"enabled": settings.required_successful_builds > 0,
                        "count": settings.required_successful_builds},
    }


# -- repository --------------------------------------------------------------------------------
@router.get(R + "/settings/pull-requests")
def get_repo_settings(projectKey: str, repositorySlug: str, session: Session = Depends(db),
                      who: Principal = Depends(principal)) -> dict[str, Any]:
    _, repo = repos.require(session, projectKey, repositorySlug)
    require_repo(session, who, repo, L.READ)
    return _repo_settings_json(S.effective(session, repo))


@router.post(R + "/settings/pull-requests")
def update_repo_settings(projectKey: str, repositorySlug: str, body: dict = Depends(json_body),
                         session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    _, repo = repos.require(session, projectKey, repositorySlug)
    require_repo(session, who, repo, L.ADMIN)
    S.update_repo_settings(session, repo, body)
    return _repo_settings_json(S.effective(session, repo))


# -- project -----------------------------------------------------------------------------------
@router.get(A + "/projects/{projectKey}/settings/pull-requests/{scmId}")
def get_project_settings(projectKey: str, scmId: str, session: Session = Depends(db),
                         who: Principal = Depends(principal)) -> dict[str, Any]:
    project = projects.require(session, projectKey)
    require_project(session, who, project, L.READ)
    S.require_scm(scmId)
    return {"mergeConfig": merge_config_json(S.project_config(session, project))}


@router.post(A + "/projects/{projectKey}/settings/pull-requests/{scmId}")
def update_project_settings(projectKey: str, scmId: str, body: dict = Depends(json_body),
                            session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    project = projects.require(session, projectKey)
    require_project(session, who, project, L.ADMIN)
    S.require_scm(scmId)
    S.set_project_config(session, project, body)
    return {"mergeConfig": merge_config_json(S.project_config(session, project))}


# -- server ------------------------------------------------------------------------------------
@router.get(A + "/admin/pull-requests/{scmId}")
def get_merge_config(scmId: str, session: Session = Depends(db),
                     who: Principal = Depends(principal)) -> dict[str, Any]:
    if who.anonymous:
        raise AuthenticationRequired("Authentication required.")
    S.require_scm(scmId)
    return merge_config_json(S.scm_config(session, scmId))


@router.post(A + "/admin/pull-requests/{scmId}")
def set_merge_config(scmId: str, body: dict = Depends(json_body), session: Session = Depends(db),
                     who: Principal = Depends(principal)) -> dict[str, Any]:
    require_global(session, who, L.G_ADMIN)
    S.require_scm(scmId)
    S.set_scm_config(session, scmId, body)
    return merge_config_json(S.scm_config(session, scmId))
