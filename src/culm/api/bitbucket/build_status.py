"""The legacy build-status API (`/rest/build-status/latest/commits/...`, deprecated since 7.14 but what
most CI tools still call): statuses tied to a commit only, not to a repository; LICENSED_USER."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from culm.api.deps import db, flag, json_body, page, principal
from culm.core.errors import ValidationError
from culm.core.paging import PageRequest
from culm.domain.builds import service as builds
from culm.domain.builds.models import BuildStatus
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, require_global

router = APIRouter()
B = "/rest/build-status/latest/commits"


def status_json(row: BuildStatus, legacy: bool = False) -> dict[str, Any]:
    """RestBuildStatus; absent optional fields are left out. The legacy API also says `dateAdded`."""
    body: dict[str, Any] = {"key": row.key, "state": row.state, "url": row.url}
    for name, value in (("name", row.name), ("description", row.description), ("buildNumber", row.build_number),
                        ("parent", row.parent), ("ref", row.ref), ("duration", row.duration)):
        if value is not None:
            body[name] = value
    if row.tests_successful is not None:
        body["testResults"] = {"successful": row.tests_successful, "failed": row.tests_failed or 0,
                               "skipped": row.tests_skipped or 0}
    body["createdDate"] = row.created_date
    body["updatedDate"] = row.updated_date
    if legacy:
        body["dateAdded"] = row.updated_date
    return body


def _licensed(session: Session, who: Principal) -> None:
    require_global(session, who, L.G_LICENSED)


@router.post(B + "/stats")
async def multiple_stats(request: Request, session: Session = Depends(db),
                         who: Principal = Depends(principal)) -> dict[str, Any]:
    """Counts for each of the listed commits that has any status (a JSON array of full ids)."""
    _licensed(session, who)
    raw = await request.body()
    try:
        ids = json.loads(raw) if raw.strip() else []
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("The request body is not valid JSON.") from None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValidationError("The request body must be a JSON array of commit IDs.")
    if len(ids) > builds.MAX_COMMITS:
        raise ValidationError(f"At most {builds.MAX_COMMITS} commits may be requested at once.")
    wanted = {i: builds.commit_id(i) for i in ids}
    found = builds.stats(session, sorted(set(wanted.values())))
    return {given: found[full] for given, full in wanted.items() if full in found}


@router.get(B + "/stats/{commitId}")
def commit_stats(commitId: str, request: Request, session: Session = Depends(db),
                 who: Principal = Depends(principal)) -> dict[str, Any]:
    _licensed(session, who)
    cid = builds.commit_id(commitId)
    counts = builds.stats(session, [cid]).get(cid) or {"successful": 0, "failed": 0, "inProgress": 0,
                                                       "cancelled": 0, "unknown": 0}
    if flag(request, "includeUnique"):
        unique = builds.unique_status(session, cid)
        if unique is not None:
            counts["results"] = [status_json(unique, legacy=True)]
    return counts


@router.get(B + "/{commitId}")
def get_statuses(commitId: str, request: Request, session: Session = Depends(db),
                 who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    _licensed(session, who)
    cid = builds.commit_id(commitId)
    body = builds.legacy_page(session, cid, req, request.query_params.get("orderBy"))
    body["values"] = [status_json(r, legacy=True) for r in body["values"]]
    return body


@router.post(B + "/{commitId}", status_code=204)
def add_status(commitId: str, body: dict = Depends(json_body), session: Session = Depends(db),
               who: Principal = Depends(principal)) -> Response:
    """204; the same key on the same commit replaces the earlier status."""
    _licensed(session, who)
    cid = builds.commit_id(commitId)
    builds.store(session, None, cid, builds.parse_status(body, legacy=True))
    return Response(status_code=204)
