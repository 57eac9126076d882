"""Settings: environment `CULM_*`, an optional `culm.toml` in the home folder, then defaults."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CULM_", extra="ignore")

    home: Path = Path("culm-home")
    database_url: str | None = None
    base_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 7990
    admin_password: str | None = None
    # Failed logins per user name inside the window before further attempts are refused.
    login_max_failures: int = 5
    login_window_seconds: int = 60
    # Largest page any list answers, whatever `limit` asks (Bitbucket's page.max.* default).
    page_max: int = 1000
    git_bin: str = "git"
    # The Bamboo triggers of `culm serve`: builds on push and specs import (an outbox consumer, polled every
    # `bamboo_triggers_interval` seconds besides being woken on commit) and the cron scheduler (every second).
    bamboo_triggers: bool = True
    bamboo_triggers_interval: float = 2.0
    # Where push hooks reach this node's internal API (default: loopback on `port`).
    hook_url: str | None = None
    # The pull request rescoping worker (outbox consumer) of `culm serve`, and how often it polls.
    rescope_worker: bool = True
    rescope_interval: float = 3.0
    # Bamboo build agents running as threads of each serving process (0: none, builds need remote agents).
    local_agents: int = 2
    # Longest a job may run (seconds) before its agent kills it, unless the plan says otherwise.
    job_timeout: int = 3600
    # A running job whose agent sent no heartbeat for this long is requeued (once) or failed by the reaper.
    agent_lost_seconds: int = 60
    # How often the reaper looks for lost agents and blocked jobs (seconds).
    reaper_interval: float = 2.0

    @property
    def shared_dir(self) -> Path:
        return self.home / "shared"

    @property
    def repositories_dir(self) -> Path:
        return self.shared_dir / "data" / "repositories"

    def effective_hook_url(self) -> str:
        if self.hook_url:
            return self.hook_url.rstrip("/")
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'culm.db').resolve()}"


def _file_settings(home: Path) -> dict:
    path = home / "culm.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        return tomllib.load(f)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env_only = Settings()
    merged = {**_file_settings(env_only.home), **env_only.model_dump(exclude_unset=True)}
    settings = Settings(**merged)
    settings.home = settings.home.resolve()
    return settings


def background_base_url(settings: Settings | None = None) -> str:
    """The URL this server is reached at, for links made outside a request (build statuses, agents)."""
    s = settings or get_settings()
    if s.base_url:
        return s.base_url.rstrip("/")
    host = s.host if s.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://[{host}]:{s.port}" if ":" in host else f"http://{host}:{s.port}"


def reset_settings() -> None:
    """Forget cached settings (the CLI sets the environment before building the app)."""
    get_settings.cache_clear()
