"""Imports every domain model so the metadata (and Alembic) sees all tables."""

from culm.domain.base import Base
from culm.domain.events.models import ConsumerOffset, Event
from culm.domain.permissions.models import GlobalPermission, ProjectPermission, RepoPermission
from culm.domain.projects.models import Project
from culm.domain.pushes.models import Push, PushUpdate, RefSnapshot
from culm.domain.repos.models import Repository
from culm.domain.tokens.models import AccessToken
from culm.domain.users.models import Group, GroupMember, LoginFailure, User, UserSetting

__all__ = [
    "AccessToken",
    "Base",
    "ConsumerOffset",
    "Event",
    "GlobalPermission",
    "Group",
    "GroupMember",
    "LoginFailure",
    "Project",
    "Push",
    "PushUpdate",
    "RefSnapshot",
    "ProjectPermission",
    "RepoPermission",
    "Repository",
    "User",
    "UserSetting",
]
