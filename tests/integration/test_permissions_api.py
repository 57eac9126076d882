"""Project and repository permissions: grant, list, revoke, users/groups without access, the default
permission for all users, inheritance (global -> project -> repository), the lock-out rule; and
atlassian-python-api driving projects, repositories and grants."""

from __future__ import annotations

import pytest

from support import USER_PASSWORD, LiveServer, create_repo, create_user, grant_project, server_db

API = "/rest/api/latest"


@pytest.fixture(scope="module")
def people(server: LiveServer) -> None:
    from culm.domain.users import service as users

    create_user(server, "alice", "bob", "carol", "dave", "erin")
    with server_db(server) as session:
        devs = users.create_group(session, "devs")  # type: ignore[arg-type]
        users.create_group(session, "qa")  # type: ignore[arg-type]
        users.add_to_group(session, users.require_user(session, "dave"), devs)  # type: ignore[arg-type]


def err(r) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    return r.status_code, r.json()["errors"][0]["exceptionName"].rsplit(".", 1)[-1]


def as_user(server: LiveServer, name: str):  # type: ignore[no-untyped-def]
    return server.client(auth=(name, USER_PASSWORD))


def test_project_user_and_group_grants(server: LiveServer, admin, people) -> None:
    create_repo(admin, "PPG", "code")
    base = f"{API}/projects/PPG/permissions"
    assert admin.put(f"{base}/users", params={"name": "alice", "permission": "PROJECT_WRITE"}).status_code == 204
    assert admin.put(f"{base}/users", params=[("name", "bob"), ("name", "carol"), ("permission", "PROJECT_READ")]
                     ).status_code == 204
    assert admin.put(f"{base}/groups", params={"name": "devs", "permission": "PROJECT_ADMIN"}).status_code == 204
    listed = admin.get(f"{base}/users").json()
    assert [(v["user"]["name"], v["permission"]) for v in listed["values"]] == [
        ("alice", "PROJECT_WRITE"), ("bob", "PROJECT_READ"), ("carol", "PROJECT_READ")]
    assert listed["values"][0]["user"]["links"]["self"][0]["href"] == f"{server.url}/users/alice"
    page = admin.get(f"{base}/users", params={"limit": 2}).json()
    assert page["size"] == 2 and page["nextPageStart"] == 2 and not page["isLastPage"]
    assert [v["user"]["name"] for v in admin.get(f"{base}/users", params={"filter": "AR"}).json()["values"]] == [
        "carol"]
    assert admin.get(f"{base}/groups").json()["values"] == [{"group": {"name": "devs"}, "permission": "PROJECT_ADMIN"}]
    # A new grant replaces the old one.
    admin.put(f"{base}/users", params={"name": "bob", "permission": "PROJECT_ADMIN"})
    assert {v["user"]["name"]: v["permission"] for v in admin.get(f"{base}/users").json()["values"]}["bob"] == (
        "PROJECT_ADMIN")

    without = [u["name"] for u in admin.get(f"{base}/users/none").json()["values"]]
    assert "dave" in without and "erin" in without and "alice" not in without
    groups_without = [g["name"] for g in admin.get(f"{base}/groups/none").json()["values"]]
    assert "qa" in groups_without and "devs" not in groups_without

    # Inheritance: the group grant on the project reaches its repositories.
    with as_user(server, "dave") as dave:
        assert dave.get(f"{API}/projects/PPG/repos/code").status_code == 200
        assert dave.put(f"{API}/projects/PPG/repos/code", json={"description": "by dave"}).status_code == 201
    with as_user(server, "carol") as carol:
        assert carol.get(f"{API}/projects/PPG/repos/code").status_code == 200
        assert carol.put(f"{API}/projects/PPG/repos/code", json={"description": "x"}).status_code == 401
        assert carol.get(base + "/users").status_code == 401  # READ is not PROJECT_ADMIN

    assert admin.delete(f"{base}/users", params={"name": "carol"}).status_code == 204
    assert admin.delete(f"{base}/groups", params={"name": "devs"}).status_code == 204
    with as_user(server, "dave") as dave:
        assert dave.get(f"{API}/projects/PPG/repos/code").status_code == 401
    assert admin.delete(base, params=[("user", "alice"), ("user", "bob")]).status_code == 204
    assert admin.get(f"{base}/users").json()["values"] == []


