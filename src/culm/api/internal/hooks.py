"""Callbacks from the push hooks (`culm.git.hookclient`): never for users, guarded by the hook secret."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from culm.api.deps import db, json_body
from culm.core import hook_secret
from culm.core.security import constant_time_equals
from culm.domain.permissions import levels as L
from culm.domain.permissions.service import Principal
from culm.domain.pullrequests import rescope
from culm.domain.pushes import service as pushes
from culm.domain.repos.models import Repository
from culm.domain.tokens.models import AccessToken
from culm.domain.users.models import User
from culm.git import maintenance, storage

router = APIRouter()
BASE = "/rest/internal/latest/hooks"


def _authorised(request: Request) -> bool:
    given = request.headers.get("x-culm-hook-secret", "")
    return bool(given) and constant_time_equals(given, hook_secret.read())


def _refuse() -> JSONResponse:
    return JSONResponse({"accepted": False, "messages": ["culm: hook authentication failed."]}, status_code=403)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pusher(session: Session, body: dict[str, Any]) -> Principal | None:
    """The pusher as the smart-HTTP handler authenticated them (token narrowing included)."""
    user_id = _int(body.get("userId"))
    user = session.get(User, user_id) if user_id else None
    if user is None or not user.active or user.deleted:
        return None
    token = None
    token_id = _int(body.get("tokenId"))
    if token_id is not None:
        token = session.get(AccessToken, token_id)
        if token is None or token.user_id != user.id:
            return None
    return Principal(user=user, token=token)


@router.post(BASE + "/pre-receive")
def pre_receive(request: Request, body: dict = Depends(json_body), session: Session = Depends(db)) -> JSONResponse:
    """Still allowed to push? (Branch permissions plug in here.) Then register the push."""
    if not _authorised(request):
        return _refuse()
    repo = session.get(Repository, _int(body.get("repositoryId")) or 0)
    if repo is None:
        return JSONResponse({"accepted": False, "messages": ["culm: the repository no longer exists."]})
    who = _pusher(session, body)
    if who is None or who.repo_level(session, repo) < L.WRITE:
        return JSONResponse({"accepted": False,
                             "messages": ["culm: you no longer have permission to push to this repository."]})
    bad = pushes.undecodable_refs(body.get("updates") or [])
    if bad:
        return JSONResponse({"accepted": False, "messages": [
            f"culm: ref names must be valid UTF-8; refused: {', '.join(bad)}"]})
    updates = pushes.parse_updates(body.get("updates") or [])
    token = body.get("pushId")
    if not isinstance(token, str) or not token or len(token) > 64:
        return JSONResponse({"accepted": False, "messages": ["culm: the push carries no push id."]})
    pushes.register(session, token, repo.id, who.user.id if who.user else None, updates)
    return JSONResponse({"accepted": True, "messages": []})


@router.post(BASE + "/post-receive")
def post_receive(request: Request, body: dict = Depends(json_body), session: Session = Depends(db)) -> JSONResponse:
    """Record the applied ref changes in the outbox (with anything else still unrecorded)."""
    if not _authorised(request):
        return _refuse()
    repo_id = _int(body.get("repositoryId")) or 0
    token = body.get("pushId") if isinstance(body.get("pushId"), str) else ""
    user_id = _int(body.get("userId"))
    if user_id is not None and session.get(User, user_id) is None:
        user_id = None
    pushes.confirm(session, str(token)[:64], repo_id, user_id,
                   pushes.parse_updates(body.get("updates") or []))
    if repo_id and session.get(Repository, repo_id) is not None:
        maintenance.pack_refs_if_many(storage.repo_dir(repo_id))  # rare: only once many loose refs piled up
    rescope.schedule(session)  # the worker rescopes pull requests after commit; nothing heavy here
    return JSONResponse({"accepted": True, "messages": []})
