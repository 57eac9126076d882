"""Running Bamboo handlers off the server's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]


async def off_loop(fn: Handler, request: Request) -> Response:
    """Run a handler in a worker thread (on a loop of its own), its body read first on the server's loop.

    Handlers do blocking database work; on the server's event loop, a request waiting for a lock another
    request holds (SQLite's write lock, a row lock) stops the loop, so the holder never reaches its commit and
    both wait until the lock times out. Off the loop, the waiter just waits."""
    await request.body()
    return await to_thread.run_sync(asyncio.run, fn(request))
