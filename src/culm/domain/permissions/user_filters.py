"""The `permission`/`permission.N` filters of `GET /users`, as SQL conditions on `User`.

A filter names a global, project or repository permission; project and repository filters say which
resource with `[root].projectKey`/`projectId` and `[root].repositorySlug`/`repositoryId`. Every
filter must hold (they are ANDed), and each is evaluated in the database so the list pages there.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import Session

from culm.core.errors import NoSuchProject, NoSuchRepository, ValidationError
from culm.domain.permissions import levels as L
from culm.domain.permissions.global_service import holders_at_least
from culm.domain.permissions.models import ProjectPermission, RepoPermission
from culm.domain.projects import service as projects
from culm.domain.projects.models import Project
from culm.domain.repos import service as repos
from culm.domain.repos.models import Repository
from culm.domain.users.models import GroupMember, User

MAX_FILTERS = 50


def _granted(model: type, column: object, resource_id: int, names: list[str]) -> ColumnElement[bool]:
    direct = select(model.user_id).where(  # type: ignore[attr-defined]
        column == resource_id, model.permission.in_(names), model.user_id.is_not(None))  # type: ignore[attr-defined]
    via_group = select(GroupMember.user_id).join(model, model.group_id == GroupMember.group_id).where(  # type: ignore[attr-defined]
        column == resource_id, model.permission.in_(names))  # type: ignore[attr-defined]
    return or_(User.id.in_(direct), User.id.in_(via_group))


def _project_condition(project: Project, level: int) -> ColumnElement[bool]:
    if project.default_permission and L.PROJECT_LEVEL.get(project.default_permission, 0) >= level:
        return true()
    names = [n for n, lv in L.PROJECT_LEVEL.items() if lv >= level]
    cond = or_(holders_at_least(L.G_ADMIN), _granted(ProjectPermission, ProjectPermission.project_id, project.id,
                                                       names))
    if project.type == "PERSONAL" and project.owner_id is not None:
        cond = or_(cond, User.id == project.owner_id)
    return cond


def _repo_condition(project: Project, repo: Repository, level: int) -> ColumnElement[bool]:
    if level == L.READ and (repo.public or project.public):
        return true()
    names = [n for n, lv in L.REPO_LEVEL.items() if lv >= level]
    return or_(_project_condition(project, level),
               _granted(RepoPermission, RepoPermission.repository_id, repo.id, names))


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValidationError(f"'{name}' must be an integer.", context=name) from None


def _project(session: Session, root: str, params: Mapping[str, str]) -> Project:
    if params.get(f"{root}.projectId"):
        project = session.get(Project, _int(params[f"{root}.projectId"], f"{root}.projectId"))
        if project is None:
            raise NoSuchProject(f"Project {params[f'{root}.projectId']} does not exist.")
        return project
    if params.get(f"{root}.projectKey"):
        return projects.require(session, params[f"{root}.projectKey"])
    raise ValidationError(f"The permission filter '{root}' needs {root}.projectKey or {root}.projectId.",
                          context=root)


def _repo(session: Session, root: str, params: Mapping[str, str]) -> tuple[Project, Repository]:
    if params.get(f"{root}.repositoryId"):
        repo = session.get(Repository, _int(params[f"{root}.repositoryId"], f"{root}.repositoryId"))
        if repo is None:
            raise NoSuchRepository(f"Repository {params[f'{root}.repositoryId']} does not exist.")
        project = session.get(Project, repo.project_id)
        assert project is not None
        return project, repo
    if params.get(f"{root}.projectKey") and params.get(f"{root}.repositorySlug"):
        return repos.require(session, params[f"{root}.projectKey"], params[f"{root}.repositorySlug"])
    raise ValidationError(f"The permission filter '{root}' needs {root}.repositoryId, or {root}.projectKey and "
                          f"{root}.repositorySlug.", context=root)


def one_filter(session: Session, root: str, params: Mapping[str, str]) -> ColumnElement[bool]:
    permission = params[root]
    licensed = holders_at_least(L.G_LICENSED)
    if permission in L.GLOBAL_LEVEL:
        return holders_at_least(L.GLOBAL_LEVEL[permission])
    if permission in L.PROJECT_LEVEL or permission == L.PROJECT_VIEW:
        level = L.PROJECT_LEVEL.get(permission, L.READ)
        return and_(licensed, _project_condition(_project(session, root, params), level))
    if permission in L.REPO_LEVEL:
        project, repo = _repo(session, root, params)
        return and_(licensed, _repo_condition(project, repo, L.REPO_LEVEL[permission]))
    raise ValidationError(f"'{permission}' is not a valid permission.", context=root)


def permission_filters(session: Session, params: Mapping[str, str]) -> list[ColumnElement[bool]]:
    """Conditions for `permission` and `permission.1`, `permission.2`, ... (numbering must be continuous)."""
    for key, value in params.items():
        if key.startswith("permission") and "\x00" in value:
            raise ValidationError(f"'{key}' contains a NUL character.", context=key)
    roots = ["permission"] if params.get("permission") else []
    n = 1
    while params.get(f"permission.{n}") and len(roots) < MAX_FILTERS:
        roots.append(f"permission.{n}")
        n += 1
    return [one_filter(session, root, params) for root in roots]
