"""Turning an `Authorization` header into a Principal. Shared by the REST API and git over HTTP."""

from __future__ import annotations

import base64
import binascii

from sqlalchemy.orm import Session

from culm.core.errors import IncorrectCredentials, NoSuchUser
from culm.domain.base import now_ms
from culm.domain.permissions.service import Principal
from culm.domain.tokens.service import authenticate_token
from culm.domain.users import service as users


def parse_basic(value: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


def resolve(session: Session, authorization: str | None) -> Principal:
    """Authenticate the header. No header is anonymous; bad credentials raise 401."""
    if not authorization:
        return Principal()
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        found = authenticate_token(session, value)
        if found is None:
            raise IncorrectCredentials("Authentication failed. Please check your credentials and try again.")
        user, token = found
        return Principal(user=user, token=token)
    if scheme == "basic":
        creds = parse_basic(value)
        if creds is None:
            raise IncorrectCredentials("Authentication failed. Please check your credentials and try again.")
        name, password = creds
        user = users.authenticate_password(session, name, password)
        if user is not None:
            users.clear_failures(session, name)
            user.last_authentication = now_ms()
            return Principal(user=user)
        # A personal (user) token may stand in for the password; project and repo tokens may not.
        found = authenticate_token(session, password)
        if found is not None and found[1].scope == "USER" and found[0].name_lower == name.lower():
            return Principal(user=found[0], token=found[1])
        users.record_failure(session, name)
        raise users.incorrect_credentials()
    raise IncorrectCredentials("Authentication failed. Please check your credentials and try again.")


def lookup_user_or_none(session: Session, slug: str) -> object:
    try:
        return users.require_user(session, slug)
    except NoSuchUser:
        return None
