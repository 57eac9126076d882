"""Reading refs with the git program (`for-each-ref`): the truth the push outbox is reconciled against."""

from __future__ import annotations

from pathlib import Path

from culm.git.command import run

ZERO = "0" * 40
# Refs that are part of a repository's public history; server-maintained refs live elsewhere.
TRACKED_PREFIXES = ("refs/heads/", "refs/tags/")


def list_refs(path: Path, prefixes: tuple[str, ...] = TRACKED_PREFIXES) -> dict[str, str]:
    """{ref name: object id} for every ref under `prefixes` (tags unpeeled: the tag object's id)."""
    proc = run(path, "for-each-ref", "--format=%(objectname) %(refname)", *prefixes)
    refs: dict[str, str] = {}
    for line in proc.stdout.decode("utf-8", errors="surrogateescape").splitlines():
        oid, _, name = line.partition(" ")
        if name:
            refs[name] = oid
    return refs


def is_tracked(ref: str) -> bool:
    return ref.startswith(TRACKED_PREFIXES)


def change_type(old: str, new: str) -> str:
    """Bitbucket's RefChangeType for one update."""
    if old == ZERO:
        return "ADD"
    if new == ZERO:
        return "DELETE"
    return "UPDATE"
