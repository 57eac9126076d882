"""`GET {R}/raw/{path}` (streamRaw): a file's bytes, streamed from git in chunks.

Text is served as `text/plain;charset=UTF-8`, images with their type (by extension), anything else with a
NUL in its first 8000 bytes as `application/octet-stream`; never as HTML, with `nosniff` and a sandboxing
CSP, so a repository file cannot run as a page of this site. `markup=true` (rendered HTML) is not served
here: the raw bytes are returned. Clients (atlassian-python-api) send a form Content-Type on this GET;
GETs carry no body, so it changes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from culm.api.bitbucket.browse import R, content_target
from culm.api.bitbucket.repo_access import readable
from culm.api.bitbucket.streaming import GitStream
from culm.api.deps import db, principal
from culm.core.errors import ValidationError
from culm.domain.permissions.service import Principal
from culm.git import blob as git_blob
from culm.git import tree as git_tree
from culm.git.revisions import open_repo
from culm.git.storage import repo_dir

router = APIRouter()


def content_disposition(kind: str, filename: str) -> str:
    """`kind; filename="..."` with a plain-ASCII fallback name, plus RFC 5987 `filename*` for others."""
    safe = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    value = f'{kind}; filename="{safe}"'
    if safe != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


@router.get(R + "/raw/{path:path}")
def stream_raw(projectKey: str, repositorySlug: str, request: Request, path: str,
               session: Session = Depends(db), who: Principal = Depends(principal)) -> Any:
    repo = readable(session, who, projectKey, repositorySlug)
    git = open_repo(repo.id)
    _, revision, node = content_target(git, repo, request.query_params.get("at"), path)
    if node.kind != git_tree.FILE or not node.path:
        raise ValidationError(f'The path "{node.path}" is not a file at revision "{revision}"', context="path")
    name = node.path.rsplit("/", 1)[-1]
    raw = git_blob.open_raw(git, repo_dir(repo.id), node.oid, name)
    kind = "attachment" if raw.content_type == git_blob.BINARY_TYPE else "inline"
    headers = {
        "Content-Length": str(raw.size),
        "Content-Disposition": content_disposition(kind, name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
    }
    return GitStream(raw.chunks, media_type=raw.content_type, headers=headers)
