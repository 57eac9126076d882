"""Project and user avatars: validated uploads (type by magic bytes, size-limited) and the default image."""

from __future__ import annotations

import struct
import zlib
from functools import cache

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from culm.core.errors import AuthenticationRequired, PermissionDenied, ValidationError
from culm.domain.avatars.models import Avatar
from culm.domain.base import now_ms
from culm.domain.permissions import global_service as gs
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal
from culm.domain.users.models import User

MAX_BYTES = 1024 * 1024  # Bitbucket's default upload limit (1 MB)
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(data: bytes) -> str:
    """The content type of an accepted image, judged by its first bytes, never by what the client says."""
    if not data:
        raise ValidationError("The avatar is empty.", context="avatar")
    if len(data) > MAX_BYTES:
        raise ValidationError(f"The avatar is larger than the limit of {MAX_BYTES} bytes.", context="avatar")
    for magic, ctype in _MAGIC:
        if data.startswith(magic):
            return ctype
    raise ValidationError("The avatar must be a PNG, JPEG or GIF image.", context="avatar")


def _owner(project_id: int | None, user_id: int | None) -> object:
    return Avatar.project_id == project_id if project_id is not None else Avatar.user_id == user_id


def find(session: Session, *, project_id: int | None = None, user_id: int | None = None) -> Avatar | None:
    return session.scalar(select(Avatar).where(_owner(project_id, user_id)))


def store(session: Session, data: bytes, *, project_id: int | None = None, user_id: int | None = None) -> Avatar:
    ctype = image_type(data)
    avatar = find(session, project_id=project_id, user_id=user_id)
    if avatar is None:
        avatar = Avatar(project_id=project_id, user_id=user_id, content_type=ctype, data=data)
        session.add(avatar)
    else:
        avatar.content_type, avatar.data, avatar.updated_date = ctype, data, now_ms()
    session.flush()
    return avatar


def remove(session: Session, *, project_id: int | None = None, user_id: int | None = None) -> None:
    session.execute(delete(Avatar).where(_owner(project_id, user_id)))


@cache
def default_png() -> bytes:
    """A 48x48 grey PNG, built once: what owners without an uploaded avatar show."""
    width = height = 48
    raw = b"".join(b"\x00" + b"\xa5\xad\xba" * width for _ in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def check_user_avatar_change(session: Session, who: Principal, target: User) -> None:
    """Users change their own avatar; ADMIN changes anyone's, SYS_ADMIN a system administrator's.
    Access tokens never change user details (Bitbucket's rule), avatars included."""
    if who.user is None:
        raise AuthenticationRequired("Authentication required.")
    if who.token is not None:
        raise PermissionDenied("Access tokens cannot be used to change user details.")
    if who.user.id == target.id:
        return
    need = L.G_SYS_ADMIN if gs.user_level(session, target.id) >= L.G_SYS_ADMIN else L.G_ADMIN
    if who.effective_global(session) < need:
        raise PermissionDenied(f"You are not permitted to change the avatar of {target.name}.")
