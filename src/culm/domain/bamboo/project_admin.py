"""Bamboo projects administered directly (create, delete) and the forge repositories allowed to manage a
project through Bamboo Specs ("Repositories allowed to manage the project via Specs").

Enforcement (see `refusals`, called by the Specs scanner): once a project has repositories assigned, only
they may create plans in it through repository-stored Specs; a repository may always update the plans it
already owns, and a project the Specs create is open until an administrator assigns repositories to it."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from culm.domain.bamboo.admin_models import BambooProjectRepository
from culm.domain.bamboo.models import BambooPlan, BambooProject, BambooVariable
from culm.domain.bamboo.service import Invalid, NotFound
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository

PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,254}$")


def create(session: Session, body: dict[str, Any]) -> BambooProject:
    key, name, description = body.get("key"), body.get("name"), body.get("description") or ""
    errors: dict[str, list[str]] = {}
    if not isinstance(key, str) or not PROJECT_KEY.match(key):
        errors["key"] = ["Project key must start with an upper-case letter and contain only upper-case letters, "
                         "digits and underscores."]
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        errors["name"] = ["Project name is required (1-255 characters)."]
    if not isinstance(description, str) or len(description) > 10_000:
        errors["description"] = ["Project description must be text of at most 10000 characters."]
    if not errors:
        assert isinstance(key, str) and isinstance(name, str)
        if session.scalar(select(BambooProject.id).where(BambooProject.key == key)) is not None:
            errors["key"] = [f"This project key is already used by another project: {key}."]
        if session.scalar(select(BambooProject.id).where(func.lower(BambooProject.name) == name.strip().lower())):
            errors["name"] = [f"This project name is already used by another project: {name.strip()}."]
    if errors:
        raise FieldsInvalid(errors)
    row = BambooProject(key=key, name=str(name).strip(), description=description)
    session.add(row)
    session.flush()
    return row


class FieldsInvalid(Invalid):
    """A 400 naming the fields at fault (Bamboo's `fieldErrors`)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for msgs in fields.values() for m in msgs))
        self.fields = fields


def delete_project(session: Session, project: BambooProject) -> None:
    """Only an empty project goes (Bamboo refuses one with plans); its variables and assignments go with it."""
    plans = session.scalar(select(func.count()).select_from(BambooPlan).where(BambooPlan.project_id == project.id))
    if plans:
        raise Invalid(f"Project {project.key} has {plans} plan(s); delete them before deleting the project.")
    session.execute(delete(BambooVariable).where(BambooVariable.scope == "PROJECT",
                                                 BambooVariable.owner_id == project.id))
    session.execute(delete(BambooProjectRepository).where(BambooProjectRepository.project_id == project.id))
    session.delete(project)
    session.flush()


def repository(session: Session, raw_id: Any) -> tuple[Repository, Project]:
    try:
        repo_id = int(raw_id)
    except (TypeError, ValueError):
        raise NotFound(f"Repository with id {raw_id} not found") from None
    row = session.execute(select(Repository, Project).join(Project, Project.id == Repository.project_id)
                          .where(Repository.id == repo_id)).first()
    if row is None:
        raise NotFound(f"Repository with id {raw_id} not found")
    return row[0], row[1]


def assigned(session: Session, project: BambooProject) -> list[tuple[Repository, Project]]:
    rows = session.execute(select(Repository, Project).join(Project, Project.id == Repository.project_id)
                           .join(BambooProjectRepository, BambooProjectRepository.repository_id == Repository.id)
                           .where(BambooProjectRepository.project_id == project.id)
                           .order_by(Project.key, Repository.slug)).all()
    return [(r[0], r[1]) for r in rows]


def assign(session: Session, project: BambooProject, repo: Repository) -> None:
    if session.get(BambooProjectRepository, (project.id, repo.id)) is not None:
        raise Invalid(f"Repository {repo.name} may already manage project {project.key}.")
    session.add(BambooProjectRepository(project_id=project.id, repository_id=repo.id))
    session.flush()


def unassign(session: Session, project: BambooProject, raw_id: str) -> None:
    row = session.get(BambooProjectRepository, (project.id, int(raw_id))) if raw_id.isdigit() and \
        len(raw_id) < 18 else None
    if row is None:
        raise NotFound(f"Repository with id {raw_id} is not assigned to project {project.key}")
    session.delete(row)
    session.flush()


def plan_repositories(session: Session, project: BambooProject) -> list[tuple[Repository, Project]]:
    """The repositories of a project: those its plans build, then those assigned to it."""
    linked = select(BambooPlan.repository_id).where(BambooPlan.project_id == project.id,
                                                    BambooPlan.repository_id.is_not(None))
    granted = select(BambooProjectRepository.repository_id).where(BambooProjectRepository.project_id == project.id)
    rows = session.execute(select(Repository, Project).join(Project, Project.id == Repository.project_id)
                           .where(Repository.id.in_(linked) | Repository.id.in_(granted))
                           .order_by(Project.key, Repository.slug)).all()
    return [(r[0], r[1]) for r in rows]


def refusals(session: Session, repository_id: int, specs: list[dict[str, Any]]) -> list[str]:
    """Why Specs from `repository_id` may not create or update these plans (empty when they may)."""
    out = []
    for spec in specs:
        project = session.scalar(select(BambooProject).where(BambooProject.key == spec["projectKey"]))
        if project is None:
            continue
        granted = set(session.scalars(select(BambooProjectRepository.repository_id)
                                      .where(BambooProjectRepository.project_id == project.id)))
        if not granted or repository_id in granted:
            continue
        owner = session.scalar(select(BambooPlan.repository_id).where(BambooPlan.project_id == project.id,
                                                                      BambooPlan.key == spec["key"],
                                                                      BambooPlan.master_id.is_(None)))
        if owner == repository_id:
            continue
        out.append(f"plan {spec['projectKey']}-{spec['key']}: this repository is not allowed to manage project "
                   f"{project.key} through Bamboo Specs")
    return out
