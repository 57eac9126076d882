from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base


class AutoMergeRequest(Base):
    """A pending auto-merge of one open pull request: merged by the server, as `user_id`, once its merge
    checks pass; cancelled when the source branch moves away from `from_hash`. `due` marks a request an
    event may have unblocked (build status, review status, rescope): the worker re-evaluates only those."""

    __tablename__ = "pr_auto_merge_requests"
    __table_args__ = (Index("ix_pr_auto_merge_requests_from_hash", "from_hash"),
                      Index("ix_pr_auto_merge_requests_due", "due"))

    pull_request_id: Mapped[int] = mapped_column(ForeignKey("pull_requests.id", ondelete="CASCADE"),
                                                 primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    from_hash: Mapped[str] = mapped_column(String(64))
    to_ref: Mapped[str] = mapped_column(Text)
    strategy: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    auto_subject: Mapped[bool] = mapped_column(Boolean, default=True)
    created_date: Mapped[int] = mapped_column(BigInteger)
    due: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
