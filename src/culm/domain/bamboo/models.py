"""Bamboo projects and plans. A plan keeps its normalised spec (stages, jobs, tasks) as JSON: this slice
only reads it back; later slices (queue, results) will expand it into rows where they need to query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
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
    """A top-level plan (`PROJ-PLAN`, type chain)."""

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
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    updated_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
