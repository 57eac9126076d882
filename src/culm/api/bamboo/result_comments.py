"""Comments and labels of a build result (`/result/{key}/comment[/{id}]`, `/result/{key}/label[/{name}]`).
Bodies are JSON (`{"content"}`, `{"name"}`) or Bamboo's XML (`<comment><content/>`, `<label name=""/>`)."""

from __future__ import annotations

import json
from typing import Any

from defusedxml import ElementTree as SafeET
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from culm.api import deps
from culm.api.bamboo import render
from culm.api.bamboo import result_access as access
from culm.api.bamboo import results_render as rr
from culm.api.bamboo.plans import _caller, _paging, route
from culm.domain.bamboo import service
from culm.domain.bamboo.models import BambooResult, BambooResultComment
from culm.domain.permissions import levels as L

MAX_COMMENT = 32 * 1024


def _result(request: Request) -> tuple[Any, Any, Any, BambooResult, str]:
    session, who = _caller(request)
    raw = access.key_param(request)
    _, plan, result, _job = access.find_result(session, raw, deps.flag(request, "includeAllStates"), who=who)
    return session, who, plan, result, raw


async def _body(request: Request, fields: tuple[str, ...]) -> dict[str, str]:
    """A JSON object or an XML element; the values of `fields` (attribute or child element in XML)."""
    raw = await request.body()
    if len(raw) > MAX_COMMENT * 2:
        raise service.Invalid("The request body is too large.")
    text = raw.strip()
    if not text:
        return {}
    ctype = request.headers.get("content-type", "")
    if text.startswith(b"<") or "xml" in ctype:
        try:
            root = SafeET.fromstring(text)
        except Exception:
            raise service.Invalid("The request body is not valid XML.") from None
        out = {}
        for name in fields:
            value = root.get(name)
            if value is None and root.find(name) is not None:
                value = root.find(name).text or ""
            if value is not None:
                out[name] = value
        return out
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise service.Invalid("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise service.Invalid("The request body must be a JSON object.")
    return {k: v for k, v in data.items() if k in fields}


@route("/result/{projectKey}-{buildKey}-{buildNumber}/comment", "GET", "POST")
@route("/result/{key}/comment", "GET", "POST")
async def comments(request: Request) -> Response:
    session, who, _plan, result, raw = _result(request)
    ctx = rr.Ctx(request, session)
    if request.method == "POST":
        body = await _body(request, ("content",))
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            raise service.Invalid("Comment content must not be empty.")
        if "\x00" in content:  # PostgreSQL text refuses NUL
            raise service.Invalid("Comment content must not contain NUL characters.")
        if len(content) > MAX_COMMENT:
            raise service.Invalid(f"Comment content is longer than {MAX_COMMENT} characters.")
        session.add(BambooResultComment(result_id=result.id, author_id=who.user.id if who.user else None,
                                        content=content))
        return Response(status_code=204)
    start, limit = _paging(request)
    data = {"expand": "comments", "link": render.link(request, f"result/{raw}/comment"),
            "comments": rr.comments_list(ctx, result, start, limit)}
    return rr.respond(request, "comments", data)


@route("/result/{projectKey}-{buildKey}-{buildNumber}/comment/{commentId}", "DELETE")
@route("/result/{key}/comment/{commentId}", "DELETE")
async def delete_comment(request: Request) -> Response:
    session, who, _plan, result, _raw = _result(request)
    raw_id = render.strip_suffix(request.path_params["commentId"])
    comment = None
    if raw_id.isdigit() and len(raw_id) < 18:
        comment = session.scalar(select(BambooResultComment).where(BambooResultComment.id == int(raw_id),
                                                                   BambooResultComment.result_id == result.id))
    if comment is None:
        raise service.NotFound(f"Comment {raw_id} not found")
    if who.user is None or (comment.author_id != who.user.id and who.effective_global(session) < L.G_ADMIN):
        raise access.forbidden()
    session.delete(comment)
    return Response(status_code=204)


@route("/result/{projectKey}-{buildKey}-{buildNumber}/label", "GET", "POST")
@route("/result/{key}/label", "GET", "POST")
async def labels(request: Request) -> Response:
    session, who, plan, result, raw = _result(request)
    if request.method == "POST":
        access.require_build(session, who, plan)
        body = await _body(request, ("name",))
        name = body.get("name")
        if not isinstance(name, str) or not service.LABEL.match(name.strip() or " "):
            raise service.Invalid("Label name is invalid: it must be 1-255 characters without spaces or "
                                  ", & ! \" ' < > / \\")
        norm = name.strip().lower()
        if norm not in (result.labels or []):
            result.labels = [*(result.labels or []), norm]
        return Response(status_code=204)
    start, limit = _paging(request)
    data = {"expand": "labels", "link": render.link(request, f"result/{raw}/label"),
            "labels": rr.labels_list(result, start, limit)}
    return rr.respond(request, "labels", data)


@route("/result/{projectKey}-{buildKey}-{buildNumber}/label/{labelName}", "DELETE")
@route("/result/{key}/label/{labelName}", "DELETE")
async def delete_label(request: Request) -> Response:
    session, who, plan, result, _raw = _result(request)
    access.require_build(session, who, plan)
    name = render.strip_suffix(request.path_params["labelName"]).strip().lower()
    if name not in (result.labels or []):
        raise service.NotFound(f"Label {name} not found on the result")
    result.labels = [lbl for lbl in result.labels if lbl != name]
    return Response(status_code=204)
