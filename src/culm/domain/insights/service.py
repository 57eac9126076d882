"""Code Insights reports and annotations: validation (the limits of Bitbucket's reference), replacement of a
report by key (only by its creator), annotations (at most 1000 per report), deletion with cascade.

The write operations need REPO_READ only (CI tools read the code); replacing a report or touching its
annotations is for its creator, deleting for the creator or a repository admin."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from culm.core.errors import NotFound, PermissionDenied, ValidationError
from culm.core.paging import PageRequest, page_query
from culm.domain.base import now_ms
from culm.domain.insights.models import InsightAnnotation, InsightReport
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal
from culm.domain.repos.models import Repository

RESULTS = ("PASS", "FAIL")
DATA_TYPES = ("BOOLEAN", "DATE", "DURATION", "LINK", "NUMBER", "PERCENTAGE", "TEXT")
SEVERITIES = ("LOW", "MEDIUM", "HIGH")
ANNOTATION_TYPES = ("VULNERABILITY", "CODE_SMELL", "BUG")
MAX_DATA = 6
MAX_ANNOTATIONS = 1000
KEY = re.compile(r"^[A-Za-z0-9._\-]+$")
INT32 = 2**31 - 1


class NoSuchReport(NotFound):
    exception_name = "com.atlassian.bitbucket.codeinsights.report.NoSuchReportException"


# -- validation -----------------------------------------------------------------------------------
def _text(body: dict[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ValidationError(f"The {name} is required.", context=name)
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


def _url(body: dict[str, Any], name: str) -> str | None:
    value = _text(body, name, 2048)
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise ValidationError(f"'{name}' must be a valid http or https URL.", context=name)
    return value


def _enum(value: object, name: str, allowed: Sequence[str], required: bool) -> str | None:
    if value is None:
        if required:
            raise ValidationError(f"The {name} is required.", context=name)
        return None
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(f"'{value}' is not a valid {name}; use one of {', '.join(allowed)}.", context=name)
    return value


def report_key(key: str) -> str:
    if not key or len(key) > 50 or not KEY.match(key):
        raise ValidationError("The report key must be 1 to 50 characters: letters, digits, '.', '_' or '-'.",
                              context="key")
    return key


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _data_item(item: object, i: int) -> dict[str, Any]:
    where = f"data[{i}]"
    if not isinstance(item, dict):
        raise ValidationError(f"'{where}' must be an object with a title and a value.", context="data")
    title = item.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 450 or "\x00" in title:
        raise ValidationError(f"'{where}.title' is required (1 to 450 characters).", context="data")
    kind = _enum(item.get("type"), f"{where}.type", DATA_TYPES, required=False)
    value = item.get("value")
    ok = {
        None: isinstance(value, str | bool) or _number(value),
        "BOOLEAN": isinstance(value, bool),
        "DATE": _number(value),
        "DURATION": _number(value),
        "NUMBER": _number(value),
        "PERCENTAGE": _number(value) and 0 <= value <= 100,  # type: ignore[operator]
        "TEXT": isinstance(value, str),
        "LINK": isinstance(value, dict) and set(value) <= {"linktext", "href"}
        and isinstance(value.get("linktext"), str) and isinstance(value.get("href"), str),
    }[kind]
    if ok and isinstance(value, str) and (len(value) > 2000 or "\x00" in value):
        ok = False
    if ok and kind == "LINK":
        href = urlsplit(value["href"])  # type: ignore[index]
        ok = href.scheme.lower() in ("http", "https") and bool(href.netloc)
    if not ok:
        raise ValidationError(f"'{where}.value' does not match its type {kind or '(detected)'}.", context="data")
    out: dict[str, Any] = {"title": title, "value": value}
    if kind is not None:
        out["type"] = kind
    return out


@dataclass(frozen=True)
class ReportInput:
    title: str
    details: str | None
    result: str | None
    data: list[dict[str, Any]]
    reporter: str | None
    link: str | None
    logo_url: str | None
    created_date: int | None


def parse_report(body: dict[str, Any]) -> ReportInput:
    """RestSetInsightReportRequest, validated; 400 names the first bad field."""
    title = _text(body, "title", 450, required=True)
    data = body.get("data")
    if data is None:
        data = []
    if not isinstance(data, list):
        raise ValidationError("'data' must be an array.", context="data")
    if len(data) > MAX_DATA:
        raise ValidationError(f"A report may have at most {MAX_DATA} data fields.", context="data")
    created = body.get("createdDate")
    if created is not None and (isinstance(created, bool) or not isinstance(created, int) or created < 0
                                or created > 2**63 - 1):
        raise ValidationError("'createdDate' must be a non-negative integer (epoch milliseconds).",
                              context="createdDate")
    return ReportInput(
        title=title or "", details=_text(body, "details", 2000),
        result=_enum(body.get("result"), "result", RESULTS, required=False),
        data=[_data_item(item, i) for i, item in enumerate(data)], reporter=_text(body, "reporter", 450),
        link=_url(body, "link"), logo_url=_url(body, "logoUrl"), created_date=created)


@dataclass(frozen=True)
class AnnotationInput:
    external_id: str | None
    path: str | None
    line: int
    message: str
    severity: str
    type: str | None
    link: str | None


def parse_annotation(body: object, where: str = "annotation") -> AnnotationInput:
    """RestSingleAddInsightAnnotationRequest, validated."""
    if not isinstance(body, dict):
        raise ValidationError(f"'{where}' must be an object.", context="annotations")
    line = body.get("line")
    if line is None:
        line = 0
    if isinstance(line, bool) or not isinstance(line, int) or line < 0 or line > INT32:
        raise ValidationError("'line' must be a non-negative integer.", context="line")
    path = _text(body, "path", 50000)
    if path is not None and (path.startswith("/") or ".." in path.split("/")):
        raise ValidationError("'path' must be relative to the repository root.", context="path")
    return AnnotationInput(
        external_id=_text(body, "externalId", 450) or None, path=path or None, line=line,
        message=_text(body, "message", 2000, required=True) or "",
        severity=_enum(body.get("severity"), "severity", SEVERITIES, required=True) or "",
        type=_enum(body.get("type"), "type", ANNOTATION_TYPES, required=False), link=_url(body, "link"))


def parse_bulk(body: dict[str, Any]) -> list[AnnotationInput]:
    items = body.get("annotations")
    if not isinstance(items, list) or not items:
        raise ValidationError("'annotations' must be a non-empty array.", context="annotations")
    if len(items) > MAX_ANNOTATIONS:
        raise ValidationError(f"A report may have at most {MAX_ANNOTATIONS} annotations.", context="annotations")
    return [parse_annotation(item, f"annotations[{i}]") for i, item in enumerate(items)]


# -- reports --------------------------------------------------------------------------------------
def find(session: Session, repo: Repository, cid: str, key: str) -> InsightReport | None:
    return session.scalars(select(InsightReport).where(InsightReport.repository_id == repo.id,
                                                       InsightReport.commit_id == cid,
                                                       InsightReport.key == key)).first()


def require(session: Session, repo: Repository, cid: str, key: str) -> InsightReport:
    row = find(session, repo, cid, key)
    if row is None:
        raise NoSuchReport(f"No report with key '{key}' exists for commit '{cid}'.", context="key")
    return row


def _is_author(who: Principal, row: InsightReport) -> bool:
    return who.user is not None and row.creator_id == who.user.id


def _may_delete(session: Session, who: Principal, repo: Repository, row: InsightReport) -> bool:
    return _is_author(who, row) or who.repo_level(session, repo) >= L.ADMIN


def set_report(session: Session, who: Principal, repo: Repository, cid: str, key: str,
               data: ReportInput) -> InsightReport:
    """Create the report, or replace the caller's own one (its annotations are kept, as Bitbucket)."""
    row = find(session, repo, cid, key)
    if row is not None and not _is_author(who, row):
        raise PermissionDenied("Only the creator of a report may replace it.")
    if row is None:
        # A concurrent PUT of the same key may insert first: the unique constraint refuses ours, and theirs
        # is then replaced under the same creator rule.
        try:
            with session.begin_nested():
                row = InsightReport(repository_id=repo.id, commit_id=cid, key=key, title=data.title, data="[]",
                                    creator_id=who.user.id if who.user else None, created_date=now_ms())
                session.add(row)
        except IntegrityError:
            row = find(session, repo, cid, key)
            if row is None or not _is_author(who, row):
                raise PermissionDenied("Only the creator of a report may replace it.") from None
    row.title, row.details, row.result, row.data = data.title, data.details, data.result, json.dumps(data.data)
    row.reporter, row.link, row.logo_url = data.reporter, data.link, data.logo_url
    row.created_date = data.created_date if data.created_date is not None else now_ms()
    session.flush()
    return row


