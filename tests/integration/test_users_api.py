"""`/rest/api/latest/users`: listing with filters, one user, own details and password, user settings."""

from __future__ import annotations

import httpx
import pytest

from support import (
    USER_PASSWORD,
    LiveServer,
    create_repo,
    create_user,
    grant_project,
    grant_repo,
    personal_token,
    server_db,
)

U = "/rest/api/latest/users"
NO_SUCH_USER = "com.atlassian.bitbucket.user.NoSuchUserException"


def names(page: dict) -> list[str]:
    return [v["name"] for v in page["values"]]


@pytest.fixture(scope="module")
def people(server: LiveServer) -> None:
    create_user(server, "alice", "albert", "bob", "carol", "dave")
    from culm.domain.users import service as users

    with server_db(server) as session:
        users.create_user(session, "svc-bot", None, "Bot", None, user_type="SERVICE")  # type: ignore[arg-type]
        group = users.create_group(session, "readers")  # type: ignore[arg-type]
        for n in ("alice", "bob"):
            users.add_to_group(session, users.require_user(session, n), group)  # type: ignore[arg-type]


def test_list_filter_and_paging(server: LiveServer, admin: httpx.Client, people: None) -> None:
    body = admin.get(U).json()
    assert set(names(body)) == {"admin", "alice", "albert", "bob", "carol", "dave"}  # no service user
    assert body["isLastPage"] is True and "nextPageStart" not in body
    assert names(admin.get(U, params={"filter": "AL"}).json()) == ["admin", "albert", "alice"]  # admin@locAL..
    assert names(admin.get(U, params={"filter": "bob@example"}).json()) == ["bob"]  # by e-mail
    assert names(admin.get(U, params={"filter": "Carol"}).json()) == ["carol"]  # by display name
    assert admin.get(U, params={"filter": "%"}).json()["values"] == []  # LIKE wildcards are literal
    first = admin.get(U, params={"limit": 2}).json()
    assert first["size"] == 2 and first["isLastPage"] is False and first["nextPageStart"] == 2
    second = admin.get(U, params={"limit": 2, "start": 2}).json()
    assert set(names(first)).isdisjoint(names(second))
    assert admin.get(U, params={"limit": "x"}).status_code == 400
    user = admin.get(U, params={"filter": "alice"}).json()["values"][0]
    assert set(user) == {"name", "emailAddress", "active", "displayName", "id", "slug", "type", "links"}
    assert user["links"]["self"][0]["href"] == f"{server.url}/users/alice"


def test_group_filter(admin: httpx.Client, people: None) -> None:
    assert names(admin.get(U, params={"group": "readers"}).json()) == ["alice", "bob"]
    assert names(admin.get(U, params={"group": "readers", "filter": "bo"}).json()) == ["bob"]
    assert admin.get(U, params={"group": "no-such-group"}).json()["values"] == []


def test_permission_filters(server: LiveServer, admin: httpx.Client, people: None) -> None:
    assert names(admin.get(U, params={"permission": "SYS_ADMIN"}).json()) == ["admin"]
    licensed = names(admin.get(U, params={"permission": "LICENSED_USER"}).json())
    assert "alice" in licensed and "svc-bot" not in licensed
    create_repo(admin, "UF", "code")
    grant_project(server, "UF", "alice", "PROJECT_WRITE")
    grant_project(server, "UF", "readers", "PROJECT_READ", group=True)
    grant_repo(server, "UF", "code", "carol", "REPO_ADMIN")
    q = {"permission.1": "PROJECT_WRITE", "permission.1.projectKey": "UF"}
    assert names(admin.get(U, params=q).json()) == ["admin", "alice"]  # global admins imply project admin
    q = {"permission": "PROJECT_READ", "permission.projectKey": "UF"}
    assert names(admin.get(U, params=q).json()) == ["admin", "alice", "bob"]
    q = {"permission.1": "REPO_READ", "permission.1.projectKey": "UF", "permission.1.repositorySlug": "code"}
    assert names(admin.get(U, params=q).json()) == ["admin", "alice", "bob", "carol"]
    q = {"permission.1": "REPO_ADMIN", "permission.1.projectKey": "UF", "permission.1.repositorySlug": "code",
         "permission.2": "PROJECT_READ", "permission.2.projectKey": "UF"}
    assert names(admin.get(U, params=q).json()) == ["admin"]  # filters are ANDed
    repo_id = admin.get("/rest/api/latest/projects/UF/repos/code").json()["id"]
    q = {"permission.1": "REPO_ADMIN", "permission.1.repositoryId": str(repo_id)}
    assert names(admin.get(U, params=q).json()) == ["admin", "carol"]
    # bad filters: a clear 400/404, never a 500
    r = admin.get(U, params={"permission": "PROJECT_READ"})
    assert r.status_code == 400 and r.json()["errors"][0]["context"] == "permission"
    assert admin.get(U, params={"permission": "NOT_A_PERMISSION"}).status_code == 400
    assert admin.get(U, params={"permission": "PROJECT_READ", "permission.projectKey": "NOPE"}).status_code == 404
    assert admin.get(U, params={"permission": "REPO_READ", "permission.repositoryId": "x"}).status_code == 400
    assert admin.get(U, params={"permission": "REPO_READ", "permission.repositoryId": "999999"}).status_code == 404


