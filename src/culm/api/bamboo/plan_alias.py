"""`GET /plan/{projectKey}/{buildKey}`: Bamboo's alias of `/plan/{projectKey}-{buildKey}`.

Its two free segments would swallow every `/plan/{planKey}/<literal>` route registered after it, so it lives on
a router of its own, which the app includes after the shared one (modules are included in name order and
misc.py, earlier, exposes the shared router)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from culm.api.bamboo import plans, render


async def plan_alias(request: Request) -> Response:
    params = request.scope.setdefault("path_params", {})
    project_key = params["projectKey"]
    params["planKey"] = f"{project_key}-{render.strip_suffix(params['buildKey'])}"
    handler = plans.plan.__wrapped__  # type: ignore[attr-defined]  # the plan read, without its error wrapper
    return await handler(request)


_before = len(plans.router.routes)
plans.route("/plan/{projectKey}/{buildKey}", "GET")(plan_alias)
router = APIRouter()
router.routes.extend(plans.router.routes[_before:])
del plans.router.routes[_before:]
