"""The per-installation secret that push hooks present to the internal API.

It lives in `<home>/shared/config/hook-secret` (mode 0600, created on first start) so every node of
a cluster sharing the home, and every hook process, reads the same value; nothing else can call the
hook endpoints without it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from culm.core.config import get_settings

FILE_NAME = "hook-secret"


def secret_path() -> Path:
    return get_settings().shared_dir / "config" / FILE_NAME


def ensure() -> Path:
    """Create the secret if missing (atomically, never readable by others); return its path."""
    return ensure_file(secret_path(), lambda: secrets.token_urlsafe(32))


def ensure_file(path: Path, make: Callable[[], str]) -> Path:
    """Write `make()` to `path` unless it exists, atomically and mode 0600; also what the agent token uses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, make().encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never replaces a secret another process created meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path


@lru_cache(maxsize=1)
def read() -> str:
    return ensure().read_text().strip()
