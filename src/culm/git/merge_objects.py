"""Bringing a fork's commits into the repository a pull request merges into.

A fork borrows its origin's objects (`objects/info/alternates`), so merging origin → fork needs
nothing. Merging fork → origin needs the fork's own new objects in the origin: they are fetched under a
hidden ref (`refs/culm/merge/<uuid>`, outside refs/heads and refs/tags, so never recorded as a ref
change) that keeps them reachable while the merge is computed and the target ref is compare-and-swapped,
and is deleted afterwards. The target's branches are never touched here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from culm.git.command import run
from culm.git.storage import repo_dir

HIDDEN_PREFIX = "refs/culm/merge/"


def has_commit(repo_id: int, oid: str) -> bool:
    proc = run(repo_dir(repo_id), "cat-file", "-e", "--end-of-options", f"{oid}^{{commit}}", check=False)
    return proc.returncode == 0


@contextmanager
def objects_from(target_repo_id: int, source_repo_id: int, oid: str) -> Iterator[None]:
    """Make commit `oid` of `source_repo_id` (and its history) readable in `target_repo_id` for the
    duration of the block. `oid` must be a full commit id."""
    if len(oid) != 40 or any(c not in "0123456789abcdef" for c in oid):
        raise ValueError("a full commit id is required")
    if source_repo_id == target_repo_id or has_commit(target_repo_id, oid):
        yield
        return
    ref = HIDDEN_PREFIX + uuid.uuid4().hex
    target = repo_dir(target_repo_id)
    try:
        # The fork's upload-pack runs locally with this configuration: it may serve the exact commit.
        run(target, "-c", "uploadpack.allowAnySHA1InWant=true", "fetch", "--quiet", "--no-tags",
            "--no-write-fetch-head", "--", str(repo_dir(source_repo_id)), f"+{oid}:{ref}")
        yield
    finally:
        run(target, "update-ref", "-d", "--", ref, check=False)


def leftover_refs(repo_id: int) -> list[str]:
    """Hidden merge refs still present (a crash between fetch and cleanup); for maintenance and tests."""
    out = run(repo_dir(repo_id), "for-each-ref", "--format=%(refname)", HIDDEN_PREFIX).stdout.decode()
    return [line for line in out.splitlines() if line]

