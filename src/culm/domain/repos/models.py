from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class Repository(Base):
    """A repository's data lives at `<home>/shared/data/repositories/<id>`: a rename moves no files."""

    __tablename__ = "repositories"
    __table_args__ = (
        UniqueConstraint("project_id", "slug", name="uq_repositories_project_slug"),
        UniqueConstraint("project_id", "name_lower", name="uq_repositories_project_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    slug: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    name_lower: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    forkable: Mapped[bool] = mapped_column(Boolean, default=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(32), default="AVAILABLE")
    # Forks point at their origin; every repository of one fork family shares a hierarchy id.
    origin_id: Mapped[int | None] = mapped_column(
        ForeignKey("repositories.id", ondelete="SET NULL"), nullable=True, index=True
    )
    hierarchy_id: Mapped[str] = mapped_column(String(32), index=True)
    default_branch: Mapped[str] = mapped_column(String(255), default="refs/heads/main")
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
