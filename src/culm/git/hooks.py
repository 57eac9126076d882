"""culm's server-side git hooks. (Filled in with the push pipeline; installing is a no-op until then.)"""

from __future__ import annotations

from pathlib import Path


def install(path: Path) -> None:
    """Write the hook scripts into `path/hooks`."""
    return None
