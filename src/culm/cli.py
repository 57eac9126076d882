"""The `culm` command: serve, db upgrade, admin."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from culm.core.config import get_settings, reset_settings

app = typer.Typer(help="culm: a git forge and CI server speaking the Bitbucket and Bamboo REST APIs.",
                  no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.")
admin_app = typer.Typer(help="Operator tasks before (or without) the UI.")
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")

HomeOpt = typer.Option(None, "--home", help="Home folder (default ./culm-home, or CULM_HOME).")


def _apply_home(home: Path | None) -> None:
    if home is not None:
        os.environ["CULM_HOME"] = str(home)
    reset_settings()


def _prepare() -> None:
    """Folders, migrations, and the first-start defaults."""
    from culm.core.db import init_engine, session_scope
    from culm.core.migrate import upgrade
    from culm.domain.bootstrap import ensure_defaults

    s = get_settings()
    s.repositories_dir.mkdir(parents=True, exist_ok=True)
    url = s.effective_database_url()
    upgrade(url)
    init_engine(url)
    with session_scope() as session:
        generated = ensure_defaults(session, s.admin_password)
    _start_pushes(session_scope)
    if generated:
        typer.echo(f"Created the administrator 'admin' with password: {generated}")
        typer.echo("(shown once; change it with `culm admin set-password admin`)")


def _start_pushes(session_scope) -> None:  # type: ignore[no-untyped-def]
    """The hook secret exists, and pushes left unfinished by a crash are recorded before serving."""
    from culm.core import hook_secret
    from culm.domain.pushes.service import reconcile_open
    from culm.git import hooks

    hook_secret.ensure()
    hooks.install_all(get_settings().repositories_dir)
    reconcile_open(session_scope)


@app.command()
def serve(
    home: Path | None = HomeOpt,
    host: str | None = typer.Option(None, "--host", help="Address to listen on (default 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="Port to listen on (default 7990)."),
) -> None:
    """Start the server (migrating the database first)."""
    import uvicorn

    if host:
        os.environ["CULM_HOST"] = host
    if port:
        os.environ["CULM_PORT"] = str(port)
    _apply_home(home)
    _prepare()
    s = get_settings()
    from culm.app import create_app

    typer.echo(f"culm listening on http://{s.host}:{s.port} (home {s.home})")
    uvicorn.run(create_app(s), host=s.host, port=s.port, log_level="warning", access_log=False)


@db_app.command("upgrade")
def db_upgrade(home: Path | None = HomeOpt) -> None:
    """Apply database migrations."""
    from culm.core.migrate import upgrade

    _apply_home(home)
    s = get_settings()
    s.home.mkdir(parents=True, exist_ok=True)
    upgrade(s.effective_database_url())
    typer.echo("database is up to date")


def _session():  # type: ignore[no-untyped-def]
    from culm.core.db import session_scope

    _prepare_quiet()
    return session_scope()


def _prepare_quiet() -> None:
    from culm.core.db import init_engine
    from culm.core.migrate import upgrade

    s = get_settings()
    s.home.mkdir(parents=True, exist_ok=True)
    upgrade(s.effective_database_url())
    init_engine(s.effective_database_url())


@admin_app.command("create-user")
def create_user(
    name: str,
    password: str = typer.Option(..., prompt=True, hide_input=True),
    display_name: str | None = typer.Option(None, "--display-name"),
    email: str | None = typer.Option(None, "--email"),
    home: Path | None = HomeOpt,
) -> None:
    """Create a user (added to the default, licensed group)."""
    from culm.domain.users import service as users

    _apply_home(home)
    with _session() as session:
        user = users.create_user(session, name, password, display_name, email)
        typer.echo(f"created user {user.name} (slug {user.slug})")


@admin_app.command("set-password")
def set_password(
    name: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    home: Path | None = HomeOpt,
) -> None:
    """Reset a user's password."""
    from culm.domain.users import service as users

    _apply_home(home)
    with _session() as session:
        user = users.require_user(session, name)
        users.set_password(session, user, password)
        users.clear_failures(session, user.name)
        typer.echo(f"password of {user.name} changed")


@admin_app.command("agent-token")
def agent_token(home: Path | None = HomeOpt) -> None:
    """Print the agent security token remote agents present (`culm agent --token`); created if missing."""
    from culm.agent import token

    _apply_home(home)
    get_settings().home.mkdir(parents=True, exist_ok=True)
    typer.echo(token.ensure())


@app.command("agent")
def agent(
    server: str = typer.Option(..., "--server", help="The culm server's base URL, e.g. http://ci.example.com:7990."),
    token: str = typer.Option(..., "--token", envvar="CULM_AGENT_TOKEN",
                              help="The agent security token (`culm admin agent-token` on the server)."),
    name: str | None = typer.Option(None, "--name", help="The agent's name (default: the host name)."),
    work_dir: Path = typer.Option(Path("culm-agent"), "--work-dir", help="Where jobs run and the agent's id is kept."),
    capability: list[str] = typer.Option([], "--capability", help="An extra capability key=value (repeatable)."),
) -> None:
    """Run a remote build agent: register with the server, then claim and run jobs until interrupted."""
    import logging
    import signal
    import threading

    from culm.agent.client import AgentRefused
    from culm.agent.executor import Agent

    caps = {}
    for item in capability:
        key, sep, value = item.partition("=")
        if not key or key.startswith("-"):
            raise typer.BadParameter(f"invalid capability {item!r} (key=value expected)", param_hint="--capability")
        caps[key] = value if sep else ""
    if not server.startswith(("http://", "https://")):
        raise typer.BadParameter("the server URL must start with http:// or https://", param_hint="--server")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runner = Agent(server, token, work_dir, name=name, agent_type="REMOTE", capabilities=caps, stop=stop)
    typer.echo(f"culm agent {runner.name} ({runner.uuid}) working in {runner.work_dir} for {server}")
    refused: list[str] = []

    def work() -> None:
        try:
            runner.run()
        except AgentRefused as exc:
            refused.append(str(exc))
        finally:
            stop.set()

    # The loop runs in a thread so that a stop signal need not wait for a long poll to end: without a job the
    # process exits at once; with one, the executor kills the job's processes first (the server requeues it).
    thread = threading.Thread(target=work, name="culm-agent", daemon=True)
    thread.start()
    while not stop.wait(0.5):
        pass
    if runner.current is not None:
        thread.join(30)
    if refused:
        typer.echo(f"error: {refused[0]}", err=True)
        raise SystemExit(3)


@admin_app.command("grant")
def grant(
    name: str,
    permission: str = typer.Argument(..., help="LICENSED_USER, PROJECT_CREATE, ADMIN or SYS_ADMIN"),
    group: bool = typer.Option(False, "--group", help="NAME is a group, not a user."),
    home: Path | None = HomeOpt,
) -> None:
    """Grant a global permission to a user or group."""
    from culm.domain.permissions import global_service

    _apply_home(home)
    with _session() as session:
        global_service.grant(session, name, permission, group=group)
        typer.echo(f"granted {permission} to {'group' if group else 'user'} {name}")


def main() -> None:
    from culm.core.errors import CulmError

    try:
        app()
    except CulmError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
