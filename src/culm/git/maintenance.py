"""Keeping hosted repositories cheap to read. culm sets `gc.auto=0` (no surprise gc inside a push), so it
packs refs itself: with thousands of loose ref files every `for-each-ref` (branch and tag lists) reads
them one by one — 220–590 ms for 10,000 branches against 31–98 ms once packed (bench/content.py
`--pack-refs`). `git pack-refs` takes git's own locks, so it is safe beside pushes and reads."""

from __future__ import annotations

import os
from pathlib import Path

from culm.git.command import run

# Loose refs under refs/heads and refs/tags from which a push packs them; cheap to count, rare to reach.
LOOSE_REFS_LIMIT = 256


def loose_refs(path: Path, limit: int = LOOSE_REFS_LIMIT) -> int:
    """How many loose ref files there are under refs/heads and refs/tags, counting no further than `limit`."""
    seen = 0
    for top in ("refs/heads", "refs/tags"):
        for _dir, _subdirs, files in os.walk(path / top):
            seen += len(files)
            if seen >= limit:
                return seen
    return seen


def pack_refs_if_many(path: Path, limit: int = LOOSE_REFS_LIMIT) -> bool:
    """Pack every ref (`git pack-refs --all`) once `limit` loose ones have piled up; True if it did."""
    if loose_refs(path, limit) < limit:
        return False
    return run(path, "pack-refs", "--all", check=False).returncode == 0
