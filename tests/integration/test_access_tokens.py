"""HTTP access tokens: every management operation, and using user, project and repository tokens."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from support import USER_PASSWORD, LiveServer, create_repo, create_user, grant_project, grant_repo, server_db

T = "/rest/access-tokens/latest"
A = "/rest/api/latest"
DAY = 86_400_000


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client) -> LiveServer:
    """alice administers project TOK, bob administers only TOK/alpha, carol has no rights."""
    create_user(server, "alice", "bob", "carol")
    for name in ("alpha", "beta", "scratch-a", "scratch-b"):
        create_repo(admin, "TOK", name)
    create_repo(admin, "OTHER", "gamma")
    grant_project(server, "TOK", "alice", "PROJECT_ADMIN")
    grant_repo(server, "TOK", "alpha", "bob", "REPO_ADMIN")
    return server


def as_user(server: LiveServer, name: str) -> httpx.Client:
    return server.client(auth=(name, USER_PASSWORD))


def bearer(server: LiveServer, token: str) -> httpx.Client:
    return server.client(auth=None, headers={"Authorization": f"Bearer {token}"})


def exception(r: httpx.Response) -> str:
    return r.json()["errors"][0]["exceptionName"]


def test_user_token_lifecycle(world: LiveServer) -> None:
    with as_user(world, "alice") as alice:
        r = alice.put(f"{T}/users/alice", json={"name": "ci", "permissions": ["PROJECT_READ"], "expiryDays": 30})
        assert r.status_code == 200, r.text
        made = r.json()
        assert isinstance(made["id"], str) and made["id"].isdigit()
        assert made["name"] == "ci" and made["permissions"] == ["PROJECT_READ", "REPO_READ"]
        assert made["user"]["name"] == "alice" and made["user"]["type"] == "NORMAL"
        assert made["expiryDays"] == 30 and made["expiryDate"] == made["createdDate"] + 30 * DAY
        assert "lastAuthenticated" not in made and made["token"]
        # The raw token is base64("<id>:<secret>") and only the secret's SHA-256 is stored.
        token_id, secret = base64.b64decode(made["token"] + "==").decode().split(":", 1)
        assert token_id == made["id"]
        from culm.domain.tokens.models import AccessToken

        with server_db(world) as s:
            row = s.get(AccessToken, int(made["id"]))
            assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
            assert secret not in (row.secret_hash, row.name, row.permissions)

        listed = alice.get(f"{T}/users/alice").json()
        assert listed["size"] == 1 and listed["isLastPage"] is True and listed["start"] == 0
        assert listed["values"][0]["id"] == made["id"] and "token" not in listed["values"][0]
        got = alice.get(f"{T}/users/alice/{made['id']}").json()
        assert got["name"] == "ci" and "token" not in got

        r = alice.post(f"{T}/users/alice/{made['id']}", json={"name": "ci-2", "permissions": ["REPO_WRITE"]})
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "ci-2" and r.json()["permissions"] == ["REPO_WRITE"] and "token" not in r.json()
        assert r.json()["expiryDays"] == 30  # not named, not changed
        r = alice.post(f"{T}/users/alice/{made['id']}", json={"expiryDays": 5})
        assert r.json()["expiryDate"] == made["createdDate"] + 5 * DAY and r.json()["name"] == "ci-2"

        with bearer(world, made["token"]) as tok:
            assert tok.get(f"{A}/projects/TOK/repos/alpha").status_code == 200
        assert alice.get(f"{T}/users/alice/{made['id']}").json()["lastAuthenticated"] > 0

        assert alice.delete(f"{T}/users/alice/{made['id']}").status_code == 204
        assert alice.get(f"{T}/users/alice/{made['id']}").status_code == 404
        assert alice.delete(f"{T}/users/alice/{made['id']}").status_code == 404
        with bearer(world, made["token"]) as tok:  # revoked
            r = tok.get(f"{A}/projects/TOK/repos/alpha")
            assert r.status_code == 401 and "Incorrect" in exception(r)


def test_paging_of_tokens(world: LiveServer) -> None:
    with as_user(world, "carol") as carol:
        ids = [carol.put(f"{T}/users/carol", json={"name": f"t{i}", "permissions": ["REPO_READ"]}).json()["id"]
               for i in range(3)]
        first = carol.get(f"{T}/users/carol", params={"limit": 2}).json()
        assert first["size"] == 2 and first["isLastPage"] is False and first["nextPageStart"] == 2
        rest = carol.get(f"{T}/users/carol", params={"start": 2, "limit": 2}).json()
        assert rest["isLastPage"] is True and "nextPageStart" not in rest
        assert sorted(v["id"] for v in first["values"] + rest["values"]) == sorted(ids)
        for i in ids:
            assert carol.delete(f"{T}/users/carol/{i}").status_code == 204


@pytest.mark.parametrize("body", [
    {"permissions": ["REPO_READ"]},
    {"name": "", "permissions": ["REPO_READ"]},
    {"name": 7, "permissions": ["REPO_READ"]},
    {"name": "x" * 256, "permissions": ["REPO_READ"]},
    {"name": "t"},
    {"name": "t", "permissions": []},
    {"name": "t", "permissions": "REPO_READ"},
    {"name": "t", "permissions": ["REPO_READ", "REPO_SUPER"]},
    {"name": "t", "permissions": ["ADMIN"]},
    {"name": "t", "permissions": [None]},
    {"name": "t", "permissions": ["REPO_READ"], "expiryDays": -1},
    {"name": "t", "permissions": ["REPO_READ"], "expiryDays": 0},
    {"name": "t", "permissions": ["REPO_READ"], "expiryDays": "10"},
    {"name": "t", "permissions": ["REPO_READ"], "expiryDays": 1.5},
    {"name": "t", "permissions": ["REPO_READ"], "expiryDays": True},
])
def test_bad_create_requests_change_nothing(world: LiveServer, body: dict) -> None:
    with as_user(world, "bob") as bob:
        r = bob.put(f"{T}/users/bob", json=body)
        assert r.status_code == 400, r.text
        assert "ArgumentValidationException" in exception(r) and r.json()["errors"][0]["message"]
        assert bob.get(f"{T}/users/bob").json()["size"] == 0


def test_malformed_bodies(world: LiveServer) -> None:
    with as_user(world, "bob") as bob:
        for raw in (b"{nope", b"[1, 2]", b'"x"'):
            r = bob.put(f"{T}/users/bob", content=raw, headers={"content-type": "application/json"})
            assert r.status_code == 400 and r.json()["errors"][0]["message"]
        made = bob.put(f"{T}/users/bob", json={"name": "keep", "permissions": ["REPO_READ"]}).json()
        r = bob.post(f"{T}/users/bob/{made['id']}", content=b"{nope", headers={"content-type": "application/json"})
        assert r.status_code == 400
        for body in ({"permissions": ["NOPE"]}, {"name": ""}, {"expiryDays": -3}, {"permissions": []}):
            assert bob.post(f"{T}/users/bob/{made['id']}", json=body).status_code == 400
        got = bob.get(f"{T}/users/bob/{made['id']}").json()
        assert got["name"] == "keep" and got["permissions"] == ["REPO_READ"] and "expiryDate" not in got
        assert bob.delete(f"{T}/users/bob/{made['id']}").status_code == 204


def test_other_users_tokens_and_unknown_ids(world: LiveServer, admin: httpx.Client) -> None:
    with as_user(world, "alice") as alice, as_user(world, "carol") as carol:
        made = alice.put(f"{T}/users/alice", json={"name": "mine", "permissions": ["REPO_READ"]}).json()
        tid = made["id"]
        for r in (carol.get(f"{T}/users/alice"), carol.get(f"{T}/users/alice/{tid}"),
                  carol.put(f"{T}/users/alice", json={"name": "x", "permissions": ["REPO_READ"]}),
                  carol.post(f"{T}/users/alice/{tid}", json={"name": "stolen"}),
                  carol.delete(f"{T}/users/alice/{tid}")):
            assert r.status_code == 401 and "AuthorisationException" in exception(r)
        with world.client(auth=None) as anon:
            r = anon.get(f"{T}/users/alice")
            assert r.status_code == 401 and "AuthenticationRequired" in exception(r)
        assert alice.get(f"{T}/users/alice/{tid}").json()["name"] == "mine"
        # A global admin may look at, change and revoke others' tokens, but not mint them.
        assert admin.get(f"{T}/users/alice").json()["size"] == 1
        assert admin.put(f"{T}/users/alice", json={"name": "x", "permissions": ["REPO_READ"]}).status_code == 401
        assert admin.post(f"{T}/users/alice/{tid}", json={"name": "renamed"}).json()["name"] == "renamed"
        # Unknown user, unknown or malformed ids, and ids of someone else's token are 404.
        assert alice.get(f"{T}/users/nobody").status_code == 404
        assert alice.get(f"{T}/users/alice/123456789012").status_code == 404
        assert alice.get(f"{T}/users/alice/abc").status_code == 404
        assert alice.get(f"{T}/users/alice/99999999999999999999999").status_code == 404
        assert alice.post(f"{T}/users/alice/123456789012", json={"name": "x"}).status_code == 404
        assert admin.get(f"{T}/users/admin/{tid}").status_code == 404
        assert admin.delete(f"{T}/users/alice/{tid}").status_code == 204
        assert alice.get(f"{T}/users/alice").json()["size"] == 0


def test_user_token_narrows_its_owner(world: LiveServer) -> None:
    with as_user(world, "alice") as alice:
        read = alice.put(f"{T}/users/alice", json={"name": "read", "permissions": ["REPO_READ"]}).json()["token"]
        admin_tok = alice.put(f"{T}/users/alice",
                              json={"name": "adm", "permissions": ["PROJECT_ADMIN"]}).json()
    assert admin_tok["permissions"] == ["PROJECT_ADMIN", "REPO_ADMIN"]
    with bearer(world, read) as tok:
        r = tok.get(f"{A}/projects/TOK/repos/alpha")
        assert r.status_code == 200 and r.headers["x-ausername"] == "alice"
        assert tok.get(f"{A}/projects/OTHER/repos/gamma").status_code == 401  # alice has no rights there
        r = tok.delete(f"{A}/projects/TOK/repos/scratch-a")  # alice could; her READ token cannot
        assert r.status_code == 401 and "AuthorisationException" in exception(r)
        assert tok.post(f"{A}/projects/TOK/repos", json={"name": "nope"}).status_code == 401
        assert tok.post(f"{A}/projects", json={"key": "NOPE", "name": "nope"}).status_code == 401
        # Tokens cannot mint or change tokens, but may list their owner's.
        assert tok.put(f"{T}/users/alice", json={"name": "x", "permissions": ["REPO_READ"]}).status_code == 401
        assert tok.get(f"{T}/users/alice").status_code == 200
    # Basic auth with the user name and a personal token works; with another name it does not.
    with world.client(auth=("alice", read)) as basic:
        r = basic.get(f"{A}/projects/TOK/repos/alpha")
        assert r.status_code == 200 and r.headers["x-ausername"] == "alice"
    with world.client(auth=("carol", read)) as basic:
        assert basic.get(f"{A}/projects/TOK/repos/alpha").status_code == 401
    with bearer(world, admin_tok["token"]) as tok:
        assert tok.put(f"{T}/projects/TOK", json={"name": "x", "permissions": ["REPO_READ"]}).status_code == 401
        assert tok.get(f"{T}/projects/TOK").status_code == 200


def test_expired_token_is_refused(world: LiveServer) -> None:
    from culm.domain.tokens.models import AccessToken

    with as_user(world, "alice") as alice:
        made = alice.put(f"{T}/users/alice", json={"name": "old", "permissions": ["REPO_READ"],
                                                   "expiryDays": 1}).json()
    with bearer(world, made["token"]) as tok:
        assert tok.get(f"{A}/projects/TOK/repos/alpha").status_code == 200
        with server_db(world) as s:
            s.get(AccessToken, int(made["id"])).expiry_date = made["createdDate"] - 1
        r = tok.get(f"{A}/projects/TOK/repos/alpha")
        assert r.status_code == 401 and "x-ausername" not in r.headers
    with world.client(auth=("alice", made["token"])) as basic:
        assert basic.get(f"{A}/projects/TOK/repos/alpha").status_code == 401


def test_project_token_acts_as_a_bot(world: LiveServer) -> None:
    with as_user(world, "alice") as alice:
        r = alice.put(f"{T}/projects/TOK", json={"name": "deployer", "permissions": ["PROJECT_READ"]})
        assert r.status_code == 200, r.text
        made = r.json()
        assert made["permissions"] == ["PROJECT_READ", "REPO_READ"]
        bot = made["user"]
        assert bot["type"] == "SERVICE" and bot["name"] == f"bot-{made['id']}"
        assert alice.get(f"{T}/projects/TOK").json()["values"][0]["id"] == made["id"]
        assert alice.get(f"{T}/projects/TOK/{made['id']}").json()["name"] == "deployer"
        assert alice.get(f"{T}/projects/TOK/repos/alpha/{made['id']}").status_code == 404  # not a repo token
        assert alice.get(f"{T}/users/alice/{made['id']}").status_code == 404
    with bearer(world, made["token"]) as tok:
        r = tok.get(f"{A}/projects/TOK/repos/beta")
        assert r.status_code == 200 and r.headers["x-ausername"] == bot["name"]
        assert tok.get(f"{A}/projects/OTHER/repos/gamma").status_code == 401
        assert tok.delete(f"{A}/projects/TOK/repos/scratch-a").status_code == 401
        assert tok.post(f"{A}/projects/TOK/repos", json={"name": "nope"}).status_code == 401
        assert tok.get(f"{T}/projects/TOK").status_code == 401  # listing needs PROJECT_ADMIN
    # Project tokens are Bearer only, and the bot has no password.
    with world.client(auth=(bot["name"], made["token"])) as basic:
        assert basic.get(f"{A}/projects/TOK/repos/beta").status_code == 401

    with as_user(world, "alice") as alice:
        r = alice.post(f"{T}/projects/TOK/{made['id']}", json={"permissions": ["PROJECT_ADMIN"]})
        assert r.json()["permissions"] == ["PROJECT_ADMIN", "REPO_ADMIN"]
    with bearer(world, made["token"]) as tok:
        assert tok.delete(f"{A}/projects/TOK/repos/scratch-a").status_code == 202
        assert tok.get(f"{A}/projects/OTHER/repos/gamma").status_code == 401  # still only its project
        assert tok.put(f"{T}/projects/TOK", json={"name": "x", "permissions": ["REPO_READ"]}).status_code == 401
        assert tok.post(f"{T}/projects/TOK/{made['id']}", json={"name": "x"}).status_code == 401
    with as_user(world, "alice") as alice:
        assert alice.delete(f"{T}/projects/TOK/{made['id']}").status_code == 204
    with bearer(world, made["token"]) as tok:
        assert tok.get(f"{A}/projects/TOK/repos/beta").status_code == 401


def test_project_token_permissions_checks(world: LiveServer) -> None:
    body = {"name": "t", "permissions": ["PROJECT_READ"]}
    with as_user(world, "bob") as bob, as_user(world, "carol") as carol, as_user(world, "alice") as alice:
        assert bob.put(f"{T}/projects/TOK", json=body).status_code == 401  # repo admin is not enough
        assert carol.get(f"{T}/projects/TOK").status_code == 401
        assert alice.put(f"{T}/projects/OTHER", json=body).status_code == 401
        assert alice.put(f"{T}/projects/NOPE", json=body).status_code == 404
        assert alice.get(f"{T}/projects/TOK/123456789012").status_code == 404
        assert alice.delete(f"{T}/projects/TOK/123456789012").status_code == 404
        assert alice.put(f"{T}/projects/TOK", json={"name": "t", "permissions": ["ADMIN"]}).status_code == 400
        assert alice.put(f"{T}/projects/TOK", content=b"{", headers={"content-type": "application/json"}
                         ).status_code == 400


def test_repository_token(world: LiveServer) -> None:
    with as_user(world, "bob") as bob:
        r = bob.put(f"{T}/projects/TOK/repos/alpha", json={"name": "reader", "permissions": ["REPO_READ"]})
        assert r.status_code == 200, r.text
        made = r.json()
        assert made["permissions"] == ["REPO_READ"] and made["user"]["type"] == "SERVICE"
        r = bob.put(f"{T}/projects/TOK/repos/alpha", json={"name": "x", "permissions": ["PROJECT_READ"]})
        assert r.status_code == 400 and "may not have" in r.json()["errors"][0]["message"]
        assert bob.put(f"{T}/projects/TOK/repos/beta", json={"name": "x", "permissions": ["REPO_READ"]}
                       ).status_code == 401
        assert bob.put(f"{T}/projects/TOK/repos/nope", json={"name": "x", "permissions": ["REPO_READ"]}
                       ).status_code == 404
        assert bob.get(f"{T}/projects/TOK/repos/alpha").json()["size"] == 1
        assert bob.get(f"{T}/projects/TOK/repos/alpha/{made['id']}").json()["name"] == "reader"
        assert bob.get(f"{T}/projects/TOK/repos/alpha/1").status_code == 404
    with bearer(world, made["token"]) as tok:
        r = tok.get(f"{A}/projects/TOK/repos/alpha")
        assert r.status_code == 200 and r.headers["x-ausername"] == made["user"]["name"]
        assert tok.get(f"{A}/projects/TOK/repos/beta").status_code == 401
        assert tok.delete(f"{A}/projects/TOK/repos/alpha").status_code == 401  # READ token cannot write
    with as_user(world, "alice") as alice:  # project admins administer the project's repositories
        r = alice.put(f"{T}/projects/TOK/repos/scratch-b", json={"name": "admin", "permissions": ["REPO_ADMIN"]})
        scratch = r.json()
        assert alice.post(f"{T}/projects/TOK/repos/alpha/{made['id']}", json={"name": "renamed"}
                          ).json()["name"] == "renamed"
        assert alice.delete(f"{T}/projects/TOK/repos/alpha/{made['id']}").status_code == 204
    with bearer(world, scratch["token"]) as tok:
        assert tok.delete(f"{A}/projects/TOK/repos/scratch-b").status_code == 202
    with bearer(world, made["token"]) as tok:
        assert tok.get(f"{A}/projects/TOK/repos/alpha").status_code == 401


def test_version_alias_and_atlassian_client(world: LiveServer) -> None:
    """`1.0` aliases `latest`; atlassian-python-api (no token helpers) sends the token as Bearer."""
    import requests
    from atlassian import Bitbucket

    with as_user(world, "alice") as alice:
        made = alice.put("/rest/access-tokens/1.0/users/alice",
                         json={"name": "apa", "permissions": ["REPO_READ"]}).json()
    session = requests.Session()
    session.trust_env = False
    bb = Bitbucket(url=world.url, token=made["token"], session=session)
    assert bb.get_repo("TOK", "alpha")["slug"] == "alpha"
    response = bb.get("rest/api/1.0/projects/TOK/repos/alpha", advanced_mode=True)
    assert response.headers["X-AUSERNAME"] == "alice"
