"""Test support: a real culm server on a loopback port, on SQLite or a throwaway PostgreSQL database."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ADMIN = ("admin", "admin-Secret-1")
# Set to a PostgreSQL server URL (e.g. postgresql://postgres@127.0.0.1:5432) to run on PostgreSQL.
PG_ENV = "CULM_TEST_DATABASE"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_server() -> str | None:
    value = os.environ.get(PG_ENV, "")
    return value.rstrip("/") if value.startswith("postgres") else None


@contextmanager
def throwaway_database() -> Iterator[str | None]:
    """A fresh database URL (PostgreSQL when configured, else None = SQLite in the home)."""
    server = postgres_server()
    if server is None:
        yield None
        return
    import psycopg

    name = f"culm_t_{uuid.uuid4().hex[:12]}"
    admin_url = server + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class LiveServer:
    """`culm serve` in a subprocess, exactly as an operator starts it."""

    def __init__(self, home: Path, database_url: str | None, extra_env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        env = {k: v for k, v in os.environ.items() if not k.startswith("CULM_")}
        # No build agents unless a test asks for them: most modules never build, and idle agents poll.
        env.update({"CULM_ADMIN_PASSWORD": ADMIN[1], "CULM_LOGIN_MAX_FAILURES": "50", "CULM_LOCAL_AGENTS": "0"})
        if database_url:
            env["CULM_DATABASE_URL"] = database_url
        env.update(extra_env or {})
        self.log = open(home / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "culm.cli", "serve", "--home", str(home), "--port", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("culm exited at start:\n" + (self.home / "server.log").read_text())
            try:
                httpx.get(self.url + "/rest/api/latest/application-properties", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("culm did not start:\n" + (self.home / "server.log").read_text())

    def client(self, auth: tuple[str, str] | None = ADMIN, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=auth, timeout=60, **kw)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@contextmanager
def live_server(extra_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    home = Path(tempfile.mkdtemp(prefix="culm-test-"))
    with throwaway_database() as url:
        server = LiveServer(home, url, extra_env)
        try:
            yield server
        finally:
            server.stop()
            shutil.rmtree(home, ignore_errors=True)


def git(*args: str, cwd: Path | str | None = None, check: bool = True, input: bytes | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real git program (tests only; the product runs git only from `culm.git`)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True,
                          env=full_env, input=input.decode() if input else None)


def cred_url(server: LiveServer, path: str, user: str, password: str) -> str:
    return f"http://{user}:{password}@127.0.0.1:{server.port}{path}"


# ---- shared setup helpers: every test module uses these instead of growing its own ------------------

USER_PASSWORD = "user-Secret-1"


def database_url(server: LiveServer) -> str:
    """The URL of the database the live server uses (its SQLite file when no PostgreSQL is configured)."""
    return server.database_url or f"sqlite:///{(server.home / 'culm.db').resolve()}"


@contextmanager
def server_home(server: LiveServer) -> Iterator[None]:
    """This process's settings pointed at the live server's home (its repositories, files) for a while."""
    from culm.core.config import reset_settings

    saved = os.environ.get("CULM_HOME")
    os.environ["CULM_HOME"] = str(server.home)
    reset_settings()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("CULM_HOME", None)
        else:
            os.environ["CULM_HOME"] = saved
        reset_settings()


@contextmanager
def server_db(server: LiveServer) -> Iterator[object]:
    """A SQLAlchemy session on the live server's own database, committed on exit (test set-up and checks)."""
    from sqlalchemy.orm import Session

    from culm.core.db import make_engine

    engine = make_engine(database_url(server))
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
            session.commit()
    finally:
        engine.dispose()


def create_user(server: LiveServer, *names: str, password: str = USER_PASSWORD,
                email_domain: str = "example.com") -> None:
    """Create licensed users straight in the server's database (fast: no HTTP, one transaction)."""
    from culm.domain.users import service as users

    with server_db(server) as session:
        for name in names:
            users.create_user(session, name, password, name.title(), f"{name}@{email_domain}")  # type: ignore[arg-type]


def _grantee(session: object, name: str, group: bool) -> dict[str, int]:
    from culm.domain.users import service as users

    if group:
        return {"group_id": users.require_group(session, name).id}  # type: ignore[arg-type]
    return {"user_id": users.require_user(session, name).id}  # type: ignore[arg-type]


