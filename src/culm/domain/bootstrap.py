"""First-start set-up: the default group with its licence, and the administrator `admin`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.core.security import generate_password
from culm.domain.permissions.models import GlobalPermission
from culm.domain.users import service as users


def ensure_defaults(session: Session, admin_password: str | None) -> str | None:
    """Create what a fresh server needs. Returns the admin password if one was generated."""
    group = users.get_group(session, users.DEFAULT_GROUP) or users.create_group(session, users.DEFAULT_GROUP)
    has_licence = session.scalar(select(GlobalPermission).where(GlobalPermission.group_id == group.id))
    if has_licence is None:
        session.add(GlobalPermission(group_id=group.id, permission="LICENSED_USER"))
    if users.get_user_by_name(session, "admin") is not None:
        return None
    generated = None
    if not admin_password:
        admin_password = generated = generate_password()
    admin = users.create_user(session, "admin", admin_password, "Administrator", "admin@localhost")
    session.add(GlobalPermission(user_id=admin.id, permission="SYS_ADMIN"))
    session.flush()
    return generated
