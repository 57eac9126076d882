"""SQL conditions for "projects / repositories the caller can see at a level".

The same rules as `Principal.project_level` / `repo_level` (service.py), expressed as WHERE clauses so
that lists are filtered and paged in the database, never by loading every row into Python.
Queries using these conditions must select from (or join) `Project` and `Repository` as needed; the
subqueries correlate to them explicitly (auto-correlation stops at the nearest enclosing SELECT).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from culm.domain.permissions import levels as L
from culm.domain.permissions.models import ProjectPermission, RepoPermission
from culm.domain.permissions.service import Principal
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository


def _names_at_least(names: list[str], level: int) -> list[str]:
    return names[level - 1:]


def _grantee(who: Principal, session: Session, model: type) -> ColumnElement[bool]:
    assert who.user is not None
    cond = model.user_id == who.user.id  # type: ignore[attr-defined]
    groups = who.group_ids(session)
    if groups:
        cond = or_(cond, model.group_id.in_(groups))  # type: ignore[attr-defined]
    return cond


def _token_scope(who: Principal, with_repo: bool) -> tuple[ColumnElement[bool], int]:
    """The token's scope as a condition, and the highest level its permissions allow."""
    tok = who.token
    if tok is None:
        return true(), L.ADMIN
    perms = tok.permissions.split()
    cap = max((L.PROJECT_LEVEL.get(p, 0) for p in perms), default=0)
    if with_repo:
        cap = max(cap, max((L.REPO_LEVEL.get(p, 0) for p in perms), default=0))
    if tok.scope == "PROJECT":
        return Project.id == tok.project_id, cap
    if tok.scope == "REPOSITORY":
        return (Repository.id == tok.repository_id) if with_repo else false(), cap
    return true(), cap


def _own_project(session: Session, who: Principal, level: int) -> ColumnElement[bool]:
    """The caller's own (granted, inherited or owned) project level is at least `level`."""
    assert who.user is not None
    if who.global_level(session) >= L.G_ADMIN:
        return true()
    names = _names_at_least(L.PROJECT, level)
    return or_(
        and_(Project.type == "PERSONAL", Project.owner_id == who.user.id),
        Project.default_permission.in_(names),
        exists(select(ProjectPermission.id).where(
            ProjectPermission.project_id == Project.id,
            ProjectPermission.permission.in_(names),
            _grantee(who, session, ProjectPermission),
        ).correlate(Project)),
    )


def project_condition(session: Session, who: Principal, level: int) -> ColumnElement[bool]:
    """Projects on which the caller has at least `level` (public projects count for READ)."""
    public = Project.public.is_(True) if level <= L.READ else false()
    if who.is_bot:
        # A project or repository token's bot holds exactly the token's rights, within its scope.
        scope, cap = _token_scope(who, with_repo=False)
        return or_(public, scope) if cap >= level else public
    if who.user is None or who.global_level(session) < L.G_LICENSED:
        return public
    scope, cap = _token_scope(who, with_repo=False)
    if cap < level:
        return public
    return or_(public, and_(scope, _own_project(session, who, level)))


def repo_condition(session: Session, who: Principal, level: int, *, include_public: bool = True
                   ) -> ColumnElement[bool]:
    """Repositories on which the caller has at least `level`. The query must join Project.
    `include_public=False` drops the implicit read anyone has on public repositories (the global
    search with an explicit `permission=REPO_READ`)."""
    public = (or_(Repository.public.is_(True), Project.public.is_(True))
              if level <= L.READ and include_public else false())
    if who.is_bot:
        scope, cap = _token_scope(who, with_repo=True)
        return or_(public, scope) if cap >= level else public
    if who.user is None or who.global_level(session) < L.G_LICENSED:
        return public
    scope, cap = _token_scope(who, with_repo=True)
    if cap < level:
        return public
    own = or_(
        _own_project(session, who, level),
        exists(select(RepoPermission.id).where(
            RepoPermission.repository_id == Repository.id,
            RepoPermission.permission.in_(_names_at_least(L.REPO, level)),
            _grantee(who, session, RepoPermission),
        ).correlate(Repository)),
    )
    return or_(public, and_(scope, own))


def project_view_condition(session: Session, who: Principal) -> ColumnElement[bool]:
    """PROJECT_VIEW: readable or public projects, and projects holding a repository the caller can read."""
    readable_repo = exists(
        select(Repository.id).where(Repository.project_id == Project.id, repo_condition(session, who, L.READ))
        .correlate(Project)
    )
    return or_(project_condition(session, who, L.READ), readable_repo)
