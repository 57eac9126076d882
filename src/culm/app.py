"""Builds the ASGI app: routers discovered per API package, middleware, error mapping."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import ModuleType

from fastapi import FastAPI

from culm import __version__
from culm.api import errors
from culm.api.middleware import CompatPathMiddleware, TransactionMiddleware, UserHeaderMiddleware
from culm.core.config import Settings, get_settings
from culm.core.db import init_engine

API_PACKAGES = ["culm.api.bitbucket", "culm.api.internal", "culm.api.bamboo"]


def _modules(package_name: str) -> list[ModuleType]:
    try:
        package = importlib.import_module(package_name)
    except ModuleNotFoundError:
        return []
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        found.append(importlib.import_module(f"{package_name}.{info.name}"))
    return found


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Background work of a serving process: the pull request rescoping worker, local build agents and the build
    reaper (not in the CLI)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker = None
        from culm.domain.bamboo.triggers import start as start_bamboo_triggers

        stop_bamboo_triggers = start_bamboo_triggers(settings)  # builds on push, specs import, cron
        if settings.rescope_worker:
            from culm.api.bitbucket.rescope_view import run_pending
            from culm.domain.pullrequests.rescope import Worker

            worker = Worker(run_pending, settings.rescope_interval)
            worker.start()
        from culm.agent import token
        from culm.agent.local import LocalAgents, Reaper

        token.ensure()  # remote agents need it even when this process runs no local agent
        reaper = Reaper(settings)
        reaper.start()
        agents = LocalAgents(settings)
        if settings.local_agents > 0:
            agents.start()
        try:
            yield
        finally:
            agents.stop()
            reaper.stop()
            if worker is not None:
                worker.stop()
            stop_bamboo_triggers()

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    init_engine(settings.effective_database_url())
    app = FastAPI(title="culm", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=_lifespan(settings))
    app.state.settings = settings
    errors.install(app)
    for package in API_PACKAGES:
        for module in _modules(package):
            router = getattr(module, "router", None)
            if router is not None:
                app.include_router(router)
    app.add_middleware(TransactionMiddleware)
    app.add_middleware(UserHeaderMiddleware)
    app.add_middleware(CompatPathMiddleware)
    return app