def test_get_user(server: LiveServer, admin: httpx.Client, people: None) -> None:
    r = admin.get(f"{U}/alice")
    assert r.status_code == 200 and r.json()["displayName"] == "Alice"
    assert admin.get("/rest/api/1.0/users/ALICE").json()["slug"] == "alice"
    r = admin.get(f"{U}/nobody")
    assert r.status_code == 404
    assert r.json()["errors"][0]["exceptionName"] == NO_SUCH_USER
    assert "nobody" in r.json()["errors"][0]["message"]
    with server.client(auth=None) as anon:
        for path in (U, f"{U}/alice"):
            r = anon.get(path)
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    with server.client(auth=("bob", USER_PASSWORD)) as bob:
        r = bob.get(f"{U}/alice")
        assert r.status_code == 200 and r.headers["x-ausername"] == "bob"


def test_update_own_details(server: LiveServer, people: None) -> None:
    with server.client(auth=("dave", USER_PASSWORD)) as dave:
        r = dave.put(U, json={"displayName": "Dave D.", "email": "dd@example.org", "name": "ignored"})
        assert r.status_code == 200, r.text
        assert r.json()["displayName"] == "Dave D." and r.json()["emailAddress"] == "dd@example.org"
        assert r.json()["name"] == "dave"
        for bad in ({"email": "not-an-address"}, {"displayName": ""}, {"displayName": "x" * 300},
                    {"email": "a@b.c", "password": "wrong"}):
            r = dave.put(U, json=bad)
            assert r.status_code == 400, bad
            assert r.json()["errors"][0]["exceptionName"].endswith("ArgumentValidationException")
        assert dave.put(U, content=b"[1]", headers={"content-type": "application/json"}).status_code == 400
        assert dave.get(f"{U}/dave").json()["emailAddress"] == "dd@example.org"  # nothing changed
        r = dave.put(U, json={"email": "d2@example.org", "password": USER_PASSWORD})
        assert r.status_code == 200 and r.json()["emailAddress"] == "d2@example.org"
    with server.client(auth=None) as anon:
        assert anon.put(U, json={"displayName": "x"}).status_code == 401
    token = personal_token(server, "dave")
    with server.client(auth=None, headers={"Authorization": f"Bearer {token}"}) as tok:
        assert tok.get(f"{U}/dave").status_code == 200
        r = tok.put(U, json={"displayName": "Token Dave"})
        assert r.status_code == 401 and r.json()["errors"][0]["exceptionName"].endswith("AuthorisationException")
        assert tok.put(f"{U}/credentials", json={"oldPassword": USER_PASSWORD, "password": "x",
                                                 "passwordConfirm": "x"}).status_code == 401


