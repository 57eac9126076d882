"""Editing a file through the REST API: `PUT .../browse/{path}` (operationId editFile).

The body is multipart/form-data with the fields `branch`, `content`, `message`, `sourceCommitId` and
`sourceBranch`. Any of them may come as a plain field or as a file part (atlassian-python-api sends
every field as a file; `curl -F content=@file` sends the content as one). The content is stored byte
for byte. `X-Atlassian-Token: no-check` is accepted and not required (Bitbucket's own curl example
sends none). The rules live in `culm.domain.content.edit`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from culm.api.bitbucket import A
from culm.api.bitbucket.render_git import People, commit_json
from culm.api.bitbucket.repo_access import writable
from culm.api.deps import db, principal
from culm.api.errors import JSON_UTF8
from culm.api.urls import base_url
from culm.core.errors import CulmError, Forbidden, UnsupportedMediaType, ValidationError
from culm.domain.content import edit as edits
from culm.domain.permissions.service import Principal

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}"
FIELDS = ("branch", "content", "message", "sourceCommitId", "sourceBranch")
_SLACK = 256 * 1024  # multipart framing and the other fields around the content
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


@dataclass
class Upload:
    """The form's fields as bytes, or why they could not be read; judged only after the caller and the
    repository are checked, so a stranger learns nothing from the answer."""

    values: dict[str, bytes] = field(default_factory=dict)
    problem: CulmError | None = None

    def text(self, name: str) -> str | None:
        raw = self.values.get(name)
        if raw is None:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(f"The field '{name}' is not valid UTF-8.", context=name) from None

    def request(self, path: str) -> edits.EditRequest:
        if self.problem is not None:
            raise self.problem
        return edits.EditRequest(path=path, branch=self.text("branch"), content=self.values.get("content"),
                                 message=self.text("message"), source_commit_id=self.text("sourceCommitId") or None,
                                 source_branch=self.text("sourceBranch") or None)


async def edit_upload(request: Request) -> Upload:
    ctype = request.headers.get("content-type", "").lower()
    if not ctype.startswith(_FORM_TYPES):
        return Upload(problem=UnsupportedMediaType(
            "Files are edited with multipart/form-data fields 'branch', 'content', 'message' and "
            f"'sourceCommitId', not {ctype or 'a body without a content type'}."))
    limit = edits.MAX_CONTENT_BYTES
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + _SLACK:
        return Upload(problem=ValidationError(f"The file is larger than the limit of {limit} bytes.",
                                              context="content"))
    received = bytearray()
    async for chunk in request.stream():  # bounded even without a Content-Length (chunked uploads)
        received += chunk
        if len(received) > limit + _SLACK:
            return Upload(problem=ValidationError(f"The file is larger than the limit of {limit} bytes.",
                                                  context="content"))
    request._body = bytes(received)  # Starlette parses the form from the cached body
    try:
        form = await request.form(max_files=len(FIELDS), max_fields=len(FIELDS) * 2, max_part_size=limit + 1)
    except Exception:  # malformed body, too many parts, a plain field over the limit
        return Upload(problem=ValidationError("The multipart body could not be read (malformed, too many "
                                              f"fields, or a field over {limit} bytes).", context="content"))
    values: dict[str, bytes] = {}
    try:
        for name in FIELDS:
            item = form.get(name)
            if isinstance(item, UploadFile):
                data = await item.read(limit + 1)
            elif isinstance(item, str):
                data = item.encode("utf-8")
            else:
                continue
            if len(data) > limit:
                return Upload(problem=ValidationError(f"The field '{name}' is larger than the limit of {limit} "
                                                      "bytes.", context=name))
            values[name] = data
    finally:
        await form.close()
    return Upload(values=values)


@router.put(R + "/browse/{path:path}")
def edit_file(projectKey: str, repositorySlug: str, path: str, request: Request,
              upload: Upload = Depends(edit_upload), session: Session = Depends(db),
              who: Principal = Depends(principal)) -> JSONResponse:
    """Create or update one file as a new commit on a branch -> 200 RestCommit."""
    repo = writable(session, who, projectKey, repositorySlug)
    if who.is_bot or who.user is None:
        raise Forbidden("The request was authenticated using a project or repository access token, which does "
                        "not have a valid user associated with it; files can only be edited by users.")
    info = edits.edit_file(session, repo, who.user, upload.request(path))
    body = commit_json(info, People(session, base_url(request)))
    return JSONResponse(body, media_type=JSON_UTF8)
