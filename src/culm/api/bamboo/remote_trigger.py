"""Bamboo's remote trigger (`POST /rest/triggers/latest/remote/changeDetection?planKey=&skipBranches=`, the
target of repository webhooks) and the legacy `updateAndBuild.action?buildKey=` GitLab calls on every push:
"the repository changed, detect now". A build is queued when the branch tip differs from the latest build."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from culm.api.bamboo.plans import _caller, bamboo_errors
from culm.core.errors import CulmError
from culm.domain.bamboo import service, triggers
from culm.domain.bamboo.models import BambooPlan

router = APIRouter()

Handler = Callable[[Request], Awaitable[Response]]
PLAN_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[A-Z][A-Z0-9]*$")


def _detect(request: Request, key_param: str, skip_branches: bool) -> list[str]:
    """Authenticate, check the key, run change detection; the result keys queued."""
    session, who = _caller(request)
    key = (request.query_params.get(key_param) or "").strip()
    if not key:
        raise service.Invalid("Plan key not specified.")
    if not PLAN_KEY.match(key):
        raise service.Invalid(f"Invalid plan key '{key}'.")
    project, plan = service.plan(session, key)
    if not plan.enabled:
        raise _Disabled()
    queued = triggers.change_detection(session, plan, user_id=who.user.id if who.user else None,
                                       skip_branches=skip_branches)
    keys = {p.id: p.key for p in (session.get(BambooPlan, r.plan_id) for r in queued) if p is not None}
    return [f"{project.key}-{keys.get(r.plan_id, plan.key)}-{r.number}" for r in queued]


class _Disabled(CulmError):
    status = 403

    def __init__(self) -> None:
        super().__init__("Building has been disabled.")


async def change_detection(request: Request) -> Response:
    skip = request.query_params.get("skipBranches", "").strip().lower() == "true"
    _detect(request, "planKey", skip)
    return Response(status_code=204)


async def update_and_build(request: Request) -> Response:
    queued = _detect(request, "buildKey", False)
    message = f"Build requested: {', '.join(queued)}" if queued else "No changes detected"
    body = f'<?xml version="1.0" encoding="UTF-8"?><response><message>{message}</message></response>'
    return Response(body, media_type="application/xml")


for _version in ("latest", "1.0"):
    router.add_api_route(f"/bamboo/rest/triggers/{_version}/remote/changeDetection", bamboo_errors(change_detection),
                         methods=["POST"], include_in_schema=False)
router.add_api_route("/bamboo/updateAndBuild.action", bamboo_errors(update_and_build), methods=["GET", "POST"],
                     include_in_schema=False)
