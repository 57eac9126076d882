"""HTTP access tokens: authentication. (Management lives beside it as the API grows.)"""

from __future__ import annotations

from sqlalchemy.orm import Session

from culm.core.security import constant_time_equals, hash_token_secret, split_token
from culm.domain.base import now_ms
from culm.domain.tokens.models import AccessToken
from culm.domain.users.models import User


def authenticate_token(session: Session, raw: str) -> tuple[User, AccessToken] | None:
    """The token's user and the token, if `raw` is a live token; records last authentication."""
    parts = split_token(raw.strip())
    if parts is None:
        return None
    token = session.get(AccessToken, int(parts[0]))
    if token is None or not constant_time_equals(token.secret_hash, hash_token_secret(parts[1])):
        return None
    now = now_ms()
    if token.expiry_date is not None and token.expiry_date <= now:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active or user.deleted:
        return None
    token.last_authenticated = now
    return user, token
