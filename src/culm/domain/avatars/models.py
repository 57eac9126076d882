from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class Avatar(Base):
    """An uploaded avatar of a project or a user (exactly one of the two). Images are at most 1 MiB,
    so they live in the database: every node serves them, and they go with the owner's row."""

    __tablename__ = "avatars"
    __table_args__ = (CheckConstraint("(project_id IS NULL) <> (user_id IS NULL)", name="one_owner"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True, unique=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True, unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
