"""The server's public address, as clients must see it in `links` (clone URLs included)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from culm.core.config import get_settings

SSH_PORT = 7999


def base_url(request: Request) -> str:
    configured = get_settings().base_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


def host_of(base: str) -> str:
    return urlsplit(base).hostname or "localhost"
