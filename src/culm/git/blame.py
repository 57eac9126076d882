"""Blame for the lines of one page: `git blame --porcelain -L a,b`, so the cost follows the page."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from culm.git.command import GitError, run
from culm.git.revisions import Person, text


@dataclass(frozen=True)
class BlameSpan:
    """Consecutive lines last changed by one commit (Bitbucket's blame entry)."""

    commit: str
    author: Person
    author_ms: int
    committer: Person
    committer_ms: int
    filename: str
    line_number: int  # 1-based, in the file at the blamed commit
    spanned_lines: int


_ESCAPES = {ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12, ord("r"): 13,
            ord('"'): 34, ord("\\"): 92}


def unquote(value: bytes) -> bytes:
    """A path as git prints it when it has unusual bytes: C-quoted, with octal escapes."""
    if len(value) < 2 or not (value.startswith(b'"') and value.endswith(b'"')):
        return value
    body, out, i = value[1:-1], bytearray(), 0
    while i < len(body):
        c = body[i]
        if c == 92 and i + 1 < len(body):  # backslash
            nxt = body[i + 1]
            digits = body[i + 1:i + 4]
            if len(digits) == 3 and all(48 <= d <= 55 for d in digits):  # \ooo: one byte in octal
                out.append(int(digits, 8) & 0xFF)
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def _mail(value: str) -> str:
    return value[1:-1] if value.startswith("<") and value.endswith(">") else value


def blame(git_dir: Path, commit: str, raw_path: bytes, first: int, count: int) -> list[BlameSpan]:
    """Blame lines first..first+count-1 (1-based) of `raw_path` at `commit` (a full commit id)."""
    if count <= 0:
        return []
    try:
        out = run(git_dir, "blame", "--porcelain", "-L", f"{first},{first + count - 1}", commit, "--",
                  os.fsdecode(raw_path)).stdout
    except GitError:
        return []  # a range past the end of the file: no lines to blame
    commits: dict[str, dict[str, str]] = {}
    spans: list[BlameSpan] = []
    current: dict[str, str] | None = None
    sha = ""
    final_line = 0
    for raw in out.split(b"\n"):
        if raw.startswith(b"\t"):
            assert current is not None
            _add(spans, sha, current, final_line)
            continue
        key, _, value = raw.partition(b" ")
        if len(key) in (40, 64) and all(c in b"0123456789abcdef" for c in key):
            sha = key.decode()
            fields = value.split(b" ")
            final_line = int(fields[1])
            current = commits.setdefault(sha, {})
        elif current is not None and key:
            current[key.decode("ascii", "replace")] = text(unquote(value) if key == b"filename" else value)
    return spans


def _add(spans: list[BlameSpan], sha: str, info: dict[str, str], line: int) -> None:
    filename = info.get("filename", "")
    last = spans[-1] if spans else None
    if (last is not None and last.commit == sha and last.filename == filename
            and last.line_number + last.spanned_lines == line):
        spans[-1] = BlameSpan(last.commit, last.author, last.author_ms, last.committer, last.committer_ms,
                              last.filename, last.line_number, last.spanned_lines + 1)
        return
    spans.append(BlameSpan(
        commit=sha,
        author=Person(info.get("author", ""), _mail(info.get("author-mail", ""))),
        author_ms=int(info.get("author-time", "0") or 0) * 1000,
        committer=Person(info.get("committer", ""), _mail(info.get("committer-mail", ""))),
        committer_ms=int(info.get("committer-time", "0") or 0) * 1000,
        filename=filename,
        line_number=line,
        spanned_lines=1,
    ))
