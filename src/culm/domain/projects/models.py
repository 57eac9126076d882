from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Keys are unique case-insensitively; personal projects use `~slug` and type PERSONAL.
    key: Mapped[str] = mapped_column(String(128), unique=True)
    key_upper: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(255))
    name_lower: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    type: Mapped[str] = mapped_column(String(16), default="NORMAL")  # NORMAL | PERSONAL
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    # Permission every licensed user has on the project (PROJECT_READ / PROJECT_WRITE), if any.
    default_permission: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
