"""Writing and reading the outbox.

Consumers read `id > last_seen`, so ids must become visible in increasing order. SQLite serialises
writers (`BEGIN IMMEDIATE`). On PostgreSQL, ids come from a sequence and two transactions can commit
out of id order, so `record` first takes a transaction-scoped advisory lock: ids are drawn only while
holding it and it is released at commit, hence a larger id never commits before a smaller one.
Take it last in a transaction (after row locks such as a repository's), and keep that tail short.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from culm.domain.events.models import ConsumerOffset, Event

# Arbitrary constant naming the outbox's advisory lock.
OUTBOX_LOCK_KEY = 0x63756C6D  # "culm"


def lock_outbox(session: Session) -> None:
    """Serialise event inserts until this transaction ends (no-op on SQLite, already serialised)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": OUTBOX_LOCK_KEY})


def record(session: Session, kind: str, payload: dict[str, Any], *, repository_id: int | None = None,
           actor_id: int | None = None) -> Event:
    """Add one event in the caller's transaction; it becomes visible when that transaction commits."""
    lock_outbox(session)
    event = Event(kind=kind, repository_id=repository_id, actor_id=actor_id,
                  payload=json.dumps(payload, separators=(",", ":")))
    session.add(event)
    session.flush()
    return event


def offset(session: Session, consumer: str) -> int:
    row = session.get(ConsumerOffset, consumer)
    return row.last_event_id if row else 0


def read_after(session: Session, consumer: str, limit: int = 100, *, kinds: tuple[str, ...] | None = None,
               after: int | None = None) -> list[Event]:
    """The next events for `consumer` (after its stored offset, or `after`), oldest first."""
    start = offset(session, consumer) if after is None else after
    query = select(Event).where(Event.id > start)
    if kinds:
        query = query.where(Event.kind.in_(kinds))
    return list(session.scalars(query.order_by(Event.id).limit(max(1, limit))))


def ack(session: Session, consumer: str, last_event_id: int) -> None:
    """Move the consumer's offset forward (never back) once it has handled events up to this id."""
    row = session.get(ConsumerOffset, consumer, with_for_update=session.get_bind().dialect.name == "postgresql")
    if row is None:
        session.add(ConsumerOffset(name=consumer, last_event_id=last_event_id))
    elif last_event_id > row.last_event_id:
        row.last_event_id = last_event_id
    session.flush()


def payload(event: Event) -> dict[str, Any]:
    return json.loads(event.payload)
