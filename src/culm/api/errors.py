"""One place maps service errors and framework errors to Bitbucket's error body."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from culm.core.errors import CulmError

JSON_UTF8 = "application/json;charset=UTF-8"


def error_body(message: str, exception_name: str | None, context: str | None = None, **extra: Any) -> dict:
    err: dict[str, Any] = {"context": context, "message": message, "exceptionName": exception_name}
    err.update(extra)
    return {"errors": [err]}


def bitbucket_error(status: int, message: str, exception_name: str | None, context: str | None = None,
                    headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    # atlassian-python-api only reads the message of a 401 whose type is exactly this.
    return JSONResponse(error_body(message, exception_name, context, **extra), status_code=status,
                        headers=headers, media_type=JSON_UTF8)


def install(app: FastAPI) -> None:
    @app.exception_handler(CulmError)
    async def _culm_error(request: Request, exc: CulmError) -> JSONResponse:
        headers = None
        who = getattr(request.state, "principal", None)
        if exc.status == 401 and (who is None or who.anonymous):  # ask anonymous callers to log in
            headers = {"WWW-Authenticate": 'Basic realm="Atlassian Bitbucket"'}
        return bitbucket_error(exc.status, exc.message, exc.exception_name, exc.context, headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", []) if p not in ("body", "query", "path")]
        context = loc[-1] if loc else None
        msg = first.get("msg", "Invalid value")
        message = f"{context}: {msg}" if context else msg
        return bitbucket_error(400, message, "com.atlassian.bitbucket.validation.ArgumentValidationException",
                               context)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if request.url.path.startswith("/bamboo/rest/") and exc.status_code in (404, 405):  # Bamboo's error body
            message = "No resource matches" if exc.status_code == 404 else f"Method {request.method} is not allowed on"
            return JSONResponse({"errors": [f"{message} {request.url.path}"], "fieldErrors": {}},
                                status_code=exc.status_code)
        if exc.status_code == 404:
            return bitbucket_error(404, f"No resource matches {request.url.path}",
                                   "com.sun.jersey.api.NotFoundException")
        if exc.status_code == 405:
            return bitbucket_error(405, f"Method {request.method} is not allowed on {request.url.path}",
                                   "com.sun.jersey.api.client.MethodNotAllowedException")
        return bitbucket_error(exc.status_code, str(exc.detail), None)