def reports_page(session: Session, repo: Repository, cid: str, req: PageRequest) -> dict[str, Any]:
    stmt = (select(InsightReport).where(InsightReport.repository_id == repo.id, InsightReport.commit_id == cid)
            .order_by(InsightReport.created_date.desc(), InsightReport.id.desc()))
    return page_query(session, stmt, req, report_json)


def delete_report(session: Session, who: Principal, repo: Repository, cid: str, key: str) -> None:
    row = require(session, repo, cid, key)
    if not _may_delete(session, who, repo, row):
        raise PermissionDenied("Only the creator of a report or a repository admin may delete it.")
    session.execute(delete(InsightAnnotation).where(InsightAnnotation.report_id == row.id))
    session.delete(row)
    session.flush()


def report_json(row: InsightReport) -> dict[str, Any]:
    """RestInsightReport."""
    out: dict[str, Any] = {"key": row.key, "title": row.title, "data": json.loads(row.data),
                           "createdDate": row.created_date}
    for name, value in (("details", row.details), ("result", row.result), ("reporter", row.reporter),
                        ("link", row.link), ("logoUrl", row.logo_url)):
        if value is not None:
            out[name] = value
    return out


# -- annotations ----------------------------------------------------------------------------------
def _row(report: InsightReport, a: AnnotationInput) -> InsightAnnotation:
    return InsightAnnotation(report_id=report.id, external_id=a.external_id, path=a.path, line=a.line,
                             message=a.message, severity=a.severity, type=a.type, link=a.link)


