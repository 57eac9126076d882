"""Tags: `GET/POST {R}/tags`, `GET {R}/tags/{name}` (names may hold slashes), and the git plugin's
`POST /rest/git/latest/.../tags` (ANNOTATED or LIGHTWEIGHT, `force`) and `DELETE .../tags/{name}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render_git import tag_json
from culm.api.bitbucket.repo_access import readable, writable
from culm.api.deps import db, json_body, page, principal
from culm.core.paging import PageRequest, page_envelope
from culm.domain.permissions.service import Principal
from culm.domain.refs import tags
from culm.domain.refs.naming import as_bool
from culm.git.tags import TagRef

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}"
G = "/rest/git/latest/projects/{projectKey}/repos/{repositorySlug}"


def _json(tag: TagRef) -> dict[str, Any]:
    return tag_json(tag.ref, tag.commit, tag.tag_object)


@router.get(R + "/tags")
def get_tags(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
             who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    q = request.query_params
    items, is_last = tags.find(repo, req, q.get("filterText"), q.get("orderBy"))
    return page_envelope([_json(t) for t in items], req, is_last)


@router.get(R + "/tags/{name:path}")
def get_tag(projectKey: str, repositorySlug: str, name: str, session: Session = Depends(db),
            who: Principal = Depends(principal)) -> dict[str, Any]:
    repo = readable(session, who, projectKey, repositorySlug)
    return _json(tags.get(repo, name))


@router.post(R + "/tags")
def create_tag_for_repository(projectKey: str, repositorySlug: str, body: dict = Depends(json_body),
                              session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    """200 with the new RestTag: annotated when a message is given, else lightweight."""
    repo = writable(session, who, projectKey, repositorySlug)
    tag = tags.create(session, repo, who.user, body.get("name"), body.get("startPoint"), body.get("message"))
    return _json(tag)


@router.post(G + "/tags", status_code=201)
def create_tag(projectKey: str, repositorySlug: str, body: dict = Depends(json_body),
               session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    repo = writable(session, who, projectKey, repositorySlug)
    tag = tags.create(session, repo, who.user, body.get("name"), body.get("startPoint"), body.get("message"),
                      body.get("type"), as_bool(body.get("force"), "force"), plugin_api=True)
    return JSONResponse(_json(tag), status_code=201)


@router.delete(G + "/tags/{name:path}", status_code=204)
def delete_tag(projectKey: str, repositorySlug: str, name: str, session: Session = Depends(db),
               who: Principal = Depends(principal)) -> Response:
    repo = writable(session, who, projectKey, repositorySlug)
    tags.delete(session, repo, who.user.id if who.user else None, name)
    return Response(status_code=204)
