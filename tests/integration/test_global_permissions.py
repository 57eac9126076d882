"""`/rest/api/latest/admin/permissions/{users,groups}`: global permissions and their rules, plus real clients."""

from __future__ import annotations

import httpx
import pytest

from support import USER_PASSWORD, LiveServer, create_user, personal_token, server_db

PU = "/rest/api/latest/admin/permissions/users"
PG = "/rest/api/latest/admin/permissions/groups"


def perms(page: dict, key: str = "user") -> dict[str, str]:
    return {v[key]["name"]: v["permission"] for v in page["values"]}


def error(r: httpx.Response) -> dict:
    return r.json()["errors"][0]


@pytest.fixture(scope="module")
def staff(server: LiveServer) -> None:
    """`ada` is ADMIN, `sam` licensed only, `root2` a second SYS_ADMIN; group `ops` exists."""
    from culm.domain.permissions import global_service
    from culm.domain.users import service as users

    create_user(server, "ada", "sam", "root2", "gina", "hal")
    with server_db(server) as session:
        global_service.grant(session, "ada", "ADMIN", group=False)  # type: ignore[arg-type]
        global_service.grant(session, "root2", "SYS_ADMIN", group=False)  # type: ignore[arg-type]
        users.create_group(session, "ops")  # type: ignore[arg-type]


