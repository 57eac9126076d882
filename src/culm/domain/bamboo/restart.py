"""Preparing the server for a restart (Bamboo's `PUT /server/prepareForRestart`): no new job starts
(server_state treats the state as paused) and, once no job runs any more, the state becomes
READY_FOR_RESTART. The engine's periodic housekeeping calls `settle`."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from culm.core.config import get_settings
from culm.domain.bamboo import server_state
from culm.domain.bamboo.models import BambooJobResult


def running_jobs(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(BambooJobResult)
                          .where(BambooJobResult.life_cycle == "InProgress")) or 0


def prepare(session: Session, user: str) -> str:
    server_state.write(get_settings().home, server_state.PREPARING_FOR_RESTART, user)
    return settle(session)


def settle(session: Session) -> str:
    """The state now: PREPARING_FOR_RESTART moves to READY_FOR_RESTART when no job is running."""
    home = get_settings().home
    state, by = server_state.read(home)
    if state == server_state.PREPARING_FOR_RESTART and running_jobs(session) == 0:
        server_state.write(home, server_state.READY_FOR_RESTART, by or "")
        return server_state.READY_FOR_RESTART
    return state
