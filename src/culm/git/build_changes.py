"""The files each commit of a build's change list touched: one `git log --no-walk` for all of them, streamed,
with a cap per commit (a commit touching a million files costs memory only for its first paths)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from culm.git import command
from culm.git.revisions import FULL_OID, text


def files_by_commit(git_dir: Path, commits: list[str], per_commit: int) -> dict[str, list[str]]:
    """Commit id -> paths it changed against its first parent (everything, for a root commit; nothing, for a
    merge), at most `per_commit` each. Only full commit ids are passed to git."""
    ids = [c for c in commits if FULL_OID.match(c)]
    out: dict[str, list[str]] = {c: [] for c in ids}
    if not ids:
        return out
    wanted = {c.encode() for c in ids}
    current: list[str] | None = None
    first = False
    args = ["--literal-pathspecs", "log", "--no-walk=unsorted", "--format=%x01%H", "--name-only", "-z",
            "--no-renames", "--no-color", *ids, "--"]
    with closing(command.stream(git_dir, *args)) as chunks:
        for token in command.nul_records(chunks):
            if token.startswith(b"\x01") and token[1:] in wanted:
                current, first = out[token[1:].decode()], True
                continue
            if first and token.startswith(b"\n"):
                token = token[1:]
            first = False
            if current is not None and token and len(current) < per_commit:
                current.append(text(token))
    return out
