"""Administration state of Bamboo plans, projects and agents kept beside the engine's tables: quarantined
tests per plan, the repositories allowed to manage a project through Specs, agents dedicated to jobs, and the
approval of remote agents."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class BambooQuarantine(Base):
    """A test of a plan whose failures no longer fail its jobs (matched by class and method name)."""

    __tablename__ = "bamboo_quarantines"
    __table_args__ = (UniqueConstraint("plan_id", "class_name", "method_name", name="uq_bamboo_quarantines_test"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("bamboo_plans.id", ondelete="CASCADE"), index=True)
    class_name: Mapped[str] = mapped_column(String(1024))
    method_name: Mapped[str] = mapped_column(String(1024))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    # When the quarantine ends by itself (epoch ms); None: until unleashed.
    expiry_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class BambooProjectRepository(Base):
    """A forge repository whose Bamboo Specs may create and update plans in a project."""

    __tablename__ = "bamboo_project_repositories"

    project_id: Mapped[int] = mapped_column(ForeignKey("bamboo_projects.id", ondelete="CASCADE"), primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class BambooAgentAssignment(Base):
    """A job dedicated to an agent: while a job has assignments only those agents may run it."""

    __tablename__ = "bamboo_agent_assignments"

    plan_id: Mapped[int] = mapped_column(ForeignKey("bamboo_plans.id", ondelete="CASCADE"), primary_key=True)
    job_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("bamboo_agents.id", ondelete="CASCADE"), primary_key=True)


class BambooAgentApproval(Base):
    """Administrative details of an agent: its description, and for a remote agent that registered while
    approval was required, whether an administrator approved it (no work until then)."""

    __tablename__ = "bamboo_agent_approvals"

    agent_id: Mapped[int] = mapped_column(ForeignKey("bamboo_agents.id", ondelete="CASCADE"), primary_key=True)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    ip: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
