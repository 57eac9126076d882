"""Default reviewer conditions and reviewer groups: validation, storage, and the reviewers a pull request gets.

A condition belongs to a project or to one repository; a repository sees its own conditions and its
project's. Reviewer groups work the same way. `default_reviewers` and `required_approvals` are what pull
request creation and the merge checks use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from culm.core.errors import DuplicateEntity, NotFound, ValidationError
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.domain.reviewers import matchers as M
from culm.domain.reviewers.models import (
    ReviewerCondition,
    ReviewerConditionGroup,
    ReviewerConditionUser,
    ReviewerGroup,
    ReviewerGroupUser,
)
from culm.domain.users.models import User

GROUP_NAME_MAX = 50


@dataclass(frozen=True)
class Scope:
    """A project (repo None) or one repository of it."""

    project: Project
    repo: Repository | None = None

    @property
    def type(self) -> str:
        return "PROJECT" if self.repo is None else "REPOSITORY"

    @property
    def resource_id(self) -> int:
        return self.project.id if self.repo is None else self.repo.id


@dataclass(frozen=True)
class Requirement:
    """One matching condition: `required` approvals are needed from `users`."""

    condition_id: int
    users: list[User]
    required: int


# -- shared validation -----------------------------------------------------------------------------
def _int_id(value: object) -> int | None:
    """An int32 from a number or a numeric string (Jackson's coercion); anything else (or wider) is None,
    so a huge id is a clean 404/400 rather than a database error."""
    n: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) < 12:
        n = int(value.strip())
    return n if n is not None and -(2**31) <= n < 2**31 else None


def _may_read(session: Session, user: User, scope: Scope) -> bool:
    assert scope.repo is not None
    return Principal(user=user).repo_level(session, scope.repo, scope.project) >= L.READ


def resolve_users(session: Session, items: object, context: str) -> list[User]:
    """User references (`{id}`, `{name}` or `{slug}`) → existing, non-deleted users, in order, no duplicates."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise ValidationError(f"{context} must be a list of users.", context)
    found: dict[int, User] = {}
    for item in items:
        user: User | None = None
        if isinstance(item, dict):
            uid = _int_id(item.get("id"))
            if uid is not None:
                user = session.get(User, uid)
            elif isinstance(item.get("name"), str):
                user = session.scalar(select(User).where(User.name_lower == item["name"].lower()))
            elif isinstance(item.get("slug"), str):
                user = session.scalar(select(User).where(User.slug == item["slug"]))
        if user is None or user.deleted:
            label = item.get("id", item.get("name", item.get("slug"))) if isinstance(item, dict) else item
            raise ValidationError(f"The user '{label}' does not exist.", context)
        found.setdefault(user.id, user)
    return list(found.values())


# -- matchers --------------------------------------------------------------------------------------
def parse_matcher(body: object, context: str) -> tuple[str, str]:
    """A RestRefMatcher from a request → (type, normalised id); 400 for anything Bitbucket would refuse."""
    if not isinstance(body, dict):
        raise ValidationError(f"{context} is required.", context)
    kind = body.get("type")
    type_id = kind.get("id") if isinstance(kind, dict) else None
    if not isinstance(type_id, str) or type_id.upper() not in M.TYPE_NAMES:
        raise ValidationError(f"{context} must have a type id, one of {', '.join(M.TYPE_NAMES)}.", context)
    type_id = type_id.upper()
    raw = body.get("id")
    if type_id == "ANY_REF":
        return type_id, M.ANY_REF_ID
    if not isinstance(raw, str) or not raw.strip() or "\x00" in raw or len(raw) > 1000:
        raise ValidationError(f"{context} must have an id.", context)
    raw = raw.strip()
    if type_id == "BRANCH":
        ref = M.full_branch(raw)
        if not ref.startswith(M.HEADS) or not _plausible_ref(ref):
            raise ValidationError(f"'{raw}' is not a valid branch name.", context)
        return type_id, ref
    if type_id == "PATTERN":
        return type_id, raw
    if type_id == "MODEL_BRANCH":
        if raw.lower() not in M.MODEL_BRANCHES:
            raise ValidationError(f"'{raw}' is not a branching model branch (development, production).", context)
        return type_id, raw.lower()
    if raw.upper() not in M.CATEGORY_PREFIXES:
        raise ValidationError(f"'{raw}' is not a branching model category ({', '.join(M.CATEGORY_PREFIXES)}).",
                              context)
    return type_id, raw.upper()


def _plausible_ref(ref: str) -> bool:
    """git's ref-name rules that matter for a stored matcher (no git call: nothing is written)."""
    bad = ("..", "@{", "//", "/.", ".lock/", " ", "~", "^", ":", "?", "*", "[", "\\")
    return not (any(b in ref for b in bad) or ref.endswith((".", "/", ".lock")) or
                any(ord(c) < 32 or ord(c) == 127 for c in ref) or "/-" in ref)


def matcher_json(kind: str, ident: str) -> dict[str, Any]:
    return {"id": ident, "displayId": M.display(kind, ident),
            "type": {"id": kind, "name": M.TYPE_NAMES.get(kind, kind)}}


# -- reviewer groups -------------------------------------------------------------------------------
def _group_scope_filter(scope: Scope, inherited: bool) -> Any:
    own = and_(ReviewerGroup.scope_type == scope.type, ReviewerGroup.scope_id == scope.resource_id)
    if inherited and scope.repo is not None:
        return or_(own, and_(ReviewerGroup.scope_type == "PROJECT", ReviewerGroup.scope_id == scope.project.id))
    return own


def groups_query(scope: Scope) -> Any:
    """Groups a scope sees (a repository also sees its project's), by name: for paging."""
    return select(ReviewerGroup).where(_group_scope_filter(scope, True)).order_by(
        ReviewerGroup.name_lower, ReviewerGroup.id)


def get_group(session: Session, scope: Scope, group_id: object, inherited: bool = True) -> ReviewerGroup:
    gid = _int_id(group_id)
    group = None
    if gid is not None:
        group = session.scalar(select(ReviewerGroup).where(ReviewerGroup.id == gid,
                                                           _group_scope_filter(scope, inherited)))
    if group is None:
        raise NotFound(f"Reviewer group {group_id} does not exist.")
    return group


def group_users(session: Session, group_ids: Iterable[int]) -> dict[int, list[User]]:
    """Members per group (deleted users left out), one query for all the groups."""
    ids = list(group_ids)
    out: dict[int, list[User]] = {g: [] for g in ids}
    if not ids:
        return out
    rows = session.execute(
        select(ReviewerGroupUser.group_id, User).join(User, User.id == ReviewerGroupUser.user_id)
        .where(ReviewerGroupUser.group_id.in_(ids), User.deleted.is_(False)).order_by(User.name_lower)
    )
    for gid, user in rows:
        out[gid].append(user)
    return out


def _group_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("A reviewer group name is required.", "name")
    name = value.strip()
    if len(name) > GROUP_NAME_MAX or "\x00" in name:
        raise ValidationError(f"The reviewer group name must be at most {GROUP_NAME_MAX} characters.", "name")
    return name


def _group_description(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or "\x00" in value or len(value) > 255:
        raise ValidationError("The description must be text of at most 255 characters.", "description")
    return value


def _check_group_name(session: Session, scope: Scope, name: str, exclude: int | None = None) -> None:
    stmt = select(ReviewerGroup.id).where(_group_scope_filter(scope, False), ReviewerGroup.name_lower == name.lower())
    if exclude is not None:
        stmt = stmt.where(ReviewerGroup.id != exclude)
    if session.scalar(stmt) is not None:
        raise DuplicateEntity(f"A reviewer group named '{name}' already exists.", "name")


def _set_group_users(session: Session, group: ReviewerGroup, users: list[User]) -> None:
    session.execute(delete(ReviewerGroupUser).where(ReviewerGroupUser.group_id == group.id))
    session.add_all(ReviewerGroupUser(group_id=group.id, user_id=u.id) for u in users)


def _flush_unique(session: Session, name: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise DuplicateEntity(f"A reviewer group named '{name}' already exists.", "name") from None


def create_group(session: Session, scope: Scope, body: dict[str, Any]) -> ReviewerGroup:
    name = _group_name(body.get("name"))
    description = _group_description(body.get("description"))
    users = resolve_users(session, body.get("users"), "users")
    _check_group_name(session, scope, name)
    group = ReviewerGroup(project_id=scope.project.id, repository_id=scope.repo.id if scope.repo else None,
                          scope_type=scope.type, scope_id=scope.resource_id, name=name, name_lower=name.lower(),
                          description=description)
    session.add(group)
    _flush_unique(session, name)
    _set_group_users(session, group, users)
    session.flush()
    return group


def update_group(session: Session, scope: Scope, group_id: object, body: dict[str, Any]) -> ReviewerGroup:
    group = get_group(session, scope, group_id, inherited=False)
    name = _group_name(body["name"]) if "name" in body else group.name
    description = _group_description(body["description"]) if "description" in body else group.description
    users = resolve_users(session, body["users"], "users") if body.get("users") is not None else None
    _check_group_name(session, scope, name, exclude=group.id)
    group.name, group.name_lower, group.description = name, name.lower(), description
    _flush_unique(session, name)
    if users is not None:
        _set_group_users(session, group, users)
    session.flush()
    return group


def delete_group(session: Session, scope: Scope, group_id: object) -> None:
    group = get_group(session, scope, group_id, inherited=False)
    session.execute(delete(ReviewerConditionGroup).where(ReviewerConditionGroup.group_id == group.id))
    session.execute(delete(ReviewerGroupUser).where(ReviewerGroupUser.group_id == group.id))
    session.delete(group)
    session.flush()


# -- conditions ------------------------------------------------------------------------------------
def _condition_scope_filter(scope: Scope, inherited: bool) -> Any:
    if scope.repo is None:
        return and_(ReviewerCondition.project_id == scope.project.id, ReviewerCondition.repository_id.is_(None))
    own = ReviewerCondition.repository_id == scope.repo.id
    if inherited:
        return or_(own, and_(ReviewerCondition.project_id == scope.project.id,
                             ReviewerCondition.repository_id.is_(None)))
    return own


def list_conditions(session: Session, scope: Scope) -> list[ReviewerCondition]:
    """A repository's conditions include its project's (listed first), as Bitbucket does."""
    return list(session.scalars(
        select(ReviewerCondition).where(_condition_scope_filter(scope, True))
        .order_by(ReviewerCondition.repository_id.is_not(None), ReviewerCondition.id)
    ))


def get_condition(session: Session, scope: Scope, condition_id: object, inherited: bool = False) -> ReviewerCondition:
    cid = _int_id(condition_id)
    cond = session.scalar(select(ReviewerCondition).where(
        ReviewerCondition.id == cid, _condition_scope_filter(scope, inherited))) if cid is not None else None
    if cond is None:
        raise NotFound(f"No default reviewer condition with ID {condition_id} exists.")
    return cond


def condition_users(session: Session, ids: Iterable[int]) -> dict[int, list[User]]:
    """Explicit reviewers per condition (deleted users left out), one query."""
    ids = list(ids)
    out: dict[int, list[User]] = {c: [] for c in ids}
    if ids:
        rows = session.execute(
            select(ReviewerConditionUser.condition_id, User).join(User, User.id == ReviewerConditionUser.user_id)
            .where(ReviewerConditionUser.condition_id.in_(ids), User.deleted.is_(False)).order_by(User.name_lower)
        )
        for cid, user in rows:
            out[cid].append(user)
    return out


def condition_groups(session: Session, ids: Iterable[int]) -> dict[int, list[ReviewerGroup]]:
    ids = list(ids)
    out: dict[int, list[ReviewerGroup]] = {c: [] for c in ids}
    if ids:
        rows = session.execute(
            select(ReviewerConditionGroup.condition_id, ReviewerGroup)
            .join(ReviewerGroup, ReviewerGroup.id == ReviewerConditionGroup.group_id)
            .where(ReviewerConditionGroup.condition_id.in_(ids)).order_by(ReviewerGroup.name_lower)
        )
        for cid, group in rows:
            out[cid].append(group)
    return out


def _required(value: object) -> int:
    if value is None:
        return 0
    n = _int_id(value)
    if n is None:
        raise ValidationError("requiredApprovals must be a whole number.", "requiredApprovals")
    return n


def _condition_fields(session: Session, scope: Scope, body: dict[str, Any]) -> dict[str, Any]:
    source = parse_matcher(body.get("sourceMatcher"), "sourceMatcher")
    target = parse_matcher(body.get("targetMatcher"), "targetMatcher")
    users = resolve_users(session, body.get("reviewers"), "reviewers")
    raw_groups = body.get("reviewerGroups")
    if raw_groups is not None and not isinstance(raw_groups, list):
        raise ValidationError("reviewerGroups must be a list of reviewer groups.", "reviewerGroups")
    groups: dict[int, ReviewerGroup] = {}
    for item in raw_groups or []:
        gid = item.get("id") if isinstance(item, dict) else None
        try:
            group = get_group(session, scope, gid)
        except NotFound:
            raise ValidationError(f"The reviewer group '{gid}' does not exist.", "reviewerGroups") from None
        groups[group.id] = group
    for user in users:  # project conditions may name users who only read some repositories: filtered later
        if scope.repo is not None and not _may_read(session, user, scope):
            raise ValidationError(f"The user '{user.name}' does not have permission to view the repository.",
                                  "reviewers")
    if not users and not groups:
        raise ValidationError("At least one reviewer or reviewer group is required.", "reviewers")
    pool = {u.id for u in users} | {u.id for us in group_users(session, groups).values() for u in us}
    required = _required(body.get("requiredApprovals"))
    if required < 0 or required > len(pool):
        raise ValidationError(f"The number of required approvals must be between 0 and the number of "
                              f"reviewers ({len(pool)}).", "requiredApprovals")
    return {"source": source, "target": target, "users": users, "groups": list(groups.values()),
            "required": required}


def _store(session: Session, cond: ReviewerCondition, fields: dict[str, Any]) -> ReviewerCondition:
    cond.source_type, cond.source_id = fields["source"]
    cond.target_type, cond.target_id = fields["target"]
    cond.required_approvals = fields["required"]
    session.flush()
    session.execute(delete(ReviewerConditionUser).where(ReviewerConditionUser.condition_id == cond.id))
    session.execute(delete(ReviewerConditionGroup).where(ReviewerConditionGroup.condition_id == cond.id))
    session.add_all(ReviewerConditionUser(condition_id=cond.id, user_id=u.id) for u in fields["users"])
    session.add_all(ReviewerConditionGroup(condition_id=cond.id, group_id=g.id) for g in fields["groups"])
    session.flush()
    return cond


def create_condition(session: Session, scope: Scope, body: dict[str, Any]) -> ReviewerCondition:
    fields = _condition_fields(session, scope, body)
    cond = ReviewerCondition(project_id=scope.project.id, repository_id=scope.repo.id if scope.repo else None)
    session.add(cond)
    return _store(session, cond, fields)


def update_condition(session: Session, scope: Scope, condition_id: object, body: dict[str, Any]) -> ReviewerCondition:
    cond = get_condition(session, scope, condition_id)
    return _store(session, cond, _condition_fields(session, scope, body))


def delete_condition(session: Session, scope: Scope, condition_id: object) -> None:
    cond = get_condition(session, scope, condition_id)
    session.execute(delete(ReviewerConditionUser).where(ReviewerConditionUser.condition_id == cond.id))
    session.execute(delete(ReviewerConditionGroup).where(ReviewerConditionGroup.condition_id == cond.id))
    session.delete(cond)
    session.flush()


# -- what a pull request gets ----------------------------------------------------------------------
def required_approvals(session: Session, target_repo: Repository, source_ref: str,
                       target_ref: str) -> list[Requirement]:
    """Every condition of the target repository (and its project) matching the refs, with its reviewers:
    active, non-deleted users who can read the target repository."""
    project = session.get(Project, target_repo.project_id)
    assert project is not None
    source, target = M.full_branch(source_ref), M.full_branch(target_ref)
    default = target_repo.default_branch
    conds = [c for c in list_conditions(session, Scope(project, target_repo))
             if M.matches(c.source_type, c.source_id, source, default)
             and M.matches(c.target_type, c.target_id, target, default)]
    explicit = condition_users(session, [c.id for c in conds])
    groups = condition_groups(session, [c.id for c in conds])
    members = group_users(session, {g.id for gs in groups.values() for g in gs})
    scope = Scope(project, target_repo)
    readable: dict[int, bool] = {}
    out = []
    for cond in conds:
        pool: dict[int, User] = {u.id: u for u in explicit[cond.id]}
        for group in groups[cond.id]:
            pool.update((u.id, u) for u in members[group.id])
        users = []
        for user in pool.values():
            if user.id not in readable:
                readable[user.id] = user.active and not user.deleted and _may_read(session, user, scope)
            if readable[user.id]:
                users.append(user)
        out.append(Requirement(cond.id, users, min(cond.required_approvals, len(users))))
    return out


def default_reviewers(session: Session, target_repo: Repository, source_ref: str, target_ref: str) -> list[User]:
    """The union of the reviewers of every matching condition, by name."""
    found: dict[int, User] = {}
    for req in required_approvals(session, target_repo, source_ref, target_ref):
        for user in req.users:
            found.setdefault(user.id, user)
    return sorted(found.values(), key=lambda u: u.name_lower)
