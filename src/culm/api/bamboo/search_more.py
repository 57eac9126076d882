"""Bamboo REST odds and ends of issue rest2: commit author search, preparing the server for a restart, a
plan's favicon (RestFavicon, pointing at a PNG culm draws) and plan dependency search (culm has no plan
dependencies: the lists are empty, in Bamboo's shape)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from culm.api import deps
from culm.api.bamboo import render
from culm.api.bamboo import result_access as access
from culm.api.bamboo.plans import _caller, _flag, _paging, route, router
from culm.api.bamboo.rest_render import respond
from culm.api.bamboo.search import ATTRS
from culm.api.urls import base_url
from culm.core.errors import AuthenticationRequired, Forbidden
from culm.domain.bamboo import favicon, restart
from culm.domain.bamboo.models import BambooPlan, BambooResult
from culm.domain.bamboo.service import Invalid, NotFound
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import require_global
from culm.domain.users.models import User

# How many recent builds the author search reads the changes of.
AUTHOR_SCAN = 5000


@route("/search/authors", "GET")
async def search_authors(request: Request) -> Response:
    """Commit authors of the builds the caller may see, by name or email ("starts with" on any word);
    `linkedUserName` is the culm user with that email; `unlinkedOnly` keeps authors with none."""
    session, who = _caller(request)
    term = request.query_params.get("searchTerm")
    if term is None:
        raise Invalid("searchTerm is required.")
    term = term.strip().lower()
    rows = session.scalars(select(BambooResult.changes).join(BambooPlan, BambooPlan.id == BambooResult.plan_id)
                           .where(access.readable_plans(session, who))
                           .order_by(BambooResult.id.desc()).limit(AUTHOR_SCAN))
    authors: dict[str, str] = {}
    for changes in rows:
        for change in changes or []:
            name = str(change.get("author") or "").strip()
            if name and name not in authors:
                authors[name] = str(change.get("email") or "")
    emails = {e.lower() for e in authors.values() if e}
    users = {(u.email or "").lower(): u.name for u in session.scalars(
        select(User).where(func.lower(User.email).in_(emails), User.deleted.is_(False)))} if emails else {}
    out = []
    for name in sorted(authors, key=str.lower):
        email = authors[name]
        words = [name.lower(), email.lower(), *name.lower().split()]
        if term and not any(w.startswith(term) for w in words):
            continue
        linked = users.get(email.lower(), "") if email else ""
        if _flag(request, "unlinkedOnly") and linked:
            continue
        out.append({"id": name, "type": "author",
                    "searchEntity": {"id": name, "authorName": name, "fullName": name, "email": email,
                                     "linkedUserName": linked, "type": "author"}})
    start, limit = _paging(request)
    page = out[start:start + limit]
    data = {"size": len(out), "start-index": start, "max-result": len(page), "searchResults": page}
    return respond(request, "searchResults", data, attrs=ATTRS)


@route("/server/prepareForRestart", "PUT")
async def prepare_for_restart(request: Request) -> Response:
    """No new job starts from now; READY_FOR_RESTART once none runs (at once when idle). `/server/resume`
    returns to RUNNING."""
    session, who = _caller(request)
    require_global(session, who, L.G_ADMIN)
    assert who.user is not None
    state = restart.prepare(session, who.user.name)
    return respond(request, "serverStatusInfo", {"state": state, "setByUser": who.user.name,
                                                 "reindexInProgress": False})


def _readable(session: Any, who: Any, raw: str) -> tuple[Any, BambooPlan]:
    return access.readable_plan(session, who, render.strip_suffix(raw))


@route("/plan/favicon/{planKey}", "GET")
async def plan_favicon(request: Request) -> Response:
    session, who = _caller(request)
    project, plan = _readable(session, who, request.path_params["planKey"])
    kind = favicon.state(session, plan)
    url = f"{base_url(request)}/bamboo/plan-favicon/{project.key}-{plan.key}.png?state={kind}"
    return respond(request, "favicon", {"faviconUrl": url, "faviconType": "image/png"})


async def favicon_image(request: Request) -> Response:
    """The PNG itself (Basic or Bearer, as the other non-REST Bamboo URLs)."""
    session = deps.db(request)
    who = deps.authenticate(request, session)
    if who.anonymous:
        raise AuthenticationRequired("You are not authorised to access this resource. Log in and try again.")
    try:
        _, plan = _readable(session, who, request.path_params["planKey"])
    except (NotFound, Forbidden):
        return Response("Unknown plan", status_code=404, media_type="text/plain")
    return Response(favicon.png(favicon.state(session, plan)), media_type="image/png",
                    headers={"Cache-Control": "no-cache"})


router.add_api_route("/bamboo/plan-favicon/{planKey}.png", favicon_image, methods=["GET"], include_in_schema=False)


def _dependencies(request: Request, direction: str) -> Response:
    session, who = _caller(request)
    project, plan = _readable(session, who, request.path_params["planKey"])
    if request.query_params.get("searchTerm") is None:
        raise Invalid("searchTerm is required.")
    start, _ = _paging(request)
    full = f"{project.key}-{plan.key}"
    data = {"expand": "dependencies", "link": render.link(request, f"dependency/search/{full}/{direction}"),
            "dependencies": render.collection("plan", [], 0, start, 0)}
    return render.respond(request, "dependencies", data)


@route("/dependency/search/{planKey}/child", "GET")
async def child_dependencies(request: Request) -> Response:
    return _dependencies(request, "child")


@route("/dependency/search/{planKey}/parent", "GET")
async def parent_dependencies(request: Request) -> Response:
    return _dependencies(request, "parent")


