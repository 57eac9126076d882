"""Reading file contents: a page of lines for the source view, and the raw bytes streamed in chunks.

Small blobs are read with pygit2; large ones are streamed from `git cat-file blob` so that neither a
page of lines nor a raw download ever holds a whole large file in memory. Binary detection follows git
(a NUL byte in the first 8000 bytes).
"""

from __future__ import annotations

import itertools
import mimetypes
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2

from culm.git import command
from culm.git.revisions import text
from culm.git.tree import blob_size

CHUNK = 64 * 1024
SNIFF = 8000
IN_MEMORY_MAX = 1024 * 1024  # blobs up to this size are read whole with pygit2; larger ones are streamed
LINE_MAX = 64 * 1024  # bytes of one line a page keeps (a minified file can be one huge line)


def stream(git_dir: Path, oid: str, chunk: int = CHUNK) -> Iterator[bytes]:
    """The blob's bytes in chunks from `git cat-file blob`. Closing the iterator early (a client that
    goes away, a page that is full) ends the git process."""
    return command.stream(git_dir, "cat-file", "blob", oid, chunk=chunk)


def is_binary(head: bytes) -> bool:
    return b"\x00" in head[:SNIFF]


def _chunks(repo: pygit2.Repository, git_dir: Path, oid: str) -> Iterator[bytes]:
    if blob_size(repo, oid) <= IN_MEMORY_MAX:
        data = repo.get(oid).data  # type: ignore[union-attr]
        return iter([data] if data else [])
    return stream(git_dir, oid)


def _sniffed(chunks: Iterator[bytes]) -> tuple[bytes, _Replay]:
    """The first SNIFF bytes (or all, if shorter) and an iterator over the whole content again."""
    head = b""
    taken: list[bytes] = []
    for data in chunks:
        taken.append(data)
        head += data
        if len(head) >= SNIFF:
            break
    return head, _Replay(taken, chunks)


class _Replay:
    """`taken` then the rest of `rest`; `close()` closes `rest` (ending its git process) even when
    iteration never started."""

    def __init__(self, taken: list[bytes], rest: Iterator[bytes]) -> None:
        self._it = itertools.chain(taken, rest)
        self._rest = rest

    def __iter__(self) -> _Replay:
        return self

    def __next__(self) -> bytes:
        return next(self._it)

    def close(self) -> None:
        close = getattr(self._rest, "close", None)
        if close is not None:
            close()


def _line(raw: bytes) -> bytes:
    raw = raw[:-1] if raw.endswith(b"\r") else raw
    return raw[:LINE_MAX]


def _split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines without their terminators (LF or CRLF); a last line without a newline is still a line.
    Linear in the content, and a line keeps at most LINE_MAX bytes however long it is."""
    pending: list[bytes] = []
    kept = 0
    for data in chunks:
        parts = data.split(b"\n")
        for part in parts[:-1]:
            pending.append(part)
            yield _line(b"".join(pending))
            pending, kept = [], 0
        tail = parts[-1]
        if tail and kept <= LINE_MAX:
            pending.append(tail[: LINE_MAX + 1 - kept])
            kept += len(pending[-1])
    if pending:
        yield _line(b"".join(pending))


@dataclass(frozen=True)
class LinesPage:
    lines: list[str]
    is_last: bool
    binary: bool


def read_lines(repo: pygit2.Repository, git_dir: Path, oid: str, start: int, limit: int) -> LinesPage:
    """Lines start..start+limit of a text blob; reading stops one line past the page."""
    chunks = _chunks(repo, git_dir, oid)
    try:
        head, chunks = _sniffed(chunks)
        if is_binary(head):
            return LinesPage([], True, True)
        window = list(itertools.islice(_split_lines(chunks), start, start + limit + 1))
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return LinesPage([text(b) for b in window[:limit]], len(window) <= limit, False)


IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp", "image/x-icon",
               "image/vnd.microsoft.icon", "image/tiff"}
TEXT_TYPE = "text/plain;charset=UTF-8"
BINARY_TYPE = "application/octet-stream"


@dataclass
class RawBlob:
    """A blob ready to stream: its content type and the chunks (the first one already read)."""

    content_type: str
    size: int
    chunks: Iterator[bytes]

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


def open_raw(repo: pygit2.Repository, git_dir: Path, oid: str, name: str) -> RawBlob:
    """Streams the blob from git in chunks (never whole in memory). Images keep their type from the
    file's extension; other content is text (UTF-8) or, with a NUL in its head, an octet stream. Never
    HTML: a repository file must not run as a page of this site."""
    size = blob_size(repo, oid)
    head, chunks = _sniffed(stream(git_dir, oid))
    guessed = mimetypes.guess_type(name, strict=False)[0]
    if guessed in IMAGE_TYPES:
        ctype = guessed
    elif is_binary(head):
        ctype = BINARY_TYPE
    else:
        ctype = TEXT_TYPE
    return RawBlob(ctype, size, chunks)


def read_limited(repo: pygit2.Repository, oid: str, limit: int) -> bytes | None:
    """The whole blob when it is at most `limit` bytes (size from the header first), else None."""
    if blob_size(repo, oid) > limit:
        return None
    return repo.get(oid).data  # type: ignore[union-attr]
