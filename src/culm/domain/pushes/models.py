"""Pushes in flight and the last recorded state of each repository's refs (for the outbox)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class Push(Base):
    """One `git-receive-pack` request: registered by pre-receive, confirmed by post-receive.

    state: PENDING (pre-receive passed), CONFIRMED (post-receive reported), CLOSED (every update
    recorded as an event or known not applied).
    """

    __tablename__ = "pushes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="PENDING", index=True)
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class PushUpdate(Base):
    """One ref update of a push. state: PENDING, CONFIRMED, RECORDED, REJECTED."""

    __tablename__ = "push_updates"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    push_id: Mapped[int] = mapped_column(ForeignKey("pushes.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str] = mapped_column(String(1024))
    old: Mapped[str] = mapped_column(String(64))
    new: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="PENDING")


class RefSnapshot(Base):
    """The value of a branch or tag as last recorded in the outbox (absent = did not exist)."""

    __tablename__ = "ref_snapshots"

    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    ref: Mapped[str] = mapped_column(String(1024), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
