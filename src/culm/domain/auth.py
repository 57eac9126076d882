"""Turning an `Authorization` header into a Principal. Shared by the REST API and git over HTTP."""

from __future__ import annotations

import base64
import binascii

from sqlalchemy.orm import Session

from culm.core.errors import IncorrectCredentials, NoSuchUser
from culm.domain.base import now_ms
from culm.domain.permissions.service import Principal
from culm.domain.tokens import service as tokens
from culm.domain.users import service as users
from culm.domain.users.models import User


def parse_basic(value: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


def _refused() -> IncorrectCredentials:
    return IncorrectCredentials("Authentication failed. Please check your credentials and try again.")


def resolve(session: Session, authorization: str | None) -> Principal:
    """Authenticate the header. No header is anonymous; bad credentials raise 401."""
    if not authorization:
        return Principal()
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        found = tokens.authenticate_token(session, value)
        if found is None:
            raise _refused()
        user, token = found
        return Principal(user=user, token=token)
    if scheme == "basic":
        creds = parse_basic(value)
        if creds is None:
            raise _refused()
        name, password = creds
        users.check_throttle(session, name)
        # A personal (user) token may stand in for the password; project and repository tokens may
        # not (Bearer only). Checking it first is cheap (one SHA-256) and spares an argon2 verify.
        found = tokens.find_live_token(session, password)
        if found is not None and found[1].scope == "USER" and found[0].name_lower == name.lower():
            tokens.touch(found[1])
            return Principal(user=found[0], token=found[1])
        user = users.authenticate_password(session, name, password)
        if user is not None:
            touch_user(user)
            return Principal(user=user)
        users.record_failure(session, name)
        raise users.incorrect_credentials()
    raise _refused()


def touch_user(user: User) -> None:
    """Record the sign-in, coalesced so that a script's every request does not write."""
    now = now_ms()
    if user.last_authentication is None or now - user.last_authentication >= tokens.TOUCH_EVERY_MS:
        user.last_authentication = now


def lookup_user_or_none(session: Session, slug: str) -> object:
    try:
        return users.require_user(session, slug)
    except NoSuchUser:
        return None
