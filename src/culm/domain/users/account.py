"""What users do to their own account: details, password, settings.

Access tokens cannot change user details or passwords (Bitbucket's rule): those need the password.
"""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from culm.core.errors import AuthenticationRequired, PermissionDenied, ValidationError
from culm.core.security import verify_password
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, deny
from culm.domain.users import service as users
from culm.domain.users.models import User, UserSetting

MAX_SETTING_KEY = 255
MAX_SETTING_VALUE = 32_000


def require_password_session(principal: Principal) -> User:
    """The caller, who must have authenticated with their password (not a token)."""
    if principal.user is None:
        raise AuthenticationRequired("Authentication required.")
    if principal.token is not None:
        raise PermissionDenied("Access tokens cannot be used to change user details or passwords.")
    return principal.user


def _check_password(user: User, password: object) -> None:
    if password is not None and not (isinstance(password, str) and verify_password(user.password_hash, password)):
        raise ValidationError("The password is incorrect.", context="password")


def update_own_details(session: Session, principal: Principal, body: dict[str, Any]) -> User:
    """`PUT /users`: display name and e-mail of the caller (a given `password` must be right)."""
    user = require_password_session(principal)
    _check_password(user, body.get("password"))
    if "displayName" in body:
        user.display_name = users.validate_display_name(body["displayName"], required=True)  # type: ignore[assignment]
    email_key = "email" if "email" in body else "emailAddress" if "emailAddress" in body else None
    if email_key:
        user.email = users.validate_email(body[email_key], required=True, context=email_key)
    session.flush()
    return user


def change_own_password(session: Session, principal: Principal, body: dict[str, Any]) -> None:
    """`PUT /users/credentials`: the old password must be right and the new one confirmed."""
    user = require_password_session(principal)
    old = body.get("oldPassword")
    if not isinstance(old, str) or not old:
        raise ValidationError("The current password is required.", context="oldPassword")
    if not verify_password(user.password_hash, old):
        raise ValidationError("The current password is incorrect.", context="oldPassword")
    users.set_password(session, user, body.get("password"), body.get("passwordConfirm"), check_confirm=True)


def _settings_owner(session: Session, principal: Principal, slug: str) -> User:
    """Users read and write their own settings; global administrators anyone's."""
    if principal.user is None:
        raise deny(principal)
    user = users.require_user(session, slug)
    if user.id != principal.user.id and principal.effective_global(session) < L.G_ADMIN:
        raise deny(principal)
    return user


def get_settings(session: Session, principal: Principal, slug: str) -> dict[str, Any]:
    user = _settings_owner(session, principal, slug)
    rows = session.scalars(select(UserSetting).where(UserSetting.user_id == user.id).order_by(UserSetting.key))
    return {row.key: json.loads(row.value) for row in rows}


def update_settings(session: Session, principal: Principal, slug: str, body: dict[str, Any]) -> None:
    """Merge the given entries into the map; a null value removes its key."""
    user = _settings_owner(session, principal, slug)
    for key, value in body.items():
        if not key or len(key) > MAX_SETTING_KEY or "\x00" in key:
            raise ValidationError(f"Setting keys must be 1 to {MAX_SETTING_KEY} characters long.", context=key)
        if value is not None and not isinstance(value, (str, bool, int, float)):
            raise ValidationError(f"The value of '{key}' must be a string, a number or a boolean.", context=key)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(f"The value of '{key}' must be a finite number.", context=key)
        if isinstance(value, str) and len(value) > MAX_SETTING_VALUE:
            raise ValidationError(f"The value of '{key}' is too long.", context=key)
    for key, value in body.items():
        if value is None:
            session.execute(delete(UserSetting).where(UserSetting.user_id == user.id, UserSetting.key == key))
            continue
        row = session.get(UserSetting, (user.id, key))
        if row is None:
            session.add(UserSetting(user_id=user.id, key=key, value=json.dumps(value)))
        else:
            row.value = json.dumps(value)
    session.flush()
