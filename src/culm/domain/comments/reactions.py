"""Reactions (comment-likes): one row per user, comment and emoticon; reacting twice is harmless."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.core.errors import AuthenticationRequired, ValidationError
from culm.domain.base import now_ms
from culm.domain.comments.models import Comment, Reaction
from culm.domain.permissions.service import Principal
from culm.domain.users.models import User

# Emoticon shortcuts as Bitbucket names them (`thumbsup`, `heart`, `+1`, `white_check_mark` …).
_SHORTCUT = re.compile(r"[a-z0-9_+\-]{1,64}")


def _user(who: Principal) -> User:
    if who.user is None:
        raise AuthenticationRequired("Authentication required.")
    return who.user


def shortcut(emoticon: str) -> str:
    value = emoticon.strip().strip(":").lower()
    if not _SHORTCUT.fullmatch(value):
        raise ValidationError(f"'{emoticon}' is not a valid emoticon.", context="emoticon")
    return value


def react(session: Session, who: Principal, comment: Comment, emoticon: str) -> tuple[User, str]:
    user = _user(who)
    name = shortcut(emoticon)
    if session.get(Reaction, (comment.id, user.id, name)) is None:
        session.add(Reaction(comment_id=comment.id, user_id=user.id, emoticon=name, created_date=now_ms()))
        session.flush()
    return user, name


def unreact(session: Session, who: Principal, comment: Comment, emoticon: str) -> None:
    user = _user(who)
    row = session.get(Reaction, (comment.id, user.id, shortcut(emoticon)))
    if row is not None:
        session.delete(row)
        session.flush()


def of_comments(session: Session, ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """(emoticon, user id) per comment, oldest first, for a page of comments in one query."""
    out: dict[int, list[tuple[str, int]]] = {}
    if not ids:
        return out
    stmt = select(Reaction).where(Reaction.comment_id.in_(ids)).order_by(Reaction.created_date, Reaction.user_id)
    for row in session.scalars(stmt):
        out.setdefault(row.comment_id, []).append((row.emoticon, row.user_id))
    return out
