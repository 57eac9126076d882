"""`GET {R}/raw/{path}` (streamRaw): a file's bytes, streamed from git in chunks.

Text is served as `text/plain;charset=UTF-8`, images with their type (by extension), anything else with a
NUL in its first 8000 bytes as `application/octet-stream`; never as HTML, with `nosniff` and a sandboxing
CSP, so a repository file cannot run as a page of this site. `markup` (present or true) answers the
file rendered as sanitised HTML instead (Markdown files rendered, other text escaped in `<pre>`), with
Bitbucket's defaults: `htmlEscape` true, `includeHeadingId` false, `hardwrap` true.
Clients (atlassian-python-api) send a form Content-Type on this GET;
GETs carry no body, so it changes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from culm.api.bitbucket.browse import R, content_target
from culm.api.bitbucket.repo_access import readable
from culm.api.bitbucket.streaming import GitStream
from culm.api.deps import db, flag, principal
from culm.api.urls import base_url
from culm.core.errors import ValidationError
from culm.domain.markup import render as markup
from culm.domain.permissions.service import Principal
from culm.git import blob as git_blob
from culm.git import tree as git_tree
from culm.git.revisions import open_repo
from culm.git.storage import repo_dir

router = APIRouter()
MAX_MARKUP_BYTES = 1024 * 1024


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
    if "markup" in request.query_params and flag(request, "markup"):
        return _rendered(request, git, node.oid, name)
    raw = git_blob.open_raw(git, repo_dir(repo.id), node.oid, name)
    kind = "attachment" if raw.content_type == git_blob.BINARY_TYPE else "inline"
    headers = {
        "Content-Length": str(raw.size),
        "Content-Disposition": content_disposition(kind, name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
    }
    return GitStream(raw.chunks, media_type=raw.content_type, headers=headers)


def _rendered(request: Request, git: Any, oid: str, name: str) -> Response:
    data = git_blob.read_limited(git, oid, MAX_MARKUP_BYTES)
    if data is None:
        raise ValidationError(f"The file is larger than the limit of {MAX_MARKUP_BYTES} bytes for rendering.",
                              context="markup")
    if git_blob.is_binary(data):
        raise ValidationError("A binary file cannot be rendered as markup.", context="markup")
    options = markup.Options(html_escape=flag(request, "htmlEscape", default=True),
                             hardwrap=flag(request, "hardwrap", default=True),
                             include_heading_id=flag(request, "includeHeadingId"),
                             url_mode="RELATIVE", base_url=base_url(request))
    html = markup.render_file(name, data.decode("utf-8", errors="replace"), options)
    return Response(html, media_type="text/html;charset=UTF-8",
                    headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})
