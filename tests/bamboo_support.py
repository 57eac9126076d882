"""Helpers the Bamboo integration tests share: a module's live server with its own environment, sessions on
that server's database, queueing a build directly, and polling with a deadline."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from culm.core.config import reset_settings
from culm.core.db import make_engine
from support import LiveServer, database_url, live_server

T = TypeVar("T")


def server_fixture(env: dict[str, str]) -> Any:
    """A module-scoped `server` fixture: one live server for the module, started with `env`."""

    @pytest.fixture(scope="module")
    def server() -> Iterator[LiveServer]:
        with live_server(env) as s:
            yield s

    return server


@contextmanager
def server_maker(server: LiveServer) -> Iterator[sessionmaker[Session]]:
    """Sessions on the server's database; this process's settings point at the server's home."""
    old = os.environ.get("CULM_HOME")
    os.environ["CULM_HOME"] = str(server.home)
    reset_settings()
    engine = make_engine(database_url(server))
    try:
        yield sessionmaker(bind=engine, expire_on_commit=False)
    finally:
        engine.dispose()
        if old is None:
            os.environ.pop("CULM_HOME", None)
        else:
            os.environ["CULM_HOME"] = old
        reset_settings()


def maker_fixture() -> Any:
    """A module-scoped `maker` fixture: `server_maker` of the module's server."""

    @pytest.fixture(scope="module")
    def maker(server: LiveServer) -> Iterator[sessionmaker[Session]]:
        with server_maker(server) as m:
            yield m

    return maker


def repo_id(maker: sessionmaker[Session], slug: str) -> int:
    """The id of the repository called `slug` (which must exist)."""
    from culm.domain.repos.models import Repository

    with maker() as s:
        found = s.scalar(select(Repository.id).where(Repository.slug == slug))
    assert found is not None
    return found


def enqueue(maker: sessionmaker[Session], plan_id: int, **kw: Any) -> int:
    """Queue a build of the plan (reason "Manual" unless told) and commit; the result's id."""
    from culm.domain.bamboo import builds
    from culm.domain.bamboo.models import BambooPlan

    with maker() as s:
        plan = s.get(BambooPlan, plan_id)
        assert plan is not None
        result = builds.enqueue(s, plan, reason=kw.pop("reason", "Manual"), **kw)
        s.commit()
        return result.id


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:
    """`probe()` once it is truthy; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
