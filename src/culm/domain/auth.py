"""Turning an `Authorization` header into a Principal. Shared by the REST API and git over HTTP."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from typing import Any

from sqlalchemy.orm import Session

from culm.core.errors import IncorrectCredentials, NoSuchUser
from culm.domain.base import now_ms
from culm.domain.permissions import levels as L
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


_JOB_TOKEN = re.compile(r"^job-([0-9]{1,18})-([0-9a-f]{16,64})$")


class JobPrincipal(Principal):
    """A build agent checking out the source of the job it runs (`Bearer job-{id}-{claim token}`): READ on exactly
    that job's repository, nothing else (no user, so every other check sees an anonymous caller)."""

    def __init__(self, repository_id: int) -> None:
        super().__init__()
        self.job_repository_id = repository_id

    def repo_level(self, session: Session, repo: Any, project: Any = None) -> int:
        own = L.READ if repo.id == self.job_repository_id else L.NONE
        return max(own, super().repo_level(session, repo, project))


def _job_principal(session: Session, value: str) -> JobPrincipal | None:
    """The job token's principal while the job is InProgress with that claim token; None otherwise."""
    match = _JOB_TOKEN.match(value.strip())
    if match is None:
        return None
    from culm.domain.bamboo.models import BambooJobResult, BambooResult

    job = session.get(BambooJobResult, int(match.group(1)))
    if job is None or job.life_cycle != "InProgress" or not job.claim_token:
        return None
    if not hmac.compare_digest(job.claim_token.encode(), match.group(2).encode()):
        return None
    result = session.get(BambooResult, job.result_id)
    if result is None or result.repository_id is None:
        return None
    return JobPrincipal(result.repository_id)


def resolve(session: Session, authorization: str | None) -> Principal:
    """Authenticate the header. No header is anonymous; bad credentials raise 401."""
    if not authorization:
        return Principal()
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value.startswith("job-"):
        job = _job_principal(session, value)
        if job is None:
            raise _refused()
        return job
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
