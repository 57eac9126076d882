"""Server-wide settings an administrator changes through the API (rows in `system_settings`)."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from culm.core.errors import ValidationError
from culm.domain.repos.service import normalise_branch
from culm.domain.settings.models import SystemSetting

DEFAULT_BRANCH = "repository.default-branch"
# What new repositories get when neither the request nor an administrator names a branch.
BUILT_IN_DEFAULT_BRANCH = "refs/heads/main"


def get(session: Session, key: str) -> str | None:
    row = session.get(SystemSetting, key)
    return row.value if row is not None else None


def put(session: Session, key: str, value: str) -> None:
    row = session.get(SystemSetting, key)
    if row is None:
        session.add(SystemSetting(key=key, value=value))
    else:
        row.value = value
    session.flush()


def clear(session: Session, key: str) -> None:
    session.execute(delete(SystemSetting).where(SystemSetting.key == key))


def configured_default_branch(session: Session) -> str | None:
    """The administrator's default branch (`refs/heads/...`), or None when none is configured."""
    return get(session, DEFAULT_BRANCH)


def default_branch_for_new_repository(session: Session) -> str:
    return configured_default_branch(session) or BUILT_IN_DEFAULT_BRANCH


def set_default_branch(session: Session, body: dict) -> str:
    """`{"id": "refs/heads/x"}` (or a bare branch name); only branches, never tags or other refs."""
    value = body.get("id")
    if value is None:
        value = body.get("displayId")
    if value is None:
        raise ValidationError("The branch 'id' is required.", context="id")
    if isinstance(value, str) and value.startswith("refs/") and not value.startswith("refs/heads/"):
        raise ValidationError(f"'{value}' is not a branch.", context="id")
    ref = normalise_branch(value, context="id")
    put(session, DEFAULT_BRANCH, ref)
    return ref
