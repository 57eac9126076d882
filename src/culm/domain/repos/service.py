"""Repositories: validation, creation (database row + bare repository on disk), lookup, deletion."""

from __future__ import annotations

import logging
import re
import secrets

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from culm.core.errors import DuplicateEntity, NoSuchRepository, ValidationError
from culm.domain.projects import service as projects
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.git import storage

log = logging.getLogger(__name__)
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
    if default_branch is not None:
        branch = normalise_branch(default_branch)
    elif origin is not None:
        branch = origin.default_branch
    else:
        from culm.domain.settings.service import default_branch_for_new_repository

        branch = default_branch_for_new_repository(session)
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
    """Delete the row now and the files once the transaction has committed. Direct forks borrow
    objects from this repository (alternates), so they get their own copies first."""
    repo_id = repo.id
    forks = list(session.scalars(select(Repository.id).where(Repository.origin_id == repo_id)))
    session.delete(repo)
    session.flush()

    @event.listens_for(session, "after_commit", once=True)
    def _remove_files(_session: Session) -> None:
        try:
            for fork_id in forks:
                storage.dissociate(fork_id)
        except Exception:
            # Keep the origin's objects rather than break a fork; the files are orphaned, not lost.
            log.exception("could not dissociate forks of repository %s; its files are kept", repo_id)
            return
        storage.remove(repo_id)


def _bool(body: dict, field: str, current: bool) -> bool:
    value = body.get(field, current)
    if value is None:
        return current
    if not isinstance(value, bool):
        raise ValidationError(f"'{field}' must be a boolean.", context=field)
    return value


def _branch_id(value: object) -> object:
    """`defaultBranch` may be a string or a ref object `{"id": ...}`."""
    if isinstance(value, dict):
        return value.get("id") or value.get("displayId")
    return value


def update(session: Session, repo: Repository, body: dict, target: Project | None = None) -> Repository:
    """Apply a PUT body: rename (new slug), move to `target`, description, forkable, public,
    archived, defaultBranch. Renames and moves touch no files (data is keyed by id)."""
    project = target or session.get(Project, repo.project_id)
    assert project is not None
    name = validate_name(body["name"]) if body.get("name") is not None else repo.name
    description = body.get("description", repo.description)
    if description is not None and not isinstance(description, str):
        raise ValidationError("'description' must be a string.", context="description")
    forkable = _bool(body, "forkable", repo.forkable)
    public = _bool(body, "public", repo.public)
    archived = _bool(body, "archived", repo.archived)
    branch = body.get("defaultBranch")
    new_branch = normalise_branch(_branch_id(branch)) if branch is not None else repo.default_branch
    slug = slugify(name) if name != repo.name or project.id != repo.project_id else repo.slug
    _check_unique(session, project, name, slug, ignore_id=repo.id)
    repo.name, repo.name_lower, repo.slug = name, name.lower(), slug
    repo.project_id = project.id
    repo.description, repo.forkable, repo.public, repo.archived = description, forkable, public, archived
    session.flush()
    if new_branch != repo.default_branch:
        set_default_branch(session, repo, new_branch)
    return repo


def set_default_branch(session: Session, repo: Repository, branch: object) -> None:
    """Record the default branch and point HEAD at it; HEAD is put back if the transaction fails."""
    ref = normalise_branch(_branch_id(branch), context="id")
    old, repo_id = repo.default_branch, repo.id
    repo.default_branch = ref
    session.flush()
    storage.set_head(repo_id, ref)

    @event.listens_for(session, "after_rollback", once=True)
    def _restore(_session: Session) -> None:
        storage.set_head(repo_id, old)


def fork(session: Session, origin: Repository, target: Project, body: dict) -> Repository:
    """A new repository in `target` sharing the origin's history and hierarchy."""
    if "scmId" in body and body["scmId"] is not None:
        raise ValidationError("An SCM type cannot be specified when forking a repository.", context="scmId")
    if not origin.forkable:
        raise ValidationError(f"Repository {origin.name} is not forkable.", context="forkable")
    name = body.get("name") or origin.name
    branch = _branch_id(body["defaultBranch"]) if body.get("defaultBranch") is not None else None
    try:
        return create(session, target, name, description=body.get("description", origin.description),
                      forkable=True, public=False, default_branch=branch, origin=origin)
    except DuplicateEntity as exc:
        # The spec answers a name clash on fork with 400, not 409.
        raise ValidationError(exc.message, context="name") from None


def recreate(session: Session, repo: Repository) -> Repository:
    """Retry a failed creation: clear what is on disk and build the repository again."""
    if repo.state != "INITIALISATION_FAILED":
        raise ValidationError(f"Repository {repo.name} is not in a failed state and cannot be recreated.")
    storage.remove(repo.id)
    if repo.origin_id is not None:
        storage.fork(repo.origin_id, repo.id, repo.default_branch)
    else:
        storage.create(repo.id, repo.default_branch)
    repo.state = "AVAILABLE"
    session.flush()
    return repo
