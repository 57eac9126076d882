"""Who may do what: effective permission of a principal on the system, a project, a repository.

Global ADMIN and above can administer every project and repository; project permissions apply to
all repositories of the project; public projects and repositories are readable by anyone.
A personal (USER) access token narrows its owner's rights to the token's permissions. A PROJECT or
REPOSITORY token acts as its own bot user (type SERVICE, unlicensed) whose rights are exactly the
token's permissions on that project or repository, whatever else the bot might hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from culm.core.errors import AuthenticationRequired, PermissionDenied
from culm.domain.permissions import levels as L
from culm.domain.permissions.models import GlobalPermission, ProjectPermission, RepoPermission
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.domain.tokens.models import AccessToken
from culm.domain.users.models import User
from culm.domain.users.service import user_group_ids


@dataclass
class Principal:
    """Who is calling: a user (maybe through an access token), or anonymous."""

    user: User | None = None
    token: AccessToken | None = None
    _groups: list[int] | None = field(default=None, repr=False)
    _global: int | None = field(default=None, repr=False)

    @property
    def anonymous(self) -> bool:
        return self.user is None

    @property
    def is_bot(self) -> bool:
        """A project or repository token: rights come from the token alone."""
        return self.token is not None and self.token.scope in ("PROJECT", "REPOSITORY")

    def group_ids(self, session: Session) -> list[int]:
        if self._groups is None:
            self._groups = user_group_ids(session, self.user.id) if self.user else []
        return self._groups

    def _grantee_filter(self, session: Session, model: type) -> object:
        assert self.user is not None
        groups = self.group_ids(session)
        cond = model.user_id == self.user.id  # type: ignore[attr-defined]
        if groups:
            cond = or_(cond, model.group_id.in_(groups))  # type: ignore[attr-defined]
        return cond

    def global_level(self, session: Session) -> int:
        """The user's own global level, not narrowed by a token (tokens never act as admins)."""
        if self.user is None or self.is_bot:
            return L.NONE
        if self._global is None:
            names = session.scalars(
                select(GlobalPermission.permission).where(self._grantee_filter(session, GlobalPermission))
            )
            self._global = max((L.GLOBAL_LEVEL.get(n, 0) for n in names), default=L.NONE)
        return self._global

    def effective_global(self, session: Session) -> int:
        level = self.global_level(session)
        if self.token is not None:
            # Tokens cannot call admin endpoints or create projects (D-TOKEN).
            return min(level, L.G_LICENSED)
        return level

    # -- token narrowing ---------------------------------------------------------------------
    def _token_cap(self, project_id: int, repository_id: int | None) -> int:
        tok = self.token
        if tok is None:
            return L.ADMIN
        if tok.scope == "PROJECT" and tok.project_id != project_id:
            return L.NONE
        if tok.scope == "REPOSITORY" and tok.repository_id != repository_id:
            return L.NONE
        perms = tok.permissions.split()
        proj = max((L.PROJECT_LEVEL.get(p, 0) for p in perms), default=0)
        if repository_id is None:
            return proj
        repo = max((L.REPO_LEVEL.get(p, 0) for p in perms), default=0)
        return max(proj, repo)

    # -- resource levels ---------------------------------------------------------------------
    def project_level(self, session: Session, project: Project) -> int:
        """Own level on the project (READ/WRITE/ADMIN), ignoring public access."""
        if self.user is None:
            return L.NONE
        if self.is_bot:
            return self._token_cap(project.id, None)
        if self.global_level(session) < L.G_LICENSED:
            return L.NONE
        is_owner = project.type == "PERSONAL" and project.owner_id == self.user.id
        if self.global_level(session) >= L.G_ADMIN or is_owner:
            level = L.ADMIN
        else:
            names = session.scalars(
                select(ProjectPermission.permission).where(
                    ProjectPermission.project_id == project.id,
                    self._grantee_filter(session, ProjectPermission),
                )
            )
            level = max((L.PROJECT_LEVEL.get(n, 0) for n in names), default=L.NONE)
            if project.default_permission:
                level = max(level, L.PROJECT_LEVEL.get(project.default_permission, 0))
        return min(level, self._token_cap(project.id, None))

    def repo_level(self, session: Session, repo: Repository, project: Project | None = None) -> int:
        project = project or session.get(Project, repo.project_id)
        assert project is not None
        public = L.READ if (repo.public or project.public) else L.NONE
        if self.user is None:
            return public
        if self.is_bot:
            return max(self._token_cap(project.id, repo.id), public)
        if self.global_level(session) < L.G_LICENSED:
            return public
        cap = self._token_cap(project.id, repo.id)
        own = self.project_level(session, project) if self.token is None else self._project_level_raw(
            session, project
        )
        names = session.scalars(
            select(RepoPermission.permission).where(
                RepoPermission.repository_id == repo.id,
                self._grantee_filter(session, RepoPermission),
            )
        )
        own = max(own, max((L.REPO_LEVEL.get(n, 0) for n in names), default=L.NONE))
        return max(min(own, cap), public)

    def _project_level_raw(self, session: Session, project: Project) -> int:
        tok, self.token = self.token, None
        try:
            return self.project_level(session, project)
        finally:
            self.token = tok

    def can_view_project(self, session: Session, project: Project) -> bool:
        """PROJECT_VIEW: a project is visible if readable, public, or holding a readable repository."""
        if project.public or self.project_level(session, project) >= L.READ:
            return True
        from culm.domain.permissions import visibility

        found = session.scalar(
            select(Repository.id).join(Project, Project.id == Repository.project_id)
            .where(Repository.project_id == project.id, visibility.repo_condition(session, self, L.READ)).limit(1)
        )
        return found is not None


def deny(principal: Principal) -> Exception:
    """Anonymous callers are asked to log in; authenticated ones are refused (both 401 in Bitbucket)."""
    if principal.anonymous:
        return AuthenticationRequired("Authentication required.")
    return PermissionDenied("You are not permitted to access this resource")


def require_global(session: Session, principal: Principal, level: int) -> None:
    if principal.effective_global(session) < level:
        raise deny(principal)


def require_project(session: Session, principal: Principal, project: Project, level: int) -> None:
    have = principal.project_level(session, project)
    if level == L.READ and project.public:
        return
    if have < level:
        raise deny(principal)


def require_repo(session: Session, principal: Principal, repo: Repository, level: int) -> None:
    if principal.repo_level(session, repo) < level:
        raise deny(principal)
