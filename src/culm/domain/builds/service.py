"""Build statuses (legacy commit-only and repository-scoped) and deployments: validation, storage with
replacement by key, the ordered lists, the per-commit statistics.

Bitbucket keeps one status per (commit, key): a later post with the same key replaces the earlier one.
Legacy statuses (`/rest/build-status`) are tied to the commit only (`repository_id` null); the legacy
reads and statistics see every status on the commit, whatever API stored it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from culm.core.errors import Conflict, NoSuchCommit, NotFound, ValidationError
from culm.core.paging import PageRequest, page_envelope
from culm.domain.base import now_ms
from culm.domain.builds.models import BuildStatus, Deployment
from culm.domain.repos.models import Repository
from culm.git.refwrite import valid_ref_name
from culm.git.revisions import find_commit, open_repo

STATES = ("SUCCESSFUL", "FAILED", "INPROGRESS", "CANCELLED", "UNKNOWN")
DEPLOYMENT_STATES = ("PENDING", "IN_PROGRESS", "CANCELLED", "FAILED", "ROLLED_BACK", "SUCCESSFUL", "UNKNOWN")
ENVIRONMENT_TYPES = ("DEVELOPMENT", "TESTING", "STAGING", "PRODUCTION")
ORDERS = ("NEWEST", "OLDEST", "STATUS")
LEGACY_WINDOW = 100  # the legacy list shows the most recent 100 statuses of a commit
MAX_COMMITS = 100  # commits per multi-commit statistics request
FULL_ID = re.compile(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")
INT32 = 2**31 - 1
INT64 = 2**63 - 1


class NoSuchBuildStatus(NotFound):
    exception_name = "com.atlassian.bitbucket.build.NoSuchBuildStatusException"


class NoSuchDeployment(NotFound):
    exception_name = "com.atlassian.bitbucket.deployment.NoSuchDeploymentException"


# -- validation -----------------------------------------------------------------------------------
def commit_id(value: str) -> str:
    """A full commit hash (40 hex, or 64 for SHA-256 repositories), lower-cased; else 400."""
    if not isinstance(value, str) or not FULL_ID.match(value):
        raise ValidationError(f"'{value}' is not a valid commit ID; the full 40-character hash is required.",
                              context="commitId")
    return value.lower()


def _text(body: dict[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise ValidationError(f"The {name} is required and must not be blank.", context=name)
        return None
    if not isinstance(value, str):
        raise ValidationError(f"'{name}' must be a string.", context=name)
    if required and not value.strip():
        raise ValidationError(f"The {name} is required and must not be blank.", context=name)
    if "\x00" in value:
        raise ValidationError(f"'{name}' must not contain NUL characters.", context=name)
    if len(value) > limit:
        raise ValidationError(f"The {name} must be {limit} characters or fewer.", context=name)
    return value


def _int(value: object, name: str, limit: int = INT64) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(f"'{name}' must be a non-negative integer.", context=name)
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(f"'{name}' must be a non-negative integer.", context=name) from None
    if number < 0 or number > limit:
        raise ValidationError(f"'{name}' must be a non-negative integer.", context=name)
    return number


def _enum(value: object, name: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(f"The {name} is required.", context=name)
    if not isinstance(value, str) or value.upper() not in allowed:
        raise ValidationError(f"'{value}' is not a valid {name}; use one of {', '.join(allowed)}.", context=name)
    return value.upper()


@dataclass(frozen=True)
class StatusInput:
    key: str
    state: str
    url: str
    name: str | None = None
    description: str | None = None
    build_number: str | None = None
    parent: str | None = None
    ref: str | None = None
    duration: int | None = None
    last_updated: int | None = None
    tests: tuple[int, int, int] | None = None


def parse_status(body: dict[str, Any], legacy: bool) -> StatusInput:
    """RestBuildStatus (legacy) or RestBuildStatusSetRequest, validated; 400 names the first bad field."""
    key = _text(body, "key", 255, required=True)
    state = _enum(body.get("state"), "state", STATES)
    url = _text(body, "url", 450, required=True)
    name = _text(body, "name", 255)
    description = _text(body, "description", 255 if legacy else 65536)
    if legacy:
        return StatusInput(key=key or "", state=state, url=url or "", name=name, description=description)
    ref = _text(body, "ref", 1024)
    if ref is not None and not valid_ref_name(ref):
        raise ValidationError(f"'{ref}' is not a valid ref; a fully qualified ref such as refs/heads/main "
                              "is required.", context="ref")
    tests = body.get("testResults")
    counts: tuple[int, int, int] | None = None
    if tests is not None:
        if not isinstance(tests, dict):
            raise ValidationError("'testResults' must be an object.", context="testResults")
        counts = tuple(_int(tests.get(k), f"testResults.{k}", INT32) or 0  # type: ignore[assignment]
                       for k in ("successful", "failed", "skipped"))
    return StatusInput(
        key=key or "", state=state, url=url or "", name=name, description=description,
        build_number=_text(body, "buildNumber", 255), parent=_text(body, "parent", 1024), ref=ref,
        duration=_int(body.get("duration"), "duration"), last_updated=_int(body.get("lastUpdated"), "lastUpdated"),
        tests=counts)


def require_commit(repo: Repository, cid: str) -> str:
    """The full id of a commit that exists in `repo`, else Bitbucket's 404."""
    cid = commit_id(cid)
    commit = find_commit(open_repo(repo.id), cid)
    if commit is None or str(commit.id) != cid:
        raise NoSuchCommit(f"Commit '{cid}' does not exist in repository '{repo.name}'.", context="commitId")
    return cid


