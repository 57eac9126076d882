"""The last merge outcome computed for a pull request (RestPullRequest `properties.mergeResult`).

Bitbucket shows the outcome of its last merge check with `current`: whether it was computed for the
pull request's present source and target commits. Rendering reads this row (one primary-key lookup) and
never runs a merge; a row for older commits is shown with `current: false`, never passed off as fresh."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class MergeResult(Base):
    __tablename__ = "pull_request_merge_results"

    pull_request_id: Mapped[int] = mapped_column(ForeignKey("pull_requests.id", ondelete="CASCADE"),
                                                 primary_key=True)
    from_commit: Mapped[str] = mapped_column(String(64))
    to_commit: Mapped[str] = mapped_column(String(64))  # the target branch's commit the outcome was computed on
    outcome: Mapped[str] = mapped_column(String(16))  # CLEAN | CONFLICTED
    checked_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
