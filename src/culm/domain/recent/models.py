from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class RecentRepository(Base):
    """When a user last read a repository (REST or git fetch): one row per user and repository."""

    __tablename__ = "recent_repositories"
    __table_args__ = (Index("ix_recent_repositories_user_accessed", "user_id", "accessed"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    accessed: Mapped[int] = mapped_column(BigInteger, default=now_ms)