def test_project_grant_bad_inputs(server: LiveServer, admin, people) -> None:
    admin.post(f"{API}/projects", json={"key": "PBAD", "name": "Pbad"})
    base = f"{API}/projects/PBAD/permissions"
    assert err(admin.put(f"{base}/users", params={"name": "alice", "permission": "REPO_READ"})) == (
        400, "ArgumentValidationException")
    assert err(admin.put(f"{base}/users", params={"name": "alice", "permission": "BOSS"}))[0] == 400
    assert err(admin.put(f"{base}/users", params={"name": "alice"}))[0] == 400
    assert err(admin.put(f"{base}/users", params={"permission": "PROJECT_READ"}))[0] == 400
    r = admin.put(f"{base}/users", params=[("name", "alice"), ("name", "ghost"), ("permission", "PROJECT_READ")])
    assert err(r) == (404, "NoSuchUserException") and "ghost" in r.json()["errors"][0]["message"]
    assert err(admin.put(f"{base}/groups", params={"name": "nogroup", "permission": "PROJECT_READ"})) == (
        404, "NoSuchGroupException")
    assert err(admin.delete(f"{base}/users", params={"name": "ghost"})) == (404, "NoSuchUserException")
    assert err(admin.delete(base))[0] == 400
    assert err(admin.get(f"{API}/projects/NOPE/permissions/users")) == (404, "NoSuchProjectException")
    assert admin.get(f"{base}/users").json()["values"] == []  # the valid half of the bad call did not land
    with server.client(auth=None) as anon:
        assert err(anon.get(f"{base}/users")) == (401, "AuthenticationRequiredException")


def test_cannot_lock_yourself_out(server: LiveServer, admin, people) -> None:
    admin.post(f"{API}/projects", json={"key": "LOCK", "name": "Lock"})
    base = f"{API}/projects/LOCK/permissions"
    grant_project(server, "LOCK", "erin", "PROJECT_ADMIN")
    with as_user(server, "erin") as erin:
        r = erin.put(f"{base}/users", params={"name": "erin", "permission": "PROJECT_READ"})
        assert r.status_code == 403, r.text
        assert erin.delete(f"{base}/users", params={"name": "erin"}).status_code == 409
        assert erin.delete(base, params={"user": "erin"}).status_code == 409
        # Others are fine, and so is giving yourself what you already have.
        assert erin.put(f"{base}/users", params={"name": "alice", "permission": "PROJECT_ADMIN"}).status_code == 204
        assert erin.put(f"{base}/users", params={"name": "erin", "permission": "PROJECT_ADMIN"}).status_code == 204
    perms = {v["user"]["name"]: v["permission"] for v in admin.get(f"{base}/users").json()["values"]}
    assert perms == {"alice": "PROJECT_ADMIN", "erin": "PROJECT_ADMIN"}
    # A global admin keeps admin rights whatever the project grants say.
    admin.put(f"{base}/users", params={"name": "admin", "permission": "PROJECT_READ"})
    assert admin.delete(f"{base}/users", params={"name": "admin"}).status_code == 204


def test_default_permission_for_all_users(server: LiveServer, admin, people) -> None:
    create_repo(admin, "DEFP", "shared")
    base = f"{API}/projects/DEFP/permissions"
    assert admin.get(f"{base}/PROJECT_READ/all").json() == {"permitted": False}
    with as_user(server, "erin") as erin:
        assert erin.get(f"{API}/projects/DEFP/repos/shared").status_code == 401
        assert "DEFP" not in [p["key"] for p in erin.get(f"{API}/projects").json()["values"]]
    assert admin.post(f"{base}/PROJECT_WRITE/all", params={"allow": "true"}).status_code == 204
    assert admin.get(f"{base}/PROJECT_READ/all").json() == {"permitted": True}
    assert admin.get(f"{base}/PROJECT_WRITE/all").json() == {"permitted": True}
    assert admin.get(f"{base}/PROJECT_ADMIN/all").json() == {"permitted": False}
    with as_user(server, "erin") as erin:
        assert erin.get(f"{API}/projects/DEFP/repos/shared").status_code == 200
        assert "DEFP" in [p["key"] for p in erin.get(f"{API}/projects").json()["values"]]
        hits = erin.get(f"{API}/repos", params={"permission": "REPO_WRITE", "projectkey": "DEFP"}).json()
        assert [r["slug"] for r in hits["values"]] == ["shared"]
        assert erin.post(f"{base}/PROJECT_READ/all", params={"allow": "false"}).status_code == 401
    with server.client(auth=None) as anon:  # all *licensed* users, not anonymous ones
        assert anon.get(f"{API}/projects/DEFP/repos/shared").status_code == 401
    assert admin.post(f"{base}/PROJECT_WRITE/all", params={"allow": "false"}).status_code == 204
    assert admin.get(f"{base}/PROJECT_READ/all").json() == {"permitted": True}  # write revoked, read stays
    assert admin.post(f"{base}/PROJECT_READ/all", params={"allow": "false"}).status_code == 204
    with as_user(server, "erin") as erin:
        assert erin.get(f"{API}/projects/DEFP/repos/shared").status_code == 401
    assert err(admin.post(f"{base}/REPO_READ/all", params={"allow": "true"}))[0] == 400
    assert err(admin.post(f"{base}/PROJECT_READ/all", params={"allow": "perhaps"}))[0] == 400
    assert err(admin.post(f"{base}/PROJECT_READ/all"))[0] == 400
    assert err(admin.get(f"{API}/projects/NOPE/permissions/PROJECT_READ/all"))[0] == 404


