"""Projects: validation, creation, lookup (including users' personal `~slug` projects)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.core.errors import Conflict, DuplicateEntity, NoSuchProject, ValidationError
from culm.domain.projects.models import Project
from culm.domain.users import service as users

KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_KEY = 128
MAX_NAME = 255


def validate_key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise ValidationError("Project key is required.", context="key")
    if len(key) > MAX_KEY:
        raise ValidationError(f"Project key must be {MAX_KEY} characters or fewer.", context="key")
    if not KEY_RE.match(key):
        raise ValidationError(
            "Project keys must start with a letter and may only consist of ASCII letters, numbers and "
            "underscores (A-Z, a-z, 0-9, _).", context="key")
    return key


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("Project name is required.", context="name")
    if len(name) > MAX_NAME:
        raise ValidationError(f"Project name must be {MAX_NAME} characters or fewer.", context="name")
    return name


def validate_description(description: object) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str):
        raise ValidationError("Project description must be a string.", context="description")
    return description


def get_by_key(session: Session, key: str) -> Project | None:
    return session.scalar(select(Project).where(Project.key_upper == key.upper()))


def personal_project(session: Session, user_slug: str) -> Project:
    """The personal project `~slug` of a user, created on first use."""
    user = users.require_user(session, user_slug)
    key = f"~{user.slug}"
    project = get_by_key(session, key)
    if project is None:
        project = Project(key=key, key_upper=key.upper(), name=user.display_name,
                          name_lower=f"~personal~{user.id}", type="PERSONAL", owner_id=user.id)
        session.add(project)
        session.flush()
    return project


def require(session: Session, key: str) -> Project:
    if key.startswith("~"):
        try:
            return personal_project(session, key[1:])
        except Exception:
            raise NoSuchProject(f"Project {key} does not exist.") from None
    project = get_by_key(session, key)
    if project is None:
        raise NoSuchProject(f"Project {key} does not exist.")
    return project


def create(session: Session, key: object, name: object, description: object = None,
           public: object = False) -> Project:
    key = validate_key(key)
    name = validate_name(name)
    description = validate_description(description)
    if not isinstance(public, bool):
        raise ValidationError("'public' must be a boolean.", context="public")
    if get_by_key(session, key) is not None:
        raise DuplicateEntity(f"Project key '{key}' is already in use.", context="key")
    if session.scalar(select(Project).where(Project.name_lower == name.lower())) is not None:
        raise DuplicateEntity(f"Project name '{name}' is already in use.", context="name")
    project = Project(key=key, key_upper=key.upper(), name=name, name_lower=name.lower(),
                      description=description, public=public, type="NORMAL")
    session.add(project)
    session.flush()
    return project


def _check_unique(session: Session, project: Project, key: str, name: str) -> None:
    clash = get_by_key(session, key)
    if clash is not None and clash.id != project.id:
        raise DuplicateEntity(f"Project key '{key}' is already in use.", context="key")
    clash = session.scalar(select(Project).where(Project.name_lower == name.lower()))
    if clash is not None and clash.id != project.id:
        raise DuplicateEntity(f"Project name '{name}' is already in use.", context="name")


def update(session: Session, project: Project, body: dict) -> bool:
    """Apply a PUT body (key, name, description, public). Returns True when the key changed."""
    if project.type == "PERSONAL" and any(f in body for f in ("key", "name")) and (
            body.get("key", project.key) != project.key or body.get("name", project.name) != project.name):
        raise ValidationError("The key and name of a personal project cannot be changed.", context="key")
    key = validate_key(body["key"]) if body.get("key") is not None and project.type == "NORMAL" else project.key
    name = validate_name(body["name"]) if "name" in body else project.name
    description = validate_description(body["description"]) if "description" in body else project.description
    public = body.get("public", project.public)
    if not isinstance(public, bool):
        raise ValidationError("'public' must be a boolean.", context="public")
    _check_unique(session, project, key, name)
    key_changed = key != project.key
    project.key, project.key_upper = key, key.upper()
    if project.type == "NORMAL":
        project.name, project.name_lower = name, name.lower()
    project.description = description
    project.public = public
    session.flush()
    return key_changed


def delete(session: Session, project: Project) -> None:
    """Only an empty project can go (Bitbucket: 409 while repositories remain)."""
    from culm.domain.repos.models import Repository

    if session.scalar(select(Repository.id).where(Repository.project_id == project.id).limit(1)) is not None:
        raise Conflict(f'The project "{project.key}" cannot be deleted because it has repositories.')
    session.delete(project)
    session.flush()
