from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base


class MergeConfig(Base):
    """The merge strategies a project or a repository chose (overriding the one above it). The
    server-wide (per SCM) configuration lives in `system_settings` under `pull-requests.merge.<scm>`."""

    __tablename__ = "pr_merge_configs"
    __table_args__ = (CheckConstraint("(project_id IS NULL) <> (repository_id IS NULL)", name="one_owner"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=True,
                                                   unique=True)
    repository_id: Mapped[int | None] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"),
                                                      nullable=True, unique=True)
    default_strategy: Mapped[str] = mapped_column(String(32))
    strategies: Mapped[str] = mapped_column(Text)  # enabled strategy ids, comma-separated, in Bitbucket's order
    commit_summaries: Mapped[int | None] = mapped_column(Integer, nullable=True)
    template_title: Mapped[str | None] = mapped_column(Text, nullable=True)  # commit message template
    template_body: Mapped[str | None] = mapped_column(Text, nullable=True)


class RepoPullRequestSettings(Base):
    """A repository's merge checks (Bitbucket's built-in ones; absent row = all off)."""

    __tablename__ = "pr_repo_settings"

    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    required_all_approvers: Mapped[bool] = mapped_column(Boolean, default=False)
    required_all_tasks_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    required_approvers: Mapped[int] = mapped_column(Integer, default=0)  # 0: check off
    required_successful_builds: Mapped[int] = mapped_column(Integer, default=0)  # 0: check off
