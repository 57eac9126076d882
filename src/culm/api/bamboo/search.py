"""Bamboo REST search (`/search/{plans,projects,branches,jobs,stages,users}`): "starts with" matching on full
names and keys (any word of them with `fuzzy`), Bamboo's `{size,start-index,max-result,searchResults}` page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from culm.api.bamboo import render
from culm.api.bamboo.plans import _caller, _flag, _paging, route
from culm.api.bamboo.rest_render import respond
from culm.domain.bamboo import service
from culm.domain.bamboo.models import BambooPlan, BambooProject
from culm.domain.bamboo.service import Invalid, NotFound
from culm.domain.users.models import User

ATTRS = {"searchResults": {"id", "type"}, "searchEntity": {"id"}}


def _matches(term: str, fuzzy: bool, *texts: str) -> bool:
    """Bamboo's "starts with" on each full text; fuzzy also matches the start of any word, or anywhere."""
    if not term:
        return True
    term = term.lower()
    for text in texts:
        low = (text or "").lower()
        if low.startswith(term):
            return True
        if fuzzy and (term in low or any(w.startswith(term) for w in low.replace("-", " ").split())):
            return True
    return False


def _page(request: Request, results: list[dict[str, Any]]) -> Response:
    start, limit = _paging(request)
    page = results[start:start + limit]
    data = {"size": len(results), "start-index": start, "max-result": len(page), "searchResults": page}
    return respond(request, "searchResults", data, attrs=ATTRS)


def _all_plans(session: Any) -> list[tuple[BambooProject, BambooPlan]]:
    rows = session.execute(select(BambooProject, BambooPlan).join(BambooPlan, BambooPlan.project_id == BambooProject.id)
                           .order_by(BambooProject.key, BambooPlan.key)).all()
    return [(r[0], r[1]) for r in rows]


def _plan_entity(project: BambooProject, plan: BambooPlan, master: BambooPlan | None = None) -> dict[str, Any]:
    key = f"{project.key}-{plan.key}"
    entity = {"id": key, "key": key, "projectName": project.name, "planName": (master or plan).name,
              "description": plan.description or "", "type": "chain_branch" if plan.master_id else "chain"}
    if plan.master_id:
        entity["branchName"] = plan.name
    return {"id": key, "type": "plan", "searchEntity": entity}


@route("/search/plans", "GET")
async def search_plans(request: Request) -> Response:
    session, _ = _caller(request)
    term, fuzzy = request.query_params.get("searchTerm", ""), _flag(request, "fuzzy")
    out = [_plan_entity(p, pl) for p, pl in _all_plans(session)
           if pl.master_id is None and _matches(term, fuzzy, f"{p.name} - {pl.name}", pl.name, f"{p.key}-{pl.key}")]
    return _page(request, out)


@route("/search/projects", "GET")
async def search_projects(request: Request) -> Response:
    """A contains search against the project name (and key)."""
    session, _ = _caller(request)
    term = request.query_params.get("searchTerm", "").lower()
    rows = session.scalars(select(BambooProject).order_by(BambooProject.key))
    out = [{"id": p.key, "type": "project",
            "searchEntity": {"id": p.key, "key": p.key, "projectName": p.name, "description": p.description or ""}}
           for p in rows if term in p.name.lower() or term in p.key.lower()]
    return _page(request, out)


@route("/search/branches", "GET")
async def search_branches(request: Request) -> Response:
    session, _ = _caller(request)
    term, fuzzy = request.query_params.get("searchTerm", ""), _flag(request, "fuzzy")
    master_key = request.query_params.get("masterPlanKey")
    plans = _all_plans(session)
    by_id = {pl.id: pl for _, pl in plans}
    master_id = None
    if master_key:
        try:
            _, master = service.plan(session, master_key)
        except NotFound:
            raise Invalid(f"Plan {master_key} not found") from None
        master_id = master.id
    out = []
    for project, plan in plans:
        is_master = plan.master_id is None
        if master_id is not None and plan.id != master_id and plan.master_id != master_id:
            continue
        if is_master and not (master_id is not None and _flag(request, "includeMasterBranch")):
            continue
        texts = (plan.name,) if _flag(request, "branchNameOnly") else \
            (plan.name, f"{project.name} - {plan.name}", f"{project.key}-{plan.key}")
        if _matches(term, fuzzy, *texts):
            out.append(_plan_entity(project, plan, by_id.get(plan.master_id) if plan.master_id else None))
    return _page(request, out)


@route("/search/jobs/{planKey}", "GET")
async def search_jobs(request: Request) -> Response:
    session, _ = _caller(request)
    project, plan = service.plan(session, render.strip_suffix(request.path_params["planKey"]))
    term = request.query_params.get("searchTerm", "")
    full = f"{project.key}-{plan.key}"
    out = []
    for stage in (plan.spec or {}).get("stages", []):
        for job in stage.get("jobs", []):
            key = f"{full}-{job['key']}"
            if _matches(term, False, job["name"], key, job["key"]):
                out.append({"id": key, "type": "job",
                            "searchEntity": {"id": key, "key": key, "projectName": project.name,
                                             "planName": job["name"], "description": job.get("description", ""),
                                             "type": "job"}})
    return _page(request, out)


@route("/search/stages/{planKey}", "GET")
async def search_stages(request: Request) -> Response:
    session, _ = _caller(request)
    project, plan = service.plan(session, render.strip_suffix(request.path_params["planKey"]))
    term = request.query_params.get("searchTerm", "")
    stage_id = request.query_params.get("stageId")
    out = []
    for index, stage in enumerate((plan.spec or {}).get("stages", [])):
        if stage_id not in (None, "", str(index)):
            continue
        if _matches(term, False, stage["name"]):
            out.append({"id": str(index), "type": "stage",
                        "searchEntity": {"id": str(index), "key": stage["name"], "projectName": project.name,
                                         "planName": plan.name, "description": stage.get("description", ""),
                                         "type": "stage"}})
    return _page(request, out)


@route("/search/users", "GET")
async def search_users(request: Request) -> Response:
    session, _ = _caller(request)
    term = request.query_params.get("searchTerm", "")
    rows = session.scalars(select(User).where(User.deleted.is_(False), User.active.is_(True)).order_by(User.name_lower))
    out = [{"id": u.name, "type": "user",
            "searchEntity": {"id": u.name, "username": u.name, "fullName": u.display_name, "email": u.email or "",
                             "type": "user"}}
           for u in rows if _matches(term, False, u.name, u.display_name, u.email or "")]
    return _page(request, out)
