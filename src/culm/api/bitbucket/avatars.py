"""Avatars: `/rest/api/latest/projects/{projectKey}/avatar.png` and `/rest/api/latest/users/{userSlug}/avatar.png`.

Uploads are multipart with the image in the `avatar` field; the XSRF rule (`X-Atlassian-Token:
no-check`) is enforced by middleware before anything here runs. The image's type is judged by its
bytes, and it is served back with that type; owners without one get a generated default PNG. The
`s` (size) parameter is accepted and ignored: images are served as uploaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.deps import db, principal
from culm.api.urls import base_url
from culm.core.errors import UnsupportedMediaType, ValidationError
from culm.domain.avatars import service as avatars
from culm.domain.avatars.models import Avatar
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal, deny, require_global, require_project
from culm.domain.projects import service as projects
from culm.domain.users import service as users

router = APIRouter()
_SLACK = 64 * 1024  # multipart framing around the image


@dataclass
class Upload:
    """The uploaded bytes, or why there are none; judged only after the caller and target are checked."""

    data: bytes | None = None
    problem: Exception | None = None

    def image(self) -> bytes:
        if self.problem is not None:
            raise self.problem
        assert self.data is not None
        return self.data


async def avatar_upload(request: Request) -> Upload:
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        return Upload(problem=UnsupportedMediaType(
            "The avatar must be uploaded as multipart/form-data in a field named 'avatar'."))
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > avatars.MAX_BYTES + _SLACK:
        return Upload(problem=ValidationError(
            f"The avatar is larger than the limit of {avatars.MAX_BYTES} bytes.", context="avatar"))
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception:  # malformed multipart body, too many parts
        return Upload(problem=ValidationError("The multipart body could not be read.", context="avatar"))
    try:
        field = form.get("avatar")
        if field is None or isinstance(field, str):
            return Upload(problem=ValidationError("An image file in the field 'avatar' is required.",
                                                  context="avatar"))
        data = await field.read(avatars.MAX_BYTES + 1)
    finally:
        await form.close()
    return Upload(data=data)


def _image(avatar: Avatar | None) -> Response:
    if avatar is None:
        return Response(avatars.default_png(), media_type="image/png", headers={"Cache-Control": "no-cache"})
    return Response(avatar.data, media_type=avatar.content_type, headers={"Cache-Control": "no-cache"})


# -- projects ---------------------------------------------------------------------------------
@router.get(A + "/projects/{projectKey}/avatar.png")
def get_project_avatar(projectKey: str, session: Session = Depends(db),
                       who: Principal = Depends(principal)) -> Response:
    project = projects.require(session, projectKey)
    if not who.can_view_project(session, project):
        raise deny(who)
    return _image(avatars.find(session, project_id=project.id))


@router.post(A + "/projects/{projectKey}/avatar.png", status_code=201)
def upload_project_avatar(projectKey: str, request: Request, upload: Upload = Depends(avatar_upload),
                          session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    project = projects.require(session, projectKey)
    require_project(session, who, project, L.ADMIN)
    avatars.store(session, upload.image(), project_id=project.id)
    location = f"{base_url(request)}{A}/projects/{project.key}/avatar.png"
    return Response(status_code=201, headers={"Location": location})


# -- users ------------------------------------------------------------------------------------
def _user_avatar_url(request: Request, slug: str) -> str:
    return f"{base_url(request)}{A}/users/{slug}/avatar.png"


@router.get(A + "/users/{userSlug}/avatar.png")
def get_user_avatar(userSlug: str, session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    """Not in the spec (Bitbucket serves user avatars outside /rest); where DELETE's link points."""
    require_global(session, who, L.G_LICENSED)
    user = users.require_user(session, userSlug)
    return _image(avatars.find(session, user_id=user.id))


@router.post(A + "/users/{userSlug}/avatar.png", status_code=201)
def upload_user_avatar(userSlug: str, request: Request, upload: Upload = Depends(avatar_upload),
                       session: Session = Depends(db), who: Principal = Depends(principal)) -> Response:
    user = users.require_user(session, userSlug)
    avatars.check_user_avatar_change(session, who, user)
    avatars.store(session, upload.image(), user_id=user.id)
    return Response(status_code=201, headers={"Location": _user_avatar_url(request, user.slug)})


@router.delete(A + "/users/{userSlug}/avatar.png")
def delete_user_avatar(userSlug: str, request: Request, session: Session = Depends(db),
                       who: Principal = Depends(principal)) -> dict[str, str]:
    """200 with the link now in force (the default image), whether or not an avatar existed."""
    user = users.require_user(session, userSlug)
    avatars.check_user_avatar_change(session, who, user)
    avatars.remove(session, user_id=user.id)
    return {"href": _user_avatar_url(request, user.slug), "name": "avatar"}
