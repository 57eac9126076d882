"""Helpers the Bamboo integration tests share: a module's live server with its own environment, sessions on
that server's database, queueing a build directly, and polling with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from culm.core.db import make_engine
from support import LiveServer, database_url, live_server, server_db, server_home

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
    with server_home(server):
        engine = make_engine(database_url(server))
        try:
            yield sessionmaker(bind=engine, expire_on_commit=False)
        finally:
            engine.dispose()


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


def plan_row(server: LiveServer, project_key: str, key: str) -> Any:
    """The plan `project_key`-`key` as stored (None when there is none)."""
    from culm.domain.bamboo.models import BambooPlan, BambooProject

    with server_db(server) as session:
        return session.scalar(select(BambooPlan).join(BambooProject, BambooProject.id == BambooPlan.project_id)
                              .where(BambooProject.key == project_key, BambooPlan.key == key))


def plan_results(server: LiveServer, project_key: str, key: str) -> list[Any]:
    """The builds of that plan, oldest first (none when the plan does not exist)."""
    from culm.domain.bamboo.models import BambooResult

    plan = plan_row(server, project_key, key)
    if plan is None:
        return []
    with server_db(server) as session:
        return list(session.scalars(select(BambooResult).where(BambooResult.plan_id == plan.id)
                                    .order_by(BambooResult.number)))


def process_alive(pid: int) -> bool:
    """The process exists and is neither a zombie nor dead (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] not in ("Z", "X")


def import_specs(client: httpx.Client, specs: str) -> dict[str, Any]:
    """Import Bamboo YAML specs through the REST API (which must accept them); the import's JSON answer."""
    r = client.post("/bamboo/rest/api/latest/import/plan", content=specs,
                    headers={"Content-Type": "application/x-yaml", "Accept": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()
