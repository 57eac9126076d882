"""Administration of users and groups (`/admin/users`, `/admin/groups`) under Bitbucket's rules.

An administrator never acts on a user or group above their own global level, never deletes
themselves, and never lowers their own level (e.g. by leaving or deleting the group that makes them
an administrator). Violations raise before anything is committed; the request's transaction rolls
back on any error, so a refused change leaves nothing behind.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from culm.core.errors import (
    BadRequest,
    Conflict,
    DuplicateEntity,
    Forbidden,
    NoSuchUser,
    PermissionDenied,
    ValidationError,
)
from culm.domain.avatars.models import Avatar
from culm.domain.permissions import global_service as gs
from culm.domain.permissions.models import GlobalPermission, ProjectPermission, RepoPermission
from culm.domain.projects.models import Project
from culm.domain.recent.models import RecentRepository
from culm.domain.tokens.models import AccessToken
from culm.domain.users import service as users
from culm.domain.users.models import Group, GroupMember, LoginFailure, User, UserSetting


def _name(value: object, context: str = "name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"'{context}' is required.", context=context)
    return value


def _not_above(session: Session, caller: User, target: User, error: type[Exception], action: str) -> None:
    if gs.user_level(session, target.id) > gs.user_level(session, caller.id):
        raise error(f"You cannot {action} the user {target.name} because they have a higher permission "
                    "level than you.")


# ---- users ---------------------------------------------------------------------------------------

def create_user(session: Session, name: str | None, password: str | None, display_name: str | None,
                email: str | None, add_to_default_group: bool, notify: bool) -> User:
    """`POST /admin/users`. Without a password, `notify` would e-mail a reset link: we have no mail server."""
    users.validate_user_name(name)
    users.validate_display_name(display_name, required=True)
    users.validate_email(email, required=True)
    if not password:
        if notify:
            raise BadRequest("Users can only be notified when a mail server is configured; supply a password.",
                             context="notify")
        raise ValidationError("The password is required.", context="password")
    return users.create_user(session, name, password, display_name, email, add_to_default_group)


def update_details(session: Session, caller: User, body: dict[str, Any]) -> User:
    """`PUT /admin/users`: `name` picks the user; `displayName` and `email` change."""
    user = users.require_named_user(session, _name(body.get("name")))
    _not_above(session, caller, user, PermissionDenied, "update")
    if "displayName" in body:
        user.display_name = users.validate_display_name(body["displayName"], required=True)  # type: ignore[assignment]
    email_key = "email" if "email" in body else "emailAddress" if "emailAddress" in body else None
    if email_key:
        user.email = users.validate_email(body[email_key], required=True, context=email_key)
    session.flush()
    return user


def set_password(session: Session, caller: User, body: dict[str, Any]) -> None:
    """`PUT /admin/users/credentials`."""
    user = users.require_named_user(session, _name(body.get("name")))
    _not_above(session, caller, user, PermissionDenied, "change the password of")
    users.set_password(session, user, body.get("password"), body.get("passwordConfirm"),
                       check_confirm="passwordConfirm" in body)


def _move_personal_project(session: Session, user: User, old_slug: str) -> None:
    project = session.scalar(select(Project).where(Project.type == "PERSONAL", Project.owner_id == user.id))
    if project is not None and old_slug != user.slug:
        project.key = f"~{user.slug}"
        project.key_upper = project.key.upper()


def rename(session: Session, caller: User, body: dict[str, Any]) -> User:
    """`POST /admin/users/rename`: a new login name and slug; the personal project follows."""
    user = users.require_named_user(session, _name(body.get("name")))
    new_name = users.validate_user_name(body.get("newName"))
    _not_above(session, caller, user, PermissionDenied, "rename")
    clash = session.scalar(select(User).where(User.name_lower == new_name.lower(), User.id != user.id))
    if clash is not None:
        raise DuplicateEntity(f"A user with the name {new_name} already exists.", context="newName")
    old_slug = user.slug
    user.name, user.name_lower = new_name, new_name.lower()
    user.slug = users.free_slug(session, new_name, exclude_id=user.id)
    _move_personal_project(session, user, old_slug)
    session.flush()
    return user


def delete_user(session: Session, caller: User, name: str | None) -> User:
    """`DELETE /admin/users`: the user is gone with their memberships, grants, tokens and settings.

    The row stays (marked deleted) so history keeps its author and erasure can find it; creating a
    user of the same name later revives it.
    """
    user = users.require_named_user(session, _name(name))
    if user.id == caller.id:
        raise Conflict("You cannot delete yourself.")
    _not_above(session, caller, user, Forbidden, "delete")
    before = gs.user_level(session, caller.id)
    for model in (GroupMember, GlobalPermission, ProjectPermission, RepoPermission, AccessToken, UserSetting):
        session.execute(delete(model).where(model.user_id == user.id))  # type: ignore[attr-defined]
    session.execute(delete(LoginFailure).where(LoginFailure.name_lower == user.name_lower))
    for extra in (Avatar, RecentRepository):
        session.execute(delete(extra).where(extra.user_id == user.id))  # type: ignore[attr-defined]
    user.deleted = True
    gs.check_not_weakened(session, caller, before)
    return user


def clear_captcha(session: Session, caller: User, name: str | None) -> None:
    """`DELETE /admin/users/captcha`: forget the failed logins that lock the user out."""
    user = users.require_named_user(session, _name(name))
    _not_above(session, caller, user, Forbidden, "clear the CAPTCHA of")
    users.clear_failures(session, user.name)


def _deleted_user(session: Session, name: str | None) -> User:
    name = _name(name)
    user = session.scalar(select(User).where(User.name_lower == name.lower()))
    if user is None:
        raise NoSuchUser(f"User {name} does not exist.")
    if not user.deleted:
        raise Conflict(f"The user {name} has not been deleted; only deleted users can be erased.")
    return user


def check_erasable(session: Session, name: str | None) -> None:
    """`GET /admin/users/erasure`: the name must belong to a deleted user."""
    _deleted_user(session, name)


def erase(session: Session, name: str | None) -> str:
    """`POST /admin/users/erasure`: replace a deleted user's identity with a neutral one."""
    user = _deleted_user(session, name)
    new_id = f"user-{secrets.token_hex(4)}"
    old_slug = user.slug
    user.name = user.name_lower = user.slug = user.display_name = new_id
    user.email = None
    user.password_hash = None
    _move_personal_project(session, user, old_slug)
    session.flush()
    return new_id


