"""Plan branches: a child plan per repository branch (`PROJ-PLAN3` builds branch `feature/x` of PROJ-PLAN's
repository), with its own build numbers, created from the master plan's spec.

When they are created follows the spec's `branches:` block, as Bamboo YAML writes it:
`create: manually` (the default; only the REST API creates them), `create: for-new-branch` (every new branch),
`create: {for-new-branch: REGEX}` (branches whose name matches), `create: for-pull-request` (branches that are
the source of an open pull request in the repository). A plan branch is removed, with its results, when its
repository branch is deleted."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.domain.bamboo import storage
from culm.domain.bamboo.models import BambooArtifact, BambooJobResult, BambooPlan, BambooProject, BambooResult
from culm.domain.base import now_ms

MANUALLY = "manually"
FOR_NEW_BRANCH = "for-new-branch"
FOR_PULL_REQUEST = "for-pull-request"
MAX_REGEX = 500


def creation(spec: dict[str, Any]) -> tuple[str, str | None]:
    """(mode, branch name regex or None) from a plan spec's `branches.create`."""
    branches = spec.get("branches")
    create = branches.get("create") if isinstance(branches, dict) else None
    if isinstance(create, str) and create.strip().lower() in (FOR_NEW_BRANCH, FOR_PULL_REQUEST, MANUALLY):
        return create.strip().lower(), None
    if isinstance(create, dict) and len(create) == 1:
        mode, regex = next(iter(create.items()))
        if isinstance(mode, str) and mode.lower() in (FOR_NEW_BRANCH, FOR_PULL_REQUEST):
            return mode.lower(), regex if isinstance(regex, str) and regex.strip() else None
    return MANUALLY, None


def wants(spec: dict[str, Any], branch: str, has_open_pull_request: bool) -> bool:
    """Whether the spec asks for a plan branch for repository branch `branch`."""
    mode, regex = creation(spec)
    if mode == MANUALLY:
        return False
    if mode == FOR_PULL_REQUEST and not has_open_pull_request:
        return False
    if regex is None:
        return True
    if len(regex) > MAX_REGEX:
        return False
    try:
        return re.fullmatch(regex, branch) is not None
    except re.error:
        return False


def find(session: Session, master: BambooPlan, branch: str) -> BambooPlan | None:
    return session.scalar(select(BambooPlan).where(BambooPlan.master_id == master.id,
                                                   BambooPlan.branch_name == branch).order_by(BambooPlan.id))


def branches_of(session: Session, master: BambooPlan) -> list[BambooPlan]:
    return list(session.scalars(select(BambooPlan).where(BambooPlan.master_id == master.id)
                                .order_by(BambooPlan.id)))


def _lock(session: Session, master: BambooPlan) -> BambooPlan:
    """The master row, locked on PostgreSQL so two creators never take the same branch number (SQLite
    transactions hold the write lock from their start)."""
    query = select(BambooPlan).where(BambooPlan.id == master.id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    locked = session.scalar(query)
    assert locked is not None
    return locked


def create(session: Session, master: BambooPlan, branch: str, *, name: str | None = None) -> BambooPlan:
    """A new plan branch of `master` building repository branch `branch` (idempotent: an existing plan branch
    for the same repository branch is returned). Key: master key + the master's next branch number."""
    existing = find(session, master, branch)
    if existing is not None:
        return existing
    master = _lock(session, master)
    taken = set(session.scalars(select(BambooPlan.key).where(BambooPlan.project_id == master.project_id)))
    number = master.next_branch_number
    while f"{master.key}{number}" in taken:
        number += 1
    master.next_branch_number = number + 1
    plan = BambooPlan(project_id=master.project_id, key=f"{master.key}{number}", name=(name or branch)[:255],
                      description="", enabled=master.enabled, repository_id=master.repository_id,
                      spec=copy.deepcopy(master.spec), labels=[], master_id=master.id, branch_name=branch[:1024],
                      next_number=1, next_branch_number=1)
    session.add(plan)
    session.flush()
    return plan


def _files_of(session: Session, plan: BambooPlan) -> list[Path]:
    """The log folders and artifact folders of a plan's builds."""
    project = session.get(BambooProject, plan.project_id)
    job_keys = session.scalars(select(BambooJobResult.job_key).join(BambooResult,
                                                                    BambooResult.id == BambooJobResult.result_id)
                               .where(BambooResult.plan_id == plan.id).distinct())
    paths = [storage.bamboo_dir() / "logs" / f"{project.key}-{plan.key}-{job}" for job in job_keys if project]
    artifacts = session.scalars(select(BambooArtifact)
                                .join(BambooJobResult, BambooJobResult.id == BambooArtifact.job_result_id)
                                .join(BambooResult, BambooResult.id == BambooJobResult.result_id)
                                .where(BambooResult.plan_id == plan.id))
    for artifact in artifacts:
        try:
            paths.append(storage.artifact_dir(artifact))
        except ValueError:
            continue
    return paths


def remove(session: Session, plan: BambooPlan) -> None:
    """Delete a plan branch; its results, stages, jobs, tests and artifacts go with it (foreign key cascade),
    and their logs and artifact files once the deletion commits."""
    paths = _files_of(session, plan)
    session.delete(plan)
    session.flush()
    _remove_after_commit(session, paths)


def _remove_after_commit(session: Session, paths: list[Path]) -> None:
    """Files go only once the rows are gone for good: a rolled back transaction keeps them."""
    pending = session.info.get("bamboo_remove_files")
    if pending is None:
        pending = session.info["bamboo_remove_files"] = []

        live = [True]  # the listeners stay on the (short-lived) session but act once

        def _done(s: Session) -> list[Path]:
            if not live[0]:
                return []
            live[0] = False
            return s.info.pop("bamboo_remove_files", [])

        def _after_commit(s: Session) -> None:
            for path in _done(s):
                shutil.rmtree(path, ignore_errors=True)

        def _after_rollback(s: Session, previous: Any) -> None:
            if not getattr(previous, "nested", False):  # a savepoint rolled back: the deletion still stands
                _done(s)

        sa_event.listen(session, "after_commit", _after_commit)
        sa_event.listen(session, "after_soft_rollback", _after_rollback)
    pending.extend(paths)


def follow_master(session: Session, master: BambooPlan) -> None:
    """After a master plan's spec changed: its branches build with the new spec and repository."""
    for plan in branches_of(session, master):
        plan.spec = copy.deepcopy(master.spec)
        plan.repository_id = master.repository_id
        plan.updated_date = now_ms()
