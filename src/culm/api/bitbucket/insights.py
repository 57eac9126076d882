"""Code Insights (`/rest/insights/latest/.../commits/{commitId}/reports`): reports and their annotations.
Every operation needs REPO_READ and an existing commit of the repository; the domain decides who may
replace or delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from culm.api.bitbucket.repo_access import readable
from culm.api.deps import db, json_body, page, principal
from culm.core.paging import PageRequest
from culm.domain.builds.service import require_commit
from culm.domain.insights import service as insights
from culm.domain.permissions.service import Principal, deny
from culm.domain.repos.models import Repository

router = APIRouter()
C = "/rest/insights/latest/projects/{projectKey}/repos/{repositorySlug}/commits/{commitId}"
REPORT = C + "/reports/{key}"


def _at(session: Session, who: Principal, project_key: str, slug: str, commit: str,
        write: bool = False) -> tuple[Repository, str]:
    repo = readable(session, who, project_key, slug)
    if write and who.anonymous:  # even on a public repository, reporting needs a user
        raise deny(who)
    return repo, require_commit(repo, commit)


@router.put(REPORT)
def set_report(projectKey: str, repositorySlug: str, commitId: str, key: str, body: dict = Depends(json_body),
               session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    repo, cid = _at(session, who, projectKey, repositorySlug, commitId, write=True)
    data = insights.parse_report(body)
    return insights.report_json(insights.set_report(session, who, repo, cid, insights.report_key(key), data))


@router.get(REPORT)
def get_report(projectKey: str, repositorySlug: str, commitId: str, key: str, session: Session = Depends(db),
               who: Principal = Depends(principal)) -> dict[str, Any]:
    repo, cid = _at(session, who, projectKey, repositorySlug, commitId)
    return insights.report_json(insights.require(session, repo, cid, key))


@router.delete(REPORT, status_code=204)
def delete_report(projectKey: str, repositorySlug: str, commitId: str, key: str, session: Session = Depends(db),
                  who: Principal = Depends(principal)) -> Response:
    repo, cid = _at(session, who, projectKey, repositorySlug, commitId, write=True)
    insights.delete_report(session, who, repo, cid, key)
    return Response(status_code=204)


@router.get(C + "/reports")
def list_reports(projectKey: str, repositorySlug: str, commitId: str, session: Session = Depends(db),
                 who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo, cid = _at(session, who, projectKey, repositorySlug, commitId)
    return insights.reports_page(session, repo, cid, req)


@router.post(REPORT + "/annotations", status_code=204)
def add_annotations(projectKey: str, repositorySlug: str, commitId: str, key: str,
                    body: dict = Depends(json_body), session: Session = Depends(db),
                    who: Principal = Depends(principal)) -> Response:
    repo, cid = _at(session, who, projectKey, repositorySlug, commitId, write=True)
    report = insights.require(session, repo, cid, key)
    insights.add_annotations(session, who, report, insights.parse_bulk(body))
    return Response(status_code=204)


@router.get(REPORT + "/annotations")
def report_annotations(projectKey: str, repositorySlug: str, commitId: str, key: str,
                       session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    repo, cid = _at(session, who, projectKey, repositorySlug, commitId)
    insights.require(session, repo, cid, key)
    return {"annotations": insights.annotations(session, repo, cid, keys=[key])}


@router.delete(REPORT + "/annotations", status_code=204)
def delete_annotations(projectKey: str, repositorySlug: str, commitId: str, key: str, request: Request,
                       session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    repo, cid = _at(session, who, projectKey, repositorySlug, commitId, write=True)
    report = insights.require(session, repo, cid, key)
    insights.delete_annotations(session, who, repo, report, request.query_params.getlist("externalId"))
    return Response(status_code=204)


@router.put(REPORT + "/annotations/{externalId}", status_code=204)
def set_annotation(projectKey: str, repositorySlug: str, commitId: str, key: str, externalId: str,
                   body: dict = Depends(json_body), session: Session = Depends(db),
                   who: Principal = Depends(principal)) -> Response:
    repo, cid = _at(session, who, projectKey, repositorySlug, commitId, write=True)
    report = insights.require(session, repo, cid, key)
    insights.set_annotation(session, who, report, externalId, insights.parse_annotation(body))
    return Response(status_code=204)


@router.get(C + "/annotations")
def commit_annotations(projectKey: str, repositorySlug: str, commitId: str, request: Request,
                       session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    repo, cid = _at(session, who, projectKey, repositorySlug, commitId)
    q = request.query_params
    return {"annotations": insights.annotations(
        session, repo, cid, keys=q.getlist("key"), external_ids=q.getlist("externalId"), paths=q.getlist("path"),
        severities=q.getlist("severity"), types=q.getlist("type"))}
