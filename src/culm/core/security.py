"""Password hashing (argon2) and token secrets (stored only as SHA-256 hashes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password(length: int = 20) -> str:
    return secrets.token_urlsafe(length)[:length]


def hash_token_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(token_id: str) -> tuple[str, str]:
    """A raw token `base64(id:secret)` (as Bitbucket's look) and the hash we keep of its secret."""
    secret = secrets.token_urlsafe(24)
    raw = base64.b64encode(f"{token_id}:{secret}".encode()).decode().rstrip("=")
    return raw, hash_token_secret(secret)


def split_token(raw: str) -> tuple[str, str] | None:
    """Return (id, secret) of a raw token, or None when it is not one of ours."""
    try:
        padded = raw + "=" * (-len(raw) % 4)
        decoded = base64.b64decode(padded, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    token_id, sep, secret = decoded.partition(":")
    if not sep or not token_id.isdigit() or not secret:
        return None
    return token_id, secret


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