def test_change_own_password(server: LiveServer, people: None) -> None:
    create_user(server, "pat")
    with server.client(auth=("pat", USER_PASSWORD)) as pat:
        cases = [
            ({"oldPassword": "wrong", "password": "n3w-Secret", "passwordConfirm": "n3w-Secret"}, "oldPassword"),
            ({"password": "n3w-Secret", "passwordConfirm": "n3w-Secret"}, "oldPassword"),
            ({"oldPassword": USER_PASSWORD, "password": "n3w-Secret", "passwordConfirm": "other"}, "passwordConfirm"),
            ({"oldPassword": USER_PASSWORD, "password": "", "passwordConfirm": ""}, "password"),
        ]
        for body, context in cases:
            r = pat.put(f"{U}/credentials", json=body)
            assert r.status_code == 400 and r.json()["errors"][0]["context"] == context, (body, r.text)
        r = pat.put(f"{U}/credentials",
                    json={"oldPassword": USER_PASSWORD, "password": "n3w-Secret", "passwordConfirm": "n3w-Secret"})
        assert r.status_code == 204, r.text
    with server.client(auth=("pat", USER_PASSWORD)) as old:
        assert old.get(f"{U}/pat").status_code == 401
    with server.client(auth=("pat", "n3w-Secret")) as new:
        assert new.get(f"{U}/pat").status_code == 200


def test_user_settings(server: LiveServer, admin: httpx.Client, people: None) -> None:
    with server.client(auth=("carol", USER_PASSWORD)) as carol:
        assert carol.get(f"{U}/carol/settings").json() == {}
        r = carol.post(f"{U}/carol/settings", json={"theme": "dark", "count": 10, "flag": True, "ratio": 0.5})
        assert r.status_code == 204
        assert carol.get(f"{U}/carol/settings").json() == {"theme": "dark", "count": 10, "flag": True, "ratio": 0.5}
        assert carol.post(f"{U}/carol/settings", json={"theme": "light", "count": None}).status_code == 204
        assert carol.get(f"{U}/carol/settings").json() == {"theme": "light", "flag": True, "ratio": 0.5}
        for bad in ({"x": [1]}, {"x": {"a": 1}}, {"": 1}, {"k" * 300: 1}):
            assert carol.post(f"{U}/carol/settings", json=bad).status_code == 400, bad
        assert carol.get(f"{U}/carol/settings").json()["theme"] == "light"
        # someone else's settings: refused either way
        assert carol.get(f"{U}/alice/settings").status_code == 401
        assert carol.post(f"{U}/alice/settings", json={"x": 1}).status_code == 401
    assert admin.get(f"{U}/carol/settings").json()["theme"] == "light"  # administrators may read them
    assert admin.get(f"{U}/nobody/settings").status_code == 404
    with server.client(auth=None) as anon:
        assert anon.get(f"{U}/carol/settings").status_code == 401


def test_nul_characters_are_refused_not_crashed(server: LiveServer, admin: httpx.Client, people: None) -> None:
    """PostgreSQL cannot store NUL in text: such input is a 4xx (or simply matches nothing), never a 500."""
    assert admin.get(U, params={"filter": "a\x00"}).status_code == 200
    assert admin.get(f"{U}/ali%00ce").status_code == 404
    assert admin.get(U, params={"permission": "PROJECT_READ", "permission.projectKey": "A\x00"}).status_code == 400
    assert admin.get(U, params={"group": "x\x00"}).json()["values"] == []
    assert admin.put(U, json={"displayName": "a\x00b"}).status_code == 400
    assert admin.put(U, json={"email": "a\x00@b.c"}).status_code == 400
    assert admin.post(f"{U}/admin/settings", json={"k\x00": 1}).status_code == 400
    assert admin.post(f"{U}/admin/settings", json={"k": "v\x00"}).status_code == 204
    assert admin.delete("/rest/api/latest/admin/groups", params={"name": "g\x00"}).status_code == 404
    assert admin.post("/rest/api/latest/admin/groups", params={"name": "g\x00"}).status_code == 400
    assert admin.post("/rest/api/latest/admin/users", params={"name": "n\x00", "password": "p", "displayName": "d",
                                                              "emailAddress": "e@x.y"}).status_code == 400
    assert admin.put("/rest/api/latest/admin/permissions/users",
                     params={"name": "n\x00", "permission": "ADMIN"}).status_code == 404
