"""A user's favourite (starred) plans: shown as `isFavourite` and used by `?favourite` list filters."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from culm.domain.bamboo.models import BambooFavourite, BambooPlan


def plan_ids(session: Session, user_id: int | None) -> set[int]:
    if user_id is None:
        return set()
    return set(session.scalars(select(BambooFavourite.plan_id).where(BambooFavourite.user_id == user_id)))


def set_favourite(session: Session, user_id: int, plan: BambooPlan, on: bool) -> None:
    """Idempotent both ways (starring twice or unstarring a plan never starred is not an error)."""
    exists = session.get(BambooFavourite, (user_id, plan.id)) is not None
    if on and not exists:
        session.add(BambooFavourite(user_id=user_id, plan_id=plan.id))
    elif not on and exists:
        session.execute(delete(BambooFavourite).where(BambooFavourite.user_id == user_id,
                                                      BambooFavourite.plan_id == plan.id))
    session.flush()
