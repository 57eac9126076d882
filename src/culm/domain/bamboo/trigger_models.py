"""State kept by the build triggers: the last specs import per repository (its error, shown to users), and
the last slot each scheduled (cron) trigger fired for, which makes a slot fire once across server processes."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class BambooRepoSpecs(Base):
    """The outcome of the last Bamboo Specs scan of a repository's default branch."""

    __tablename__ = "bamboo_repo_specs"

    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[str] = mapped_column(String(64))
    # None when the specs at `revision` were imported; else why nothing changed (line-precise for YAML errors).
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class BambooTriggerFire(Base):
    """The latest schedule slot (epoch ms) a plan's cron trigger fired for. Schedulers advance it with a
    conditional UPDATE (`WHERE last_slot = <what they read>`): only the one that moves it enqueues the build."""

    __tablename__ = "bamboo_trigger_fires"

    plan_id: Mapped[int] = mapped_column(ForeignKey("bamboo_plans.id", ondelete="CASCADE"), primary_key=True)
    trigger: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_slot: Mapped[int] = mapped_column(BigInteger)