def test_repository_grants(server: LiveServer, admin, people) -> None:
    create_repo(admin, "RPG", "one")
    create_repo(admin, "RPG", "two")
    base = f"{API}/projects/RPG/repos/one/permissions"
    assert admin.put(f"{base}/users", params={"name": "bob", "permission": "REPO_ADMIN"}).status_code == 204
    assert admin.put(f"{base}/users", params={"name": "carol", "permission": "REPO_READ"}).status_code == 204
    assert admin.put(f"{base}/groups", params={"name": "devs", "permission": "REPO_WRITE"}).status_code == 204
    assert [(v["user"]["name"], v["permission"]) for v in admin.get(f"{base}/users").json()["values"]] == [
        ("bob", "REPO_ADMIN"), ("carol", "REPO_READ")]
    assert admin.get(f"{base}/groups").json()["values"] == [{"group": {"name": "devs"}, "permission": "REPO_WRITE"}]
    assert "alice" in [u["name"] for u in admin.get(f"{base}/users/none").json()["values"]]
    assert "qa" in [g["name"] for g in admin.get(f"{base}/groups/none").json()["values"]]
    with as_user(server, "dave") as dave:  # through the devs group; the other repository stays hidden
        assert dave.get(f"{API}/projects/RPG/repos/one").status_code == 200
        assert dave.get(f"{API}/projects/RPG/repos/two").status_code == 401
        assert [r["slug"] for r in dave.get(f"{API}/projects/RPG/repos").json()["values"]] == ["one"]
        assert [r["slug"] for r in dave.get(f"{API}/repos", params={"permission": "REPO_WRITE", "name": "one"}
                                            ).json()["values"]] == ["one"]
    with as_user(server, "carol") as carol:
        assert carol.put(f"{base}/users", params={"name": "carol", "permission": "REPO_ADMIN"}).status_code == 401
    with as_user(server, "bob") as bob:
        assert bob.put(f"{base}/users", params={"name": "alice", "permission": "REPO_WRITE"}).status_code == 204
        assert bob.put(f"{base}/users", params={"name": "bob", "permission": "REPO_READ"}).status_code == 403
        assert bob.delete(f"{base}/users", params={"name": "bob"}).status_code == 409
        assert bob.delete(f"{base}/groups", params={"name": "devs"}).status_code == 204
    for bad in ({"name": "alice", "permission": "PROJECT_READ"}, {"name": "alice"}, {"permission": "REPO_READ"}):
        assert err(admin.put(f"{base}/users", params=bad))[0] == 400, bad
    assert err(admin.put(f"{base}/users", params={"name": "ghost", "permission": "REPO_READ"})) == (
        404, "NoSuchUserException")
    assert err(admin.put(f"{base}/groups", params={"name": "ghosts", "permission": "REPO_READ"})) == (
        404, "NoSuchGroupException")
    assert err(admin.get(f"{API}/projects/RPG/repos/none/permissions/users")) == (404, "NoSuchRepositoryException")
    assert err(admin.delete(f"{API}/projects/RPG/repos/one/permissions"))[0] == 400
    assert admin.delete(f"{API}/projects/RPG/repos/one/permissions",
                        params=[("user", "alice"), ("user", "carol")]).status_code == 204
    assert [v["user"]["name"] for v in admin.get(f"{base}/users").json()["values"]] == ["bob"]


