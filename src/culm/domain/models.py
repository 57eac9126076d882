"""Imports every domain model so the metadata (and Alembic) sees all tables."""

from culm.domain.automerge.models import AutoMergeRequest
from culm.domain.avatars.models import Avatar
from culm.domain.bamboo.models import (
    BambooAgent,
    BambooArtifact,
    BambooFavourite,
    BambooJobResult,
    BambooPlan,
    BambooProject,
    BambooResult,
    BambooResultComment,
    BambooStageResult,
    BambooTestResult,
    BambooVariable,
)
from culm.domain.bamboo.trigger_models import BambooRepoSpecs, BambooTriggerFire
from culm.domain.base import Base
from culm.domain.builds.models import BuildStatus, Deployment, RequiredBuildCondition
from culm.domain.comments.models import Comment
from culm.domain.comments.models import Reaction as CommentReaction
from culm.domain.events.models import ConsumerOffset, Event
from culm.domain.insights.models import InsightAnnotation, InsightReport
from culm.domain.mergechecks.models import MergeResult as PullRequestMergeResult
from culm.domain.merging.models import MergeConfig, RepoPullRequestSettings
from culm.domain.permissions.models import GlobalPermission, ProjectPermission, RepoPermission
from culm.domain.projects.models import Project
from culm.domain.pullrequests.models import Activity as PullRequestActivity
from culm.domain.pullrequests.models import Counter as PullRequestCounter
from culm.domain.pullrequests.models import Participant as PullRequestParticipant
from culm.domain.pullrequests.models import PullRequest
from culm.domain.pullrequests.models import Watcher as PullRequestWatcher
from culm.domain.pushes.models import Push, PushUpdate, RefSnapshot
from culm.domain.recent.models import RecentRepository
from culm.domain.repos.models import Repository
from culm.domain.reviewers.models import (
    ReviewerCondition,
    ReviewerConditionGroup,
    ReviewerConditionUser,
    ReviewerGroup,
    ReviewerGroupUser,
)
from culm.domain.settings.models import SystemSetting
from culm.domain.tokens.models import AccessToken
from culm.domain.users.models import Group, GroupMember, LoginFailure, User, UserSetting

__all__ = [
    "AutoMergeRequest",
    "AccessToken",
    "Avatar",
    "BambooAgent",
    "BambooArtifact",
    "BambooFavourite",
    "BambooJobResult",
    "BambooPlan",
    "BambooProject",
    "BambooResult",
    "BambooRepoSpecs",
    "BambooResultComment",
    "BambooStageResult",
    "BambooTestResult",
    "BambooTriggerFire",
    "BambooVariable",
    "Base",
    "BuildStatus",
    "Comment",
    "CommentReaction",
    "Deployment",
    "ConsumerOffset",
    "Event",
    "GlobalPermission",
    "Group",
    "GroupMember",
    "InsightAnnotation",
    "InsightReport",
    "LoginFailure",
    "MergeConfig",
    "Project",
    "PullRequest",
    "PullRequestMergeResult",
    "PullRequestActivity",
    "PullRequestCounter",
    "PullRequestParticipant",
    "PullRequestWatcher",
    "Push",
    "PushUpdate",
    "RecentRepository",
    "RepoPullRequestSettings",
    "RefSnapshot",
    "RequiredBuildCondition",
    "ProjectPermission",
    "RepoPermission",
    "Repository",
    "ReviewerCondition",
    "ReviewerConditionGroup",
    "ReviewerConditionUser",
    "ReviewerGroup",
    "ReviewerGroupUser",
    "SystemSetting",
    "User",
    "UserSetting",
]