# -- build statuses ---------------------------------------------------------------------------------
def store(session: Session, repository_id: int | None, cid: str, data: StatusInput) -> BuildStatus:
    """Add a status, or replace the one with the same key on this commit (and repository)."""
    scope = (BuildStatus.repository_id.is_(None) if repository_id is None
             else BuildStatus.repository_id == repository_id)
    find = select(BuildStatus).where(BuildStatus.commit_id == cid, BuildStatus.key == data.key, scope).limit(1)
    row = session.scalars(find).first()
    now = now_ms()
    if row is None:
        # A concurrent post of the same key may insert first: the unique constraint refuses ours, and we
        # update theirs instead (the constraint cannot cover legacy rows: their repository is NULL).
        try:
            with session.begin_nested():
                row = BuildStatus(repository_id=repository_id, commit_id=cid, key=data.key, created_date=now,
                                  state=data.state, url=data.url, updated_date=now)
                session.add(row)
        except IntegrityError:
            row = session.scalars(find).one()
    row.state, row.url, row.name, row.description = data.state, data.url, data.name, data.description
    row.build_number, row.parent, row.ref, row.duration = data.build_number, data.parent, data.ref, data.duration
    row.tests_successful, row.tests_failed, row.tests_skipped = data.tests or (None, None, None)
    row.updated_date = data.last_updated if data.last_updated is not None else now
    session.flush()
    return row


def get(session: Session, repo: Repository, cid: str, key: str | None) -> BuildStatus:
    if not key:
        raise ValidationError("The key query parameter is required.", context="key")
    row = session.scalars(select(BuildStatus).where(BuildStatus.repository_id == repo.id,
                                                    BuildStatus.commit_id == cid, BuildStatus.key == key)).first()
    if row is None:
        raise NoSuchBuildStatus(f"No build status with key '{key}' exists for commit '{cid}'.", context="key")
    return row


def remove(session: Session, repo: Repository, cid: str, key: str | None) -> None:
    if not key:
        raise ValidationError("The key query parameter is required.", context="key")
    session.execute(delete(BuildStatus).where(BuildStatus.repository_id == repo.id, BuildStatus.commit_id == cid,
                                              BuildStatus.key == key))


_STATE_RANK = case({"FAILED": 0, "INPROGRESS": 1, "CANCELLED": 2, "UNKNOWN": 3, "SUCCESSFUL": 4},
                   value=BuildStatus.state, else_=5)


