"""The outbox: every state change others react to writes a row here in the same transaction."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # Bitbucket event key, e.g. "repo:refs_changed".
    kind: Mapped[str] = mapped_column(String(64), index=True)
    repository_id: Mapped[int | None] = mapped_column(
        ForeignKey("repositories.id", ondelete="SET NULL"), nullable=True, index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    payload: Mapped[str] = mapped_column(Text)  # JSON
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class ConsumerOffset(Base):
    """How far each consumer (CI trigger, PR rescoping, webhooks) has read the outbox."""

    __tablename__ = "consumer_offsets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
