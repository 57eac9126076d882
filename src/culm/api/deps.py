"""Dependencies shared by every route: the database session, the caller, paging, JSON bodies."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from culm.core.db import new_session
from culm.core.errors import UnsupportedMediaType, ValidationError
from culm.core.paging import PageRequest
from culm.domain import auth
from culm.domain.permissions.service import Principal


def db(request: Request) -> Session:
    """The request's session. `TransactionMiddleware` commits it just before the response starts
    (2xx/3xx only) and rolls it back otherwise, so a client never sees success before the commit."""
    session = getattr(request.state, "db_session", None)
    if session is None:
        session = new_session()
        request.state.db_session = session
    return session


def authenticate(request: Request, session: Session) -> Principal:
    """Resolve the caller once per request, committing failed-login counts even when we refuse."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    try:
        principal = auth.resolve(session, request.headers.get("authorization"))
    except Exception:
        session.commit()
        raise
    request.state.principal = principal
    if principal.user is not None:
        request.state.username = principal.user.name
        request.state.user_id = principal.user.id
    return principal


def principal(request: Request, session: Session = Depends(db)) -> Principal:
    return authenticate(request, session)


def page(request: Request) -> PageRequest:
    return PageRequest.parse(request.query_params.get("start"), request.query_params.get("limit"))


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; an empty body is {}. Malformed JSON is a 400 in Bitbucket's shape."""
    raw = await request.body()
    if not raw.strip():
        return {}
    ctype = request.headers.get("content-type", "application/json")
    if "json" not in ctype and "text/plain" not in ctype and "x-www-form-urlencoded" not in ctype:
        raise UnsupportedMediaType(f"Unsupported media type {ctype}")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object.")
    return data


def flag(request: Request, name: str, default: bool = False) -> bool:
    """Boolean query parameters as clients send them: true/false, True/False, or a bare flag."""
    if name not in request.query_params:
        return default
    value = request.query_params.get(name, "").strip().lower()
    return value in ("", "true", "1", "yes")