def legacy_page(session: Session, cid: str, req: PageRequest, order_by: str | None) -> dict[str, Any]:
    """A page of the commit's statuses (the most recent 100 at most), ordered NEWEST (default), OLDEST
    or STATUS (failed first, then in progress, cancelled, unknown, successful; newest first within)."""
    order = (order_by or "NEWEST").upper()
    if order not in ORDERS:
        raise ValidationError(f"'{order_by}' is not a valid orderBy; use one of {', '.join(ORDERS)}.",
                              context="orderBy")
    if req.start >= LEGACY_WINDOW:
        return page_envelope([], req, True)
    newest = (BuildStatus.updated_date.desc(), BuildStatus.id.desc())
    window = (select(BuildStatus.id).where(BuildStatus.commit_id == cid).order_by(*newest)
              .limit(LEGACY_WINDOW).scalar_subquery())
    if order == "OLDEST":
        ordering: tuple[Any, ...] = (BuildStatus.updated_date.asc(), BuildStatus.id.asc())
    elif order == "STATUS":
        ordering = (_STATE_RANK, *newest)
    else:
        ordering = newest
    stmt = select(BuildStatus).where(BuildStatus.id.in_(window)).order_by(*ordering)
    room = min(req.limit, LEGACY_WINDOW - req.start)
    rows = list(session.scalars(stmt.offset(req.start).limit(room + 1)))
    is_last = len(rows) <= room
    return page_envelope(rows[:room], req, is_last)


