"""HTTP access tokens: creation, listing, update, revocation, and authentication.

Three kinds share one table. A USER token acts as its owner, narrowed to the token's permissions.
PROJECT and REPOSITORY tokens act as a bot user of their own (type SERVICE, `bot-<token id>`, no
password, no group, hence no licence) whose rights are exactly the token's on that project or
repository (see `Principal` in `domain/permissions/service.py`). Only the SHA-256 of the secret is
stored; the raw token is returned once, on creation.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from culm.core.errors import NotFound, PermissionDenied, ValidationError
from culm.core.security import constant_time_equals, hash_token_secret, new_token, split_token
from culm.domain.base import now_ms
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, deny, require_project, require_repo
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.domain.tokens.models import AccessToken
from culm.domain.users import service as users
from culm.domain.users.models import User

USER, PROJECT, REPOSITORY = "USER", "PROJECT", "REPOSITORY"
DAY_MS = 86_400_000
MAX_NAME = 255
MAX_EXPIRY_DAYS = 36_500
MAX_TOKENS = 100  # per user, project or repository (Bitbucket's default cap)
# Writes to last-authenticated times are coalesced: a busy token does not write on every request.
TOUCH_EVERY_MS = 60_000

_ALLOWED = {
    USER: L.PROJECT + L.REPO,
    PROJECT: L.PROJECT + L.REPO,
    REPOSITORY: list(L.REPO),
}
_KNOWN = set(L.GLOBAL) | set(L.PROJECT) | set(L.REPO) | {"USER_ADMIN", "REPO_CREATE", L.PROJECT_VIEW}


# -- validation ---------------------------------------------------------------------------------
def validate_name(name: object) -> str:
    if name is None or not isinstance(name, str) or not name.strip():
        raise ValidationError("The token name is required.", context="name")
    if len(name) > MAX_NAME:
        raise ValidationError(f"The token name must be {MAX_NAME} characters or fewer.", context="name")
    return name


def normalise_permissions(perms: object, scope: str) -> list[str]:
    """The token's permissions as stored: at most one project and one repository permission, the
    repository one never below the project one (PROJECT_WRITE implies REPO_WRITE)."""
    if not isinstance(perms, list) or not perms:
        raise ValidationError("The token must have at least one permission.", context="permissions")
    allowed = _ALLOWED[scope]
    project_level = repo_level = 0
    for p in perms:
        if not isinstance(p, str) or p not in _KNOWN:
            raise ValidationError(
                f"'{p}' is not a valid permission. Valid values are {', '.join(allowed)}.",
                context="permissions")
        if p not in allowed:
            raise ValidationError(f"Tokens may not have the following permission: {p}", context="permissions")
        project_level = max(project_level, L.PROJECT_LEVEL.get(p, 0))
        repo_level = max(repo_level, L.REPO_LEVEL.get(p, 0))
    repo_level = max(repo_level, project_level)
    out = []
    if project_level:
        out.append(L.PROJECT[project_level - 1])
    out.append(L.REPO[repo_level - 1])
    return out


def validate_expiry_days(days: object) -> int | None:
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValidationError("expiryDays must be a whole number of days.", context="expiryDays")
    if days <= 0 or days > MAX_EXPIRY_DAYS:
        raise ValidationError(f"expiryDays must be between 1 and {MAX_EXPIRY_DAYS}.", context="expiryDays")
    return days


def expiry_days(token: AccessToken) -> int | None:
    if token.expiry_date is None:
        return None
    return round((token.expiry_date - token.created_date) / DAY_MS)


# -- who may manage which tokens ---------------------------------------------------------------
def _refuse_token_callers(who: Principal) -> None:
    """Access tokens cannot create or change access tokens (Bitbucket's rule)."""
    if who.token is not None:
        raise PermissionDenied("Access tokens cannot be used to create or modify access tokens.")


def authorise_user_tokens(session: Session, who: Principal, owner: User, *, write: bool,
                          create: bool = False) -> None:
    """Your own tokens; a global admin (signed in with a password) may see, change and revoke
    other users' tokens, but creates tokens only for themself, as Bitbucket does."""
    if who.user is None:
        raise deny(who)
    if write:
        _refuse_token_callers(who)
    if who.user.id == owner.id:
        return
    if not create and who.effective_global(session) >= L.G_ADMIN:
        return
    raise PermissionDenied(f"You are not permitted to manage access tokens for user {owner.slug}.")


def authorise_project_tokens(session: Session, who: Principal, project: Project, *, write: bool) -> None:
    require_project(session, who, project, L.ADMIN)
    if write:
        _refuse_token_callers(who)


def authorise_repo_tokens(session: Session, who: Principal, repo: Repository, *, write: bool) -> None:
    require_repo(session, who, repo, L.ADMIN)
    if write:
        _refuse_token_callers(who)


# -- queries ------------------------------------------------------------------------------------
def list_query(scope: str, *, user: User | None = None, project: Project | None = None,
               repo: Repository | None = None) -> Select[Any]:
    stmt = select(AccessToken).where(AccessToken.scope == scope)
    if scope == USER:
        assert user is not None
        stmt = stmt.where(AccessToken.user_id == user.id)
    elif scope == PROJECT:
        assert project is not None
        stmt = stmt.where(AccessToken.project_id == project.id)
    else:
        assert repo is not None
        stmt = stmt.where(AccessToken.repository_id == repo.id)
    return stmt.order_by(AccessToken.created_date.desc(), AccessToken.id.desc())


def require(session: Session, token_id: str, scope: str, *, user: User | None = None,
            project: Project | None = None, repo: Repository | None = None) -> AccessToken:
    """The token with this id under this owner, project or repository; 404 otherwise."""
    token = None
    if token_id.isdigit() and len(token_id) <= 18:
        token = session.scalar(
            list_query(scope, user=user, project=project, repo=repo).where(AccessToken.id == int(token_id)))
    if token is None:
        raise NotFound(f"No access token with ID {token_id} exists.")
    return token


def token_user(session: Session, token: AccessToken) -> User:
    user = session.get(User, token.user_id)
    assert user is not None
    return user


# -- changes ------------------------------------------------------------------------------------
def _new_id(session: Session) -> int:
    while True:
        token_id = 10**11 + secrets.randbelow(9 * 10**11)  # 12 digits, as Bitbucket's look
        taken = session.get(AccessToken, token_id) is not None or session.scalar(
            select(func.count()).select_from(User).where(User.name_lower == f"bot-{token_id}"))
        if not taken:
            return token_id


def create(session: Session, scope: str, body: dict[str, Any], *, owner: User | None = None,
           project: Project | None = None, repo: Repository | None = None) -> tuple[AccessToken, str]:
    """Create a token; returns it with the raw secret (shown once, never stored)."""
    name = validate_name(body.get("name"))
    perms = normalise_permissions(body.get("permissions"), scope)
    days = validate_expiry_days(body.get("expiryDays"))
    mine = list_query(scope, user=owner, project=project, repo=repo).order_by(None).subquery()
    if (session.scalar(select(func.count()).select_from(mine)) or 0) >= MAX_TOKENS:
        raise ValidationError(f"The maximum number of access tokens ({MAX_TOKENS}) has been reached.",
                              context="name")
    token_id = _new_id(session)
    if scope == USER:
        assert owner is not None
        acting = owner
    else:
        # The bot: no password (it can only authenticate with its token), no groups (no licence).
        acting = users.create_user(session, f"bot-{token_id}", None, display_name=name,
                                   add_to_default_group=False, user_type="SERVICE")
    raw, secret_hash = new_token(str(token_id))
    now = now_ms()
    project_id = repo.project_id if repo is not None else (project.id if project is not None else None)
    token = AccessToken(
        id=token_id, name=name, secret_hash=secret_hash, scope=scope, user_id=acting.id,
        project_id=project_id, repository_id=repo.id if repo is not None else None,
        permissions=" ".join(perms), created_date=now,
        expiry_date=now + days * DAY_MS if days is not None else None,
    )
    session.add(token)
    session.flush()
    return token, raw


def update(session: Session, token: AccessToken, body: dict[str, Any]) -> AccessToken:
    """Change what the request names; fields left out stay as they are."""
    name = validate_name(body["name"]) if body.get("name") is not None else None
    perms = None
    if body.get("permissions") is not None:
        perms = normalise_permissions(body["permissions"], token.scope)
    days = validate_expiry_days(body.get("expiryDays"))
    if name is not None:
        token.name = name
        if token.scope != USER:
            token_user(session, token).display_name = name
    if perms is not None:
        token.permissions = " ".join(perms)
    if days is not None:
        token.expiry_date = token.created_date + days * DAY_MS
    session.flush()
    return token


def delete(session: Session, token: AccessToken) -> None:
    """Revoke at once; a project or repository token's bot is retired with it."""
    if token.scope != USER:
        bot = token_user(session, token)
        bot.active, bot.deleted = False, True
    session.delete(token)
    session.flush()


# -- authentication -----------------------------------------------------------------------------
def find_live_token(session: Session, raw: str) -> tuple[User, AccessToken] | None:
    """The token's acting user and the token, if `raw` is a live (known, unexpired) token."""
    parts = split_token(raw.strip())
    if parts is None or len(parts[0]) > 18:
        return None
    token = session.get(AccessToken, int(parts[0]))
    if token is None or not constant_time_equals(token.secret_hash, hash_token_secret(parts[1])):
        return None
    if token.expiry_date is not None and token.expiry_date <= now_ms():
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active or user.deleted:
        return None
    return user, token


def touch(token: AccessToken) -> None:
    now = now_ms()
    if token.last_authenticated is None or now - token.last_authenticated >= TOUCH_EVERY_MS:
        token.last_authenticated = now


def authenticate_token(session: Session, raw: str) -> tuple[User, AccessToken] | None:
    """As `find_live_token`, recording the use."""
    found = find_live_token(session, raw)
    if found is not None:
        touch(found[1])
    return found
