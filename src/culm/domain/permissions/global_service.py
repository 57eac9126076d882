"""Global permissions: levels of users and groups, and granting or revoking them under Bitbucket's rules.

One row per grantee holds its permission (the highest one wins). An administrator may only grant
what they hold, may not touch a user or group above their own level, and may never lower their own
level; the system always keeps at least one system administrator.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from culm.core.errors import Conflict, PermissionDenied, ValidationError
from culm.domain.permissions import levels as L
from culm.domain.permissions.models import GlobalPermission
from culm.domain.permissions.service import Principal, require_global
from culm.domain.users import service as users
from culm.domain.users.models import Group, GroupMember, User


def require_admin(session: Session, principal: Principal) -> User:
    """The caller, who must hold global ADMIN with their password (tokens never act as admins)."""
    require_global(session, principal, L.G_ADMIN)
    assert principal.user is not None
    return principal.user


def validate(permission: str | None) -> str:
    if permission is None or permission == "":
        raise ValidationError("The permission is required.", context="permission")
    if permission not in L.GLOBAL_LEVEL:
        raise ValidationError(
            f"The permission '{permission}' is not a global permission. "
            f"Valid values are {', '.join(L.GLOBAL)}.", context="permission")
    return permission


def names_at_least(level: int) -> list[str]:
    return [name for name, lv in L.GLOBAL_LEVEL.items() if lv >= level]


def holders_at_least(level: int) -> ColumnElement[bool]:
    """SQL condition on `User`: holds a global permission >= level, directly or through a group."""
    names = names_at_least(level)
    direct = select(GlobalPermission.user_id).where(
        GlobalPermission.user_id.is_not(None), GlobalPermission.permission.in_(names))
    via_group = select(GroupMember.user_id).join(
        GlobalPermission, GlobalPermission.group_id == GroupMember.group_id).where(
        GlobalPermission.permission.in_(names))
    return or_(User.id.in_(direct), User.id.in_(via_group))


def user_level(session: Session, user_id: int) -> int:
    """Effective global level of a user (own grant and groups' grants), read fresh from the database."""
    groups = select(GroupMember.group_id).where(GroupMember.user_id == user_id)
    names = session.scalars(select(GlobalPermission.permission).where(
        or_(GlobalPermission.user_id == user_id, GlobalPermission.group_id.in_(groups))))
    return max((L.GLOBAL_LEVEL.get(n, 0) for n in names), default=L.NONE)


def group_level(session: Session, group_id: int) -> int:
    name = session.scalar(select(GlobalPermission.permission).where(GlobalPermission.group_id == group_id))
    return L.GLOBAL_LEVEL.get(name or "", L.NONE)


def sys_admin_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(
        User.deleted.is_(False), User.active.is_(True), holders_at_least(L.G_SYS_ADMIN))) or 0


def check_not_weakened(session: Session, caller: User, before: int) -> None:
    """After a change (flushed, not committed): the caller keeps their level and a sysadmin remains.
    The request's transaction rolls back when this raises, so nothing half-done is stored."""
    session.flush()
    if user_level(session, caller.id) < before:
        raise Conflict("You cannot perform this action because it would reduce your own permission level.")
    if sys_admin_count(session) == 0:
        raise Conflict("You cannot perform this action because it would leave the system without a "
                       "system administrator.")


def _set_row(session: Session, permission: str, *, user_id: int | None = None, group_id: int | None = None) -> None:
    cond = GlobalPermission.user_id == user_id if user_id is not None else GlobalPermission.group_id == group_id
    row = session.scalar(select(GlobalPermission).where(cond))
    if row is None:
        session.add(GlobalPermission(user_id=user_id, group_id=group_id, permission=permission))
    else:
        row.permission = permission


def grant(session: Session, name: str, permission: str, *, group: bool) -> None:
    """Set a grantee's permission without the caller rules (bootstrap and the `culm admin` CLI)."""
    permission = validate(permission)
    if group:
        _set_row(session, permission, group_id=users.require_group(session, name).id)
    else:
        _set_row(session, permission, user_id=users.require_user(session, name).id)
    session.flush()