def grant_project(server: LiveServer, project_key: str, name: str, permission: str, group: bool = False) -> None:
    """Grant PROJECT_READ/WRITE/ADMIN straight in the database (set-up for tests of other features)."""
    from culm.domain.permissions.models import ProjectPermission
    from culm.domain.projects import service as projects

    with server_db(server) as session:
        project = projects.require(session, project_key)  # type: ignore[arg-type]
        session.add(ProjectPermission(project_id=project.id, permission=permission,  # type: ignore[attr-defined]
                                      **_grantee(session, name, group)))


def grant_repo(server: LiveServer, project_key: str, slug: str, name: str, permission: str,
               group: bool = False) -> None:
    """Grant REPO_READ/WRITE/ADMIN straight in the database (set-up for tests of other features)."""
    from culm.domain.permissions.models import RepoPermission
    from culm.domain.repos import service as repos

    with server_db(server) as session:
        _, repo = repos.require(session, project_key, slug)  # type: ignore[arg-type]
        session.add(RepoPermission(repository_id=repo.id, permission=permission,  # type: ignore[attr-defined]
                                   **_grantee(session, name, group)))


def create_repo(client: httpx.Client, project_key: str, name: str, **fields: object) -> dict:
    """Create a repository through the API (the project is created first when missing)."""
    if client.get(f"/rest/api/latest/projects/{project_key}").status_code == 404:
        r = client.post("/rest/api/latest/projects", json={"key": project_key, "name": project_key})
        assert r.status_code == 201, r.text
    r = client.post(f"/rest/api/latest/projects/{project_key}/repos", json={"name": name, **fields})
    assert r.status_code == 201, r.text
    return r.json()


def validating_client(server: LiveServer, auth: tuple[str, str] | None = ADMIN, **kw: object) -> httpx.Client:
    """A client whose every response under `/rest/` is checked against the reference spec
    (tests/spec_check.py): a body or status a Bitbucket client would not expect raises AssertionError."""
    from spec_check import check_response

    def check(response: httpx.Response) -> None:
        response.read()
        check_response(response.request.method, response.request.url.path, response.status_code,
                       response.content, response.headers.get("content-type", ""))

    return server.client(auth=auth, event_hooks={"response": [check]}, **kw)


def personal_token(server: LiveServer, name: str, permissions: str = "PROJECT_ADMIN REPO_ADMIN") -> str:
    """A personal (USER) HTTP access token for `name`, stored straight in the database; returns the raw token."""
    import secrets

    import culm.domain.models  # noqa: F401  (every table known, so the token's foreign keys resolve)
    from culm.core.security import new_token
    from culm.domain.tokens.models import AccessToken
    from culm.domain.users import service as users

    token_id = secrets.randbelow(10**11) + 10**11
    raw, digest = new_token(str(token_id))
    with server_db(server) as session:
        user = users.require_user(session, name)  # type: ignore[arg-type]
        session.add(AccessToken(id=token_id, name=f"test-{token_id}", secret_hash=digest,  # type: ignore[attr-defined]
                                scope="USER", user_id=user.id, permissions=permissions))
    return raw


def commit_file(work: Path, name: str, text: str, message: str | None = None) -> str:
    """Write a file in a work tree, commit it, and return the new commit's id (real git)."""
    target = Path(work) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    git("add", "--", name, cwd=work)
    git("commit", "-q", "-m", message or f"change {name}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def pushed_repo(server: LiveServer, client: httpx.Client, key: str, slug: str, work: Path,
                files: list[tuple[str, str]]) -> list[str]:
    """Create a repository, commit `files` (name, text) one commit each on `main`, push; the commit ids."""
    create_repo(client, key, slug)
    git("init", "-q", "-b", "main", str(work))
    commits = [commit_file(work, name, text) for name, text in files]
    git("push", "-q", cred_url(server, f"/scm/{key}/{slug}.git", *ADMIN), "main", cwd=work)
    return commits


def refs_changed_events(server: LiveServer, repo_id: int) -> list[dict]:
    """The `repo:refs_changed` outbox events of a repository, oldest first, as {id, actorId, changes...}."""
    import json

    from sqlalchemy import select

    from culm.domain.events.models import Event

    with server_db(server) as session:
        rows = session.scalars(select(Event).where(Event.repository_id == repo_id,  # type: ignore[attr-defined]
                                                   Event.kind == "repo:refs_changed").order_by(Event.id))
        return [{"id": e.id, "actor_id": e.actor_id, **json.loads(e.payload)} for e in rows]
