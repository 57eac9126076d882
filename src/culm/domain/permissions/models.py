"""Granted permissions. A row names a user or a group (exactly one), never both."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base

_ONE_GRANTEE = "(user_id IS NULL) <> (group_id IS NULL)"


class GlobalPermission(Base):
    __tablename__ = "global_permissions"
    __table_args__ = (
        CheckConstraint(_ONE_GRANTEE, name="one_grantee"),
        UniqueConstraint("user_id", "group_id", name="uq_global_permissions_grantee"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    permission: Mapped[str] = mapped_column(String(32))


class ProjectPermission(Base):
    __tablename__ = "project_permissions"
    __table_args__ = (
        CheckConstraint(_ONE_GRANTEE, name="one_grantee"),
        UniqueConstraint("project_id", "user_id", "group_id", name="uq_project_permissions_grantee"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    permission: Mapped[str] = mapped_column(String(32))


class RepoPermission(Base):
    __tablename__ = "repo_permissions"
    __table_args__ = (
        CheckConstraint(_ONE_GRANTEE, name="one_grantee"),
        UniqueConstraint("repository_id", "user_id", "group_id", name="uq_repo_permissions_grantee"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    permission: Mapped[str] = mapped_column(String(32))
