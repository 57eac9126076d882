"""One way to stream git's output to a client (diffs, patches, raw files, archives)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from anyio import to_thread
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class GitStream(StreamingResponse):
    """A streamed answer fed by a generator that runs git. However the response ends (finished, client
    gone, error) the generator is closed, which kills git at once instead of leaving it blocked on a
    pipe nobody reads (Starlette leaves a sync generator suspended when the client disconnects)."""

    def __init__(self, chunks: Iterator[bytes], media_type: str, headers: dict[str, str] | None = None) -> None:
        self._source = chunks
        super().__init__(chunks, media_type=media_type, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                with contextlib.suppress(ValueError):  # still running in a worker: it ends by itself
                    await to_thread.run_sync(close)
