"""Required-builds merge check conditions: their configuration and their evaluation for a merge.

A condition says "pull requests into refs matching `refMatcher` need a SUCCESSFUL latest build for each
of `buildParentKeys` on the source commit, unless the source ref matches `exemptRefMatcher`".
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.core.errors import NotFound, ValidationError
from culm.core.paging import PageRequest, page_query
from culm.domain import refmatch
from culm.domain.builds import service as builds
from culm.domain.builds.models import RequiredBuildCondition
from culm.domain.refs.naming import as_bool
from culm.domain.repos.models import Repository

MAX_KEYS = 100
MAX_KEY = 1024


class NoSuchCondition(NotFound):
    exception_name = "com.atlassian.bitbucket.NoSuchEntityException"


def _keys(raw: object) -> list[str]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError("At least one build parent key is required.", context="buildParentKeys")
    if len(raw) > MAX_KEYS:
        raise ValidationError(f"At most {MAX_KEYS} build parent keys are allowed.", context="buildParentKeys")
    keys: list[str] = []
    for key in raw:
        if not isinstance(key, str) or not key.strip() or "\x00" in key:
            raise ValidationError("Build parent keys must be non-blank strings.", context="buildParentKeys")
        if len(key) > MAX_KEY:
            raise ValidationError(f"Build parent keys must be {MAX_KEY} characters or fewer.",
                                  context="buildParentKeys")
        if key not in keys:
            keys.append(key)
    return keys


def _apply(row: RequiredBuildCondition, body: dict[str, Any]) -> None:
    """Validate the whole request before touching the row, so a 400 stores nothing."""
    keys = _keys(body.get("buildParentKeys"))
    matcher = refmatch.parse(body.get("refMatcher"), "refMatcher")
    exempt_raw = body.get("exemptRefMatcher")
    exempt = refmatch.parse(exempt_raw, "exemptRefMatcher") if exempt_raw is not None else None
    for_pr = body.get("requiredForPullRequest")
    for_queue = body.get("requiredForMergeQueue")
    for_pr_value = True if for_pr is None else as_bool(for_pr, "requiredForPullRequest")
    for_queue_value = True if for_queue is None else as_bool(for_queue, "requiredForMergeQueue")
    row.build_parent_keys = json.dumps(keys)
    row.ref_matcher_type, row.ref_matcher_id = matcher.type, matcher.id
    row.exempt_matcher_type = exempt.type if exempt else None
    row.exempt_matcher_id = exempt.id if exempt else None
    row.required_for_pull_request = for_pr_value
    row.required_for_merge_queue = for_queue_value


def create(session: Session, repo: Repository, body: dict[str, Any]) -> RequiredBuildCondition:
    row = RequiredBuildCondition(repository_id=repo.id)
    _apply(row, body)
    session.add(row)
    session.flush()
    return row


def _require(session: Session, repo: Repository, condition_id: int) -> RequiredBuildCondition:
    row = session.get(RequiredBuildCondition, condition_id)
    if row is None or row.repository_id != repo.id:
        raise NoSuchCondition(f"No required builds merge check with ID {condition_id} exists.", context="id")
    return row


def update(session: Session, repo: Repository, condition_id: int, body: dict[str, Any]) -> RequiredBuildCondition:
    row = _require(session, repo, condition_id)
    _apply(row, body)
    session.flush()
    return row


def delete(session: Session, repo: Repository, condition_id: int) -> None:
    """204 whether or not it existed (Bitbucket: "or was never present")."""
    row = session.get(RequiredBuildCondition, condition_id)
    if row is not None and row.repository_id == repo.id:
        session.delete(row)


def page(session: Session, repo: Repository, req: PageRequest) -> dict[str, Any]:
    stmt = (select(RequiredBuildCondition).where(RequiredBuildCondition.repository_id == repo.id)
            .order_by(RequiredBuildCondition.id))
    return page_query(session, stmt, req, condition_json)


def condition_json(row: RequiredBuildCondition) -> dict[str, Any]:
    """RestRequiredBuildCondition."""
    body: dict[str, Any] = {
        "id": row.id,
        "buildParentKeys": json.loads(row.build_parent_keys),
        "refMatcher": refmatch.matcher_json(row.ref_matcher_type, row.ref_matcher_id),
        "requiredForPullRequest": row.required_for_pull_request,
        "requiredForMergeQueue": row.required_for_merge_queue,
    }
    if row.exempt_matcher_type and row.exempt_matcher_id:
        body["exemptRefMatcher"] = refmatch.matcher_json(row.exempt_matcher_type, row.exempt_matcher_id)
    return body


def unmet_required_builds(session: Session, repo: Repository, target_ref: str, commit_id: str,
                          source_ref: str | None = None, merge_queue: bool = False) -> list[str]:
    """The build parent keys that block merging `commit_id` (the source's head) into `target_ref`: every key
    of every condition applying to the target (and not exempting the source) whose latest build on that
    commit is not SUCCESSFUL (or missing). Empty when the merge may proceed. Order: conditions by id, keys
    as configured, each key once."""
    rows = session.scalars(select(RequiredBuildCondition).where(RequiredBuildCondition.repository_id == repo.id)
                           .order_by(RequiredBuildCondition.id))
    wanted: list[str] = []
    for row in rows:
        if not (row.required_for_merge_queue if merge_queue else row.required_for_pull_request):
            continue
        if not refmatch.matches(row.ref_matcher_type, row.ref_matcher_id, target_ref, repo.default_branch):
            continue
        if (row.exempt_matcher_type and row.exempt_matcher_id and source_ref is not None
                and refmatch.matches(row.exempt_matcher_type, row.exempt_matcher_id, source_ref,
                                     repo.default_branch)):
            continue
        for key in json.loads(row.build_parent_keys):
            if key not in wanted:
                wanted.append(key)
    if not wanted:
        return []
    latest = builds.latest_by_parent(session, repo, commit_id.lower(), wanted)
    return [key for key in wanted if latest.get(key) != "SUCCESSFUL"]
