"""`withComments` on pull request and commit diffs: the comments found by
`culm.domain.comments.diff_comments` are rendered once, before the diff streams (the database session is
not used while streaming), then each file's JSON gets `commentIds` on its commented lines and the comments
themselves in `lineComments`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from culm.api.bitbucket.comments_render import CommentView
from culm.api.bitbucket.diffs import Annotate, Scope
from culm.api.urls import base_url
from culm.domain.comments import diff_comments
from culm.domain.comments import service as comments
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests.models import PullRequest
from culm.domain.repos.models import Repository
from culm.git import diff as gitdiff


def wanted(request: Request) -> bool:
    """`withComments` defaults to true; Bitbucket reads any value other than `true` as false."""
    value = request.query_params.get("withComments")
    return value is None or value.strip().lower() == "true"


class Annotator:
    """Adds the placed comments to each file of a streamed JSON diff."""

    def __init__(self, view: CommentView, placement: diff_comments.Placement) -> None:
        self.placement = placement
        rows = placement.rows
        self.rendered = dict(zip([r.id for r in rows], view.comments(rows), strict=True))

    def __call__(self, f: gitdiff.FileDiff, body: dict[str, Any]) -> None:
        candidates = self.placement.for_file(f.source, f.destination)
        if not candidates:
            return
        shown: list[int] = []
        for hunk in body.get("hunks", []):
            for segment in hunk["segments"]:
                for line in segment["lines"]:
                    ids = diff_comments.line_ids(candidates, segment["type"], line["source"], line["destination"])
                    if ids:
                        line["commentIds"] = ids
                        shown += ids
        if shown:
            body["lineComments"] = [self.rendered[i] for i in shown]


Factory = Callable[[Scope, gitdiff.DiffRequest], Annotate | None]


def for_pull_request(request: Request, session: Session, who: Principal, pr: PullRequest,
                     effective: bool) -> Factory | None:
    """The pull request's comments for its diff (`effective`: no sinceId/untilId), unless turned off."""
    if not wanted(request):
        return None

    def make(scope: Scope, req: gitdiff.DiffRequest) -> Annotate | None:
        placed = diff_comments.for_pull_request(session, pr, req.base, req.target, effective, scope.path,
                                                comments.viewer_id(who))
        repo = session.get(Repository, pr.repository_id)
        return Annotator(CommentView(session, base_url(request), who, repo), placed) if placed.by_path else None

    return make


def for_commit(request: Request, session: Session, who: Principal, repo: Repository) -> Factory | None:
    """The commit's comments made on this diff of it, unless turned off."""
    if not wanted(request):
        return None

    def make(scope: Scope, req: gitdiff.DiffRequest) -> Annotate | None:
        placed = diff_comments.for_commit(session, repo.id, req.target, req.base, scope.path,
                                          comments.viewer_id(who))
        return Annotator(CommentView(session, base_url(request), who, repo), placed) if placed.by_path else None

    return make
