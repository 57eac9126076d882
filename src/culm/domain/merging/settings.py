"""Pull request merge settings: which merge strategies are enabled and which is the default, inherited
repository → project → server (per SCM) → built-in default, plus a repository's built-in merge checks
(required approvers, all approvers, all tasks complete, successful builds).

Bitbucket's built-in default: every strategy offered, only "Merge commit" (`no-ff`) enabled and default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.core.errors import NotFound, ValidationError
from culm.domain.merging.models import MergeConfig, RepoPullRequestSettings
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.domain.settings import service as system

# id, name, description, flag — in the order Bitbucket lists them.
STRATEGIES: tuple[tuple[str, str, str, str], ...] = (
    ("no-ff", "Merge commit", "Always create a merge commit", "--no-ff"),
    ("ff", "Fast-forward", "Fast-forward if possible, otherwise create a merge commit", "--ff"),
    ("ff-only", "Fast-forward only", "Fast-forward, or reject the merge if the source branch is out of date",
     "--ff-only"),
    ("rebase-no-ff", "Rebase, merge", "Rebase the source commits onto the target branch, then create a merge "
     "commit", "rebase + merge --no-ff"),
    ("rebase-ff-only", "Rebase, fast-forward", "Rebase the source commits onto the target branch, then "
     "fast-forward", "rebase + merge --ff-only"),
    ("squash", "Squash", "Combine all commits into one new non-merge commit on the target branch", "--squash"),
    ("squash-ff-only", "Squash, fast-forward only", "Combine all commits into one new non-merge commit, or reject "
     "the merge if the source branch is out of date", "--squash --ff-only"),
)
STRATEGY_IDS = tuple(s[0] for s in STRATEGIES)
SCMS = ("git",)
BUILT_IN_DEFAULT = "no-ff"
BUILT_IN_ENABLED = ("no-ff",)
BUILT_IN_SUMMARIES = 20
# The merge checks' own keys (a map of `enabled` and `count`), preferred to the deprecated fields.
APPROVERS_HOOK = "com.atlassian.bitbucket.server.bundled-hooks.requiredApproversMergeHook"
BUILDS_HOOK = "com.atlassian.bitbucket.server.bitbucket-build.requiredBuildsMergeCheck"
_KEEP = object()  # commitMessageTemplate left out of a request: the stored one stays


@dataclass(frozen=True)
class MergeConfigValue:
    default_strategy: str
    enabled: tuple[str, ...]
    commit_summaries: int
    type: str  # DEFAULT | SCM | PROJECT | REPOSITORY: where it came from
    template: tuple[str, str] | None = None  # commit message template (title, body), when one is set


@dataclass(frozen=True)
class MergeSettings:
    """What a merge into a repository must respect."""

    merge_config: MergeConfigValue
    required_all_approvers: bool = False
    required_all_tasks_complete: bool = False
    required_approvers: int = 0
    required_successful_builds: int = 0


def _scm_key(scm_id: str) -> str:
    return f"pull-requests.merge.{scm_id}"


def require_scm(scm_id: str) -> str:
    if scm_id not in SCMS:
        raise NotFound(f"No SCM with ID '{scm_id}' is available.", context="scmId")
    return scm_id


def _from_row(row: MergeConfig, kind: str) -> MergeConfigValue:
    enabled = tuple(s for s in STRATEGY_IDS if s in row.strategies.split(","))
    template = (row.template_title, row.template_body) if row.template_title is not None else None
    return MergeConfigValue(row.default_strategy, enabled, row.commit_summaries
                            if row.commit_summaries is not None else BUILT_IN_SUMMARIES, kind,
                            template)  # type: ignore[arg-type]


def scm_config(session: Session, scm_id: str = "git") -> MergeConfigValue:
    raw = system.get(session, _scm_key(scm_id))
    if raw is None:
        return MergeConfigValue(BUILT_IN_DEFAULT, BUILT_IN_ENABLED, BUILT_IN_SUMMARIES, "DEFAULT")
    data = json.loads(raw)
    template = tuple(data["template"]) if data.get("template") else None
    return MergeConfigValue(data["default"], tuple(data["enabled"]), data["summaries"], "SCM",
                            template)  # type: ignore[arg-type]


def project_config(session: Session, project: Project) -> MergeConfigValue:
    row = session.scalar(select(MergeConfig).where(MergeConfig.project_id == project.id))
    return _from_row(row, "PROJECT") if row is not None else scm_config(session)


def repo_config(session: Session, repo: Repository) -> MergeConfigValue:
    row = session.scalar(select(MergeConfig).where(MergeConfig.repository_id == repo.id))
    if row is not None:
        return _from_row(row, "REPOSITORY")
    project = session.get(Project, repo.project_id)
    assert project is not None
    return project_config(session, project)


def effective(session: Session, repo: Repository) -> MergeSettings:
    """The merge settings in force for pull requests into `repo` (for the merge endpoint and checks)."""
    row = session.get(RepoPullRequestSettings, repo.id)
    config = repo_config(session, repo)
    if row is None:
        return MergeSettings(config)
    return MergeSettings(config, row.required_all_approvers, row.required_all_tasks_complete,
                         row.required_approvers, row.required_successful_builds)


def strategy_for(session: Session, repo: Repository, requested: str | None) -> str:
    """The strategy a merge into `repo` uses: the requested one if it is enabled, else the default."""
    config = repo_config(session, repo)
    if not requested:
        return config.default_strategy
    if requested not in STRATEGY_IDS:
        raise ValidationError(f"'{requested}' is not a valid merge strategy.", context="strategyId")
    if requested not in config.enabled:
        raise ValidationError(f"The merge strategy '{requested}' is not enabled for this repository.",
                              context="strategyId")
    return requested


# ---- validation and writes ---------------------------------------------------------------------------

def parse_merge_config(body: Any) -> MergeConfigValue:
    """A `mergeConfig` object: `strategies` (the enabled ones: each `{id}`, `enabled: false` ones skipped),
    `defaultStrategy: {id}` (must be one of them), optional `commitSummaries` (0-100)."""
    if not isinstance(body, dict):
        raise ValidationError("mergeConfig must be an object.", context="mergeConfig")
    strategies = body.get("strategies")
    if not isinstance(strategies, list) or not strategies:
        raise ValidationError("At least one merge strategy must be enabled.", context="strategies")
    enabled: set[str] = set()
    for item in strategies:
        sid = item.get("id") if isinstance(item, dict) else None
        if not isinstance(sid, str) or sid not in STRATEGY_IDS:
            raise ValidationError(f"'{sid}' is not a valid merge strategy. Valid strategies are "
                                  f"{', '.join(STRATEGY_IDS)}.", context="strategies")
        if item.get("enabled", True) is not False:
            enabled.add(sid)
    if not enabled:
        raise ValidationError("At least one merge strategy must be enabled.", context="strategies")
    default = body.get("defaultStrategy")
    did = default.get("id") if isinstance(default, dict) else None
    if not isinstance(did, str) or not did:
        raise ValidationError("A default merge strategy is required.", context="defaultStrategy")
    if did not in STRATEGY_IDS:
        raise ValidationError(f"'{did}' is not a valid merge strategy.", context="defaultStrategy")
    if did not in enabled:
        raise ValidationError(f"The default merge strategy '{did}' must be enabled.", context="defaultStrategy")
    summaries = body.get("commitSummaries", BUILT_IN_SUMMARIES)
    if isinstance(summaries, bool) or not isinstance(summaries, int) or not 0 <= summaries <= 100:
        raise ValidationError("commitSummaries must be a number from 0 to 100.", context="commitSummaries")
    return MergeConfigValue(did, tuple(s for s in STRATEGY_IDS if s in enabled), summaries, "")


def _is_delete(config: Any) -> bool:
    """`"mergeConfig": {}` deletes an explicit configuration (Bitbucket); null is taken the same way."""
    return config is None or config == {}


def parse_template(config: dict[str, Any]) -> Any:
    """`commitMessageTemplate`: left out → keep the stored one (`_KEEP`); `{}` → none; else (title, body)."""
    if "commitMessageTemplate" not in config:
        return _KEEP
    template = config["commitMessageTemplate"]
    if template is None or template == {}:
        return None
    if not isinstance(template, dict):
        raise ValidationError("commitMessageTemplate must be an object.", context="commitMessageTemplate")
    title, body = template.get("title"), template.get("body")
    if not isinstance(title, str) or not title.strip() or not isinstance(body, str):
        raise ValidationError("A commit message template needs a 'title' and a 'body'.",
                              context="commitMessageTemplate")
    if len(title) > 1000 or len(body) > 10000 or "\x00" in title + body:
        raise ValidationError("The commit message template is too long or holds invalid characters.",
                              context="commitMessageTemplate")
    return (title, body)


def set_scm_config(session: Session, scm_id: str, body: Any) -> None:
    """`{"mergeConfig": {...}}`; `{"mergeConfig": null}` goes back to the built-in default."""
    config = _wrapped(body)
    if _is_delete(config):
        system.clear(session, _scm_key(scm_id))
        return
    value = parse_merge_config(config)
    template = parse_template(config)
    if template is _KEEP:
        template = scm_config(session, scm_id).template
    system.put(session, _scm_key(scm_id), json.dumps({"default": value.default_strategy,
                                                      "enabled": list(value.enabled),
                                                      "summaries": value.commit_summaries,
                                                      "template": list(template) if template else None}))


def _wrapped(body: Any) -> Any:
    if not isinstance(body, dict) or "mergeConfig" not in body:
        raise ValidationError("mergeConfig is required.", context="mergeConfig")
    return body["mergeConfig"]


def _store(session: Session, row: MergeConfig | None, config: Any, **owner: int) -> None:
    if _is_delete(config):
        if row is not None:
            session.delete(row)
        return
    value = parse_merge_config(config)
    template = parse_template(config)
    if template is not _KEEP:
        title, body = template if template else (None, None)
        if row is not None:
            row.template_title, row.template_body = title, body
        else:
            owner = {**owner, "template_title": title, "template_body": body}  # type: ignore[dict-item]
    if row is None:
        row = MergeConfig(**owner)
        session.add(row)
    row.default_strategy = value.default_strategy
    row.strategies = ",".join(value.enabled)
    row.commit_summaries = value.commit_summaries


def set_project_config(session: Session, project: Project, body: Any) -> None:
    """`{"mergeConfig": {...}}` overrides the server's; `{"mergeConfig": null}` inherits it again."""
    config = _wrapped(body)
    row = session.scalar(select(MergeConfig).where(MergeConfig.project_id == project.id))
    _store(session, row, config, project_id=project.id)
    session.flush()


