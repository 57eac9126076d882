"""Finding the repository a content route names and checking the caller may read or write it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_repo
from culm.domain.projects.models import Project
from culm.domain.repos import service as repos
from culm.domain.repos.models import Repository


def repo_at(session: Session, who: Principal, project_key: str, slug: str,
            level: int = L.READ) -> tuple[Project, Repository]:
    """The repository, once the caller holds `level` on it (404 before 401, as Bitbucket)."""
    project, repo = repos.require(session, project_key, slug)
    require_repo(session, who, repo, level)
    return project, repo


def readable(session: Session, who: Principal, project_key: str, slug: str) -> Repository:
    return repo_at(session, who, project_key, slug, L.READ)[1]


def writable(session: Session, who: Principal, project_key: str, slug: str) -> Repository:
    return repo_at(session, who, project_key, slug, L.WRITE)[1]
