"""The Bamboo server state (RUNNING or PAUSED, set by an administrator), kept in a file of the server home so
every process of one installation agrees and the state survives a restart."""

from __future__ import annotations

import json
import os
from pathlib import Path

RUNNING, PAUSED = "RUNNING", "PAUSED"


def _path(home: Path) -> Path:
    return home / "bamboo" / "server-state.json"


def read(home: Path) -> tuple[str, str | None]:
    """(state, user who set it)."""
    try:
        data = json.loads(_path(home).read_text())
    except (OSError, ValueError):
        return RUNNING, None
    state = data.get("state")
    return (state if state in (RUNNING, PAUSED) else RUNNING), data.get("setByUser")


def is_paused(home: Path) -> bool:
    """For the build engine: no new job is handed out while paused."""
    return read(home)[0] == PAUSED


def write(home: Path, state: str, user: str) -> None:
    path = _path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"state": state, "setByUser": user}))
    os.replace(tmp, path)
