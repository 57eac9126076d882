"""`{R}/last-modified[/{path}]` (stream / stream_1): each entry of a directory with the latest commit
that changed it, plus the latest commit to change the directory itself.

The walk compares tree entry ids, newest commit first, and stops once every entry is resolved
(`git.history.last_modified`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from culm.api.bitbucket.commits import Ctx, R, context, param
from culm.api.bitbucket.render_git import commit_json
from culm.api.deps import db, principal
from culm.core.errors import NoSuchPath, ValidationError
from culm.domain.permissions.service import Principal
from culm.git import history
from culm.git.revisions import text

router = APIRouter()


def _stream(ctx: Ctx, raw_path: str | None, at_name: str | None) -> dict[str, Any]:
    if at_name is None:
        at = ctx.default_tip()
        if at is None:
            raise ValidationError("No at commit was specified. When streaming modifications, an explicit "
                                  "starting commit must be supplied.", context="at")
    else:
        at = ctx.resolve(at_name)
    path = history.clean_path(raw_path) or ""
    kind = history.entry_kind(at, path)
    if kind is None:
        raise NoSuchPath(f"The path \"{path}\" does not exist at revision \"{at.id}\"", context="path")
    if kind == "tree":
        found = history.last_modified(ctx.git, at, path)
        latest = found.latest
    else:
        parent, _, name = path.rpartition("/")
        found = history.last_modified(ctx.git, at, parent, only=name.encode())
        latest = next(iter(found.files.values()), None)
    commits = list(found.files.values()) + ([latest] if latest else [])
    ctx.people.preload([c.author.email for c in commits] + [c.committer.email for c in commits])
    body: dict[str, Any] = {"files": {text(name): commit_json(c, ctx.people) for name, c in found.files.items()}}
    if latest is not None:
        body["latestCommit"] = commit_json(latest, ctx.people)
    return body


@router.get(R + "/last-modified")
def last_modified_root(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                       who: Principal = Depends(principal)) -> dict[str, Any]:
    ctx = context(session, who, projectKey, repositorySlug, request)
    return _stream(ctx, None, param(request, "at"))


@router.get(R + "/last-modified/{path:path}")
def last_modified_path(projectKey: str, repositorySlug: str, path: str, request: Request,
                       session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    ctx = context(session, who, projectKey, repositorySlug, request)
    return _stream(ctx, path, param(request, "at"))