def _counts(rows: Iterable[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for cid, state, n in rows:
        stats = out.setdefault(cid, {"successful": 0, "failed": 0, "inProgress": 0, "cancelled": 0,
                                     "unknown": 0})
        field = {"SUCCESSFUL": "successful", "FAILED": "failed", "INPROGRESS": "inProgress",
                 "CANCELLED": "cancelled"}.get(state, "unknown")
        stats[field] += n
    return out


def stats(session: Session, commit_ids: list[str]) -> dict[str, dict[str, int]]:
    """State counts per commit; commits without statuses are absent."""
    if not commit_ids:
        return {}
    rows = session.execute(select(BuildStatus.commit_id, BuildStatus.state, func.count())
                           .where(BuildStatus.commit_id.in_(commit_ids))
                           .group_by(BuildStatus.commit_id, BuildStatus.state))
    return _counts((r[0], r[1], r[2]) for r in rows)


def unique_status(session: Session, cid: str) -> BuildStatus | None:
    """The commit's only status, when it has exactly one (the `includeUnique` result)."""
    rows = list(session.scalars(select(BuildStatus).where(BuildStatus.commit_id == cid).limit(2)))
    return rows[0] if len(rows) == 1 else None


def latest_by_parent(session: Session, repo: Repository, cid: str, parents: list[str]) -> dict[str, str]:
    """For each parent key, the state of the newest status on the commit whose `parent` (or, without
    one, `key`) is that parent: this repository's statuses and legacy (commit-only) ones."""
    if not parents:
        return {}
    effective = func.coalesce(BuildStatus.parent, BuildStatus.key)
    rows = session.execute(
        select(effective, BuildStatus.state).where(
            BuildStatus.commit_id == cid,
            or_(BuildStatus.repository_id == repo.id, BuildStatus.repository_id.is_(None)),
            or_(BuildStatus.parent.in_(parents), and_(BuildStatus.parent.is_(None), BuildStatus.key.in_(parents))),
        ).order_by(BuildStatus.updated_date.asc(), BuildStatus.id.asc()))
    latest: dict[str, str] = {}
    for parent, state in rows:
        latest[parent] = state
    return latest


# -- deployments ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeploymentInput:
    key: str
    environment_key: str
    sequence_number: int
    description: str
    display_name: str
    environment_name: str
    environment_type: str | None
    environment_url: str | None
    state: str
    url: str
    last_updated: int | None


def parse_deployment(body: dict[str, Any]) -> DeploymentInput:
    """RestDeploymentSetRequest, validated (every field the spec requires, the spec's limits)."""
    env = body.get("environment")
    if not isinstance(env, dict):
        raise ValidationError("The environment is required.", context="environment")
    env_type = env.get("type")
    if env_type is not None:
        env_type = _enum(env_type, "environment.type", ENVIRONMENT_TYPES)
    seq = body.get("deploymentSequenceNumber")
    if seq is None:
        raise ValidationError("The deploymentSequenceNumber is required.", context="deploymentSequenceNumber")
    return DeploymentInput(
        key=_text(body, "key", 255, required=True) or "",
        environment_key=_text(env, "key", 255, required=True) or "",
        sequence_number=_int(seq, "deploymentSequenceNumber") or 0,
        description=_text(body, "description", 255, required=True) or "",
        display_name=_text(body, "displayName", 255, required=True) or "",
        environment_name=_text(env, "displayName", 255, required=True) or "",
        environment_type=env_type,
        environment_url=_text(env, "url", 1024),
        state=_enum(body.get("state"), "state", DEPLOYMENT_STATES),
        url=_text(body, "url", 1024, required=True) or "",
        last_updated=_int(body.get("lastUpdated"), "lastUpdated"),
    )


def put_deployment(session: Session, repo: Repository, cid: str, data: DeploymentInput) -> Deployment:
    """Create the deployment, or update the one with the same key, environment and sequence number."""
    row = _find_deployment(session, repo, cid, data.key, data.environment_key, data.sequence_number)
    if row is None:
        try:  # a concurrent create of the same deployment wins the unique constraint: update it instead
            with session.begin_nested():
                row = Deployment(repository_id=repo.id, commit_id=cid, key=data.key,
                                 environment_key=data.environment_key, sequence_number=data.sequence_number,
                                 description=data.description, display_name=data.display_name,
                                 environment_name=data.environment_name, state=data.state, url=data.url,
                                 last_updated=now_ms())
                session.add(row)
        except IntegrityError:
            row = _find_deployment(session, repo, cid, data.key, data.environment_key, data.sequence_number)
            if row is None:  # created and deleted again meanwhile
                raise Conflict("The deployment was changed concurrently; try again.") from None
    row.description, row.display_name, row.state, row.url = (data.description, data.display_name, data.state,
                                                             data.url)
    row.environment_name, row.environment_type, row.environment_url = (data.environment_name,
                                                                       data.environment_type, data.environment_url)
    row.last_updated = data.last_updated if data.last_updated is not None else now_ms()
    session.flush()
    return row


def deployment_identity(key: str | None, environment_key: str | None, seq: str | None) -> tuple[str, str, int]:
    """The three query parameters that name a deployment; 400 when one is missing or malformed."""
    if not key:
        raise ValidationError("The key query parameter is required.", context="key")
    if not environment_key:
        raise ValidationError("The environmentKey query parameter is required.", context="environmentKey")
    if not seq:
        raise ValidationError("The deploymentSequenceNumber query parameter is required.",
                              context="deploymentSequenceNumber")
    return key, environment_key, _int(seq, "deploymentSequenceNumber") or 0


def _find_deployment(session: Session, repo: Repository, cid: str, key: str, env: str, seq: int) -> Deployment | None:
    return session.scalars(select(Deployment).where(
        Deployment.repository_id == repo.id, Deployment.commit_id == cid, Deployment.key == key,
        Deployment.environment_key == env, Deployment.sequence_number == seq)).first()


def get_deployment(session: Session, repo: Repository, cid: str, key: str, env: str, seq: int) -> Deployment:
    row = _find_deployment(session, repo, cid, key, env, seq)
    if row is None:
        raise NoSuchDeployment(f"No deployment with key '{key}', environment '{env}' and sequence number {seq} "
                               f"exists for commit '{cid}'.")
    return row


def delete_deployment(session: Session, repo: Repository, cid: str, key: str, env: str, seq: int) -> None:
    row = _find_deployment(session, repo, cid, key, env, seq)
    if row is not None:
        session.delete(row)


def previous_deployment(session: Session, row: Deployment) -> Deployment | None:
    """The deployment of the same key to the same environment just before this one (its `fromCommit`)."""
    return session.scalars(select(Deployment).where(
        Deployment.repository_id == row.repository_id, Deployment.key == row.key,
        Deployment.environment_key == row.environment_key, Deployment.sequence_number < row.sequence_number,
    ).order_by(Deployment.sequence_number.desc()).limit(1)).first()
