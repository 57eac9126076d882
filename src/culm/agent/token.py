"""The agent security token (as Bamboo 8+): one secret per installation that every agent presents.

It lives in `<home>/shared/agent-token` (mode 0600, created on first start) so every node sharing the home
accepts the same agents; `culm admin agent-token` prints it for the operator starting remote agents."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from culm.core.config import get_settings
from culm.core.hook_secret import ensure_file

FILE_NAME = "agent-token"


def token_path() -> Path:
    return get_settings().shared_dir / FILE_NAME


def ensure() -> str:
    """The token, created if missing (atomically, never readable by others)."""
    return ensure_file(token_path(), lambda: secrets.token_hex(20)).read_text().strip()


def matches(presented: str | None) -> bool:
    """Constant-time comparison with the installation's token; an empty or missing one never matches."""
    if not presented:
        return False
    return hmac.compare_digest(presented.encode(), ensure().encode())
