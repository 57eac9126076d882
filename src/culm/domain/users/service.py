"""Users and groups: creation, lookup, authentication with throttling."""

from __future__ import annotations

import re

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from culm.core.config import get_settings
from culm.core.credential_cache import verified_passwords
from culm.core.errors import (
    DuplicateEntity,
    IncorrectCredentials,
    NoSuchGroup,
    NoSuchUser,
    TooManyFailedLogins,
    ValidationError,
)
from culm.core.security import hash_password, verify_password
from culm.domain.base import now_ms
from culm.domain.users.models import Group, GroupMember, LoginFailure, User

DEFAULT_GROUP = "stash-users"
MAX_NAME = 255
_SLUG_BAD = re.compile(r"[^a-z0-9._-]")
_EMAIL = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+$")


def slugify_user(name: str) -> str:
    return _SLUG_BAD.sub("_", name.lower())


def validate_user_name(name: object) -> str:
    if name is None or not isinstance(name, str) or not name.strip():
        raise ValidationError("The username is required.", context="name")
    if len(name) > MAX_NAME:
        raise ValidationError(f"The username must be {MAX_NAME} characters or fewer.", context="name")
    if any(c in name for c in "/\\\x00") or name != name.strip() or name.startswith("~"):
        raise ValidationError("The username contains characters that are not allowed.", context="name")
    return name


def get_user_by_name(session: Session, name: str) -> User | None:
    if "\x00" in name:  # PostgreSQL refuses NUL in text; no name contains one
        return None
    return session.scalar(select(User).where(User.name_lower == name.lower(), User.deleted.is_(False)))


def get_user_by_slug(session: Session, slug: str) -> User | None:
    if "\x00" in slug:
        return None
    return session.scalar(select(User).where(User.slug == slug.lower(), User.deleted.is_(False)))


def require_user(session: Session, slug_or_name: str) -> User:
    user = get_user_by_slug(session, slug_or_name) or get_user_by_name(session, slug_or_name)
    if user is None:
        raise NoSuchUser(f"User {slug_or_name} does not exist.")
    return user


def require_named_user(session: Session, name: str) -> User:
    """Admin endpoints name users by login name (`?name=`); a slug is accepted when no name matches."""
    user = get_user_by_name(session, name) or get_user_by_slug(session, name)
    if user is None:
        raise NoSuchUser(f"User {name} does not exist.")
    return user


def get_group(session: Session, name: str) -> Group | None:
    if "\x00" in name:
        return None
    return session.scalar(select(Group).where(Group.name_lower == name.lower()))


def require_group(session: Session, name: str) -> Group:
    group = get_group(session, name)
    if group is None:
        raise NoSuchGroup(f"Group {name} does not exist.")
    return group


def validate_group_name(name: object) -> str:
    if name is None or not isinstance(name, str) or not name.strip():
        raise ValidationError("The group name is required.", context="name")
    if len(name) > MAX_NAME:
        raise ValidationError(f"The group name must be {MAX_NAME} characters or fewer.", context="name")
    if name != name.strip() or any(c in name for c in "\x00\r\n"):
        raise ValidationError("The group name contains characters that are not allowed.", context="name")
    return name


def create_group(session: Session, name: str | None) -> Group:
    name = validate_group_name(name)
    if get_group(session, name) is not None:
        raise DuplicateEntity(f"A group named '{name}' already exists.", context="name")
    group = Group(name=name, name_lower=name.lower())
    session.add(group)
    session.flush()
    return group


def add_to_group(session: Session, user: User, group: Group) -> None:
    exists = session.get(GroupMember, (group.id, user.id))
    if exists is None:
        session.add(GroupMember(group_id=group.id, user_id=user.id))
        session.flush()


def remove_from_group(session: Session, user: User, group: Group) -> None:
    session.execute(
        delete(GroupMember).where(GroupMember.group_id == group.id, GroupMember.user_id == user.id)
    )


def user_group_ids(session: Session, user_id: int) -> list[int]:
    return list(session.scalars(select(GroupMember.group_id).where(GroupMember.user_id == user_id)))


def validate_display_name(display_name: object, required: bool = False) -> str | None:
    if display_name is None or (isinstance(display_name, str) and not display_name.strip()):
        if required:
            raise ValidationError("The display name is required.", context="displayName")
        return None
    if not isinstance(display_name, str) or "\x00" in display_name:
        raise ValidationError("The display name must be a string without NUL characters.", context="displayName")
    if len(display_name) > MAX_NAME:
        raise ValidationError(f"The display name must be {MAX_NAME} characters or fewer.", context="displayName")
    return display_name


def validate_email(email: object, required: bool = False, context: str = "emailAddress") -> str | None:
    """An address with one `@`, something on each side and no spaces (what Bitbucket's check accepts)."""
    if email is None or email == "":
        if required:
            raise ValidationError("The email address is required.", context=context)
        return None
    if not isinstance(email, str) or len(email) > MAX_NAME or not _EMAIL.match(email):
        raise ValidationError(f"'{email}' is not a valid email address.", context=context)
    return email


