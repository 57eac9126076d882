"""ASGI middleware: path aliases Bitbucket clients use, and the headers they read back."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# `/rest/<module>/1.0/...` is the same resource as `/rest/<module>/latest/...`.
_VERSION_ALIAS = re.compile(r"^/rest/([a-z0-9-]+)/1\.0(?=/|$)")
# `/rest/api/latest/users/{slug}/repos...` (clients also send `users/~slug/repos`) is the personal project.
_PERSONAL_REPOS = re.compile(r"^/rest/api/latest/users/~?([^/]+)/repos(?=/|$)")


class CompatPathMiddleware:
    """Rewrite `1.0` to `latest`, drop trailing slashes (clients strip or add them freely), and
    apply the XSRF rule before anything else runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("/rest/"):
                new = _VERSION_ALIAS.sub(r"/rest/\1/latest", path)
                new = _PERSONAL_REPOS.sub(r"/rest/api/latest/projects/~\1/repos", new)
                if len(new) > 1 and new.endswith("/"):
                    new = new.rstrip("/")
                if new != path:
                    scope = dict(scope)
                    scope["path"] = new
                    scope["raw_path"] = new.encode()
            if xsrf_blocked(scope):
                await _xsrf_refusal(send)
                return
        await self.app(scope, receive, send)


# Content types a browser form can send cross-site without a preflight: Bitbucket demands
# `X-Atlassian-Token: no-check` on writes carrying them (avatar uploads, file edits, hook scripts).
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded", "text/plain")
_WRITE_METHODS = {"POST", "PUT", "DELETE", "PATCH"}
# As Atlassian's REST layer, the check is enforced only for requests that look like they come from a
# browser (the only place a cross-site forgery can come from); scripts and clients such as curl or
# atlassian-python-api (`upload_file` sends no header) pass, as they do on a real server.
_BROWSER_AGENTS = (b"mozilla", b"opera")


def xsrf_blocked(scope: Scope) -> bool:
    if scope["method"] not in _WRITE_METHODS or not scope["path"].startswith("/rest/"):
        return False
    headers = dict(scope.get("headers") or [])
    if not headers.get(b"user-agent", b"").lower().startswith(_BROWSER_AGENTS):
        return False
    ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
    if not ctype.startswith(_FORM_TYPES):
        return False
    return headers.get(b"x-atlassian-token", b"").decode("latin-1").lower() != "no-check"


async def _xsrf_refusal(send: Send) -> None:
    import json

    raw = json.dumps({"errors": [{"context": None, "message": "XSRF check failed",
                                  "exceptionName": "com.atlassian.bitbucket.XsrfCheckFailedException"}]}).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json;charset=UTF-8"),
                            (b"content-length", str(len(raw)).encode())]})
    await send({"type": "http.response.body", "body": raw})


class UserHeaderMiddleware:
    """Every authenticated response carries `X-AUSERNAME` (clients use it as whoami)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:12]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state") or {}
                headers = list(message.get("headers", []))
                headers.append((b"x-arequestid", request_id.encode()))
                name = state.get("username")
                if name:
                    headers.append((b"x-ausername", name.encode()))
                    headers.append((b"x-auserid", str(state.get("user_id", "")).encode()))
                message = dict(message)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TransactionMiddleware:
    """Commit the request's database session before the response starts; roll back on errors.

    The commit happens on `http.response.start`, so the status a client sees is the outcome of the
    commit: a failed commit becomes an error response instead of a success that was never stored.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from anyio import to_thread

        state = scope.setdefault("state", {})
        replaced = False

        async def finish(status: int) -> int:
            session = state.pop("db_session", None)
            if session is None:
                return status
            try:
                if status < 400:
                    await to_thread.run_sync(session.commit)
                else:
                    await to_thread.run_sync(session.rollback)
                return status
            except Exception as exc:  # a commit that fails must not look like success
                await to_thread.run_sync(session.rollback)
                return 409 if type(exc).__name__ == "IntegrityError" else 500
            finally:
                await to_thread.run_sync(session.close)

        async def send_after_commit(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                status = await finish(message["status"])
                if status != message["status"]:
                    replaced = True
                    await _send_error(send, status)
                    return
            await send(message)

        try:
            await self.app(scope, receive, send_after_commit)
        finally:
            session = state.pop("db_session", None)
            if session is not None:
                from anyio import to_thread as _t

                await _t.run_sync(session.rollback)
                await _t.run_sync(session.close)


async def _send_error(send: Send, status: int) -> None:
    import json

    if status == 409:
        body = {"errors": [{"context": None, "message": "The change conflicts with a concurrent change; retry it.",
                            "exceptionName": "com.atlassian.bitbucket.IntegrityException"}]}
    else:
        body = {"errors": [{"context": None, "message": "The change could not be saved.",
                            "exceptionName": "com.atlassian.bitbucket.ServiceException"}]}
    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json;charset=UTF-8"),
                            (b"content-length", str(len(raw)).encode())]})
    await send({"type": "http.response.body", "body": raw})
