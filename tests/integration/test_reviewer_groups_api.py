"""Reviewer groups (`{P}/settings/reviewer-groups`, `{R}/settings/reviewer-groups`): CRUD, inherited project
groups in repository lists, paging, names unique per scope (409), conditions naming groups, bad input and
permissions changing nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support import USER_PASSWORD, LiveServer, create_repo, create_user, grant_repo

KEY = "RG"
SLUG = "grp"
PG = f"/rest/api/latest/projects/{KEY}/settings/reviewer-groups"
RG = f"/rest/api/latest/projects/{KEY}/repos/{SLUG}/settings/reviewer-groups"
DR = f"/rest/default-reviewers/latest/projects/{KEY}/repos/{SLUG}"


@pytest.fixture(scope="module")
def env(server: LiveServer, admin: httpx.Client) -> dict[str, Any]:
    repo = create_repo(admin, KEY, SLUG)
    create_user(server, "ann", "ben", "cat", "dan")
    for name in ("ann", "ben"):
        grant_repo(server, KEY, SLUG, name, "REPO_READ")
    grant_repo(server, KEY, SLUG, "dan", "REPO_ADMIN")
    users = {u["name"]: u["id"] for u in admin.get("/rest/api/latest/users", params={"limit": 100}).json()["values"]}
    return {"repo": repo, "ids": users}


def as_user(server: LiveServer, name: str) -> httpx.Client:
    return server.client(auth=(name, USER_PASSWORD))


def test_group_lifecycle_and_inheritance(admin: httpx.Client, env: dict) -> None:
    ids = env["ids"]
    r = admin.post(PG, json={"name": "Core", "description": "core team",
                             "users": [{"name": "ann"}, {"id": ids["ben"]}]})
    assert r.status_code == 201, r.text
    pg = r.json()
    assert pg["name"] == "Core" and pg["description"] == "core team"
    assert pg["scope"]["type"] == "PROJECT"
    assert [u["name"] for u in pg["users"]] == ["ann", "ben"]
    r = admin.post(RG, json={"name": "core", "users": [{"slug": "ann"}]})  # same name, other scope: fine
    assert r.status_code == 201, r.text
    rg = r.json()
    assert rg["scope"] == {"type": "REPOSITORY", "resourceId": env["repo"]["id"]}
    assert admin.post(PG, json={"name": "CORE"}).status_code == 409
    assert admin.post(RG, json={"name": "Core "}).status_code == 409

    page = admin.get(RG).json()
    assert page["isLastPage"] and {g["id"] for g in page["values"]} == {pg["id"], rg["id"]}
    assert [g["id"] for g in admin.get(PG).json()["values"]] == [pg["id"]]
    one = admin.get(RG, params={"limit": 1}).json()
    assert one["size"] == 1 and not one["isLastPage"] and one["nextPageStart"] == 1
    assert admin.get(RG, params={"start": 1, "limit": 1}).json()["isLastPage"]
    assert admin.get(f"{RG}/{pg['id']}").json()["id"] == pg["id"]  # inherited groups are readable
    assert [u["name"] for u in admin.get(f"{RG}/{rg['id']}/users").json()] == ["ann"]
    assert admin.get(f"{PG}/{rg['id']}").status_code == 404

    r = admin.put(f"{RG}/{rg['id']}", json={"description": "reviewers", "users": [{"name": "ben"}]})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "core" and r.json()["description"] == "reviewers"
    assert [u["name"] for u in r.json()["users"]] == ["ben"]
    r = admin.put(f"{PG}/{pg['id']}", json={"name": "Platform"})
    assert r.status_code == 200 and [u["name"] for u in r.json()["users"]] == ["ann", "ben"]
    assert admin.put(f"{RG}/{pg['id']}", json={"name": "x"}).status_code == 404  # not this scope's own

    # a condition can name groups; its reviewers include the members
    r = admin.post(f"{DR}/condition", json={
        "sourceMatcher": {"id": "x", "type": {"id": "ANY_REF"}},
        "targetMatcher": {"id": "main", "type": {"id": "BRANCH"}},
        "reviewers": [], "reviewerGroups": [{"id": pg["id"]}], "requiredApprovals": 2})
    assert r.status_code == 200, r.text
    assert [g["id"] for g in r.json()["reviewerGroups"]] == [pg["id"]]
    rid = env["repo"]["id"]
    got = admin.get(f"{DR}/reviewers", params={"sourceRepoId": rid, "targetRepoId": rid, "sourceRefId": "f",
                                               "targetRefId": "main"}).json()
    assert [u["name"] for u in got] == ["ann", "ben"]

    assert admin.delete(f"{PG}/{pg['id']}").status_code == 204
    assert admin.get(f"{DR}/conditions").json()[0]["reviewerGroups"] == []
    assert admin.delete(f"{RG}/{rg['id']}").status_code == 204
    assert admin.get(RG).json()["values"] == []
    assert admin.delete(f"{DR}/condition/{r.json()['id']}").status_code == 204


@pytest.mark.parametrize("body", [
    {}, {"name": ""}, {"name": "   "}, {"name": 7}, {"name": "x" * 51}, {"name": "ok", "users": [{"name": "ghost"}]},
    {"name": "ok", "users": "ann"}, {"name": "ok", "users": [3]}, {"name": "ok", "users": [{"id": 2**40}]},
    {"name": "ok", "description": 5},
    {"name": "a\u0000b"},
])
def test_bad_bodies_change_nothing(admin: httpx.Client, env: dict, body: dict) -> None:
    existing = admin.post(RG, json={"name": "keep"}).json()
    for url in (PG, RG):
        assert admin.post(url, json=body).status_code == 400, (url, body)
    if body:
        r = admin.put(f"{RG}/{existing['id']}", json=body)
        assert r.status_code == 400, r.text
    assert admin.get(f"{RG}/{existing['id']}").json() == existing
    assert [g["name"] for g in admin.get(RG).json()["values"]] == ["keep"]
    assert admin.delete(f"{RG}/{existing['id']}").status_code == 204


def test_unknown_ids_malformed_and_permissions(server: LiveServer, admin: httpx.Client, env: dict) -> None:
    for gid in ("999999", "abc", "-3", "99999999999999999999"):
        assert admin.get(f"{RG}/{gid}").status_code == 404
        assert admin.get(f"{RG}/{gid}/users").status_code == 404
        assert admin.put(f"{PG}/{gid}", json={"name": "x"}).status_code == 404
        assert admin.delete(f"{RG}/{gid}").status_code == 404
    assert admin.get("/rest/api/latest/projects/NOPE/settings/reviewer-groups").status_code == 404
    assert admin.get(f"/rest/api/latest/projects/{KEY}/repos/nope/settings/reviewer-groups").status_code == 404
    assert admin.post(RG, content=b"{bad", headers={"content-type": "application/json"}).status_code == 400
    assert admin.get(RG, params={"limit": "x"}).status_code == 400
    with as_user(server, "ann") as ann, server.client(auth=None) as anon, as_user(server, "cat") as cat:
        assert ann.get(RG).status_code == 200
        assert ann.post(RG, json={"name": "mine"}).status_code == 401
        assert anon.post(RG, json={"name": "mine"}).status_code == 401
        assert cat.get(RG).status_code == 401
        assert ann.post(PG, json={"name": "mine"}).status_code == 401
    with as_user(server, "dan") as dan:
        r = dan.post(RG, json={"name": "dans"})
        assert r.status_code == 201, r.text
        assert dan.post(PG, json={"name": "dans"}).status_code == 401
        with as_user(server, "ann") as ann:
            assert ann.put(f"{RG}/{r.json()['id']}", json={"name": "hers"}).status_code == 401
            assert ann.delete(f"{RG}/{r.json()['id']}").status_code == 401
        assert dan.delete(f"{RG}/{r.json()['id']}").status_code == 204
    assert admin.get(RG).json()["values"] == []
