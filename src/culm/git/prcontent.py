"""Git reads for a pull request's content when its source commits live in a fork: the same commands as
`culm.git.history` / `culm.git.diff`, run with the fork's object store as a read-only alternate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from culm.git import command
from culm.git.diff import raw_chunks


def log_counts(git_dir: Path, include: str, exclude: str, env: dict[str, str] | None) -> tuple[int, int]:
    """(commits, distinct author e-mails) reachable from `include` and not from `exclude` (`withCounts`)."""
    total = 0
    authors: set[bytes] = set()
    with command.popen(git_dir, "log", "--format=%aE", "--no-color", include, f"^{exclude}", "--",
                       env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            total += 1
            authors.add(line.strip().lower())
    return total, len(authors)


def patch(git_dir: Path, since: str | None, until: str, env: dict[str, str] | None) -> Iterator[bytes]:
    """`git format-patch --stdout since..until` (every ancestor of `until` when there is no `since`)."""
    args = ["format-patch", "--stdout", "--no-color", "--no-ext-diff", "--no-textconv", "--no-signature",
            "--src-prefix=a/", "--dst-prefix=b/"]
    args += [f"{since}..{until}"] if since else ["--root", until]
    return raw_chunks(git_dir, args, env)