def test_lists(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    page = admin.get(PU).json()
    assert perms(page) == {"admin": "SYS_ADMIN", "ada": "ADMIN", "root2": "SYS_ADMIN"}
    assert set(page["values"][0]) == {"user", "permission"}
    assert perms(admin.get(PU, params={"filter": "ad"}).json()) == {"admin": "SYS_ADMIN", "ada": "ADMIN"}
    first = admin.get(PU, params={"limit": 1}).json()
    assert first["size"] == 1 and first["nextPageStart"] == 1 and not first["isLastPage"]
    none = [u["name"] for u in admin.get(f"{PU}/none", params={"limit": 100}).json()["values"]]
    assert {"sam", "gina", "hal"} <= set(none) and "ada" not in none
    assert perms(admin.get(PG).json(), "group") == {"stash-users": "LICENSED_USER"}
    groups_none = admin.get(f"{PG}/none").json()["values"]
    assert {"name": "ops", "deletable": True} in groups_none
    assert admin.get(f"{PG}/none", params={"filter": "zzz"}).json()["values"] == []


def test_grant_and_revoke(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    r = admin.put(PU, params=[("name", "gina"), ("name", "hal"), ("permission", "PROJECT_CREATE")])
    assert r.status_code == 204, r.text
    assert perms(admin.get(PU, params={"filter": "gina"}).json()) == {"gina": "PROJECT_CREATE"}
    with server.client(auth=("gina", USER_PASSWORD)) as gina:
        r = gina.post("/rest/api/latest/projects", json={"key": "GINA", "name": "Gina"})
        assert r.status_code == 201
    # demote: one row per grantee
    assert admin.put(PU, params={"name": "hal", "permission": "LICENSED_USER"}).status_code == 204
    assert perms(admin.get(PU, params={"filter": "hal"}).json()) == {"hal": "LICENSED_USER"}
    assert admin.delete(PU, params={"name": "hal"}).status_code == 204
    assert admin.get(PU, params={"filter": "hal"}).json()["values"] == []
    assert admin.put(PG, params={"name": "ops", "permission": "PROJECT_CREATE"}).status_code == 204
    assert perms(admin.get(PG, params={"filter": "op"}).json(), "group") == {"ops": "PROJECT_CREATE"}
    assert admin.delete(PG, params={"name": "ops"}).status_code == 204
    assert admin.get(PG, params={"filter": "op"}).json()["values"] == []


def test_bad_input_changes_nothing(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    cases = [
        (PU, {"name": "sam", "permission": "PROJECT_ADMIN"}, 400, "permission"),
        (PU, {"name": "sam"}, 400, "permission"),
        (PU, {"permission": "ADMIN"}, 400, "name"),
        (PU, {"name": "ghost", "permission": "ADMIN"}, 404, None),
        (PG, {"name": "ghost", "permission": "ADMIN"}, 404, None),
        (PG, {"name": "ops", "permission": "superuser"}, 400, "permission"),
    ]
    for path, params, status, context in cases:
        r = admin.put(path, params=params)
        assert r.status_code == status, (path, params, r.text)
        if context:
            assert error(r)["context"] == context
    r = admin.put(PU, params=[("name", "sam"), ("name", "ghost"), ("permission", "ADMIN")])
    assert r.status_code == 404 and error(r)["exceptionName"].endswith("NoSuchUserException")
    assert admin.get(PU, params={"filter": "sam"}).json()["values"] == []  # the first name was not granted either
    assert admin.delete(PU, params={"name": "ghost"}).status_code == 404
    r = admin.delete(PG, params={"name": "ghost"})
    assert r.status_code == 404 and error(r)["exceptionName"].endswith("NoSuchGroupException")
    assert admin.delete(PU).status_code == 400


def test_rules_between_administrators(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    with server.client(auth=("ada", USER_PASSWORD)) as ada:
        r = ada.put(PU, params={"name": "sam", "permission": "SYS_ADMIN"})  # only a SYS_ADMIN grants SYS_ADMIN
        assert r.status_code == 401 and error(r)["exceptionName"] == "com.atlassian.bitbucket.AuthorisationException"
        assert ada.put(PU, params={"name": "root2", "permission": "ADMIN"}).status_code == 409  # above ada
        assert ada.delete(PU, params={"name": "root2"}).status_code == 409
        assert ada.put(PU, params={"name": "ada", "permission": "PROJECT_CREATE"}).status_code == 409  # own level
        assert ada.delete(PU, params={"name": "ada"}).status_code == 409
        assert ada.put(PU, params={"name": "sam", "permission": "ADMIN"}).status_code == 204  # at her level: fine
        assert ada.delete(PU, params={"name": "sam"}).status_code == 204
    assert perms(admin.get(PU).json())["root2"] == "SYS_ADMIN"
    assert perms(admin.get(PU).json())["ada"] == "ADMIN"
    # a SYS_ADMIN may demote another one, never themselves; the last one can never go
    r = admin.delete(PU, params={"name": "admin"})
    assert r.status_code == 409 and error(r)["message"]
    assert admin.put(PU, params={"name": "root2", "permission": "ADMIN"}).status_code == 204
    assert admin.put(PU, params={"name": "root2", "permission": "SYS_ADMIN"}).status_code == 204


def test_group_grants_count_for_own_level(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    create_user(server, "viagroup")
    admin.post("/rest/api/latest/admin/groups", params={"name": "sys-team"})
    admin.post("/rest/api/latest/admin/groups/add-users", json={"group": "sys-team", "users": ["viagroup"]})
    assert admin.put(PG, params={"name": "sys-team", "permission": "SYS_ADMIN"}).status_code == 204
    users = admin.get("/rest/api/latest/users", params={"permission": "SYS_ADMIN"}).json()["values"]
    assert "viagroup" in [u["name"] for u in users]
    with server.client(auth=("viagroup", USER_PASSWORD)) as vg:
        # their only SYS_ADMIN comes from the group: revoking it or lowering it would demote them
        assert vg.delete(PG, params={"name": "sys-team"}).status_code == 409
        assert vg.put(PG, params={"name": "sys-team", "permission": "ADMIN"}).status_code == 409
        # with a direct grant as well, the group may go
        assert vg.put(PU, params={"name": "viagroup", "permission": "SYS_ADMIN"}).status_code == 204
        assert vg.delete(PG, params={"name": "sys-team"}).status_code == 204
    with server.client(auth=("ada", USER_PASSWORD)) as ada:
        assert ada.put(PG, params={"name": "sys-team", "permission": "ADMIN"}).status_code == 204
        assert ada.put(PG, params={"name": "sys-team", "permission": "SYS_ADMIN"}).status_code == 401


def test_callers_without_admin_are_refused(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    calls = [("GET", PU, {}), ("GET", f"{PU}/none", {}), ("GET", PG, {}), ("GET", f"{PG}/none", {}),
             ("PUT", PU, {"params": {"name": "sam", "permission": "ADMIN"}}),
             ("DELETE", PU, {"params": {"name": "ada"}}),
             ("PUT", PG, {"params": {"name": "ops", "permission": "ADMIN"}}),
             ("DELETE", PG, {"params": {"name": "stash-users"}})]
    with server.client(auth=("sam", USER_PASSWORD)) as sam:
        for method, path, kw in calls:
            r = sam.request(method, path, **kw)
            assert r.status_code == 401 and "www-authenticate" not in r.headers, (method, path)
    with server.client(auth=None) as anon:
        for method, path, kw in calls:
            r = anon.request(method, path, **kw)
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic"), (method, path)
    token = personal_token(server, "admin")  # tokens never act with admin rights
    with server.client(auth=None, headers={"Authorization": f"Bearer {token}"}) as tok:
        assert tok.get(PU).status_code == 401
        assert tok.put(PU, params={"name": "sam", "permission": "ADMIN"}).status_code == 401
        assert tok.get("/rest/api/latest/users/admin").status_code == 200
    assert admin.get(PU, params={"filter": "sam"}).json()["values"] == []


def test_atlassian_python_api(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    """The real client's user, group and global-permission helpers against culm."""
    from atlassian import Bitbucket
    from atlassian.bitbucket.server import Server

    bb = Bitbucket(url=server.url, username="admin", password="admin-Secret-1")
    page = bb.get_users(user_filter="gina")
    assert [u["name"] for u in page["values"]] == ["gina"]
    assert [u["name"] for u in bb.get_users_info(user_filter="root")] == ["root2"]
    admin.post("/rest/api/latest/admin/groups", params={"name": "apiteam"})
    admin.post("/rest/api/latest/admin/groups/add-users", json={"group": "apiteam", "users": ["gina", "hal"]})
    assert "apiteam" in list(bb.get_groups(group_filter="api"))
    assert [u["name"] for u in bb.group_members("apiteam", limit=1)] == ["gina", "hal"]  # follows the pages

    srv = Server(server.url, username="admin", password="admin-Secret-1")
    srv.users.add("hal", "PROJECT_CREATE")
    granted = {u.name: u.permission for u in srv.users.each()}
    assert granted["hal"] == "PROJECT_CREATE" and granted["admin"] == "SYS_ADMIN"
    assert srv.users.get("hal").is_project_create
    srv.users.get("hal").delete()
    # `users.each_none()` cannot read a RestApplicationUser that has `links.self` (as Bitbucket's do): it then
    # looks for a `user` key. Groups carry no links, so `groups.each_none()` works.
    none = admin.get(f"{PU}/none", params={"filter": "hal"}).json()["values"]
    assert [u["name"] for u in none] == ["hal"]
    srv.groups.add("apiteam", "PROJECT_CREATE")  # (`groups.project_create()` is broken in the client itself)
    assert srv.groups.get("apiteam").permission == "PROJECT_CREATE"
    srv.groups.get("apiteam").delete()
    assert "apiteam" in [g.name for g in srv.groups.each_none()]