def free_slug(session: Session, name: str, exclude_id: int | None = None) -> str:
    """The slug for a name, suffixed `_2`, `_3`... while another user (deleted ones too) holds it."""
    slug = slugify_user(name)
    base, n = slug, 1
    others = User.id != exclude_id if exclude_id is not None else User.id.is_not(None)
    while session.scalar(select(func.count()).select_from(User).where(User.slug == slug, others)):
        n += 1
        slug = f"{base}_{n}"
    return slug


def create_user(
    session: Session,
    name: str | None,
    password: str | None,
    display_name: str | None = None,
    email: str | None = None,
    add_to_default_group: bool = True,
    user_type: str = "NORMAL",
) -> User:
    """A new user. A deleted user of the same name comes back with the same id, as in Bitbucket."""
    name = validate_user_name(name)
    display_name = validate_display_name(display_name)
    email = validate_email(email)
    if get_user_by_name(session, name) is not None:
        raise DuplicateEntity(f"A user with the name {name} already exists.", context="name")
    password_hash = hash_password(password) if password else None
    user = session.scalar(select(User).where(User.name_lower == name.lower()))
    if user is not None:  # a deleted user: revive the row (its slug is still reserved for it)
        user.name, user.display_name, user.email = name, display_name or name, email
        user.password_hash, user.type, user.active, user.deleted = password_hash, user_type, True, False
        user.created_date, user.last_authentication = now_ms(), None
    else:
        user = User(name=name, name_lower=name.lower(), slug=free_slug(session, name),
                    display_name=display_name or name, email=email, password_hash=password_hash, type=user_type)
        session.add(user)
    session.flush()
    if add_to_default_group:
        group = get_group(session, DEFAULT_GROUP) or create_group(session, DEFAULT_GROUP)
        add_to_group(session, user, group)
    return user


def set_password(session: Session, user: User, password: object, confirm: object = None,
                 check_confirm: bool = False) -> None:
    """Set a password; when `check_confirm`, `confirm` must repeat it (the REST bodies carry both)."""
    if not password or not isinstance(password, str):
        raise ValidationError("The password is required.", context="password")
    if len(password) > MAX_NAME:
        raise ValidationError(f"The password must be {MAX_NAME} characters or fewer.", context="password")
    if check_confirm and confirm != password:
        raise ValidationError("The password and its confirmation do not match.", context="passwordConfirm")
    user.password_hash = hash_password(password)


CAPTCHA_MESSAGE = (
    "Maximum number of failed login attempts exceeded. You must wait before you can authenticate "
    "again, or log in through the web interface and complete the CAPTCHA challenge."
)


def check_throttle(session: Session, name: str) -> LoginFailure | None:
    """Refuse further attempts for a name that failed too often inside the window, even with the
    right password (Bitbucket's CAPTCHA lock). Returns the failure row, if any."""
    s = get_settings()
    row = session.get(LoginFailure, name.lower()[:255])
    if row is None:
        return None
    if now_ms() - row.window_start > s.login_window_seconds * 1000:
        return row
    if row.count >= s.login_max_failures:
        raise TooManyFailedLogins(CAPTCHA_MESSAGE)
    return row


def record_failure(session: Session, name: str) -> None:
    """Count one failed login in a single atomic upsert, so concurrent failures on any node all count.

    A row whose window has passed restarts at 1; the decision is made by the database on the row it
    holds locked, not on a value this process read earlier.
    """
    s = get_settings()
    now = now_ms()
    cutoff = now - s.login_window_seconds * 1000
    table = LoginFailure.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    expired = table.c.window_start < cutoff
    stmt = insert(table).values(name_lower=name.lower()[:255], count=1, window_start=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.name_lower],
        set_={
            "count": case((expired, 1), else_=table.c.count + 1),
            "window_start": case((expired, now), else_=table.c.window_start),
        },
    )
    session.execute(stmt)


def clear_failures(session: Session, name: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.name_lower == name.lower()[:255]))


def authenticate_password(session: Session, name: str, password: str) -> User | None:
    """The user whose password this is, or None. Raises when the name is throttled.

    A success within the last minutes (same user, password and stored hash) skips argon2: see
    `core/credential_cache.py`. Failed attempts are never cached.
    """
    failures = check_throttle(session, name)
    user = get_user_by_name(session, name)
    if user is None or not user.active or not user.password_hash:
        return None
    if not verified_passwords.hit(user.id, user.password_hash, password):
        if not verify_password(user.password_hash, password):
            return None
        verified_passwords.remember(user.id, user.password_hash, password)
    if failures is not None:
        clear_failures(session, name)
    return user


def incorrect_credentials() -> IncorrectCredentials:
    return IncorrectCredentials("Authentication failed. Please check your credentials and try again.")
