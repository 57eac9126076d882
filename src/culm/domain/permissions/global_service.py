"""Granting and revoking global permissions (one row per grantee: the highest one wins)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from culm.core.errors import ValidationError
from culm.domain.permissions import levels as L
from culm.domain.permissions.models import GlobalPermission
from culm.domain.users import service as users


def validate(permission: str | None) -> str:
    if permission not in L.GLOBAL_LEVEL:
        raise ValidationError(
            f"The permission '{permission}' is not a global permission. "
            f"Valid values are {', '.join(L.GLOBAL)}.", context="permission")
    return permission


def grant(session: Session, name: str, permission: str, *, group: bool) -> None:
    permission = validate(permission)
    if group:
        g = users.require_group(session, name)
        row = session.scalar(select(GlobalPermission).where(GlobalPermission.group_id == g.id))
        if row is None:
            session.add(GlobalPermission(group_id=g.id, permission=permission))
        else:
            row.permission = permission
    else:
        u = users.require_user(session, name)
        row = session.scalar(select(GlobalPermission).where(GlobalPermission.user_id == u.id))
        if row is None:
            session.add(GlobalPermission(user_id=u.id, permission=permission))
        else:
            row.permission = permission
    session.flush()


def revoke(session: Session, name: str, *, group: bool) -> None:
    if group:
        g = users.require_group(session, name)
        session.execute(delete(GlobalPermission).where(GlobalPermission.group_id == g.id))
    else:
        u = users.require_user(session, name)
        session.execute(delete(GlobalPermission).where(GlobalPermission.user_id == u.id))
