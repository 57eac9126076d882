"""`GET {R}/files[/{path}]` (streamFiles / streamFiles_1): a page of every file below a directory,
recursively, as path strings relative to it. The page is cut from a streamed `git ls-tree -r` that stops
one entry past the page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from culm.api.bitbucket.browse import R, content_target
from culm.api.bitbucket.repo_access import readable
from culm.api.deps import db, page, principal
from culm.core.errors import ValidationError
from culm.core.paging import PageRequest, page_envelope
from culm.domain.permissions.service import Principal
from culm.git import tree as git_tree
from culm.git.revisions import open_repo
from culm.git.storage import repo_dir

router = APIRouter()


@router.get(R + "/files")
@router.get(R + "/files/{path:path}")
def stream_files(projectKey: str, repositorySlug: str, request: Request, path: str = "",
                 session: Session = Depends(db), who: Principal = Depends(principal),
                 req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    git = open_repo(repo.id)
    _, revision, node = content_target(git, repo, request.query_params.get("at"), path)
    if node.kind != git_tree.DIRECTORY:
        raise ValidationError(f'The path "{node.path}" is not a directory at revision "{revision}"', context="path")
    values, is_last = git_tree.list_files(repo_dir(repo.id), node.oid, req.start, req.limit)
    return page_envelope(values, req, is_last)
