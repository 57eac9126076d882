"""Diffs between commits, the way Bitbucket serves them: parsed from `git diff-tree -p` as it streams.

Two halves. The parser (`DiffParser`, `read_lines`, `parse_numstat`) is pure: it reads bytes from any
binary stream and yields one file diff at a time, so it is unit-tested on literal bytes. The runner
(`DiffRequest`, `stream_diff`, `raw_diff`, `patch`, `stats`) starts git with fixed, safe arguments and
feeds its stdout to the parser or straight to the client.

Bounds, so a huge diff never sits in memory: at most `max_lines` content lines in all (Bitbucket's
`page.max.diff.lines`, 10,000) and `max_files` files; each line is cut at `max_line_length`
characters (the rest of it is skipped while reading, never buffered). Past a bound the parser marks
`truncated` on the segment, hunk, file and whole diff, as Bitbucket does, stops reading, and the runner
kills git.

Plumbing (`diff-tree`, `format-patch` with explicit options) is used so that no `diff.*` setting of
the server's git configuration changes what clients get; user paths go after `--` with
`--literal-pathspecs`, so no path is read as an option or a glob.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from culm.git import command

MAX_LINES = 10_000
MAX_FILES = 10_000
MAX_LINE_LENGTH = 2_000
DEFAULT_CONTEXT_LINES = 10  # Bitbucket's shipped default (AbstractDiffRequest.DEFAULT_CONTEXT_LINES)
EMPTY_TREE = {40: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
              64: "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"}
CHUNK = 64 * 1024

ADDED, REMOVED, CONTEXT = "ADDED", "REMOVED", "CONTEXT"
_KIND = {ord("+"): ADDED, ord("-"): REMOVED, ord(" "): CONTEXT}
_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
_ESCAPES = {ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12, ord("r"): 13,
            ord('"'): 34, ord("\\"): 92}


def text(raw: bytes) -> str:
    """Git content is bytes; clients get UTF-8 with invalid sequences replaced, never an error."""
    return raw.decode("utf-8", errors="replace")


# ---- the parser (pure) -------------------------------------------------------------------------------


@dataclass
class Line:
    source: int
    destination: int
    text: str
    truncated: bool = False


@dataclass
class Segment:
    type: str
    lines: list[Line] = field(default_factory=list)
    truncated: bool = False


@dataclass
class Hunk:
    source_line: int
    source_span: int
    destination_line: int
    destination_span: int
    context: str
    segments: list[Segment] = field(default_factory=list)
    truncated: bool = False


@dataclass
class FileDiff:
    """One file's change. `source` is None for an added file, `destination` None for a deleted one."""

    source: str | None
    destination: str | None
    hunks: list[Hunk] = field(default_factory=list)
    binary: bool = False
    truncated: bool = False
    change: str = "MODIFY"  # ADD, DELETE, MODIFY, MOVE, COPY


