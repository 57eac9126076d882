"""Finding builds by key and deciding who may see or run them: the lookups shared by the result, comment,
queue, download and plan-administration routes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from culm.api.bamboo import render
from culm.core.errors import Forbidden, PermissionDenied
from culm.domain.bamboo import service
from culm.domain.bamboo.models import BambooJobResult, BambooPlan, BambooProject, BambooResult

_KEY = re.compile(r"^([A-Z][A-Z0-9_]*)-([A-Z][A-Z0-9]*)(?:-([A-Z][A-Z0-9]*))?(?:-(\d{1,9}|latest))?$")


@dataclass
class Key:
    """A parsed Bamboo key: plan (`P-K`), job (`P-K-J`), result (`P-K-42`) or job result (`P-K-J-42`)."""

    project: str
    plan: str
    job: str | None
    number: str | None

    @property
    def plan_key(self) -> str:
        return f"{self.project}-{self.plan}"


KEY_PARAMS = ("key", "projectKey", "buildKey", "buildNumber")


def key_param(request: Request, names: tuple[str, ...] = KEY_PARAMS) -> str:
    """The key a path names, whether the route spells it `{key}` or as the spec does (`{projectKey}-{buildKey}`,
    so that API coverage sees the spec's operations): the parameters joined back with `-`, no `.json`/`.xml`."""
    return render.strip_suffix("-".join(request.path_params[n] for n in names if n in request.path_params))


def parse_key(raw: str) -> Key | None:
    match = _KEY.match(raw)
    if not match:
        return None
    return Key(match.group(1), match.group(2), match.group(3), match.group(4))


def finished_states() -> tuple[str, ...]:
    return ("Successful", "Failed")


def _plan_repository_id(session: Session, plan: BambooPlan) -> int | None:
    if plan.repository_id is None and plan.master_id is not None:
        master = session.get(BambooPlan, plan.master_id)
        return master.repository_id if master is not None else None
    return plan.repository_id


def require_read(session: Session, who: Any, plan: BambooPlan) -> None:
    """Builds of a plan linked to a repository show its code (changes, logs, artifacts): only readers of the
    repository see them. Plans without a repository are readable by every logged-in user, as plans are."""
    from culm.domain.permissions import levels as L
    from culm.domain.permissions.service import require_repo
    from culm.domain.repos.models import Repository

    repo_id = _plan_repository_id(session, plan)
    repo = session.get(Repository, repo_id) if repo_id is not None else None
    if repo is None:
        return
    try:
        require_repo(session, who, repo, L.READ)
    except PermissionDenied:
        raise Forbidden("You do not have permission to see the builds of this plan: they come from a "
                        "repository you cannot read.") from None


def readable_plans(session: Session, who: Any) -> Any:
    """A condition on BambooPlan: plans whose builds `who` may see (see require_read)."""
    from sqlalchemy import or_
    from sqlalchemy.orm import aliased

    from culm.domain.permissions import levels as L
    from culm.domain.permissions import visibility
    from culm.domain.projects.models import Project
    from culm.domain.repos.models import Repository

    repos = (select(Repository.id).join(Project, Project.id == Repository.project_id)
             .where(visibility.repo_condition(session, who, L.READ)))
    master = aliased(BambooPlan)
    master_repo = select(master.repository_id).where(master.id == BambooPlan.master_id).scalar_subquery()
    own = or_(BambooPlan.repository_id.in_(repos),
              BambooPlan.repository_id.is_(None) & BambooPlan.master_id.is_not(None) & master_repo.in_(repos))
    unlinked = BambooPlan.repository_id.is_(None) & (BambooPlan.master_id.is_(None) | master_repo.is_(None))
    return or_(unlinked, own)


def readable_plan(session: Session, who: Any, full_key: str) -> tuple[BambooProject, BambooPlan]:
    project, plan = service.plan(session, full_key)
    require_read(session, who, plan)
    return project, plan


def find_result(session: Session, raw: str, include_all: bool = True, *, who: Any
                ) -> tuple[BambooProject, BambooPlan, BambooResult, BambooJobResult | None]:
    """The plan or job result a key names (`latest` allowed), if `who` may see it; NotFound in Bamboo's words
    otherwise."""
    key = parse_key(raw)
    if key is None or key.number is None:
        raise service.NotFound(f"Result {raw} not found")
    project, plan = readable_plan(session, who, key.plan_key)
    query = select(BambooResult).where(BambooResult.plan_id == plan.id)
    if key.job is not None:
        query = query.where(BambooResult.id.in_(select(BambooJobResult.result_id)
                                                .where(BambooJobResult.job_key == key.job)))
    if key.number == "latest":
        if not include_all:
            query = query.where(BambooResult.state.in_(finished_states()))
        result = session.scalar(query.order_by(BambooResult.number.desc()).limit(1))
    else:
        result = session.scalar(query.where(BambooResult.number == int(key.number)))
    if result is None:
        raise service.NotFound(f"Result {raw} not found")
    job = None
    if key.job is not None:
        job = session.scalar(select(BambooJobResult).where(BambooJobResult.result_id == result.id,
                                                           BambooJobResult.job_key == key.job))
        if job is None:  # pragma: no cover - excluded by the query above
            raise service.NotFound(f"Result {raw} not found")
    return project, plan, result, job


def require_build(session: Session, who: Any, plan: BambooPlan) -> None:
    """Who may run, stop or label builds: writers of the plan's repository; administrators for plans without one
    (culm has no Bamboo plan permissions; pushing code already lets one build it)."""
    from culm.domain.permissions import levels as L
    from culm.domain.permissions.service import require_global, require_repo
    from culm.domain.repos.models import Repository

    repo_id = plan.repository_id
    if repo_id is None and plan.master_id is not None:
        master = session.get(BambooPlan, plan.master_id)
        repo_id = master.repository_id if master is not None else None
    repo = session.get(Repository, repo_id) if repo_id is not None else None
    try:
        if repo is None or who.effective_global(session) >= L.G_ADMIN:
            require_global(session, who, L.G_ADMIN)
            return
        require_repo(session, who, repo, L.WRITE)
    except PermissionDenied:
        raise forbidden() from None


def forbidden() -> Forbidden:
    """Bamboo answers 403 (not Bitbucket's 401) to a logged-in user without the permission."""
    return Forbidden("You do not have permission to do this: you need write access to the plan's repository "
                     "(administrators for plans without one).")


