"""Build statuses, deployments and required-builds merge check conditions."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class BuildStatus(Base):
    """One build result on a commit. `repository_id` is null for statuses posted through the legacy
    `/rest/build-status` API (tied to the commit only); a new status with the same key on the same commit
    (and repository) replaces the old one."""

    __tablename__ = "build_statuses"
    __table_args__ = (
        Index("ix_build_statuses_commit_key", "commit_id", "key"),
        UniqueConstraint("repository_id", "commit_id", "key", name="uq_build_statuses_identity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int | None] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    commit_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(450))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    build_number: Mapped[str | None] = mapped_column(String(255))
    parent: Mapped[str | None] = mapped_column(String(1024))
    ref: Mapped[str | None] = mapped_column(String(1024))
    duration: Mapped[int | None] = mapped_column(BigInteger)
    tests_successful: Mapped[int | None] = mapped_column(Integer)
    tests_failed: Mapped[int | None] = mapped_column(Integer)
    tests_skipped: Mapped[int | None] = mapped_column(Integer)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    updated_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class Deployment(Base):
    """A deployment of a commit to an environment, identified by (key, environment key, sequence number)."""

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("repository_id", "commit_id", "key", "environment_key", "sequence_number",
                         name="uq_deployments_identity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    commit_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    environment_key: Mapped[str] = mapped_column(String(255))
    sequence_number: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(255))
    environment_name: Mapped[str] = mapped_column(String(255))
    environment_type: Mapped[str | None] = mapped_column(String(16))
    environment_url: Mapped[str | None] = mapped_column(String(1024))
    state: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(1024))
    last_updated: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class RequiredBuildCondition(Base):
    """A required-builds merge check: pull requests into refs matching `ref_matcher` need a green build for
    each parent key; sources matching `exempt_matcher` are exempt."""

    __tablename__ = "required_build_conditions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), index=True)
    build_parent_keys: Mapped[str] = mapped_column(Text)  # JSON array of strings
    ref_matcher_type: Mapped[str] = mapped_column(String(32))
    ref_matcher_id: Mapped[str] = mapped_column(String(1024))
    exempt_matcher_type: Mapped[str | None] = mapped_column(String(32))
    exempt_matcher_id: Mapped[str | None] = mapped_column(String(1024))
    required_for_pull_request: Mapped[bool] = mapped_column(Boolean, default=True)
    required_for_merge_queue: Mapped[bool] = mapped_column(Boolean, default=True)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