def read_lines(stream: BinaryIO, max_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """The stream's lines without their newline, each at most `max_bytes` long; a longer line is cut
    (flag True) and the rest of it is read past in chunks, never held."""
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        if line.endswith(b"\n"):
            yield line[:-1], False
        elif len(line) <= max_bytes:
            yield line, False  # last line, no newline
        else:
            while True:
                rest = stream.readline(CHUNK)
                if not rest or rest.endswith(b"\n"):
                    break
            yield line[:max_bytes], True


def unquote(raw: bytes) -> bytes:
    """A path as git prints it: C-quoted (`"a\\303\\251 b"`) when it holds special bytes, else as is."""
    if len(raw) < 2 or raw[:1] != b'"' or raw[-1:] != b'"':
        return raw
    out = bytearray()
    body, i = raw[1:-1], 0
    while i < len(body):
        c = body[i]
        if c != 0x5C or i + 1 >= len(body):
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if i + 4 <= len(body) and all(0x30 <= b <= 0x37 for b in body[i + 1:i + 4]):
            out.append(int(body[i + 1:i + 4], 8) & 0xFF)
            i += 4
        else:
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
    return bytes(out)


def _split_quoted(rest: bytes) -> tuple[bytes, bytes] | None:
    """`"a/x" "b/y"` or `a/x "b/y"` forms of the `diff --git` line (any side quoted)."""
    if rest.startswith(b'"'):
        end = _quoted_end(rest)
        if end is None:
            return None
        first, tail = rest[:end + 1], rest[end + 2:]
    else:
        cut = rest.rfind(b' "')
        if cut < 0:
            return None
        first, tail = rest[:cut], rest[cut + 1:]
    return unquote(first), unquote(tail)


def _quoted_end(raw: bytes) -> int | None:
    i = 1
    while i < len(raw):
        if raw[i] == 0x5C:
            i += 2
            continue
        if raw[i] == 0x22:
            return i
        i += 1
    return None


def _header_paths(rest: bytes) -> tuple[bytes, bytes] | None:
    """The two names of `diff --git a/X b/Y`. When X == Y (every change but a rename or copy) the
    split is unambiguous even with spaces; renames and copies name their paths on their own lines."""
    if b'"' in rest:
        pair = _split_quoted(rest)
        if pair is None:
            return None
        a, b = pair
    else:
        n = len(rest)
        if n >= 5 and (n - 5) % 2 == 0:
            half = (n - 5) // 2
            a, b = rest[:half + 2], rest[half + 3:]
            if rest[half + 2:half + 3] != b" " or a[2:] != b[2:]:
                a, b = _first_split(rest)
        else:
            a, b = _first_split(rest)
    if not (a.startswith(b"a/") and b.startswith(b"b/")):
        return None
    return a[2:], b[2:]


def _first_split(rest: bytes) -> tuple[bytes, bytes]:
    cut = rest.find(b" b/")
    return (rest[:cut], rest[cut + 1:]) if cut >= 0 else (rest, b"")


def _side_path(raw: bytes, prefix: bytes) -> bytes | None:
    """The path of a `--- a/x` / `+++ b/x` line; None for /dev/null. Git ends names holding a space
    with a tab there."""
    if raw == b"/dev/null":
        return None
    if raw.endswith(b"\t"):
        raw = raw[:-1]
    raw = unquote(raw)
    return raw[len(prefix):] if raw.startswith(prefix) else raw


class DiffParser:
    """Reads `git diff-tree -p` output and yields `FileDiff`s one at a time within the bounds.

    `keep(source, destination)` filters files before they count against the bounds. After the
    iteration, `truncated` says whether a bound cut the diff short (then reading stopped early).
    """

    def __init__(self, max_lines: int = MAX_LINES, max_line_length: int = MAX_LINE_LENGTH,
                 max_files: int = MAX_FILES, keep: Callable[[FileDiff], bool] | None = None) -> None:
        self.max_lines = max_lines
        self.max_line_length = max_line_length
        self.max_files = max_files
        self.keep = keep
        self.truncated = False
        self.lines = 0
        self.files = 0

    def parse(self, stream: BinaryIO) -> Iterator[FileDiff]:
        # a line of content is at most max_line_length characters, 4 bytes each, plus its +/-/space
        lines = read_lines(stream, self.max_line_length * 4 + 1)
        return self.parse_lines(lines)

    def parse_lines(self, lines: Iterable[tuple[bytes, bool]]) -> Iterator[FileDiff]:
        it = iter(lines)
        pending = next(it, None)
        while pending is not None:
            raw, _ = pending
            if not raw.startswith(b"diff --git "):
                pending = next(it, None)  # stray line (none expected): skip
                continue
            current, pending = self._header(raw, it)
            wanted = self.keep is None or self.keep(current)
            if wanted and self.files >= self.max_files:
                self.truncated = True
                return
            while pending is not None and pending[0].startswith(b"@@"):
                header = _HUNK.match(pending[0])
                if header is None:
                    pending = next(it, None)
                    continue
                if not wanted:
                    pending = self._skip_hunk(header, it)
                    continue
                pending = self._hunk(current, header, it)
                if self.truncated:
                    current.truncated = True
                    yield current
                    return
            if wanted:
                self.files += 1
                yield current

    def _header(self, first: bytes, it: Iterator[tuple[bytes, bool]]) -> tuple[FileDiff, tuple[bytes, bool] | None]:
        names = _header_paths(first[len(b"diff --git "):])
        src, dst = names if names else (b"", b"")
        added = deleted = binary = False
        change = "MODIFY"
        for raw, _ in it:
            if raw.startswith(b"diff --git ") or raw.startswith(b"@@"):
                return self._file(src, dst, added, deleted, binary, change), (raw, False)
            if raw.startswith(b"new file mode"):
                added = True
            elif raw.startswith(b"deleted file mode"):
                deleted = True
            elif raw.startswith(b"rename from ") or raw.startswith(b"copy from "):
                src = unquote(raw.split(b" ", 2)[2])
                change = "MOVE" if raw.startswith(b"rename") else "COPY"
            elif raw.startswith(b"rename to ") or raw.startswith(b"copy to "):
                dst = unquote(raw.split(b" ", 2)[2])
            elif raw.startswith(b"--- "):
                side = _side_path(raw[4:], b"a/")
                if side is None:
                    added = True
                elif not names:
                    src = side
            elif raw.startswith(b"+++ "):
                side = _side_path(raw[4:], b"b/")
                if side is None:
                    deleted = True
                elif not names:
                    dst = side
            elif raw.startswith(b"Binary files ") or raw.startswith(b"GIT binary patch"):
                binary = True
        return self._file(src, dst, added, deleted, binary, change), None

    @staticmethod
    def _file(src: bytes, dst: bytes, added: bool, deleted: bool, binary: bool, change: str) -> FileDiff:
        if added:
            change = "ADD"
        elif deleted:
            change = "DELETE"
        return FileDiff(source=None if added else text(src), destination=None if deleted else text(dst),
                        binary=binary, change=change)

    @staticmethod
    def _spans(header: re.Match[bytes]) -> tuple[int, int, int, int]:
        a, b, c, d = header.group(1, 2, 3, 4)
        return int(a), 1 if b is None else int(b), int(c), 1 if d is None else int(d)

    def _skip_hunk(self, header: re.Match[bytes], it: Iterator[tuple[bytes, bool]]) -> tuple[bytes, bool] | None:
        _, old, _, new = self._spans(header)
        for raw, cut in it:
            kind = raw[:1]
            if kind in (b" ", b"") and (old > 0 or new > 0):
                old, new = old - 1, new - 1
            elif kind == b"-" and old > 0:
                old -= 1
            elif kind == b"+" and new > 0:
                new -= 1
            elif kind != b"\\":
                return raw, cut
        return None

    def _hunk(self, current: FileDiff, header: re.Match[bytes],
              it: Iterator[tuple[bytes, bool]]) -> tuple[bytes, bool] | None:
        """Read one hunk into `current`; returns the line after it (None at the end)."""
        a, old, c, new = self._spans(header)
        hunk = Hunk(a, old, c, new, text(header.group(5)))
        current.hunks.append(hunk)
        src = a if old > 0 else a + 1  # the next line of each side: what an added/removed line sits at
        dst = c if new > 0 else c + 1
        segment: Segment | None = None
        for raw, cut in it:
            kind = _KIND.get(raw[0]) if raw else (CONTEXT if old > 0 and new > 0 else None)
            if raw[:1] == b"\\":
                continue  # "\ No newline at end of file"
            if kind is None or (kind == CONTEXT and (old <= 0 or new <= 0)) or \
                    (kind == REMOVED and old <= 0) or (kind == ADDED and new <= 0):
                return raw, cut
            if self.lines >= self.max_lines:
                self.truncated = hunk.truncated = True
                if segment is not None:
                    segment.truncated = True
                return None
            self.lines += 1
            body = text(raw[1:])
            if len(body) > self.max_line_length:
                body, cut = body[:self.max_line_length], True
            if segment is None or segment.type != kind:
                segment = Segment(kind)
                hunk.segments.append(segment)
            segment.lines.append(Line(src, dst, body, cut))
            if kind != ADDED:
                src, old = src + 1, old - 1
            if kind != REMOVED:
                dst, new = dst + 1, new - 1
        return None


def nul_tokens(stream: BinaryIO) -> Iterator[bytes]:
    """The NUL-terminated records of `-z` output, read in chunks."""
    return command.nul_records(iter(lambda: stream.read(CHUNK), b""))


def parse_numstat(stream: BinaryIO, keep: Callable[[str, str], bool] | None = None) -> tuple[int, int, int]:
    """(files changed, lines added, lines removed) from `--numstat -z` output, read in chunks.
    Binary files (`-`) count as changed with no lines. `keep(source, destination)` filters files."""
    files = added = removed = 0
    tokens = nul_tokens(stream)
    for token in tokens:
        parts = token.split(b"\t", 2)
        if len(parts) < 3:
            continue
        src = dst = parts[2]
        if src == b"":  # a rename or copy: its source and destination follow
            src, dst = next(tokens, b""), next(tokens, b"")
        if keep is not None and not keep(text(src), text(dst)):
            continue
        files += 1
        added += int(parts[0]) if parts[0].isdigit() else 0
        removed += int(parts[1]) if parts[1].isdigit() else 0
    return files, added, removed


def find_copy_source(stream: BinaryIO, path: str) -> str | None:
    """From `--name-status -z` output: the path `path` was renamed or copied from, if it was."""
    tokens = nul_tokens(stream)
    for status in tokens:
        if status[:1] in (b"R", b"C"):
            src, dst = next(tokens, b""), next(tokens, b"")
            if text(dst) == path:
                return text(src)
        else:
            next(tokens, None)
    return None


# ---- running git -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffRequest:
    """What to diff: `base` (None = the empty tree) to `target`, both full commit ids, limited to
    `paths` (already validated, repository-relative)."""

    git_dir: Path
    base: str | None
    target: str
    paths: tuple[str, ...] = ()
    context_lines: int = DEFAULT_CONTEXT_LINES
    ignore_whitespace: bool = False
    alternates: tuple[Path, ...] = ()  # other repositories' object stores (compare with a fork)

    def base_tree(self) -> str:
        return self.base or EMPTY_TREE[len(self.target)]

    def env(self) -> dict[str, str]:
        if not self.alternates:
            return {}
        return {"GIT_ALTERNATE_OBJECT_DIRECTORIES": ":".join(str(p / "objects") for p in self.alternates)}

    def diff_args(self, *mode: str) -> list[str]:
        args = ["diff-tree", "-r", "--no-commit-id", "--no-color", "--no-ext-diff", "--no-textconv",
                "-M", "-C", *mode]
        if self.ignore_whitespace:
            args.append("-w")
        args += [self.base_tree(), self.target, "--", *self.paths]
        return args

    def patch_args(self) -> list[str]:
        return self.diff_args("-p", f"-U{self.context_lines}", "--src-prefix=a/", "--dst-prefix=b/")


@contextmanager
def _git(git_dir: Path, args: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """git with its stdout as a pipe; killed on exit if still running (client gone, bound reached)."""
    with command.popen(git_dir, "--literal-pathspecs", "-c", "core.quotePath=false", *args, env=env) as proc:
        yield proc


def stream_diff(req: DiffRequest, parser: DiffParser) -> Iterator[FileDiff]:
    """The parsed file diffs of `req`, one at a time; git is stopped as soon as a bound is reached."""
    with _git(req.git_dir, req.patch_args(), req.env()) as proc:
        assert proc.stdout is not None
        yield from parser.parse(proc.stdout)


def copy_source(req: DiffRequest, path: str) -> str | None:
    """The path `path` was renamed or copied from in `req` (Bitbucket's `autoSrcPath`), if any."""
    with _git(req.git_dir, req.diff_args("--name-status", "-z"), req.env()) as proc:
        assert proc.stdout is not None
        return find_copy_source(proc.stdout, path)


def raw_chunks(git_dir: Path, args: list[str], env: dict[str, str] | None = None) -> Iterator[bytes]:
    """git's stdout in chunks, as it comes (raw diffs and patches are streamed, never buffered)."""
    with _git(git_dir, args, env) as proc:
        assert proc.stdout is not None
        while True:
            chunk = proc.stdout.read1(CHUNK) if hasattr(proc.stdout, "read1") else proc.stdout.read(CHUNK)
            if not chunk:
                return
            yield chunk


def raw_diff(req: DiffRequest) -> Iterator[bytes]:
    return raw_chunks(req.git_dir, req.patch_args(), req.env())


def patch(git_dir: Path, until: str, since: str | None, all_ancestors: bool) -> Iterator[bytes]:
    """`git format-patch --stdout`: the one commit `until`, the commits `since..until`, or every
    ancestor of `until`."""
    args = ["format-patch", "--stdout", "--no-color", "--no-ext-diff", "--no-textconv", "--no-signature",
            "--src-prefix=a/", "--dst-prefix=b/"]
    if all_ancestors:
        args += ["--root", until]
    elif since:
        args.append(f"{since}..{until}")
    else:
        args += ["-1", until]
    return raw_chunks(git_dir, args)


def stats(req: DiffRequest, keep: Callable[[str, str], bool] | None = None) -> tuple[int, int, int]:
    """(files changed, lines inserted, lines deleted) of `req`."""
    with _git(req.git_dir, req.diff_args("--numstat", "-z"), req.env()) as proc:
        assert proc.stdout is not None
        return parse_numstat(proc.stdout, keep)