def test_public_project_and_repository(server: LiveServer, admin, people) -> None:
    admin.post(f"{API}/projects", json={"key": "OPEN", "name": "Open", "public": True})
    create_repo(admin, "OPEN", "all")
    create_repo(admin, "SHUT", "one-public", public=True)
    create_repo(admin, "SHUT", "private")
    with server.client(auth=None) as anon:
        assert anon.get(f"{API}/projects/OPEN/repos/all").status_code == 200
        assert anon.get(f"{API}/projects/SHUT/repos/one-public").status_code == 200
        assert anon.get(f"{API}/projects/SHUT/repos/private").status_code == 401
        assert [r["slug"] for r in anon.get(f"{API}/projects/SHUT/repos").json()["values"]] == ["one-public"]
        assert anon.put(f"{API}/projects/OPEN/repos/all", json={"name": "x"}).status_code == 401
        assert anon.post(f"{API}/projects/OPEN/repos/all", json={}).status_code == 401  # no personal project


def test_atlassian_python_api(server: LiveServer, admin, people) -> None:
    from atlassian import Bitbucket

    bb = Bitbucket(url=server.url, username="admin", password="admin-Secret-1")
    bb.create_project("APA", "Apa project", "made by atlassian-python-api")
    assert bb.project("APA")["description"] == "made by atlassian-python-api"
    assert bb.project_exists("APA") and not bb.project_exists("NOAPA")
    created = bb.create_repo("APA", "apa-repo", forkable=True)
    assert created["slug"] == "apa-repo"
    assert "APA" in [p["key"] for p in bb.project_list()]
    assert [r["slug"] for r in bb.repo_list("APA")] == ["apa-repo"]
    assert bb.get_repo("APA", "apa-repo")["id"] == created["id"]
    bb.project_grant_user_permissions("APA", "alice", "PROJECT_WRITE")
    bb.repo_grant_user_permissions("APA", "apa-repo", "bob", "REPO_ADMIN")
    assert [(u["user"]["name"], u["permission"]) for u in bb.project_users("APA")] == [("alice", "PROJECT_WRITE")]
    assert [(u["user"]["name"], u["permission"]) for u in bb.repo_users("APA", "apa-repo")] == [("bob", "REPO_ADMIN")]
    bb.update_repo("APA", "apa-repo", description="updated")
    assert bb.get_repo("APA", "apa-repo")["description"] == "updated"
    fork = bb.fork_repository("APA", "apa-repo", "apa-fork")
    assert fork["origin"]["slug"] == "apa-repo" and fork["project"]["key"] == "APA"

    alice = Bitbucket(url=server.url, username="alice", password=USER_PASSWORD)
    assert [r["slug"] for r in alice.repo_list("APA")] == ["apa-fork", "apa-repo"]
    alice.create_repo("~alice", "alice-own")
    assert [r["slug"] for r in alice.repo_list("~alice")] == ["alice-own"]
    bb.project_remove_user_permissions("APA", "alice")
    assert list(bb.project_users("APA")) == []
    bb.delete_repo("APA", "apa-fork")
    assert not bb.repo_exists("APA", "apa-fork")


def test_permission_search(server: LiveServer, admin, people) -> None:
    create_repo(admin, "PSRCH", "repo")
    base = f"{API}/projects/PSRCH/permissions"
    admin.put(f"{base}/users", params={"name": "alice", "permission": "PROJECT_WRITE"})
    admin.put(f"{base}/groups", params={"name": "qa", "permission": "PROJECT_READ"})
    found = admin.get(f"{base}/search", params={"permission": "PROJECT_WRITE"}).json()["values"]
    assert [(v["user"]["name"], v["permission"]) for v in found] == [("alice", "PROJECT_WRITE")]
    groups = admin.get(f"{base}/search", params={"type": "GROUP"}).json()["values"]
    assert {"group": {"name": "qa"}, "permission": "PROJECT_READ"} in groups
    assert {"group": {"name": "stash-users"}, "permission": "LICENSED_USER"} in groups  # global grants too
    admins = admin.get(f"{base}/search", params={"permission": "SYS_ADMIN", "filterText": "adm"}).json()
    assert [v["user"]["name"] for v in admins["values"]] == ["admin"]
    assert admin.get(f"{base}/search", params={"permission": "BOGUS"}).status_code == 400
    assert admin.get(f"{base}/search", params={"type": "ROBOT"}).status_code == 400
    repo_hits = admin.get(f"{API}/projects/PSRCH/repos/repo/permissions/search", params={"type": "USER"}).json()
    assert ("admin", "SYS_ADMIN") in [(v["user"]["name"], v["permission"]) for v in repo_hits["values"]]
    with as_user(server, "alice") as alice:
        assert alice.get(f"{base}/search").status_code == 401
