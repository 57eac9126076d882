"""Code Insights: reports on a commit (one per key) and their annotations."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class InsightReport(Base):
    """A report a tool attached to a commit of a repository; PUT with the same key replaces it. `data` holds
    the validated data fields as JSON text (at most 6 small items)."""

    __tablename__ = "insight_reports"
    __table_args__ = (UniqueConstraint("repository_id", "commit_id", "key", name="uq_insight_reports_identity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    commit_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(450))
    details: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(String(8))
    data: Mapped[str] = mapped_column(Text)
    reporter: Mapped[str | None] = mapped_column(String(450))
    link: Mapped[str | None] = mapped_column(Text)
    logo_url: Mapped[str | None] = mapped_column(Text)
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class InsightAnnotation(Base):
    """One annotation of a report (a file/line finding); deleted with its report."""

    __tablename__ = "insight_annotations"
    __table_args__ = (Index("ix_insight_annotations_report_id", "report_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("insight_reports.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(450))
    path: Mapped[str | None] = mapped_column(Text)
    line: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8))
    type: Mapped[str | None] = mapped_column(String(16))
    link: Mapped[str | None] = mapped_column(Text)
