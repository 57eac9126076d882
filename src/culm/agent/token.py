"""The agent security token (as Bamboo 8+): one secret per installation that every agent presents.

It lives in `<home>/shared/agent-token` (mode 0600, created on first start) so every node sharing the home
accepts the same agents; `culm admin agent-token` prints it for the operator starting remote agents."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from culm.core.config import get_settings

FILE_NAME = "agent-token"


def token_path() -> Path:
    return get_settings().shared_dir / FILE_NAME


def ensure() -> str:
    """The token, created if missing (atomically, never readable by others)."""
    path = token_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, secrets.token_hex(20).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # never replaces a token another process created meanwhile
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def matches(presented: str | None) -> bool:
    """Constant-time comparison with the installation's token; an empty or missing one never matches."""
    if not presented:
        return False
    return hmac.compare_digest(presented.encode(), ensure().encode())
