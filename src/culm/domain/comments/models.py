"""One table for pull request and commit comments (a pull request comment has `pull_request_id`, a
commit comment `commit_id`), and one for reactions. Replies point at their `parent`; the anchor
columns are null for general comments."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms

SEVERITIES = ("NORMAL", "BLOCKER")
STATES = ("OPEN", "PENDING", "RESOLVED")
DIFF_TYPES = ("EFFECTIVE", "COMMIT", "RANGE")
LINE_TYPES = ("ADDED", "REMOVED", "CONTEXT")
FILE_TYPES = ("FROM", "TO")


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        Index("ix_comments_pull_request", "pull_request_id", "path", "id"),
        Index("ix_comments_commit", "repository_id", "commit_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    pull_request_id: Mapped[int | None] = mapped_column(ForeignKey("pull_requests.id", ondelete="CASCADE"),
                                                        nullable=True)
    commit_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), nullable=True,
                                                  index=True)
    # the thread's first comment (itself for a root): threads are read and counted by root
    root_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16), default="NORMAL")
    state: Mapped[str] = mapped_column(String(16), default="OPEN")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    updated_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    resolved_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    thread_resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    thread_resolved_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    thread_resolver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                           nullable=True)
    # anchor (root comments only); `path` null = a general comment
    path: Mapped[str | None] = mapped_column(String(4096), nullable=True)
    src_path: Mapped[str | None] = mapped_column(String(4096), nullable=True)
    diff_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    from_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    to_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    line_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    file_type: Mapped[str | None] = mapped_column(String(8), nullable=True)
    orphaned: Mapped[bool] = mapped_column(Boolean, default=False)


class Reaction(Base):
    """One user's emoticon on one comment."""

    __tablename__ = "comment_reactions"

    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    emoticon: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
