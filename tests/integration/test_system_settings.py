"""System-wide settings: the default branch of new repositories, and the user directories."""

from __future__ import annotations

from support import USER_PASSWORD, LiveServer, create_user, validating_client

DB = "/rest/api/latest/admin/default-branch"


def test_default_branch_set_used_and_cleared(server: LiveServer) -> None:
    with validating_client(server) as c:
        assert c.get(DB).status_code == 404  # nothing configured: the built-in default applies
        r = c.post("/rest/api/latest/projects", json={"key": "DBR", "name": "DBR"})
        assert r.status_code == 201, r.text
        r = c.post("/rest/api/latest/projects/DBR/repos", json={"name": "builtin"})
        assert c.get("/rest/api/latest/projects/DBR/repos/builtin/default-branch").json()["id"] == "refs/heads/main"

        assert c.put(DB, json={"id": "refs/heads/trunk"}).status_code == 204
        body = c.get(DB).json()
        assert body["id"] == "refs/heads/trunk" and body["displayId"] == "trunk"
        assert c.post("/rest/api/latest/projects/DBR/repos", json={"name": "configured"}).status_code == 201
        assert c.get("/rest/api/latest/projects/DBR/repos/configured/default-branch").json()["id"] == "refs/heads/trunk"
        # An explicit defaultBranch still wins.
        assert c.post("/rest/api/latest/projects/DBR/repos",
                      json={"name": "explicit", "defaultBranch": "dev"}).status_code == 201
        assert c.get("/rest/api/latest/projects/DBR/repos/explicit/default-branch").json()["id"] == "refs/heads/dev"
        # A bare branch name is accepted and stored as a ref; on 1.0 too.
        assert c.put("/rest/api/1.0/admin/default-branch", json={"id": "develop"}).status_code == 204
        assert c.get(DB).json()["id"] == "refs/heads/develop"

        assert c.delete(DB).status_code == 204
        assert c.get(DB).status_code == 404
        assert c.delete(DB).status_code == 204  # clearing twice is fine
        assert c.post("/rest/api/latest/projects/DBR/repos", json={"name": "after"}).status_code == 201
        assert c.get("/rest/api/latest/projects/DBR/repos/after/default-branch").json()["id"] == "refs/heads/main"


def test_default_branch_bad_input_changes_nothing(server: LiveServer) -> None:
    with validating_client(server) as c:
        assert c.put(DB, json={"id": "refs/heads/stable"}).status_code == 204
        for bad in ({"id": "bad..name"}, {"id": "has space"}, {"id": ""}, {"id": 7}, {},
                    {"id": "refs/tags/v1"}, {"id": "-x"}):
            r = c.put(DB, json=bad)
            assert r.status_code == 400, (bad, r.text)
            assert r.json()["errors"][0]["context"] == "id"
        r = c.put(DB, content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert c.get(DB).json()["id"] == "refs/heads/stable"
        assert c.delete(DB).status_code == 204


def test_default_branch_needs_admin(server: LiveServer) -> None:
    create_user(server, "dbuser")
    with validating_client(server, auth=("dbuser", USER_PASSWORD)) as c:
        assert c.get(DB).status_code == 404  # any authenticated user may read it
        r = c.put(DB, json={"id": "refs/heads/mine"})
        assert r.status_code == 401
        assert r.json()["errors"][0]["exceptionName"].endswith("AuthorisationException")
        assert c.delete(DB).status_code == 401
    with validating_client(server, auth=None) as anon:
        assert anon.get(DB).status_code == 401
        assert anon.put(DB, json={"id": "refs/heads/mine"}).status_code == 401
    with validating_client(server) as c:
        assert c.get(DB).status_code == 404


def test_user_directories(server: LiveServer) -> None:
    with validating_client(server) as c:
        for query in ("", "?includeInactive=true"):
            r = c.get("/rest/api/latest/admin/user-directories" + query)
            assert r.status_code == 200
            (directory,) = r.json()
            assert directory["name"] == "Bitbucket Internal Directory"
            assert directory["active"] is True
            assert isinstance(directory["type"], str) and directory["description"]
    create_user(server, "dirnobody")
    with validating_client(server, auth=("dirnobody", USER_PASSWORD)) as c:
        assert c.get("/rest/api/latest/admin/user-directories").status_code == 401
    with validating_client(server, auth=None) as anon:
        assert anon.get("/rest/api/latest/admin/user-directories").status_code == 401