def _count(value: Any, what: str) -> int:
    """`{"count": "2", "enabled": true}` (count as text or number), or a bare number."""
    if isinstance(value, dict):
        if value.get("enabled") is False:
            return 0
        value = value.get("count", 0)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValidationError(f"{what} must be a number from 0 to 100.", context=what)
    return value


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{what} must be true or false.", context=what)
    return value


def update_repo_settings(session: Session, repo: Repository, body: dict[str, Any]) -> None:
    """Partial update: fields left out keep their value. `mergeConfig: null` inherits the project's."""
    row = session.get(RepoPullRequestSettings, repo.id)
    values = {"required_all_approvers": row.required_all_approvers if row else False,
              "required_all_tasks_complete": row.required_all_tasks_complete if row else False,
              "required_approvers": row.required_approvers if row else 0,
              "required_successful_builds": row.required_successful_builds if row else 0}
    if "requiredAllApprovers" in body:
        values["required_all_approvers"] = _flag(body["requiredAllApprovers"], "requiredAllApprovers")
    if "requiredAllTasksComplete" in body:
        values["required_all_tasks_complete"] = _flag(body["requiredAllTasksComplete"], "requiredAllTasksComplete")
    for field, keys in (("required_approvers", (APPROVERS_HOOK, "requiredApprovers", "requiredApproversDeprecated")),
                        ("required_successful_builds", (BUILDS_HOOK, "requiredSuccessfulBuilds",
                                                        "requiredSuccessfulBuildsDeprecated"))):
        key = next((k for k in keys if k in body), None)
        if key is not None:
            values[field] = _count(body[key], key)
    if "mergeConfig" in body:
        existing = session.scalar(select(MergeConfig).where(MergeConfig.repository_id == repo.id))
        _store(session, existing, body["mergeConfig"], repository_id=repo.id)
    if row is None:
        session.add(RepoPullRequestSettings(repository_id=repo.id, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()
