"""Pull request tables. A pull request has a global surrogate key (`id`) and Bitbucket's id, which
counts 1, 2, 3 … per target repository (`local_id`)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms

STATES = ("OPEN", "MERGED", "DECLINED")
ROLES = ("AUTHOR", "REVIEWER", "PARTICIPANT")
STATUSES = ("UNAPPROVED", "NEEDS_WORK", "APPROVED")


class PullRequest(Base):
    __tablename__ = "pull_requests"
    __table_args__ = (
        UniqueConstraint("repository_id", "local_id", name="uq_pull_requests_repository_local"),
        Index("ix_pull_requests_repository_state", "repository_id", "state", "local_id"),
        Index("ix_pull_requests_from", "from_repository_id", "from_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The target repository: the pull request lives there and is numbered there.
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    local_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="OPEN")
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    from_repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    from_ref: Mapped[str] = mapped_column(String(1024))
    from_commit: Mapped[str] = mapped_column(String(64))
    to_ref: Mapped[str] = mapped_column(String(1024))
    to_commit: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True,
                                                  index=True)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    updated_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    closed_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    merge_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Participant(Base):
    """The author, reviewers and anyone else who took part; one row per user and pull request."""

    __tablename__ = "pull_request_participants"
    __table_args__ = (UniqueConstraint("pull_request_id", "user_id", name="uq_pull_request_participants_pr_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pull_request_id: Mapped[int] = mapped_column(ForeignKey("pull_requests.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="UNAPPROVED")
    last_reviewed_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Activity(Base):
    """One entry of a pull request's activity stream; `detail` holds the action's extra JSON fields."""

    __tablename__ = "pull_request_activities"
    __table_args__ = (Index("ix_pull_request_activities_pr", "pull_request_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pull_request_id: Mapped[int] = mapped_column(ForeignKey("pull_requests.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class Watcher(Base):
    __tablename__ = "pull_request_watchers"

    pull_request_id: Mapped[int] = mapped_column(ForeignKey("pull_requests.id", ondelete="CASCADE"),
                                                 primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class Counter(Base):
    """The last pull request id handed out in a repository: ids are never reused, even after a delete."""

    __tablename__ = "pull_request_counters"

    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
