"""Resolving the two ends of a pull request: the repositories (same fork hierarchy, readable) and
the branches (short names and `refs/heads/...` both accepted, as clients pass them verbatim)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from culm.core.errors import InvalidPullRequestTarget, NoSuchBranch, ValidationError
from culm.domain.content.edit import RepositoryArchived
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_repo
from culm.domain.projects.models import Project
from culm.domain.repos import service as repos
from culm.domain.repos.models import Repository
from culm.git import storage
from culm.git.refwrite import valid_ref_name


@dataclass(frozen=True)
class End:
    repo: Repository
    ref: str
    commit: str


def not_archived(repo: Repository) -> None:
    """Archived repositories are read-only: no pull request is opened, edited or removed there (409)."""
    if repo.archived:
        raise RepositoryArchived(f"Repository {repo.slug} is archived; its pull requests cannot be changed.")


def _ref_id(value: Any, field: str) -> str:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"].strip():
        raise ValidationError(f"'{field}' must name a branch: {{\"id\": \"refs/heads/...\"}}.", context=field)
    raw = value["id"].strip()
    ref = raw if raw.startswith("refs/") else f"refs/heads/{raw}"
    if not ref.startswith("refs/heads/") or not valid_ref_name(ref) or raw.startswith("-"):
        raise ValidationError(f"'{raw}' is not a valid branch name.", context=field)
    return ref


def _repository(session: Session, value: Any, default: Repository, field: str) -> Repository:
    """The repository a ref names (`repository {slug, project{key}}`), else `default`."""
    spec = value.get("repository") if isinstance(value, dict) else None
    if spec is None:
        return default
    if not isinstance(spec, dict):
        raise ValidationError(f"'{field}.repository' must be an object.", context=field)
    slug = spec.get("slug")
    project = spec.get("project")
    key = project.get("key") if isinstance(project, dict) else None
    if not slug and not key:
        return default
    if not isinstance(slug, str) or not isinstance(key, str) or "\x00" in slug + key:
        raise ValidationError(f"'{field}.repository' needs a slug and a project key.", context=field)
    if key.upper() == _key(session, default).upper() and slug.lower() == default.slug.lower():
        return default
    return repos.require(session, key, slug)[1]


def _key(session: Session, repo: Repository) -> str:
    project = session.get(Project, repo.project_id)
    return project.key if project else ""


def branch(session: Session, repo: Repository, ref: str) -> str:
    """The commit a branch points at; 404 NoSuchBranchException when it does not exist."""
    commit = storage.resolve_ref(repo.id, ref)
    if commit is None:
        raise NoSuchBranch(f"Repository ref '{ref}' does not exist in repository '{repo.name}'.")
    return commit


def target_end(session: Session, target: Repository, value: Any, field: str = "toRef") -> End:
    repo = _repository(session, value, target, field)
    if repo.id != target.id:
        raise ValidationError("The target repository of a pull request is the repository it is created in.",
                              context=field)
    ref = _ref_id(value, field)
    return End(target, ref, branch(session, target, ref))


def source_end(session: Session, who: Principal, target: Repository, value: Any) -> End:
    """The source may be the target itself or any repository of its fork hierarchy the caller can read."""
    repo = _repository(session, value, target, "fromRef")
    if repo.id != target.id:
        require_repo(session, who, repo, L.READ)
        if repo.hierarchy_id != target.hierarchy_id:
            raise InvalidPullRequestTarget(
                "Pull requests can only be opened between repositories of the same fork hierarchy.",
                context="fromRef")
    ref = _ref_id(value, "fromRef")
    return End(repo, ref, branch(session, repo, ref))