def _require_names(names: list[str]) -> list[str]:
    names = [n for n in names if n]
    if not names:
        raise ValidationError("At least one name is required.", context="name")
    return names


def _outranks(session: Session, caller_level: int, target_level: int, what: str) -> None:
    if target_level > caller_level:
        raise Conflict(f"You cannot modify the permissions of {what} because it has a higher permission "
                       "level than you.")


def set_for(session: Session, caller: User, names: list[str], permission: str | None, *, group: bool) -> None:
    """`PUT /admin/permissions/users|groups`: promote or demote each named grantee."""
    permission = validate(permission)
    names = _require_names(names)
    before = user_level(session, caller.id)
    if L.GLOBAL_LEVEL[permission] > before:
        raise PermissionDenied(f"You cannot grant the {permission} permission because you do not have it.")
    for name in names:
        if group:
            g = users.require_group(session, name)
            _outranks(session, before, group_level(session, g.id), f"the group {g.name}")
            _set_row(session, permission, group_id=g.id)
        else:
            u = users.require_named_user(session, name)
            _outranks(session, before, user_level(session, u.id), f"the user {u.name}")
            _set_row(session, permission, user_id=u.id)
    check_not_weakened(session, caller, before)


def revoke_for(session: Session, caller: User, name: str | None, *, group: bool) -> None:
    """`DELETE /admin/permissions/users|groups`: remove the grantee's global permission."""
    name = _require_names([name or ""])[0]
    before = user_level(session, caller.id)
    if group:
        g = users.require_group(session, name)
        _outranks(session, before, group_level(session, g.id), f"the group {g.name}")
        session.execute(delete(GlobalPermission).where(GlobalPermission.group_id == g.id))
    else:
        u = users.require_named_user(session, name)
        _outranks(session, before, user_level(session, u.id), f"the user {u.name}")
        session.execute(delete(GlobalPermission).where(GlobalPermission.user_id == u.id))
    check_not_weakened(session, caller, before)


# ---- lists (statements; the API pages them in the database) ----------------------------------------

def _text(col: object, text: str) -> ColumnElement[bool]:
    return func.lower(col).contains(text.replace("\x00", "").lower(), autoescape=True)  # type: ignore[arg-type]


def users_with_permission(text: str | None):  # type: ignore[no-untyped-def]
    """(User, permission) rows of users granted a global permission directly, by user name."""
    stmt = select(User, GlobalPermission.permission).join(GlobalPermission, GlobalPermission.user_id == User.id)
    stmt = stmt.where(User.deleted.is_(False), User.type != "SERVICE")
    if text:
        stmt = stmt.where(or_(_text(User.name, text), _text(User.display_name, text)))
    return stmt.order_by(User.name_lower, User.id)


def users_without_permission(text: str | None):  # type: ignore[no-untyped-def]
    granted = select(GlobalPermission.user_id).where(GlobalPermission.user_id.is_not(None))
    stmt = select(User).where(User.deleted.is_(False), User.type != "SERVICE", User.id.not_in(granted))
    if text:
        stmt = stmt.where(or_(_text(User.name, text), _text(User.display_name, text)))
    return stmt.order_by(User.name_lower, User.id)


def groups_with_permission(text: str | None):  # type: ignore[no-untyped-def]
    stmt = select(Group, GlobalPermission.permission).join(GlobalPermission, GlobalPermission.group_id == Group.id)
    if text:
        stmt = stmt.where(_text(Group.name, text))
    return stmt.order_by(Group.name_lower, Group.id)


def groups_without_permission(text: str | None):  # type: ignore[no-untyped-def]
    granted = select(GlobalPermission.group_id).where(GlobalPermission.group_id.is_not(None))
    stmt = select(Group).where(Group.id.not_in(granted))
    if text:
        stmt = stmt.where(_text(Group.name, text))
    return stmt.order_by(Group.name_lower, Group.id)
