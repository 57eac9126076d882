"""Default reviewer conditions and reviewer groups, scoped to a project or to one repository.

`repository_id` NULL means the project scope; a repository scope also records its project so that the
repository list can include the conditions and groups it inherits with one indexed query.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class ReviewerCondition(Base):
    """Pull requests from a source ref matching one matcher to a target matching the other get these reviewers."""

    __tablename__ = "reviewer_conditions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    repository_id: Mapped[int | None] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), nullable=True, index=True
    )
    source_type: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(1024))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(1024))
    required_approvals: Mapped[int] = mapped_column(Integer, default=0)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class ReviewerConditionUser(Base):
    __tablename__ = "reviewer_condition_users"

    condition_id: Mapped[int] = mapped_column(
        ForeignKey("reviewer_conditions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class ReviewerGroup(Base):
    """A named set of users that pull request authors (and conditions) can add as reviewers at once."""

    __tablename__ = "reviewer_groups"
    __table_args__ = (
        UniqueConstraint("scope_type", "scope_id", "name_lower", name="uq_reviewer_groups_scope_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    repository_id: Mapped[int | None] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), nullable=True, index=True
    )
    scope_type: Mapped[str] = mapped_column(String(16))  # PROJECT | REPOSITORY
    scope_id: Mapped[int] = mapped_column(Integer)  # the project's or the repository's id
    name: Mapped[str] = mapped_column(String(50))
    name_lower: Mapped[str] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class ReviewerGroupUser(Base):
    __tablename__ = "reviewer_group_users"

    group_id: Mapped[int] = mapped_column(ForeignKey("reviewer_groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class ReviewerConditionGroup(Base):
    __tablename__ = "reviewer_condition_groups"

    condition_id: Mapped[int] = mapped_column(
        ForeignKey("reviewer_conditions.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("reviewer_groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )
