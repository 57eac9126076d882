"""`/rest/api/latest/admin/users`, `/admin/groups` and `/groups`: administration of users and groups."""

from __future__ import annotations

import httpx
import pytest

from support import USER_PASSWORD, LiveServer, create_user, server_db

AU = "/rest/api/latest/admin/users"
AG = "/rest/api/latest/admin/groups"
NEW_PASSWORD = "n3w-Secret-pw"


def names(page: dict) -> list[str]:
    return [v["name"] for v in page["values"]]


def error(r: httpx.Response) -> dict:
    return r.json()["errors"][0]


def grant_global(server: LiveServer, name: str, permission: str, group: bool = False) -> None:
    from culm.domain.permissions import global_service

    with server_db(server) as session:
        global_service.grant(session, name, permission, group=group)  # type: ignore[arg-type]


def new_user(**params: object) -> dict:
    base = {"name": "newbie", "password": USER_PASSWORD, "displayName": "New Bie", "emailAddress": "nb@example.com"}
    base.update(params)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture(scope="module")
def staff(server: LiveServer) -> None:
    """`ada` is an ADMIN (not SYS_ADMIN); `sam` a plain licensed user; `root2` a second SYS_ADMIN."""
    create_user(server, "ada", "sam", "root2")
    grant_global(server, "ada", "ADMIN")
    grant_global(server, "root2", "SYS_ADMIN")


# ---- users -----------------------------------------------------------------------------------------

def test_create_user_and_log_in(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    r = admin.post(AU, params=new_user())
    assert r.status_code == 204, r.text
    listed = admin.get(AU, params={"filter": "newbie"}).json()["values"]
    assert len(listed) == 1
    user = listed[0]
    assert user["displayName"] == "New Bie" and user["emailAddress"] == "nb@example.com"
    assert user["directoryName"] and user["deletable"] and user["mutableDetails"] and user["mutableGroups"]
    assert "lastAuthenticationTimestamp" not in user  # never logged in: the key is left out, not null
    with server.client(auth=("newbie", USER_PASSWORD)) as nb:
        assert nb.get("/rest/api/latest/users/newbie").status_code == 200
    user = admin.get(AU, params={"filter": "newbie"}).json()["values"][0]
    assert isinstance(user["lastAuthenticationTimestamp"], int)
    groups = admin.get(f"{AU}/more-members", params={"context": "newbie"}).json()
    assert names(groups) == ["stash-users"]


def test_create_user_bad_input_changes_nothing(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    admin.post(AU, params=new_user(name="dupe"))
    before = admin.get(AU, params={"limit": 1000}).json()["size"]
    cases = [
        (new_user(name=None), 400, "name"),
        (new_user(name=""), 400, "name"),
        (new_user(name="a/b"), 400, "name"),
        (new_user(name="x" * 300), 400, "name"),
        (new_user(name="bad1", emailAddress="not-an-email"), 400, "emailAddress"),
        (new_user(name="bad2", emailAddress=None), 400, "emailAddress"),
        (new_user(name="bad3", displayName=None), 400, "displayName"),
        (new_user(name="bad4", password=None), 400, "password"),
        (new_user(name="bad5", password=None, notify="true"), 400, "notify"),
        (new_user(name="DUPE"), 409, "name"),
    ]
    for params, status, context in cases:
        r = admin.post(AU, params=params)
        assert r.status_code == status, (params, r.text)
        assert error(r)["context"] == context and error(r)["message"]
    assert error(admin.post(AU, params=new_user(name="dupe")))["exceptionName"].endswith("DuplicateEntityException")
    assert admin.get(AU, params={"limit": 1000}).json()["size"] == before


def test_create_without_default_group_cannot_log_in(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    r = admin.post(AU, params=new_user(name="outsider", addToDefaultGroup="false"))
    assert r.status_code == 204
    assert admin.get(f"{AU}/more-members", params={"context": "outsider"}).json()["values"] == []
    with server.client(auth=("outsider", USER_PASSWORD)) as c:
        assert c.get("/rest/api/latest/users").status_code == 401


def test_non_admins_are_refused(server: LiveServer, staff: None) -> None:
    writes = [
        ("POST", AU, {"params": new_user(name="nope")}),
        ("PUT", AU, {"json": {"name": "sam", "displayName": "x"}}),
        ("DELETE", AU, {"params": {"name": "ada"}}),
        ("PUT", f"{AU}/credentials", {"json": {"name": "ada", "password": "x", "passwordConfirm": "x"}}),
        ("POST", f"{AU}/rename", {"json": {"name": "ada", "newName": "ada2"}}),
        ("POST", f"{AU}/add-groups", {"json": {"user": "sam", "groups": ["stash-users"]}}),
        ("POST", f"{AU}/remove-group", {"json": {"context": "sam", "itemName": "stash-users"}}),
        ("DELETE", f"{AU}/captcha", {"params": {"name": "ada"}}),
        ("GET", f"{AU}/erasure", {"params": {"name": "ada"}}),
        ("POST", AG, {"params": {"name": "g"}}),
        ("DELETE", AG, {"params": {"name": "stash-users"}}),
        ("POST", f"{AG}/add-users", {"json": {"group": "stash-users", "users": ["sam"]}}),
    ]
    with server.client(auth=("sam", USER_PASSWORD)) as sam:
        for method, path, kw in writes:
            r = sam.request(method, path, **kw)
            assert r.status_code == 401, (method, path, r.text)
            assert error(r)["exceptionName"] == "com.atlassian.bitbucket.AuthorisationException"
            assert "www-authenticate" not in r.headers
        # reading lists only needs a licence
        assert sam.get(AU).status_code == 200 and sam.get(AG).status_code == 200
    with server.client(auth=None) as anon:
        for method, path, kw in writes + [("GET", AU, {}), ("GET", AG, {}), ("GET", "/rest/api/latest/groups", {})]:
            r = anon.request(method, path, **kw)
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic"), (method, path)


def test_update_details_and_password(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    create_user(server, "upd")
    r = admin.put(AU, json={"name": "upd", "displayName": "Up Dated", "email": "up@example.org"})
    assert r.status_code == 200, r.text
    assert r.json()["displayName"] == "Up Dated" and r.json()["emailAddress"] == "up@example.org"
    assert admin.put(AU, json={"name": "upd", "email": "bad"}).status_code == 400
    assert admin.put(AU, json={"name": "upd", "displayName": ""}).status_code == 400
    assert admin.put(AU, json={"displayName": "x"}).status_code == 400
    r = admin.put(AU, json={"name": "ghost", "displayName": "x"})
    assert r.status_code == 404 and error(r)["exceptionName"].endswith("NoSuchUserException")
    assert admin.get("/rest/api/latest/users/upd").json()["emailAddress"] == "up@example.org"

    cred = f"{AU}/credentials"
    assert admin.put(cred, json={"name": "upd", "password": "a1", "passwordConfirm": "b2"}).status_code == 400
    assert admin.put(cred, json={"name": "upd"}).status_code == 400
    assert admin.put(cred, json={"name": "ghost", "password": "a1", "passwordConfirm": "a1"}).status_code == 404
    r = admin.put(cred, json={"name": "upd", "password": NEW_PASSWORD, "passwordConfirm": NEW_PASSWORD})
    assert r.status_code == 204
    with server.client(auth=("upd", NEW_PASSWORD)) as c:
        assert c.get("/rest/api/latest/users/upd").status_code == 200
    # an ADMIN may not touch a SYS_ADMIN
    with server.client(auth=("ada", USER_PASSWORD)) as ada:
        r = ada.put(cred, json={"name": "root2", "password": "x1", "passwordConfirm": "x1"})
        assert r.status_code == 401
        assert ada.put(AU, json={"name": "root2", "displayName": "pwned"}).status_code == 401
        assert ada.put(AU, json={"name": "upd", "displayName": "By Ada"}).status_code == 200


def test_rename(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    create_user(server, "oldname", "taken")
    admin.post("/rest/api/latest/projects/~oldname/repos", json={"name": "mine"})
    r = admin.post(f"{AU}/rename", json={"name": "oldname", "newName": "New.Name"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "New.Name" and r.json()["slug"] == "new.name"
    assert admin.get("/rest/api/latest/users/oldname").status_code == 404
    assert admin.get("/rest/api/latest/users/new.name").json()["id"] == r.json()["id"]
    with server.client(auth=("New.Name", USER_PASSWORD)) as c:
        assert c.get("/rest/api/latest/users/new.name").status_code == 200
    with server_db(server) as session:
        from sqlalchemy import select

        from culm.domain.projects.models import Project

        keys = set(session.scalars(select(Project.key).where(Project.type == "PERSONAL")))  # type: ignore[attr-defined]
    assert "~new.name" in keys and "~oldname" not in keys
    for body, status in [({"name": "New.Name", "newName": "TAKEN"}, 409), ({"name": "ghost", "newName": "x"}, 404),
                         ({"name": "New.Name", "newName": ""}, 400), ({"name": "New.Name"}, 400),
                         ({"newName": "x"}, 400)]:
        assert admin.post(f"{AU}/rename", json=body).status_code == status, body
    with server.client(auth=("ada", USER_PASSWORD)) as ada:
        assert ada.post(f"{AU}/rename", json={"name": "root2", "newName": "r3"}).status_code == 401


def test_delete_user(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    create_user(server, "leaver")
    admin.post(AG, params={"name": "leavers"})
    admin.post(f"{AG}/add-users", json={"group": "leavers", "users": ["leaver"]})
    admin.put("/rest/api/latest/admin/permissions/users", params={"name": "leaver", "permission": "PROJECT_CREATE"})
    old_id = admin.get("/rest/api/latest/users/leaver").json()["id"]
    r = admin.delete(AU, params={"name": "admin"})
    assert r.status_code == 409 and "yourself" in error(r)["message"]
    assert admin.delete(AU, params={"name": "ghost"}).status_code == 404
    assert admin.delete(AU).status_code == 400
    with server.client(auth=("ada", USER_PASSWORD)) as ada:
        r = ada.delete(AU, params={"name": "root2"})  # ADMIN cannot delete a SYS_ADMIN
        assert r.status_code == 403
    assert admin.get("/rest/api/latest/users/root2").status_code == 200
    r = admin.delete(AU, params={"name": "leaver"})
    assert r.status_code == 200 and r.json()["name"] == "leaver"
    assert admin.get("/rest/api/latest/users/leaver").status_code == 404
    assert admin.get(f"{AG}/more-members", params={"context": "leavers"}).json()["values"] == []
    with server.client(auth=("leaver", USER_PASSWORD)) as c:
        assert c.get("/rest/api/latest/users").status_code == 401
    # a new user of the same name is a fresh account on the same id, without the old grants
    assert admin.post(AU, params=new_user(name="leaver")).status_code == 204
    again = admin.get("/rest/api/latest/users/leaver").json()
    assert again["id"] == old_id and again["displayName"] == "New Bie"
    perms = admin.get("/rest/api/latest/admin/permissions/users", params={"filter": "leaver"}).json()
    assert perms["values"] == []


def test_erasure(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    create_user(server, "forgetme")
    assert admin.get(f"{AU}/erasure", params={"name": "forgetme"}).status_code == 409
    assert admin.post(f"{AU}/erasure", params={"name": "forgetme"}).status_code == 409
    assert admin.get(f"{AU}/erasure", params={"name": "ghost"}).status_code == 404
    assert admin.get(f"{AU}/erasure").status_code == 400
    admin.delete(AU, params={"name": "forgetme"})
    assert admin.get(f"{AU}/erasure", params={"name": "forgetme"}).status_code == 204
    r = admin.post(f"{AU}/erasure", params={"name": "forgetme"})
    assert r.status_code == 200 and r.json()["newIdentifier"].startswith("user-")
    assert admin.get(f"{AU}/erasure", params={"name": "forgetme"}).status_code == 404
    with server_db(server) as session:
        from sqlalchemy import select

        from culm.domain.users.models import User

        assert session.scalar(select(User).where(User.email == "forgetme@example.com")) is None  # type: ignore[attr-defined]


def test_clear_captcha(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    create_user(server, "locked")
    from culm.domain.base import now_ms
    from culm.domain.users.models import LoginFailure

    with server_db(server) as session:
        session.add(LoginFailure(name_lower="locked", count=10_000, window_start=now_ms()))  # type: ignore[attr-defined]
    with server.client(auth=("locked", USER_PASSWORD)) as c:
        r = c.get("/rest/api/latest/users/locked")
        assert r.status_code == 401 and error(r)["exceptionName"].endswith("CaptchaRequiredAuthenticationException")
        assert admin.delete(f"{AU}/captcha", params={"name": "locked"}).status_code == 204
        assert c.get("/rest/api/latest/users/locked").status_code == 200
    assert admin.delete(f"{AU}/captcha", params={"name": "ghost"}).status_code == 404
    assert admin.delete(f"{AU}/captcha").status_code == 400
    with server.client(auth=("ada", USER_PASSWORD)) as ada:
        assert ada.delete(f"{AU}/captcha", params={"name": "root2"}).status_code == 403


def test_user_lists_paging_and_service_users(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    create_user(server, *[f"pager{i:02d}" for i in range(7)])
    from culm.domain.users import service as users

    with server_db(server) as session:
        users.create_user(session, "pager-bot", None, "Pager Bot", None, user_type="SERVICE")  # type: ignore[arg-type]
    seen: list[str] = []
    start = 0
    while True:
        page = admin.get(AU, params={"filter": "pager", "limit": 3, "start": start}).json()
        seen += names(page)
        if page["isLastPage"]:
            break
        start = page["nextPageStart"]
    assert seen == [f"pager{i:02d}" for i in range(7)]
    assert "pager-bot" not in names(admin.get("/rest/api/latest/users", params={"filter": "pager"}).json())


# ---- groups and membership ---------------------------------------------------------------------------

def test_groups_crud_and_lists(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    r = admin.post(AG, params={"name": "Developers"})
    assert r.status_code == 200 and r.json() == {"name": "Developers", "deletable": True}
    r = admin.post(AG, params={"name": "developers"})
    assert r.status_code == 409 and error(r)["exceptionName"].endswith("DuplicateEntityException")
    assert admin.post(AG).status_code == 400
    assert admin.post(AG, params={"name": " "}).status_code == 400
    assert admin.post(AG, params={"name": "g" * 300}).status_code == 400
    for n in ("dev-ops", "designers"):
        admin.post(AG, params={"name": n})
    assert names(admin.get(AG, params={"filter": "DE"}).json()) == ["designers", "dev-ops", "Developers"]
    page = admin.get(AG, params={"filter": "de", "limit": 2}).json()
    assert page["size"] == 2 and page["nextPageStart"] == 2
    assert admin.get("/rest/api/latest/groups", params={"filter": "dev"}).json()["values"] == ["dev-ops", "Developers"]
    with server.client(auth=("sam", USER_PASSWORD)) as sam:
        assert "stash-users" in sam.get("/rest/api/latest/groups").json()["values"]
    r = admin.delete(AG, params={"name": "designers"})
    assert r.status_code == 200 and r.json()["name"] == "designers"
    r = admin.delete(AG, params={"name": "designers"})
    assert r.status_code == 404 and error(r)["exceptionName"].endswith("NoSuchGroupException")
    assert admin.delete(AG).status_code == 400


def test_membership(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    create_user(server, "m1", "m2", "m3")
    admin.post(AG, params={"name": "team"})
    admin.post(AG, params={"name": "other"})
    assert admin.post(f"{AG}/add-users", json={"group": "team", "users": ["m1", "m2"]}).status_code == 200
    assert admin.post(f"{AG}/add-user", json={"context": "team", "itemName": "m3"}).status_code == 200
    members = admin.get(f"{AG}/more-members", params={"context": "team"}).json()
    assert names(members) == ["m1", "m2", "m3"] and "directoryName" in members["values"][0]
    assert names(admin.get(f"{AG}/more-members", params={"context": "team", "filter": "m2"}).json()) == ["m2"]
    non = names(admin.get(f"{AG}/more-non-members", params={"context": "team", "limit": 1000}).json())
    assert "admin" in non and "m1" not in non
    assert admin.post(f"{AG}/remove-user", json={"context": "team", "itemName": "m3"}).status_code == 200
    assert admin.post(f"{AU}/add-groups", json={"user": "m1", "groups": ["other"]}).status_code == 200
    assert admin.post(f"{AU}/add-group", json={"context": "m2", "itemName": "other"}).status_code == 200
    assert admin.post(f"{AU}/remove-group", json={"context": "m2", "itemName": "team"}).status_code == 200
    assert names(admin.get(f"{AG}/more-members", params={"context": "team"}).json()) == ["m1"]
    assert names(admin.get(f"{AU}/more-members", params={"context": "m1"}).json()) == ["other", "stash-users", "team"]
    assert names(admin.get(f"{AU}/more-non-members", params={"context": "m3", "filter": "t"}).json()) == ["other",
                                                                                                         "team"]
    # bad input: 400 / 404, nothing changed
    bad = [
        (f"{AG}/add-users", {"group": "team", "users": ["m2", "ghost"]}, 404),
        (f"{AG}/add-users", {"group": "ghost", "users": ["m2"]}, 404),
        (f"{AG}/add-users", {"group": "team", "users": []}, 400),
        (f"{AG}/add-users", {"group": "team"}, 400),
        (f"{AU}/add-groups", {"user": "m2", "groups": ["team", "ghost"]}, 404),
        (f"{AU}/add-groups", {"user": "m2", "groups": "team"}, 400),
        (f"{AU}/add-groups", {"groups": ["team"]}, 400),
        (f"{AU}/remove-group", {"context": "m2", "itemName": "ghost"}, 404),
        (f"{AG}/remove-user", {"context": "team", "itemName": "ghost"}, 404),
    ]
    for path, body, status in bad:
        assert admin.post(path, json=body).status_code == status, (path, body)
    assert names(admin.get(f"{AG}/more-members", params={"context": "team"}).json()) == ["m1"]
    assert admin.get(f"{AG}/more-members").status_code == 400
    assert admin.get(f"{AG}/more-members", params={"context": "ghost"}).status_code == 404
    assert admin.get(f"{AU}/more-members", params={"context": "ghost"}).status_code == 404


def test_admins_cannot_reach_above_themselves(server: LiveServer, admin: httpx.Client, staff: None) -> None:
    admin.post(AG, params={"name": "sysadmins"})
    admin.put("/rest/api/latest/admin/permissions/groups", params={"name": "sysadmins", "permission": "SYS_ADMIN"})
    admin.post(AG, params={"name": "admins"})
    admin.put("/rest/api/latest/admin/permissions/groups", params={"name": "admins", "permission": "ADMIN"})
    admin.post(f"{AG}/add-users", json={"group": "admins", "users": ["ada"]})
    with server.client(auth=("ada", USER_PASSWORD)) as ada:
        assert ada.post(f"{AG}/add-users", json={"group": "sysadmins", "users": ["ada"]}).status_code == 403
        assert ada.post(f"{AU}/add-groups", json={"user": "sam", "groups": ["sysadmins"]}).status_code == 403
        assert ada.delete(AG, params={"name": "sysadmins"}).status_code == 403
        assert ada.post(f"{AG}/add-users", json={"group": "admins", "users": ["sam"]}).status_code == 200
        assert ada.post(f"{AG}/remove-user", json={"context": "admins", "itemName": "sam"}).status_code == 200
    assert names(admin.get(f"{AG}/more-members", params={"context": "sysadmins"}).json()) == []
    # the group that makes you an admin: neither leave it nor delete it when it is all you have
    admin.post(AG, params={"name": "solo-admins"})
    admin.put("/rest/api/latest/admin/permissions/groups", params={"name": "solo-admins", "permission": "ADMIN"})
    create_user(server, "solo")
    admin.post(f"{AG}/add-users", json={"group": "solo-admins", "users": ["solo"]})
    with server.client(auth=("solo", USER_PASSWORD)) as solo:
        r = solo.post(f"{AU}/remove-group", json={"context": "solo", "itemName": "solo-admins"})
        assert r.status_code == 409, r.text
        assert solo.delete(AG, params={"name": "solo-admins"}).status_code == 409
        assert solo.get(f"{AG}/more-members", params={"context": "solo-admins"}).json()["size"] == 1