# ---- membership -------------------------------------------------------------------------------------

def _may_grant_group(session: Session, caller: User, group: Group) -> None:
    if gs.group_level(session, group.id) > gs.user_level(session, caller.id):
        raise Forbidden(f"You cannot change the members of the group {group.name} because it has a higher "
                        "permission level than you.")


def _names(value: object, context: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ValidationError(f"'{context}' must be a non-empty list of names.", context=context)
    return value


def add_user_to_groups(session: Session, caller: User, user_name: object, group_names: object) -> None:
    """`POST /admin/users/add-groups` (and the older `add-group`)."""
    user = users.require_named_user(session, _name(user_name, "user"))
    groups = [users.require_group(session, g) for g in _names(group_names, "groups")]
    for group in groups:
        _may_grant_group(session, caller, group)
        users.add_to_group(session, user, group)


def add_users_to_group(session: Session, caller: User, group_name: object, user_names: object) -> None:
    """`POST /admin/groups/add-users` (and the older `add-user`)."""
    group = users.require_group(session, _name(group_name, "group"))
    members = [users.require_named_user(session, u) for u in _names(user_names, "users")]
    _may_grant_group(session, caller, group)
    for user in members:
        users.add_to_group(session, user, group)


def remove_user_from_group(session: Session, caller: User, user_name: object, group_name: object) -> None:
    """`POST /admin/users/remove-group` and `/admin/groups/remove-user`."""
    user = users.require_named_user(session, _name(user_name, "user"))
    group = users.require_group(session, _name(group_name, "group"))
    _may_grant_group(session, caller, group)
    before = gs.user_level(session, caller.id)
    users.remove_from_group(session, user, group)
    gs.check_not_weakened(session, caller, before)


def delete_group(session: Session, caller: User, name: str | None) -> Group:
    """`DELETE /admin/groups`: the group, its memberships and every permission granted to it."""
    group = users.require_group(session, _name(name))
    if gs.group_level(session, group.id) > gs.user_level(session, caller.id):
        raise Forbidden(f"You cannot delete the group {group.name} because it has a higher permission level "
                        "than you.")
    before = gs.user_level(session, caller.id)
    for model in (GroupMember, GlobalPermission, ProjectPermission, RepoPermission):
        session.execute(delete(model).where(model.group_id == group.id))  # type: ignore[attr-defined]
    session.delete(group)
    gs.check_not_weakened(session, caller, before)
    return group

