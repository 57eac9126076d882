"""Repositories: validation, creation (database row + bare repository on disk), lookup, deletion."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from culm.core.errors import DuplicateEntity, NoSuchRepository, ValidationError
from culm.domain.projects import service as projects
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.git import storage

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]*$")
MAX_NAME = 128
BRANCH_RE = re.compile(r"^[^\x00-\x20~^:?*\[\\]+$")


def slugify(name: str) -> str:
    """Bitbucket's slug: lower-case, runs of spaces and unsafe characters become `-`."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-")
    return slug or "repo"


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("Repository name is required.", context="name")
    if len(name) > MAX_NAME:
        raise ValidationError(f"Repository name must be {MAX_NAME} characters or fewer.", context="name")
    if not NAME_RE.match(name):
        raise ValidationError(
            "Repository name must start with a letter or number and contain only letters, numbers, "
            "dashes, underscores, spaces, or periods.", context="name")
    return name


def normalise_branch(branch: object, context: str = "defaultBranch") -> str:
    """`main` or `refs/heads/main` -> `refs/heads/main`; anything git would refuse is a 400."""
    if not isinstance(branch, str) or not branch.strip():
        raise ValidationError("The branch name is invalid.", context=context)
    ref = branch if branch.startswith("refs/") else f"refs/heads/{branch}"
    name = ref.removeprefix("refs/heads/")
    if (not BRANCH_RE.match(name) or name.startswith(("-", "/")) or name.endswith((".", "/", ".lock"))
            or ".." in name or "//" in name or "@{" in name or len(ref) > 255):
        raise ValidationError(f"'{branch}' is not a valid branch name.", context=context)
    return ref


def find(session: Session, project: Project, slug: str) -> Repository | None:
    return session.scalar(
        select(Repository).where(Repository.project_id == project.id, Repository.slug == slug.lower())
    )


def require(session: Session, project_key: str, slug: str) -> tuple[Project, Repository]:
    try:
        project = projects.require(session, project_key)
    except Exception:
        raise NoSuchRepository(f"Repository {project_key}/{slug} does not exist.") from None
    repo = find(session, project, slug)
    if repo is None:
        raise NoSuchRepository(f"Repository {project_key}/{slug} does not exist.")
    return project, repo


def _check_unique(session: Session, project: Project, name: str, slug: str,
                  ignore_id: int | None = None) -> None:
    clash = session.scalar(select(Repository).where(
        Repository.project_id == project.id,
        (Repository.slug == slug) | (Repository.name_lower == name.lower()),
    ))
    if clash is not None and clash.id != ignore_id:
        raise DuplicateEntity(
            f"This repository URL is already taken by '{clash.name}' in '{project.name}'", context="name")


def create(session: Session, project: Project, name: object, *, description: object = None,
           forkable: object = True, public: object = False, default_branch: object = None,
           origin: Repository | None = None) -> Repository:
    """Insert the row, build the repository on disk, and undo the disk work if the transaction fails."""
    name = validate_name(name)
    for field, value in (("forkable", forkable), ("public", public)):
        if not isinstance(value, bool):
            raise ValidationError(f"'{field}' must be a boolean.", context=field)
    if description is not None and not isinstance(description, str):
        raise ValidationError("'description' must be a string.", context="description")
    branch = normalise_branch(default_branch) if default_branch is not None else (
        origin.default_branch if origin else "refs/heads/main")
    slug = slugify(name)
    _check_unique(session, project, name, slug)
    repo = Repository(
        project_id=project.id, slug=slug, name=name, name_lower=name.lower(), description=description,
        forkable=forkable, public=public, default_branch=branch, state="AVAILABLE",
        origin_id=origin.id if origin else None,
        hierarchy_id=origin.hierarchy_id if origin else secrets.token_hex(10),
    )
    session.add(repo)
    session.flush()
    if origin is not None:
        storage.fork(origin.id, repo.id, branch)
        from culm.domain.pushes.service import adopt_current_refs

        adopt_current_refs(session, repo.id)  # a fork's inherited refs are not ref changes
    else:
        storage.create(repo.id, branch)
    repo_id = repo.id

    @event.listens_for(session, "after_rollback", once=True)
    def _undo(_session: Session) -> None:
        storage.remove(repo_id)

    return repo


def delete(session: Session, repo: Repository) -> None:
    """Delete the row now and the files once the transaction has committed."""
    repo_id = repo.id
    session.delete(repo)
    session.flush()

    @event.listens_for(session, "after_commit", once=True)
    def _remove_files(_session: Session) -> None:
        storage.remove(repo_id)
