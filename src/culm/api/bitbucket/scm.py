"""Git over HTTP: `/scm/{projectKey}/{slug}.git/...` and `/scm/~{user}/{slug}.git/...`.

Authorisation happens in a short database transaction before git starts; git's output then streams
to the client while the request body streams into git. Anonymous callers get a Basic challenge (git
sends credentials only after one); authenticated callers lacking permission get 403, which git shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from culm.api.deps import authenticate
from culm.core import hook_secret
from culm.core.config import get_settings
from culm.core.db import new_session
from culm.core.errors import CulmError, NotFound
from culm.domain.permissions import levels as L
from culm.domain.recent import service as recent
from culm.domain.repos import service as repos
from culm.git import storage
from culm.git.http import SERVICES, GitService, advertisement_prefix, protocol_value

router = APIRouter()

_PATH = re.compile(r"^(?P<project>~?[A-Za-z0-9_][A-Za-z0-9_.-]*)/(?P<slug>[A-Za-z0-9_.-]+?)(?:\.git)?/"
                   r"(?P<action>info/refs|git-upload-pack|git-receive-pack)$")
CHALLENGE = {"WWW-Authenticate": 'Basic realm="Bitbucket"'}
GZIP = ("gzip", "x-gzip")


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(message + "\n", status_code=status, headers=headers)


@dataclass
class _Access:
    status: int = 200
    message: str = ""
    repo_id: int = 0
    user_id: int | None = None
    token_id: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _authorise(request: Request, project_key: str, slug: str, write: bool, record_access: bool = False) -> _Access:
    """Find the repository and check the caller may read (fetch) or write (push) it. A clone or fetch
    (`record_access`) is remembered in the caller's recently accessed repositories."""
    session = new_session()
    try:
        if ".." in slug or project_key.startswith("~") and not project_key[1:]:
            return _Access(404, f"Repository {project_key}/{slug} does not exist.")
        try:
            project, repo = repos.require(session, project_key, slug)
        except NotFound:
            session.rollback()
            return _Access(404, f"Repository {project_key}/{slug} does not exist.")
        try:
            who = authenticate(request, session)  # commits failed-login counts itself
        except CulmError as exc:
            return _Access(401, exc.message, headers=CHALLENGE)
        need = L.WRITE if write else L.READ
        level = who.repo_level(session, repo, project)
        if record_access and level >= need and who.user is not None:
            recent.record(session, who.user.id, repo.id)
        session.commit()
        if level < need:
            if who.anonymous:
                return _Access(401, "Authentication required.", headers=CHALLENGE)
            verb = "push to" if write else "read"
            return _Access(403, f"You are not permitted to {verb} {project.key}/{repo.slug}.")
        if write and repo.archived:
            return _Access(403, f"{project.key}/{repo.slug} is archived and cannot be pushed to.")
        return _Access(repo_id=repo.id, user_id=who.user.id if who.user else None,
                       token_id=who.token.id if who.token else None)
    finally:
        session.close()


def _hook_env(access: _Access) -> dict[str, str]:
    """What the push hooks need to reach us and to say who pushed (see culm.git.hookclient)."""
    env = {
        "CULM_HOOK_URL": get_settings().effective_hook_url(),
        "CULM_HOOK_SECRET_FILE": str(hook_secret.ensure()),
        "CULM_HOOK_PYTHON": sys.executable,
        "CULM_REPO_ID": str(access.repo_id),
        "CULM_PUSH_ID": uuid.uuid4().hex,
    }
    if access.user_id is not None:
        env["CULM_USER_ID"] = str(access.user_id)
    if access.token_id is not None:
        env["CULM_TOKEN_ID"] = str(access.token_id)
    return env


class GitResponse(StreamingResponse):
    """Streams a git child's stdout; feeds it the request body; kills it if the client leaves."""

    def __init__(self, service: GitService, media_type: str, prefix: bytes = b"", feed: bool = False,
                 gzipped: bool = False) -> None:
        super().__init__(content=iter(()), status_code=200, media_type=media_type,
                         headers={"Cache-Control": "no-cache, max-age=0, must-revalidate",
                                  "Expires": "Fri, 01 Jan 1980 00:00:00 GMT", "Pragma": "no-cache"})
        self.service = service
        self.prefix = prefix
        self.feed = feed
        self.gzipped = gzipped

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        done = asyncio.Event()
        first: list[Message] = []

        async def body() -> AsyncIterator[bytes]:
            message: Message | None = first[0] if first else None
            while True:
                if message is None:
                    message = await receive()
                if message["type"] == "http.disconnect":
                    self.service.kill()
                    return
                if message.get("body"):
                    yield message["body"]
                if not message.get("more_body", False):
                    return
                message = None

        async def listen() -> None:
            """Feed the body (POST), then watch for the client going away mid-response."""
            if self.feed:
                await self.service.feed(body(), self.gzipped)
            while not done.is_set():
                message = await receive()
                if message["type"] == "http.disconnect":
                    if not done.is_set():
                        self.service.kill()
                    return

        listener: asyncio.Task | None = None
        try:
            if self.feed:
                # Read before answering: the first receive() is what sends `100 Continue` to a
                # client that asked for it (curl would otherwise wait a second).
                first.append(await receive())
            listener = asyncio.create_task(listen())
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if self.prefix:
                await send({"type": "http.response.body", "body": self.prefix, "more_body": True})
            async for chunk in self.service.output():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            done.set()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            done.set()
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listener
            await self.service.finish()


@router.api_route("/scm/{path:path}", methods=["GET", "POST"], include_in_schema=False)
async def smart_http(path: str, request: Request) -> Response:
    match = _PATH.match(path)
    if match is None:
        return _text(404, "Not found.")
    action = match["action"]
    if action == "info/refs":
        if request.method != "GET":
            return _text(405, "Method not allowed.")
        service = request.query_params.get("service", "")
        if service not in SERVICES:
            return _text(403, f"Unsupported service: '{service}'.")
    else:
        if request.method != "POST":
            return _text(405, "Method not allowed.")
        service = action
        ctype = request.headers.get("content-type", "")
        if ctype != f"application/x-{service}-request":
            return _text(415, f"Unsupported content type: '{ctype}'.")
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", *GZIP):
        return _text(415, f"Unsupported content encoding: '{encoding}'.")

    write = service == "git-receive-pack"
    # One record per clone or fetch: its ref advertisement (the pack request that follows is not counted).
    fetch_start = action == "info/refs" and service == "git-upload-pack"
    access = await run_in_threadpool(_authorise, request, match["project"], match["slug"], write, fetch_start)
    if access.status != 200:
        return _text(access.status, access.message, access.headers)
    protocol = protocol_value(request.headers.get("git-protocol"))
    repo_path = storage.repo_dir(access.repo_id)
    if not repo_path.is_dir():
        return _text(404, "The repository's data is missing.")
    env = _hook_env(access) if write and action != "info/refs" else None
    git = await GitService.start(repo_path, service, advertise=action == "info/refs", protocol=protocol, env=env)
    if action == "info/refs":
        return GitResponse(git, f"application/x-{service}-advertisement", advertisement_prefix(service, protocol))
    return GitResponse(git, f"application/x-{service}-result", feed=True, gzipped=encoding in GZIP)
