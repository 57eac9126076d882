"""Markup preview: `POST /rest/api/latest/markup/preview` (operationId preview) -> `{"html": "..."}`.

The body is the raw Markdown (any content type; a JSON string when the content type is JSON). Only
authenticated callers may use it, as the spec says. A text/plain body is a form-like write, so the XSRF
header applies to it (the middleware's rule); JSON bodies need none.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.deps import db, flag, principal
from culm.api.errors import JSON_UTF8
from culm.api.urls import base_url
from culm.core.errors import ValidationError
from culm.domain.markup import render as markup
from culm.domain.permissions.service import Principal, deny

router = APIRouter()
MAX_MARKUP_BYTES = 1024 * 1024


async def markup_text(request: Request) -> bytes:
    """The body, read no further than one byte past the limit (so a huge body costs no memory)."""
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > MAX_MARKUP_BYTES:
            break
    return bytes(received)


def _text(raw: bytes, content_type: str) -> str:
    if len(raw) > MAX_MARKUP_BYTES:
        raise ValidationError(f"The markup is larger than the limit of {MAX_MARKUP_BYTES} bytes.", context="markup")
    text = raw.decode("utf-8", errors="replace")
    if "json" not in content_type.lower():
        return text
    if not text.strip():
        return ""
    try:
        value = json.loads(text)
    except ValueError:
        raise ValidationError("The request body is not valid JSON.", context="markup") from None
    if not isinstance(value, str):
        raise ValidationError("A JSON body must be a string of Markdown.", context="markup")
    return value


@router.post(A + "/markup/preview")
def preview(request: Request, raw: bytes = Depends(markup_text), session: Session = Depends(db),
            who: Principal = Depends(principal)) -> JSONResponse:
    """Render Markdown as the product would, sanitised -> 200 RestMarkup."""
    if who.anonymous:
        raise deny(who)
    mode = markup.url_mode(request.query_params.get("urlMode"))
    base = str(request.base_url).rstrip("/") if mode == "ABSOLUTE" else base_url(request)
    options = markup.Options(html_escape=flag(request, "htmlEscape", default=True),
                             hardwrap=flag(request, "hardwrap"),
                             include_heading_id=flag(request, "includeHeadingId"),
                             url_mode=mode, base_url=base)
    html = markup.render(_text(raw, request.headers.get("content-type", "")), options)
    return JSONResponse({"html": html}, media_type=JSON_UTF8)
