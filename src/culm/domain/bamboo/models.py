"""Bamboo projects, plans and builds. A plan keeps its normalised spec (stages, jobs, tasks) as JSON; a build
(result) expands it into stage and job rows, which are what the queue, agents and REST filters query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class BambooProject(Base):
    """A Bamboo project: a key (`PROJ`) grouping plans."""

    __tablename__ = "bamboo_projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class BambooPlan(Base):
    """A top-level plan (`PROJ-PLAN`, type chain) or a plan branch (`PROJ-PLAN12`, type chain_branch: `master_id`
    set, `branch_name` the repository branch it builds)."""

    __tablename__ = "bamboo_plans"
    __table_args__ = (UniqueConstraint("project_id", "key", name="uq_bamboo_plans_project_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("bamboo_projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    repository_id: Mapped[int | None] = mapped_column(ForeignKey("repositories.id", ondelete="SET NULL"))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    master_id: Mapped[int | None] = mapped_column(ForeignKey("bamboo_plans.id", ondelete="CASCADE"), nullable=True,
                                                  index=True)
    branch_name: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    # The number the next build of this plan (or branch) gets; plan branches number on their own.
    next_number: Mapped[int] = mapped_column(Integer, default=1)
    # The number the next plan branch's key gets (`PLAN` + n), on master plans only.
    next_branch_number: Mapped[int] = mapped_column(Integer, default=1)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    updated_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class BambooResult(Base):
    """One build of a plan or plan branch (`PROJ-PLAN-42`). Its stages and jobs are rows of their own so the
    queue, the agents and the REST filters can query them; `changes` and variables are small and kept as JSON."""

    __tablename__ = "bamboo_results"
    __table_args__ = (UniqueConstraint("plan_id", "number", name="uq_bamboo_results_plan_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("bamboo_plans.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # Pending, Queued, InProgress, Finished, NotBuilt (a build paused at a manual stage is Finished + continuable).
    life_cycle: Mapped[str] = mapped_column(String(16), default="Queued")
    # Unknown, Successful, Failed.
    state: Mapped[str] = mapped_column(String(16), default="Unknown")
    continuable: Mapped[bool] = mapped_column(Boolean, default=False)
    # Reason class without the "TriggerReason" suffix: Manual, CodeChanged, Scheduled, RerunBuild, InitialBuild,
    # CustomRevisionBuild, RemoteTrigger.
    reason: Mapped[str] = mapped_column(String(32), default="Manual")
    trigger_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    repository_id: Mapped[int | None] = mapped_column(ForeignKey("repositories.id", ondelete="SET NULL"),
                                                      nullable=True)
    revision: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    branch: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    # Values given at trigger time (name -> value, without the `bamboo.variable.` prefix).
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Variables injected with scope RESULT by earlier jobs, visible to later stages.
    result_variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Commits since the previous build of this plan: [{id, author, email, message, date, files: [path...]}].
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The plan's spec when the build was queued: what it runs, even if the plan changes meanwhile. None for builds
    # queued before snapshots existed (they read the plan's current spec; see builds.build_spec).
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Manual stages up to and including this index run without stopping (set by `stage`/`executeAllStages`).
    run_through_stage: Mapped[int] = mapped_column(Integer, default=-1)
    once_off: Mapped[bool] = mapped_column(Boolean, default=False)
    restart_count: Mapped[int] = mapped_column(Integer, default=0)
    queued_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    started_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    completed_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class BambooStageResult(Base):
    """A stage of one build, in plan order (`idx`)."""

    __tablename__ = "bamboo_stage_results"
    __table_args__ = (UniqueConstraint("result_id", "idx", name="uq_bamboo_stage_results_result_idx"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("bamboo_results.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    life_cycle: Mapped[str] = mapped_column(String(16), default="Pending")
    state: Mapped[str] = mapped_column(String(16), default="Unknown")


class BambooJobResult(Base):
    """One job of one build (`PROJ-PLAN-JOB1-42`). A Queued row IS the queue entry: an agent claims it with a
    conditional UPDATE (`life_cycle = 'Queued'` in the WHERE), so two agents can never both win it."""

    __tablename__ = "bamboo_job_results"
    __table_args__ = (
        UniqueConstraint("result_id", "job_key", name="uq_bamboo_job_results_result_job"),
        Index("ix_bamboo_job_results_queue", "life_cycle", "queued_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("bamboo_results.id", ondelete="CASCADE"), index=True)
    stage_idx: Mapped[int] = mapped_column(Integer)
    job_key: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    life_cycle: Mapped[str] = mapped_column(String(16), default="Pending")
    state: Mapped[str] = mapped_column(String(16), default="Unknown")
    requirements: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Why no agent can run it (the first requirement no enabled agent meets); None when some agent can.
    blocked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("bamboo_agents.id", ondelete="SET NULL"), nullable=True)
    # A fresh secret per claim: every report of the agent names it, so a stale agent cannot touch a requeued job.
    claim_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why it ended without running to completion: "Stopped by user", "Agent lost", "Timed out"...
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    queued_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    claimed_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    heartbeat_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    started_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    completed_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    log_size: Mapped[int] = mapped_column(BigInteger, default=0)
    tests_successful: Mapped[int] = mapped_column(Integer, default=0)
    tests_failed: Mapped[int] = mapped_column(Integer, default=0)
    tests_skipped: Mapped[int] = mapped_column(Integer, default=0)
    tests_quarantined: Mapped[int] = mapped_column(Integer, default=0)


class BambooTestResult(Base):
    """One test case of a job result, parsed from JUnit XML."""

    __tablename__ = "bamboo_test_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_result_id: Mapped[int] = mapped_column(ForeignKey("bamboo_job_results.id", ondelete="CASCADE"), index=True)
    class_name: Mapped[str] = mapped_column(String(1024))
    method_name: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16))  # successful, failed, skipped
    # Against the same job of the plan's previous build that ran it (result_deltas): "new" (failed now, not
    # before), "existing" (failed both times), "fixed" (passed now, failed before), "quarantined" (failed now but
    # quarantined: neither counted as failed nor failing the job); None otherwise or for rows older than this.
    delta: Mapped[str | None] = mapped_column(String(16), nullable=True)
    duration_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)


class BambooArtifact(Base):
    """An artifact a job saved; its files live under the server's artifact storage at `path`."""

    __tablename__ = "bamboo_artifacts"
    __table_args__ = (UniqueConstraint("job_result_id", "name", name="uq_bamboo_artifacts_job_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_result_id: Mapped[int] = mapped_column(ForeignKey("bamboo_job_results.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    shared: Mapped[bool] = mapped_column(Boolean, default=True)
    path: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    file_count: Mapped[int] = mapped_column(Integer, default=0)


class BambooResultComment(Base):
    __tablename__ = "bamboo_result_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("bamboo_results.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    content: Mapped[str] = mapped_column(Text)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    updated_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class BambooFavourite(Base):
    __tablename__ = "bamboo_favourites"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("bamboo_plans.id", ondelete="CASCADE"), primary_key=True)


class BambooVariable(Base):
    """A global (`owner_id` 0), project or plan variable. Specs-defined plan variables are rows too (scope PLAN),
    rewritten on each import."""

    __tablename__ = "bamboo_variables"
    __table_args__ = (UniqueConstraint("scope", "owner_id", "name", name="uq_bamboo_variables_scope_owner_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # GLOBAL, PROJECT, PLAN
    owner_id: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(Text, default="")


class BambooAgent(Base):
    """A local (thread in a server process) or remote (`culm agent`) build agent."""

    __tablename__ = "bamboo_agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))  # LOCAL, REMOTE
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # sha256 hex of a remote agent's token; None for local agents.
    token_hash: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    capabilities: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    last_seen: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
