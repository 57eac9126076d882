"""Git's smart HTTP protocol, served by `git upload-pack|receive-pack --stateless-rpc`.

Nothing is buffered whole: the request body goes to the child's stdin as it arrives (gunzipped
incrementally, with bounded output per step) and the child's stdout goes back in chunks, so memory
stays bounded whatever the pack size. The caller kills the child when the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

from culm.core.config import get_settings
from culm.git.command import git_env

log = logging.getLogger(__name__)

SERVICES = ("git-upload-pack", "git-receive-pack")
CHUNK = 64 * 1024
_PROTOCOL_RE = re.compile(r"^[A-Za-z0-9=:._,-]{1,256}$")


def pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


def advertisement_prefix(service: str, protocol: str | None) -> bytes:
    """v0/v1 advertisements start with `# service=...` and a flush; v2 capability lists do not."""
    if service == "git-upload-pack" and protocol and "version=2" in protocol.split(":"):
        return b""
    return pkt_line(f"# service={service}\n") + b"0000"


def protocol_value(header: str | None) -> str | None:
    """`Git-Protocol` as GIT_PROTOCOL, if it is well formed (as git http-backend does)."""
    if header and _PROTOCOL_RE.match(header):
        return header
    return None


class GitService:
    """One `git <service> --stateless-rpc` child process."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._stderr_tail = b""
        self._stderr_task = asyncio.create_task(self._drain_stderr())

    @classmethod
    async def start(cls, repo_path: Path, service: str, *, advertise: bool, protocol: str | None = None,
                    env: dict[str, str] | None = None) -> GitService:
        if service not in SERVICES:
            raise ValueError(service)
        extra = dict(env or {})
        if protocol and service == "git-upload-pack":
            extra["GIT_PROTOCOL"] = protocol
        args = [get_settings().git_bin, service.removeprefix("git-"), "--stateless-rpc"]
        if advertise:
            args.append("--advertise-refs")
        args.append(str(repo_path))
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL if advertise else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=git_env(extra))
        return cls(proc)

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(CHUNK):
            self._stderr_tail = (self._stderr_tail + chunk)[-4096:]

    async def feed(self, chunks: AsyncIterator[bytes], gzipped: bool) -> None:
        """Write the request body to stdin as it arrives, then close stdin."""
        stdin = self.proc.stdin
        assert stdin is not None
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
        try:
            async for chunk in chunks:
                if inflater is None:
                    stdin.write(chunk)
                    await stdin.drain()
                    continue
                data = chunk
                while data:
                    out = inflater.decompress(data, CHUNK)
                    data = inflater.unconsumed_tail
                    if out:
                        stdin.write(out)
                        await stdin.drain()
            if inflater is not None:
                stdin.write(inflater.flush())
                await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return  # the child stopped reading; its output says why
        except zlib.error:
            log.info("invalid gzip request body; stopping git")
            self.kill()
            return
        finally:
            with contextlib.suppress(Exception):
                stdin.close()

    async def output(self) -> AsyncIterator[bytes]:
        assert self.proc.stdout is not None
        while chunk := await self.proc.stdout.read(CHUNK):
            yield chunk

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def finish(self) -> int:
        """Wait for the child (killing it if still running) and log failures."""
        if self.proc.returncode is None and self.proc.stdout is not None and not self.proc.stdout.at_eof():
            self.kill()
        code = await self.proc.wait()
        with contextlib.suppress(Exception):
            await self._stderr_task
        if code != 0:
            log.info("git exited %s: %s", code, self._stderr_tail.decode(errors="replace").strip())
        return code
