from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from support import LiveServer, live_server, validating_client

# Tests make commits with the real git program; give it an identity and never let it prompt.
os.environ.update({
    "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer", "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
})


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    """One live server per test module (its own home and database)."""
    with live_server() as s:
        yield s


@pytest.fixture(scope="module")
def admin(server: LiveServer):  # type: ignore[no-untyped-def]
    """The administrator's client; every response it receives is checked against the reference spec."""
    with validating_client(server) as c:
        yield c
