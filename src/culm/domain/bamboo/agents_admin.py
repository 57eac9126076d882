"""Build agents as the REST API sees them: online (seen in the last minute), busy (running a job), enable,
disable, delete and capabilities. Rows are registered by the agent protocol; this module only administers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.domain.bamboo.models import BambooAgent, BambooJobResult
from culm.domain.bamboo.service import Invalid, NotFound
from culm.domain.base import now_ms

ONLINE_WITHIN_MS = 60_000
MAX_CAPABILITY_KEY = 255
MAX_CAPABILITY_VALUE = 4000


def is_online(agent: BambooAgent, now: int | None = None) -> bool:
    return agent.last_seen is not None and (now or now_ms()) - agent.last_seen <= ONLINE_WITHIN_MS


def busy_ids(session: Session) -> set[int]:
    """Agents running a job right now (a job result InProgress claimed by them)."""
    rows = session.scalars(select(BambooJobResult.agent_id).where(BambooJobResult.life_cycle == "InProgress",
                                                                  BambooJobResult.agent_id.is_not(None)))
    return {r for r in rows if r is not None}


def agents(session: Session, *, online_only: bool = False, remote_only: bool = False) -> list[BambooAgent]:
    query = select(BambooAgent).order_by(BambooAgent.id)
    if remote_only:
        query = query.where(BambooAgent.type == "REMOTE")
    rows = list(session.scalars(query))
    if online_only:
        now = now_ms()
        rows = [a for a in rows if is_online(a, now)]
    return rows


def agent(session: Session, raw_id: str) -> BambooAgent:
    try:
        agent_id = int(raw_id)
    except ValueError:
        raise NotFound(f"Agent with id {raw_id} not found") from None
    found = session.get(BambooAgent, agent_id)
    if found is None:
        raise NotFound(f"Agent with id {raw_id} not found")
    return found


def delete(session: Session, row: BambooAgent) -> None:
    """Refused while the agent runs a job: its result would lose the agent that must report it."""
    if row.id in busy_ids(session):
        raise Invalid(f"Agent {row.name} is currently building and cannot be removed. Disable it first and wait "
                      "for the build to finish.")
    session.delete(row)
    session.flush()


def check_capability(key: object, value: object) -> tuple[str, str]:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_CAPABILITY_KEY or "\x00" in key:
        raise Invalid("Capability key is required (1-255 characters).")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > MAX_CAPABILITY_VALUE or "\x00" in value:
        raise Invalid("Capability value must be text of at most 4000 characters.")
    return key.strip(), value


def set_capability(row: BambooAgent, key: str, value: str, *, must_exist: bool | None) -> None:
    """must_exist True: update only; False: create only (400 when present); None: either."""
    caps = dict(row.capabilities or {})
    if must_exist is True and key not in caps:
        raise NotFound(f"Capability {key} not found on agent {row.name}")
    if must_exist is False and key in caps:
        raise Invalid(f"Capability {key} already exists on agent {row.name}")
    caps[key] = value
    row.capabilities = caps


def remove_capability(row: BambooAgent, key: str | None) -> None:
    caps = dict(row.capabilities or {})
    if key is None:
        caps = {}
    elif key not in caps:
        raise NotFound(f"Capability {key} not found on agent {row.name}")
    else:
        del caps[key]
    row.capabilities = caps