def _count(session: Session, report: InsightReport) -> int:
    return session.scalar(select(func.count()).select_from(InsightAnnotation)
                          .where(InsightAnnotation.report_id == report.id)) or 0


def add_annotations(session: Session, who: Principal, report: InsightReport, items: list[AnnotationInput]) -> None:
    """All or nothing: refused when the report would exceed its limit."""
    if not _is_author(who, report):
        raise PermissionDenied("Only the creator of a report may add annotations to it.")
    # lock the report row so concurrent posts cannot both pass the limit check
    session.scalars(select(InsightReport).where(InsightReport.id == report.id).with_for_update()).first()
    if _count(session, report) + len(items) > MAX_ANNOTATIONS:
        raise ValidationError(f"A report may have at most {MAX_ANNOTATIONS} annotations.", context="annotations")
    session.add_all([_row(report, a) for a in items])
    session.flush()


def set_annotation(session: Session, who: Principal, report: InsightReport, external_id: str,
                   item: AnnotationInput) -> None:
    """Create or replace the annotation(s) with this external id."""
    if not _is_author(who, report):
        raise PermissionDenied("Only the creator of a report may change its annotations.")
    if not external_id or len(external_id) > 450 or "\x00" in external_id:
        raise ValidationError("The externalId must be 1 to 450 characters.", context="externalId")
    session.scalars(select(InsightReport).where(InsightReport.id == report.id).with_for_update()).first()
    gone = session.execute(delete(InsightAnnotation).where(InsightAnnotation.report_id == report.id,
                                                           InsightAnnotation.external_id == external_id)).rowcount
    if not gone and _count(session, report) + 1 > MAX_ANNOTATIONS:
        raise ValidationError(f"A report may have at most {MAX_ANNOTATIONS} annotations.", context="annotations")
    session.add(_row(report, AnnotationInput(external_id, item.path, item.line, item.message, item.severity,
                                             item.type, item.link)))
    session.flush()


def delete_annotations(session: Session, who: Principal, repo: Repository, report: InsightReport,
                       external_ids: list[str]) -> None:
    if not _may_delete(session, who, repo, report):
        raise PermissionDenied("Only the creator of a report or a repository admin may delete its annotations.")
    stmt = delete(InsightAnnotation).where(InsightAnnotation.report_id == report.id)
    if external_ids:
        stmt = stmt.where(InsightAnnotation.external_id.in_(external_ids))
    session.execute(stmt)


def annotations(session: Session, repo: Repository, cid: str, *, keys: Sequence[str] = (),
                external_ids: Sequence[str] = (), paths: Sequence[str] = (), severities: Sequence[str] = (),
                types: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The annotations on a commit (bounded: at most 1000 per report), filtered; each filter may repeat."""
    for value in severities:
        _enum(value, "severity", SEVERITIES, required=True)
    for value in types:
        _enum(value, "type", ANNOTATION_TYPES, required=True)
    stmt = (select(InsightAnnotation, InsightReport.key).join(InsightReport)
            .where(InsightReport.repository_id == repo.id, InsightReport.commit_id == cid)
            .order_by(InsightReport.id, InsightAnnotation.id))
    if keys:
        stmt = stmt.where(InsightReport.key.in_(keys))
    if external_ids:
        stmt = stmt.where(InsightAnnotation.external_id.in_(external_ids))
    if paths:
        stmt = stmt.where(InsightAnnotation.path.in_(paths))
    if severities:
        stmt = stmt.where(InsightAnnotation.severity.in_(severities))
    if types:
        stmt = stmt.where(InsightAnnotation.type.in_(types))
    return [annotation_json(a, key) for a, key in session.execute(stmt)]


def annotation_json(row: InsightAnnotation, report_key: str) -> dict[str, Any]:
    """RestInsightAnnotation."""
    out: dict[str, Any] = {"reportKey": report_key, "line": row.line, "message": row.message,
                           "severity": row.severity}
    for name, value in (("externalId", row.external_id), ("path", row.path), ("type", row.type),
                        ("link", row.link)):
        if value is not None:
            out[name] = value
    return out
