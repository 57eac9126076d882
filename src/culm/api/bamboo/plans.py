"""Bamboo REST (read side of projects and plans, plan import from specs, enable/disable, labels).

Every route is registered for `latest` and `1.0` and, where the path ends in a literal, with `.json`/`.xml`
suffixes; errors use Bamboo's `{"errors":[...],"fieldErrors":{}}` body."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from culm import __version__
from culm.api import deps
from culm.api.bamboo import render
from culm.api.bamboo.rest_render import branch_items
from culm.core.errors import AuthenticationRequired, CulmError
from culm.domain.bamboo import favourites, server_state, service
from culm.domain.bamboo.specs import SpecsInvalid
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_global

router = APIRouter()
Handler = Callable[[Request], Awaitable[Response]]
MAX_PAGE = 25
MAX_SPECS_BYTES = 1 << 20


def error(status: int, messages: list[str], field_errors: dict[str, list[str]] | None = None) -> JSONResponse:
    return JSONResponse({"errors": messages, "fieldErrors": field_errors or {}}, status_code=status)


def bamboo_errors(fn: Handler, respond: Callable[[int, list[str]], Response] = error) -> Handler:
    """`fn` run off the event loop (blocking database work must not stop it), its failures answered with
    Bamboo's status codes in the body `respond` makes (the REST error shape unless told)."""

    @functools.wraps(fn)
    async def wrapped(request: Request) -> Response:
        from culm.api.bamboo.offload import off_loop

        if any("\x00" in v for v in (*request.path_params.values(), *request.query_params.values())):
            return respond(400, ["The request contains a NUL character."])  # PostgreSQL text refuses NUL
        try:
            return await off_loop(fn, request)
        except service.NotFound as exc:
            return respond(404, [str(exc)])
        except service.Invalid as exc:
            return respond(400, [str(exc)])
        except SpecsInvalid as exc:
            return respond(400, [e.text() for e in exc.errors])
        except CulmError as exc:
            resp = respond(exc.status, [exc.message])
            if exc.status == 401:
                resp.headers["WWW-Authenticate"] = 'Basic realm="Bamboo"'
            return resp

    return wrapped


def route(path: str, *methods: str, api: str = "api") -> Callable[[Handler], Handler]:
    """Register `fn` under both API versions (and suffixes) of `/bamboo/rest/{api}`, mapping failures to
    Bamboo's error body."""

    def deco(fn: Handler) -> Handler:
        wrapped = bamboo_errors(fn)

        suffixes = ("",) if path.endswith("}") else ("", ".json", ".xml")
        for version in ("latest", "1.0"):
            for suffix in suffixes:
                router.add_api_route(f"/bamboo/rest/{api}/{version}{path}{suffix}", wrapped, methods=list(methods),
                                     include_in_schema=False)
        return wrapped

    return deco


