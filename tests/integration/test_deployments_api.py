"""Deployments (`{R}/commits/{commitId}/deployments`): create or update, get and delete by key,
environmentKey and deploymentSequenceNumber; `fromCommit`/`toCommit`; bad input → clean 4xx, nothing stored."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from support import USER_PASSWORD, LiveServer, create_user, grant_repo, pushed_repo

KEY = "DP"
SLUG = "deployed"
R = f"/rest/api/latest/projects/{KEY}/repos/{SLUG}"
UNKNOWN = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Repo:
    c1: str
    c2: str


@pytest.fixture(scope="module")
def repo(server: LiveServer, admin, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    return Repo(*pushed_repo(server, admin, KEY, SLUG, tmp_path_factory.mktemp("deployed"),
                             [("a.txt", "one\n"), ("b.txt", "two\n")]))


@pytest.fixture(scope="module")
def reader(server: LiveServer, repo: Repo) -> httpx.Client:
    create_user(server, "reader")
    grant_repo(server, KEY, SLUG, "reader", "REPO_READ")
    with server.client(auth=("reader", USER_PASSWORD)) as c:
        yield c


def err(r: httpx.Response) -> tuple[int, str]:
    body = r.json()
    assert set(body) == {"errors"} and body["errors"][0]["message"], body
    return r.status_code, body["errors"][0]["exceptionName"].rsplit(".", 1)[-1]


def deployment(seq: int, state: str = "SUCCESSFUL", **extra: object) -> dict:
    return {"deploymentSequenceNumber": seq, "description": f"deploy {seq}", "displayName": "Prod US",
            "environment": {"key": "prod-us", "displayName": "Production US", "type": "PRODUCTION",
                            "url": "https://prod.example.com"},
            "key": "web", "state": state, "url": f"https://deploy.example.com/{seq}", **extra}


def ident(seq: int, key: str = "web", env: str = "prod-us") -> dict:
    return {"key": key, "environmentKey": env, "deploymentSequenceNumber": str(seq)}


def test_create_update_get_from_commit(admin, repo: Repo) -> None:
    url1, url2 = f"{R}/commits/{repo.c1}/deployments", f"{R}/commits/{repo.c2}/deployments"
    made = admin.post(url1, json=deployment(1, "IN_PROGRESS", lastUpdated=1_700_000_000_000))
    assert made.status_code == 200
    body = made.json()
    assert body["state"] == "IN_PROGRESS" and body["deploymentSequenceNumber"] == 1 and body["key"] == "web"
    assert body["toCommit"] == {"id": repo.c1, "displayId": repo.c1[:11]} and "fromCommit" not in body
    assert body["environment"] == {"key": "prod-us", "displayName": "Production US", "type": "PRODUCTION",
                                   "url": "https://prod.example.com"}
    assert body["repository"]["slug"] == SLUG and body["lastUpdated"] == 1_700_000_000_000
    # same identity → update, not a second deployment
    again = admin.post(url1, json=deployment(1, "successful")).json()
    assert again["state"] == "SUCCESSFUL" and again["lastUpdated"] > 1_700_000_000_000
    got = admin.get(url1, params=ident(1)).json()
    assert got["state"] == "SUCCESSFUL" and got["description"] == "deploy 1"
    # the next deployment of the same key to the same environment comes from the previous commit
    env_lower = deployment(2)
    env_lower["environment"] = {"key": "prod-us", "displayName": "Production US", "type": "production"}
    second = admin.post(url2, json=env_lower).json()
    assert second["fromCommit"]["id"] == repo.c1 and second["toCommit"]["id"] == repo.c2
    assert second["environment"]["type"] == "PRODUCTION" and "url" not in second["environment"]
    assert admin.get(url2, params=ident(2)).json()["fromCommit"]["id"] == repo.c1
    # the identity is all three parameters
    assert err(admin.get(url1, params=ident(2))) == (404, "NoSuchDeploymentException")
    assert err(admin.get(url1, params=ident(1, env="staging"))) == (404, "NoSuchDeploymentException")
    assert err(admin.get(url1, params=ident(1, key="api"))) == (404, "NoSuchDeploymentException")


@pytest.mark.parametrize("change", [
    {"state": "DONE"},
    {"state": None},
    {"key": None},
    {"key": "k" * 256},
    {"description": None},
    {"description": "d" * 256},
    {"displayName": None},
    {"url": None},
    {"url": "u" * 1025},
    {"deploymentSequenceNumber": None},
    {"deploymentSequenceNumber": -1},
    {"deploymentSequenceNumber": "many"},
    {"environment": None},
    {"environment": "prod"},
    {"environment": {"displayName": "No key"}},
    {"environment": {"key": "e"}},
    {"environment": {"key": "e", "displayName": "E", "type": "MOON"}},
    {"environment": {"key": "e" * 256, "displayName": "E"}},
    {"lastUpdated": -5},
])
def test_bad_bodies_store_nothing(admin, repo: Repo, change: dict) -> None:
    body = {**deployment(50), **change}
    body = {k: v for k, v in body.items() if v is not None}
    url = f"{R}/commits/{repo.c1}/deployments"
    assert err(admin.post(url, json=body)) == (400, "ArgumentValidationException")
    assert admin.get(url, params=ident(50)).status_code == 404
    assert admin.get(url, params=ident(50, env="e")).status_code == 404


def test_bad_commits_queries_and_repos(admin, repo: Repo) -> None:
    for bad in ("abc1234", "q" * 40, "a" * 39):
        assert err(admin.post(f"{R}/commits/{bad}/deployments", json=deployment(9))) == \
            (400, "ArgumentValidationException")
    assert err(admin.post(f"{R}/commits/{UNKNOWN}/deployments", json=deployment(9))) == (404, "NoSuchCommitException")
    url = f"{R}/commits/{repo.c1}/deployments"
    for params in ({}, {"key": "web"}, {"key": "web", "environmentKey": "prod-us"},
                   {**ident(1), "deploymentSequenceNumber": "x"}):
        assert err(admin.get(url, params=params)) == (400, "ArgumentValidationException")
        assert err(admin.delete(url, params=params)) == (400, "ArgumentValidationException")
    other = f"/rest/api/latest/projects/{KEY}/repos/missing/commits/{repo.c1}/deployments"
    assert err(admin.post(other, json=deployment(1))) == (404, "NoSuchRepositoryException")
    assert err(admin.post(url, content=b"[1]", headers={"content-type": "application/json"}))[0] == 400


def test_permissions_and_delete(server: LiveServer, admin, reader, repo: Repo) -> None:
    url = f"{R}/commits/{repo.c2}/deployments"
    assert reader.post(url, json=deployment(7)).status_code == 200  # REPO_READ may report a deployment
    assert reader.get(url, params=ident(7)).status_code == 200
    assert err(reader.delete(url, params=ident(7))) == (401, "AuthorisationException")
    with server.client(auth=None) as anon:
        assert anon.get(url, params=ident(7)).status_code == 401
    assert admin.get(url, params=ident(7)).status_code == 200
    assert admin.delete(url, params=ident(7)).status_code == 204
    assert admin.get(url, params=ident(7)).status_code == 404
    assert admin.delete(url, params=ident(7)).status_code == 204
