"""Bamboo projects and plans: import from specs (all or nothing), lookups, enable/disable, labels."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from culm.domain.bamboo.models import BambooPlan, BambooProject
from culm.domain.bamboo.specs import parse
from culm.domain.base import now_ms

_FULL_KEY = re.compile(r"^([A-Z][A-Z0-9_]*)-([A-Z][A-Z0-9]*)$")
LABEL = re.compile(r"^[^\s,&!\"'<>/\\]{1,255}$")


class NotFound(Exception):
    """An unknown project or plan; the message is Bamboo's."""


class Invalid(Exception):
    """A request Bamboo refuses with 400; the message is shown to the client."""


class Conflict(Invalid):
    """The build is in a state that forbids the request (running, queued); Bamboo answers 400 too, so it is an
    `Invalid` for callers that do not tell them apart."""


def import_specs(session: Session, text: str) -> list[BambooPlan]:
    """Create or update every plan of a specs text. Parsing finishes before any row changes, so invalid
    specs (SpecsInvalid) change nothing; the caller's transaction makes the writes atomic."""
    specs = parse(text)
    plans = []
    for spec in specs:
        project = session.scalar(select(BambooProject).where(BambooProject.key == spec["projectKey"]))
        if project is None:
            project = BambooProject(key=spec["projectKey"], name=spec["projectKey"], description="")
            session.add(project)
            session.flush()
        plan = session.scalar(select(BambooPlan).where(BambooPlan.project_id == project.id,
                                                       BambooPlan.key == spec["key"]))
        if plan is None:
            plan = BambooPlan(project_id=project.id, key=spec["key"], labels=[])
            session.add(plan)
        plan.name = spec["name"]
        plan.description = spec["description"]
        plan.enabled = spec["enabled"]
        plan.spec = spec
        plan.labels = list(spec["labels"])
        plan.updated_date = now_ms()
        session.flush()
        from culm.domain.bamboo.variables_admin import replace_spec_variables

        replace_spec_variables(session, plan, spec["variables"])
        plans.append(plan)
    return plans


def split_key(full: str) -> tuple[str, str]:
    match = _FULL_KEY.match(full)
    if not match:
        raise NotFound(f"Plan {full} not found")
    return match.group(1), match.group(2)


def project(session: Session, key: str) -> BambooProject:
    found = session.scalar(select(BambooProject).where(BambooProject.key == key))
    if found is None:
        raise NotFound(f"Project {key} not found")
    return found


def plan(session: Session, full_key: str) -> tuple[BambooProject, BambooPlan]:
    project_key, plan_key = split_key(full_key)
    row = session.execute(select(BambooProject, BambooPlan).join(BambooPlan, BambooPlan.project_id == BambooProject.id)
                          .where(BambooProject.key == project_key, BambooPlan.key == plan_key)).first()
    if row is None:
        raise NotFound(f"Plan {full_key} not found")
    return row[0], row[1]


def projects_page(session: Session, start: int, limit: int) -> tuple[int, list[BambooProject]]:
    """Projects with at least one plan (Bamboo hides empty ones), ordered by key."""
    having = select(BambooPlan.project_id).distinct()
    total = session.scalar(select(func.count()).select_from(BambooProject).where(BambooProject.id.in_(having))) or 0
    rows = session.scalars(select(BambooProject).where(BambooProject.id.in_(having)).order_by(BambooProject.key)
                           .offset(start).limit(limit)).all()
    return total, list(rows)


def plans_page(session: Session, start: int, limit: int, project_id: int | None = None,
               only_ids: set[int] | None = None) -> tuple[int, list[tuple[BambooProject, BambooPlan]]]:
    """Top-level plans (plan branches are listed under their plan), optionally only those in `only_ids`."""
    query = select(BambooProject, BambooPlan).join(BambooPlan, BambooPlan.project_id == BambooProject.id) \
        .where(BambooPlan.master_id.is_(None))
    count = select(func.count()).select_from(BambooPlan).where(BambooPlan.master_id.is_(None))
    if only_ids is not None:
        query = query.where(BambooPlan.id.in_(only_ids))
        count = count.where(BambooPlan.id.in_(only_ids))
    if project_id is not None:
        query = query.where(BambooPlan.project_id == project_id)
        count = count.where(BambooPlan.project_id == project_id)
    total = session.scalar(count) or 0
    rows = session.execute(query.order_by(BambooProject.key, BambooPlan.key).offset(start).limit(limit)).all()
    return total, [(r[0], r[1]) for r in rows]


def set_enabled(plan_row: BambooPlan, enabled: bool) -> None:
    plan_row.enabled = enabled
    plan_row.updated_date = now_ms()


def add_label(plan_row: BambooPlan, name: Any) -> None:
    if not isinstance(name, str) or not LABEL.match(name.strip() or " "):
        raise Invalid("Label name is invalid: it must be 1-255 characters without spaces or , & ! \" ' < > / \\")
    norm = name.strip().lower()
    if norm not in plan_row.labels:
        plan_row.labels = [*plan_row.labels, norm]
        plan_row.updated_date = now_ms()


def remove_label(plan_row: BambooPlan, name: str) -> None:
    norm = name.strip().lower()
    if norm not in plan_row.labels:
        raise NotFound(f"Label {name} not found on plan")
    plan_row.labels = [label for label in plan_row.labels if label != norm]
    plan_row.updated_date = now_ms()
