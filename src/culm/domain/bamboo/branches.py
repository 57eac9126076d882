"""Plan branches (child plans `PROJ-PLAN12` building one repository branch) and plan deletion. Shared by the
REST API (PUT /plan/{k}/branch/{name}) and the push triggers (a new branch -> a plan branch)."""

from __future__ import annotations

import copy

from sqlalchemy import delete as sql_delete
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from culm.domain.bamboo.models import BambooFavourite, BambooPlan, BambooVariable
from culm.domain.bamboo.service import Invalid
from culm.domain.base import now_ms

HEADS = "refs/heads/"
MAX_NAME = 255


def short_name(vcs_branch: str) -> str:
    """The branch's plan name as Bamboo shows it and clients send it: `/` becomes `-`."""
    return vcs_branch.replace("/", "-")


def normalise_vcs_branch(value: str) -> str:
    value = value.strip()
    if value.startswith("/"):
        value = value[1:]
    if value.startswith(HEADS):
        value = value[len(HEADS):]
    if (not value or value.startswith("-") or len(value) > 1024 or any(c in value for c in "\x00\n\r ~^:?*[\\")
            or ".." in value or value.endswith("/") or value.endswith(".lock")):
        raise Invalid(f"Invalid branch name '{value}'.")
    return value


def branches(session: Session, master: BambooPlan, enabled_only: bool = False) -> list[BambooPlan]:
    query = select(BambooPlan).where(BambooPlan.master_id == master.id).order_by(BambooPlan.id)
    if enabled_only:
        query = query.where(BambooPlan.enabled.is_(True))
    return list(session.scalars(query))


def find_branch(session: Session, master: BambooPlan, name: str) -> BambooPlan | None:
    """By the plan branch name, or by its repository branch with `/` sent as `-`."""
    for row in branches(session, master):
        if row.name == name or (row.branch_name and short_name(row.branch_name) == name) or row.branch_name == name:
            return row
    return None


def create_branch(session: Session, master: BambooPlan, vcs_branch: str, enabled: bool = True,
                  name: str | None = None) -> BambooPlan:
    """A plan branch of `master` building `vcs_branch`: key = master key + master.next_branch_number (taken with
    an atomic increment, so concurrent creations never share a key), spec and repository copied."""
    if master.master_id is not None:
        raise Invalid(f"Plan {master.key} is a plan branch; branches can only be created for top-level plans.")
    vcs_branch = normalise_vcs_branch(vcs_branch)
    name = (name or short_name(vcs_branch)).strip()
    if not name or len(name) > MAX_NAME or "\x00" in name:
        raise Invalid("Branch name must be 1-255 characters.")
    if find_branch(session, master, name) is not None:
        raise Invalid(f"Plan branch {name} already exists for plan {master.key}.")
    while True:
        number = session.scalar(update(BambooPlan).where(BambooPlan.id == master.id)
                                .values(next_branch_number=BambooPlan.next_branch_number + 1)
                                .returning(BambooPlan.next_branch_number)) - 1
        key = f"{master.key}{number}"
        taken = session.scalar(select(BambooPlan.id).where(BambooPlan.project_id == master.project_id,
                                                           BambooPlan.key == key))
        if taken is None:
            break
    session.refresh(master, ["next_branch_number"])
    spec = copy.deepcopy(master.spec or {})
    spec["key"] = key
    spec["name"] = name
    row = BambooPlan(project_id=master.project_id, key=key, name=name, description=master.description or "",
                     enabled=enabled, repository_id=master.repository_id, spec=spec, labels=[], master_id=master.id,
                     branch_name=vcs_branch, next_number=1, next_branch_number=1, created_date=now_ms(),
                     updated_date=now_ms())
    session.add(row)
    session.flush()
    return row


def delete_plan(session: Session, plan: BambooPlan) -> None:
    """Delete a plan (or plan branch) with its branches, builds, favourites and variables."""
    ids = [plan.id, *[b.id for b in branches(session, plan)]]
    session.execute(sql_delete(BambooVariable).where(BambooVariable.scope == "PLAN", BambooVariable.owner_id.in_(ids)))
    session.execute(sql_delete(BambooFavourite).where(BambooFavourite.plan_id.in_(ids)))
    for child_id in ids[1:]:
        child = session.get(BambooPlan, child_id)
        if child is not None:
            session.delete(child)
    session.flush()
    session.delete(plan)
    session.flush()