def json_object(raw: bytes, shape: str = "a JSON object") -> dict[str, Any]:
    """A request body that must be a JSON object (an empty one reads as `{}`); `shape` ends the error text."""
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise service.Invalid("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise service.Invalid(f"The request body must be {shape}.")
    return body


def _caller(request: Request) -> tuple[Any, Principal]:
    """The session and the caller, who must be logged in (anonymous access is off, as a default Bamboo)."""
    session = deps.db(request)
    who = deps.authenticate(request, session)
    if who.anonymous:
        raise AuthenticationRequired("You are not authorised to access this resource. Log in and try again.")
    return session, who


MAX_INDEX = 2**31 - 1


def _int_param(request: Request, names: tuple[str, ...], default: int, low: int) -> int:
    for name in names:
        raw = request.query_params.get(name)
        if raw is not None and raw != "":
            try:
                value = int(raw)
            except ValueError:
                raise service.Invalid(f"Invalid value for {name}: '{raw}'") from None
            if value < low:
                raise service.Invalid(f"Invalid value for {name}: '{raw}'")
            return min(value, MAX_INDEX)  # an absurd index is past the end, not a database integer overflow
    return default


def _paging(request: Request) -> tuple[int, int]:
    start = _int_param(request, ("start-index",), 0, 0)
    limit = min(_int_param(request, ("max-result", "max-results"), MAX_PAGE, 1), MAX_PAGE)
    return start, limit


def _flag(request: Request, name: str) -> bool:
    """A boolean query flag: present without a value (`?favourite`, as python-api sends it) or true."""
    raw = request.query_params.get(name)
    return raw is not None and raw.lower() in ("", "true", "1", "yes")


def _plan_key(request: Request) -> str:
    return render.strip_suffix(request.path_params["planKey"])


@route("/info", "GET")
async def info(request: Request) -> Response:
    _caller(request)
    return render.respond(request, "info", {"version": "9.3.2", "edition": "culm " + __version__,
                                            "buildDate": "2026-01-01T00:00:00.000Z", "buildNumber": "90302",
                                            "state": server_state.read(request.app.state.settings.home)[0]})


@route("/server", "GET")
async def server(request: Request) -> Response:
    _caller(request)
    state, by = server_state.read(request.app.state.settings.home)
    data = {"state": state, "setByUser": by, "reindexInProgress": False}
    if by is None:
        del data["setByUser"]  # never set by anyone: absent (the spec types it as a string, never null)
    return render.respond(request, "serverStatusInfo", data)


@route("/currentUser", "GET")
async def current_user(request: Request) -> Response:
    _, who = _caller(request)
    user = who.user
    assert user is not None
    return render.respond(request, "user", {"name": user.name, "fullName": user.display_name,
                                            "email": user.email or ""})


@route("/project", "GET")
async def projects(request: Request) -> Response:
    session, _ = _caller(request)
    start, limit = _paging(request)
    wanted = render.expands(request)
    total, rows = service.projects_page(session, start, limit, show_empty=_flag(request, "showEmpty"))
    items = []
    for project in rows:
        item = {"expand": "plans", **render.project_json(request, project)}
        count, plans = service.plans_page(session, 0, MAX_PAGE, project.id)
        if "projects.project.plans" in wanted:
            item["plans"] = render.collection(
                "plan", [render.plan_json(request, p, pl, wanted, "projects.project.plans.plan.") for p, pl in plans],
                count, 0, len(plans))
        else:
            item["plans"] = render.collapsed(count)
        items.append(item)
    data = {"expand": "projects", "link": render.link(request, "project"),
            "projects": render.collection("project", items, total, start, len(items))}
    return render.respond(request, "projects", data)


@route("/project/{projectKey}", "GET")
async def project(request: Request) -> Response:
    session, _ = _caller(request)
    found = service.project(session, render.strip_suffix(request.path_params["projectKey"]))
    wanted = render.expands(request)
    start, limit = _paging(request)
    item: dict[str, Any] = {"expand": "plans", **render.project_json(request, found)}
    count, plans = service.plans_page(session, start if "plans" in wanted else 0, limit, found.id)
    if "plans" in wanted:
        item["plans"] = render.collection(
            "plan", [render.plan_json(request, p, pl, wanted, "plans.plan.") for p, pl in plans], count, start,
            len(plans))
    else:
        item["plans"] = render.collapsed(count)
    return render.respond(request, "project", item)


@route("/plan", "GET")
async def plans(request: Request) -> Response:
    session, who = _caller(request)
    start, limit = _paging(request)
    wanted = render.expands(request)
    starred = favourites.plan_ids(session, who.user.id if who.user else None)
    only = starred if _flag(request, "favourite") else None
    total, rows = service.plans_page(session, start, limit, only_ids=only)
    items = [render.plan_json(request, p, pl, wanted, "plans.plan.", favourite=pl.id in starred,
                              branch_items=branch_items(request, session, p, pl)) for p, pl in rows]
    data = {"expand": "plans", "link": render.link(request, "plan"),
            "plans": render.collection("plan", items, total, start, len(items))}
    return render.respond(request, "plans", data)


@route("/plan/{planKey}", "GET")
async def plan(request: Request) -> Response:
    session, who = _caller(request)
    project_row, plan_row = service.plan(session, _plan_key(request))
    starred = plan_row.id in favourites.plan_ids(session, who.user.id if who.user else None)
    return render.respond(request, "plan", render.plan_json(
        request, project_row, plan_row, render.expands(request), favourite=starred,
        branch_items=branch_items(request, session, project_row, plan_row)))


@route("/plan/{planKey}/enable", "POST", "DELETE")
async def enable(request: Request) -> Response:
    session, who = _caller(request)
    _, plan_row = service.plan(session, _plan_key(request))
    require_global(session, who, L.G_ADMIN)
    service.set_enabled(plan_row, request.method == "POST")
    return Response(status_code=204)


@route("/plan/{planKey}/label", "GET", "POST")
async def labels(request: Request) -> Response:
    session, who = _caller(request)
    key = _plan_key(request)
    _, plan_row = service.plan(session, key)
    if request.method == "POST":
        require_global(session, who, L.G_ADMIN)
        body = json_object(await request.body(), "a JSON object with a 'name'")
        service.add_label(plan_row, body.get("name"))
        return Response(status_code=204)
    return render.respond(request, "labels", render.labels_json(request, key, plan_row.labels))


@route("/plan/{planKey}/label/{labelName}", "DELETE")
async def delete_label(request: Request) -> Response:
    session, who = _caller(request)
    _, plan_row = service.plan(session, request.path_params["planKey"])
    require_global(session, who, L.G_ADMIN)
    service.remove_label(plan_row, render.strip_suffix(request.path_params["labelName"]))
    return Response(status_code=204)


@route("/import/plan", "POST")
async def import_plan(request: Request) -> Response:
    """Create or update the plans of a Bamboo Specs YAML body; all or nothing."""
    session, who = _caller(request)
    require_global(session, who, L.G_ADMIN)
    raw = await request.body()
    if len(raw) > MAX_SPECS_BYTES:
        raise service.Invalid(f"The specs are too large (more than {MAX_SPECS_BYTES} bytes).")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise service.Invalid("The specs must be UTF-8 text.") from None
    imported = service.import_specs(session, text)
    rows = [service.plan(session, f"{p.spec['projectKey']}-{p.key}") for p in imported]
    items = [render.plan_json(request, proj, pl, set()) for proj, pl in rows]
    data = {"expand": "plans", "link": render.link(request, "plan"),
            "plans": render.collection("plan", items, len(items), 0, len(items))}
    return render.respond(request, "plans", data)
