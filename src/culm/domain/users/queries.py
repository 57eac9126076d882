"""Statements for the user and group lists. The API pages them in the database (limit+1).

Service users (the bots behind project and repository access tokens) and deleted users never appear.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select

from culm.domain.users.models import Group, GroupMember, User


def _contains(col: Any, text: str) -> ColumnElement[bool]:
    return func.lower(col).contains(text.replace("\x00", "").lower(), autoescape=True)


def user_matches(text: str) -> ColumnElement[bool]:
    """Bitbucket's user `filter`: the name, display name or e-mail address contains the text."""
    return or_(_contains(User.name, text), _contains(User.display_name, text), _contains(User.email, text))


def listed_users(text: str | None = None, conditions: Iterable[ColumnElement[bool]] = ()) -> Select[Any]:
    stmt = select(User).where(User.deleted.is_(False), User.type != "SERVICE", *conditions)
    if text:
        stmt = stmt.where(user_matches(text))
    return stmt.order_by(User.name_lower, User.id)


def in_group(group_id: int) -> ColumnElement[bool]:
    return User.id.in_(select(GroupMember.user_id).where(GroupMember.group_id == group_id))


def not_in_group(group_id: int) -> ColumnElement[bool]:
    return User.id.not_in(select(GroupMember.user_id).where(GroupMember.group_id == group_id))


def listed_groups(text: str | None = None, conditions: Iterable[ColumnElement[bool]] = ()) -> Select[Any]:
    stmt = select(Group).where(*conditions)
    if text:
        stmt = stmt.where(_contains(Group.name, text))
    return stmt.order_by(Group.name_lower, Group.id)


def group_names(text: str | None = None) -> Select[Any]:
    stmt = select(Group.name)
    if text:
        stmt = stmt.where(_contains(Group.name, text))
    return stmt.order_by(Group.name_lower, Group.id)


def has_member(user_id: int) -> ColumnElement[bool]:
    return Group.id.in_(select(GroupMember.group_id).where(GroupMember.user_id == user_id))


def lacks_member(user_id: int) -> ColumnElement[bool]:
    return Group.id.not_in(select(GroupMember.group_id).where(GroupMember.user_id == user_id))
