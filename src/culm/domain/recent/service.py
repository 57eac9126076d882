"""Recently accessed repositories (`/profile/recent/repos`): recorded on reads, listed newest first."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from culm.domain.base import now_ms
from culm.domain.permissions import visibility
from culm.domain.permissions.service import Principal
from culm.domain.projects.models import Project
from culm.domain.recent.models import RecentRepository
from culm.domain.repos.models import Repository


def record(session: Session, user_id: int, repository_id: int) -> None:
    """One upsert statement (SQLite and PostgreSQL), so a read costs a single cheap write and
    concurrent reads of the same repository by the same user cannot collide."""
    table = RecentRepository.__table__
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = now_ms()
    stmt = insert(table).values(user_id=user_id, repository_id=repository_id, accessed=now)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.user_id, table.c.repository_id],
                                      set_={"accessed": now})
    session.execute(stmt)


def recent_query(session: Session, who: Principal, level: int) -> Select:
    """The caller's recently accessed repositories they still hold `level` on, most recent first."""
    assert who.user is not None
    return (
        select(Repository)
        .join(RecentRepository, RecentRepository.repository_id == Repository.id)
        .join(Project, Project.id == Repository.project_id)
        .where(RecentRepository.user_id == who.user.id, visibility.repo_condition(session, who, level))
        .order_by(RecentRepository.accessed.desc(), Repository.id.desc())
    )
