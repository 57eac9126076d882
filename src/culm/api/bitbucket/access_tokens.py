"""HTTP access tokens: `/rest/access-tokens/latest/{users/{userSlug} | projects/{projectKey}[/repos/{slug}]}`.

Create is PUT and update is POST (as in Bitbucket). The raw token appears only in the create answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from culm.api.bitbucket.render import user_json
from culm.api.deps import db, json_body, page, principal
from culm.api.urls import base_url
from culm.core.paging import PageRequest, page_query
from culm.domain.permissions.service import Principal
from culm.domain.projects import service as projects
from culm.domain.repos import service as repos
from culm.domain.tokens import service as tokens
from culm.domain.tokens.models import AccessToken
from culm.domain.users import service as users

router = APIRouter()
T = "/rest/access-tokens/latest"
U = T + "/users/{userSlug}"
P = T + "/projects/{projectKey}"
R = P + "/repos/{repositorySlug}"


def token_json(session: Session, token: AccessToken, base: str, raw: str | None = None) -> dict[str, Any]:
    """`RestAccessToken` (and `RestRawAccessToken` with `token`, on creation only)."""
    body: dict[str, Any] = {
        "id": str(token.id),
        "createdDate": token.created_date,
        "name": token.name,
        "permissions": token.permissions.split(),
        "user": user_json(tokens.token_user(session, token), base),
    }
    if token.last_authenticated is not None:
        body["lastAuthenticated"] = token.last_authenticated
    if token.expiry_date is not None:
        body["expiryDays"] = tokens.expiry_days(token)
        body["expiryDate"] = token.expiry_date
    if raw is not None:
        body["token"] = raw
    return body


# -- personal tokens ---------------------------------------------------------------------------
@router.get(U)
def list_user_tokens(userSlug: str, request: Request, session: Session = Depends(db),
                     who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    owner = users.require_user(session, userSlug)
    tokens.authorise_user_tokens(session, who, owner, write=False)
    base = base_url(request)
    return page_query(session, tokens.list_query(tokens.USER, user=owner), req,
                      lambda t: token_json(session, t, base))


@router.put(U)
def create_user_token(userSlug: str, request: Request, body: dict = Depends(json_body),
                      session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    owner = users.require_user(session, userSlug)
    tokens.authorise_user_tokens(session, who, owner, write=True, create=True)
    token, raw = tokens.create(session, tokens.USER, body, owner=owner)
    return token_json(session, token, base_url(request), raw)


@router.get(U + "/{tokenId}")
def get_user_token(userSlug: str, tokenId: str, request: Request, session: Session = Depends(db),
                   who: Principal = Depends(principal)) -> dict[str, Any]:
    owner = users.require_user(session, userSlug)
    tokens.authorise_user_tokens(session, who, owner, write=False)
    return token_json(session, tokens.require(session, tokenId, tokens.USER, user=owner), base_url(request))


@router.post(U + "/{tokenId}")
def update_user_token(userSlug: str, tokenId: str, request: Request, body: dict = Depends(json_body),
                      session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    owner = users.require_user(session, userSlug)
    tokens.authorise_user_tokens(session, who, owner, write=True)
    token = tokens.update(session, tokens.require(session, tokenId, tokens.USER, user=owner), body)
    return token_json(session, token, base_url(request))


@router.delete(U + "/{tokenId}", status_code=204)
def delete_user_token(userSlug: str, tokenId: str, session: Session = Depends(db),
                      who: Principal = Depends(principal)) -> Response:
    owner = users.require_user(session, userSlug)
    tokens.authorise_user_tokens(session, who, owner, write=True)
    tokens.delete(session, tokens.require(session, tokenId, tokens.USER, user=owner))
    return Response(status_code=204)


# -- repository tokens (declared before project ones: `/repos/{slug}` is not a token id) ---------
@router.get(R)
def list_repo_tokens(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                     who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    _, repo = repos.require(session, projectKey, repositorySlug)
    tokens.authorise_repo_tokens(session, who, repo, write=False)
    base = base_url(request)
    return page_query(session, tokens.list_query(tokens.REPOSITORY, repo=repo), req,
                      lambda t: token_json(session, t, base))


@router.put(R)
def create_repo_token(projectKey: str, repositorySlug: str, request: Request, body: dict = Depends(json_body),
                      session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    _, repo = repos.require(session, projectKey, repositorySlug)
    tokens.authorise_repo_tokens(session, who, repo, write=True)
    token, raw = tokens.create(session, tokens.REPOSITORY, body, repo=repo)
    return token_json(session, token, base_url(request), raw)


@router.get(R + "/{tokenId}")
def get_repo_token(projectKey: str, repositorySlug: str, tokenId: str, request: Request,
                   session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    _, repo = repos.require(session, projectKey, repositorySlug)
    tokens.authorise_repo_tokens(session, who, repo, write=False)
    return token_json(session, tokens.require(session, tokenId, tokens.REPOSITORY, repo=repo), base_url(request))


@router.post(R + "/{tokenId}")
def update_repo_token(projectKey: str, repositorySlug: str, tokenId: str, request: Request,
                      body: dict = Depends(json_body), session: Session = Depends(db),
                      who: Principal = Depends(principal)) -> dict[str, Any]:
    _, repo = repos.require(session, projectKey, repositorySlug)
    tokens.authorise_repo_tokens(session, who, repo, write=True)
    token = tokens.update(session, tokens.require(session, tokenId, tokens.REPOSITORY, repo=repo), body)
    return token_json(session, token, base_url(request))


@router.delete(R + "/{tokenId}", status_code=204)
def delete_repo_token(projectKey: str, repositorySlug: str, tokenId: str, session: Session = Depends(db),
                      who: Principal = Depends(principal)) -> Response:
    _, repo = repos.require(session, projectKey, repositorySlug)
    tokens.authorise_repo_tokens(session, who, repo, write=True)
    tokens.delete(session, tokens.require(session, tokenId, tokens.REPOSITORY, repo=repo))
    return Response(status_code=204)


# -- project tokens ----------------------------------------------------------------------------
@router.get(P)
def list_project_tokens(projectKey: str, request: Request, session: Session = Depends(db),
                        who: Principal = Depends(principal), req: PageRequest = Depends(page)) -> dict[str, Any]:
    project = projects.require(session, projectKey)
    tokens.authorise_project_tokens(session, who, project, write=False)
    base = base_url(request)
    return page_query(session, tokens.list_query(tokens.PROJECT, project=project), req,
                      lambda t: token_json(session, t, base))


@router.put(P)
def create_project_token(projectKey: str, request: Request, body: dict = Depends(json_body),
                         session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    project = projects.require(session, projectKey)
    tokens.authorise_project_tokens(session, who, project, write=True)
    token, raw = tokens.create(session, tokens.PROJECT, body, project=project)
    return token_json(session, token, base_url(request), raw)


@router.get(P + "/{tokenId}")
def get_project_token(projectKey: str, tokenId: str, request: Request, session: Session = Depends(db),
                      who: Principal = Depends(principal)) -> dict[str, Any]:
    project = projects.require(session, projectKey)
    tokens.authorise_project_tokens(session, who, project, write=False)
    return token_json(session, tokens.require(session, tokenId, tokens.PROJECT, project=project),
                      base_url(request))


@router.post(P + "/{tokenId}")
def update_project_token(projectKey: str, tokenId: str, request: Request, body: dict = Depends(json_body),
                         session: Session = Depends(db), who: Principal = Depends(principal)) -> dict[str, Any]:
    project = projects.require(session, projectKey)
    tokens.authorise_project_tokens(session, who, project, write=True)
    token = tokens.update(session, tokens.require(session, tokenId, tokens.PROJECT, project=project), body)
    return token_json(session, token, base_url(request))


@router.delete(P + "/{tokenId}", status_code=204)
def delete_project_token(projectKey: str, tokenId: str, session: Session = Depends(db),
                         who: Principal = Depends(principal)) -> Response:
    project = projects.require(session, projectKey)
    tokens.authorise_project_tokens(session, who, project, write=True)
    tokens.delete(session, tokens.require(session, tokenId, tokens.PROJECT, project=project))
    return Response(status_code=204)
