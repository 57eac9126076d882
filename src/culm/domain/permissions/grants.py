"""Granting and revoking project and repository permissions, and the default (all-users) project permission.

One row per grantee and resource: a grant replaces whatever the grantee had. A caller may not lower their
own level through these calls (Bitbucket's lock-out rule): the change is applied, the caller's level is
recomputed, and a drop raises, which rolls the whole transaction back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Select, delete, exists, or_, select
from sqlalchemy.orm import Session

from culm.core.errors import CulmError, ValidationError
from culm.domain.permissions import levels as L
from culm.domain.permissions.models import GlobalPermission, ProjectPermission, RepoPermission
from culm.domain.permissions.service import Principal
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.domain.users import service as users
from culm.domain.users.models import Group, GroupMember, User


class WouldLowerOwnPermission(CulmError):
    """PUT answers 403 (spec); DELETE answers 409 (spec), see `LowerOwnPermissionConflict`."""

    status = 403
    exception_name = "com.atlassian.bitbucket.AuthorisationException"


class LowerOwnPermissionConflict(CulmError):
    status = 409
    exception_name = "com.atlassian.bitbucket.IntegrityException"


def validate(permission: str | None, allowed: list[str]) -> str:
    if not permission or permission not in allowed:
        raise ValidationError(
            f"The permission '{permission or ''}' is not valid here. Valid values are {', '.join(allowed)}.",
            context="permission")
    return permission


def _names(names: Sequence[str], what: str) -> list[str]:
    cleaned = [n for n in names if n and n.strip()]
    if not cleaned:
        raise ValidationError(f"At least one {what} name is required.", context="name")
    return cleaned


def _grantee_ids(session: Session, names: Sequence[str], group: bool) -> list[int]:
    """Resolve every name first, so an unknown one (404) changes nothing."""
    if group:
        return [users.require_group(session, n).id for n in names]
    return [users.require_user(session, n).id for n in names]


def _guard(level_of: Callable[[], int], before: int, conflict: bool) -> None:
    after = level_of()
    if after < before:
        message = "You cannot modify your own permissions in a way that would reduce your permission level."
        raise (LowerOwnPermissionConflict if conflict else WouldLowerOwnPermission)(message)


# -- projects ---------------------------------------------------------------------------------
def _replace_grants(session: Session, model: type, scope: tuple[str, int], ids: list[int], permission: str,
                    group: bool) -> None:
    """Each named grantee ends up with exactly `permission` on the project or repository `scope` names."""
    col = model.group_id if group else model.user_id  # type: ignore[attr-defined]
    session.execute(delete(model).where(getattr(model, scope[0]) == scope[1], col.in_(ids)))
    for gid in ids:
        grantee = {"group_id": gid} if group else {"user_id": gid}
        session.add(model(permission=permission, **{scope[0]: scope[1]}, **grantee))
    session.flush()


def _revoke_grants(session: Session, model: type, scope: tuple[str, int], users_: Sequence[str],
                   groups: Sequence[str]) -> None:
    user_ids = _grantee_ids(session, users_, False)
    group_ids = _grantee_ids(session, groups, True)
    session.execute(delete(model).where(
        getattr(model, scope[0]) == scope[1],
        or_(model.user_id.in_(user_ids), model.group_id.in_(group_ids)),  # type: ignore[attr-defined]
    ))
    session.flush()


def set_project(session: Session, who: Principal, project: Project, names: Sequence[str], permission: str | None,
                *, group: bool) -> None:
    permission = validate(permission, L.PROJECT)
    ids = _grantee_ids(session, _names(names, "group" if group else "user"), group)
    before = who.project_level(session, project)
    _replace_grants(session, ProjectPermission, ("project_id", project.id), ids, permission, group)
    _guard(lambda: who.project_level(session, project), before, conflict=False)


def revoke_project(session: Session, who: Principal, project: Project, users_: Sequence[str],
                   groups: Sequence[str]) -> None:
    before = who.project_level(session, project)
    _revoke_grants(session, ProjectPermission, ("project_id", project.id), users_, groups)
    _guard(lambda: who.project_level(session, project), before, conflict=True)


def set_default(session: Session, who: Principal, project: Project, permission: str | None, allow: bool) -> None:
    """Grant or revoke `permission` for every licensed user (the project's default permission)."""
    permission = validate(permission, L.PROJECT)
    before = who.project_level(session, project)
    current = L.PROJECT_LEVEL.get(project.default_permission or "", 0)
    if allow:
        project.default_permission = permission
    elif current >= L.PROJECT_LEVEL[permission]:
        lower = L.PROJECT_LEVEL[permission] - 1
        project.default_permission = L.PROJECT[lower - 1] if lower > 0 else None
    session.flush()
    _guard(lambda: who.project_level(session, project), before, conflict=False)


def has_default(project: Project, permission: str | None) -> bool:
    permission = validate(permission, L.PROJECT)
    return L.PROJECT_LEVEL.get(project.default_permission or "", 0) >= L.PROJECT_LEVEL[permission]


# -- repositories -----------------------------------------------------------------------------
def set_repo(session: Session, who: Principal, repo: Repository, names: Sequence[str], permission: str | None,
             *, group: bool) -> None:
    permission = validate(permission, L.REPO)
    ids = _grantee_ids(session, _names(names, "group" if group else "user"), group)
    before = who.repo_level(session, repo)
    _replace_grants(session, RepoPermission, ("repository_id", repo.id), ids, permission, group)
    _guard(lambda: who.repo_level(session, repo), before, conflict=False)


def revoke_repo(session: Session, who: Principal, repo: Repository, users_: Sequence[str],
                groups: Sequence[str]) -> None:
    before = who.repo_level(session, repo)
    _revoke_grants(session, RepoPermission, ("repository_id", repo.id), users_, groups)
    _guard(lambda: who.repo_level(session, repo), before, conflict=True)


# -- listing (paged by the caller with page_query) ----------------------------------------------
def granted_users(model: type, owner_col: object, owner_id: int, text: str | None) -> Select:
    stmt = (select(User, model.permission)  # type: ignore[attr-defined]
            .join(model, model.user_id == User.id)  # type: ignore[attr-defined]
            .where(owner_col == owner_id, User.deleted.is_(False)))  # type: ignore[operator]
    if text:
        stmt = stmt.where(User.name_lower.contains(text.lower()))
    return stmt.order_by(User.name_lower, User.id)


def granted_groups(model: type, owner_col: object, owner_id: int, text: str | None) -> Select:
    stmt = (select(Group, model.permission)  # type: ignore[attr-defined]
            .join(model, model.group_id == Group.id)  # type: ignore[attr-defined]
            .where(owner_col == owner_id))  # type: ignore[operator]
    if text:
        stmt = stmt.where(Group.name_lower.contains(text.lower()))
    return stmt.order_by(Group.name_lower, Group.id)


def licensed_users_without(model: type, owner_col: object, owner_id: int, text: str | None) -> Select:
    """Licensed users (directly or through a group) holding no grant on the resource."""
    licensed = or_(
        exists(select(GlobalPermission.id).where(GlobalPermission.user_id == User.id)),
        exists(select(GlobalPermission.id).join(GroupMember, GroupMember.group_id == GlobalPermission.group_id)
               .where(GroupMember.user_id == User.id)),
    )
    granted = exists(select(model.id).where(owner_col == owner_id, model.user_id == User.id))  # type: ignore
    stmt = select(User).where(User.deleted.is_(False), licensed, ~granted)
    if text:
        stmt = stmt.where(User.name_lower.contains(text.lower()))
    return stmt.order_by(User.name_lower, User.id)


def groups_without(model: type, owner_col: object, owner_id: int, text: str | None) -> Select:
    granted = exists(select(model.id).where(owner_col == owner_id, model.group_id == Group.id))  # type: ignore
    stmt = select(Group).where(~granted)
    if text:
        stmt = stmt.where(Group.name_lower.contains(text.lower()))
    return stmt.order_by(Group.name_lower, Group.id)


def search(owner_model: type, owner_col: object, owner_id: int, permissions: Sequence[str], text: str | None,
           kind: str | None) -> Select:
    """Direct grants on the resource plus global grants, as rows (type, name, id, permission), one
    UNION query so it pages in the database. Used by `.../permissions/search`."""
    from sqlalchemy import literal, union_all

    parts = []
    for model, own in ((owner_model, True), (GlobalPermission, False)):
        for entity, col, label in ((User, model.user_id, "USER"), (Group, model.group_id, "GROUP")):  # type: ignore
            if kind and kind != label:
                continue
            stmt = (select(literal(label).label("type"), entity.name_lower.label("sort"), entity.id.label("eid"),
                           model.permission.label("permission"))  # type: ignore[attr-defined]
                    .join(model, col == entity.id))
            if own:
                stmt = stmt.where(owner_col == owner_id)  # type: ignore[operator]
            if entity is User:
                stmt = stmt.where(User.deleted.is_(False))
            if permissions:
                stmt = stmt.where(model.permission.in_(list(permissions)))  # type: ignore[attr-defined]
            if text:
                stmt = stmt.where(entity.name_lower.contains(text.lower()))
            parts.append(stmt)
    if not parts:
        return select(literal("USER").label("type")).where(literal(False))
    both = union_all(*parts).subquery()
    return select(both.c.type, both.c.eid, both.c.permission).order_by(both.c.type.desc(), both.c.sort,
                                                                        both.c.permission)
