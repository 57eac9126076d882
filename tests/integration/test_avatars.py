"""Project and user avatars: multipart uploads behind the XSRF header, checked by magic bytes and size."""

from __future__ import annotations

import pytest

from support import USER_PASSWORD, LiveServer, create_user, grant_project, validating_client

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40
GIF = b"GIF89a" + b"\x00" * 40
XSRF = {"X-Atlassian-Token": "no-check"}
PROJECT_AVATAR = "/rest/api/latest/projects/AVA/avatar.png"


@pytest.fixture(scope="module")
def setup(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    assert admin.post("/rest/api/latest/projects", json={"key": "AVA", "name": "Avatars"}).status_code == 201
    create_user(server, "painter", "viewer", "stranger", "sysop")
    grant_project(server, "AVA", "painter", "PROJECT_ADMIN")
    grant_project(server, "AVA", "viewer", "PROJECT_READ")
    r = admin.put("/rest/api/latest/admin/permissions/users", params={"name": "sysop", "permission": "SYS_ADMIN"})
    assert r.status_code == 204, r.text


def _upload(client, path: str, data: bytes, field: str = "avatar", headers: dict | None = None):  # type: ignore[no-untyped-def]
    return client.post(path, files={field: ("a.png", data, "image/png")}, headers=XSRF if headers is None else headers)


def test_project_avatar_default_upload_and_replace(server: LiveServer, setup: None) -> None:
    with validating_client(server, auth=("viewer", USER_PASSWORD)) as viewer:
        r = viewer.get(PROJECT_AVATAR, params={"s": "48"})
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/png"
        assert r.content.startswith(b"\x89PNG")
        default = r.content
    with validating_client(server, auth=("painter", USER_PASSWORD)) as painter:
        r = _upload(painter, PROJECT_AVATAR, PNG)
        assert r.status_code == 201, r.text
        assert r.headers["location"].endswith("/projects/AVA/avatar.png")
        got = painter.get(PROJECT_AVATAR)
        assert got.content == PNG and got.headers["content-type"] == "image/png"
        assert _upload(painter, "/rest/api/1.0/projects/AVA/avatar.png", JPEG).status_code == 201
        got = painter.get(PROJECT_AVATAR, params={"s": "64"})
        assert got.content == JPEG and got.headers["content-type"] == "image/jpeg"
        assert got.content != default


def test_project_avatar_refusals_change_nothing(server: LiveServer, setup: None) -> None:
    with validating_client(server) as admin:
        assert _upload(admin, PROJECT_AVATAR, GIF).status_code == 201
    with validating_client(server, auth=("viewer", USER_PASSWORD)) as viewer:
        r = _upload(viewer, PROJECT_AVATAR, PNG)
        assert r.status_code == 401
        assert r.json()["errors"][0]["exceptionName"].endswith("AuthorisationException")
    with validating_client(server, auth=("stranger", USER_PASSWORD)) as stranger:
        assert stranger.get(PROJECT_AVATAR).status_code == 401
    with validating_client(server, auth=None) as anon:
        assert anon.get(PROJECT_AVATAR).status_code == 401
    with validating_client(server) as admin:
        for bad in (b"not an image at all", b"", b"<svg xmlns='http://www.w3.org/2000/svg'/>"):
            r = _upload(admin, PROJECT_AVATAR, bad)
            assert r.status_code == 400, r.text
            assert r.json()["errors"][0]["context"] == "avatar"
        r = _upload(admin, PROJECT_AVATAR, PNG + b"\x00" * (1024 * 1024))  # over 1 MiB
        assert r.status_code == 400
        assert _upload(admin, PROJECT_AVATAR, PNG, field="picture").status_code == 400
        r = _upload(admin, PROJECT_AVATAR, PNG, headers={"User-Agent": "Mozilla/5.0"})  # a browser, no XSRF header
        assert r.status_code == 403
        assert r.json()["errors"][0]["message"] == "XSRF check failed"
        assert admin.post(PROJECT_AVATAR, json={"avatar": "x"}).status_code == 415
        assert _upload(admin, "/rest/api/latest/projects/NOPE/avatar.png", PNG).status_code == 404
        assert admin.get("/rest/api/latest/projects/NOPE/avatar.png").status_code == 404
        got = admin.get(PROJECT_AVATAR)
        assert got.content == GIF and got.headers["content-type"] == "image/gif"


def test_user_avatar_own_admin_and_delete(server: LiveServer, setup: None) -> None:
    mine = "/rest/api/latest/users/painter/avatar.png"
    with validating_client(server, auth=("painter", USER_PASSWORD)) as painter:
        r = _upload(painter, mine, PNG)
        assert r.status_code == 201, r.text
        assert r.headers["location"].endswith("/users/painter/avatar.png")
        assert painter.get(mine).content == PNG
        assert _upload(painter, mine, b"GIF8 nope").status_code == 400
        assert painter.get(mine).content == PNG
        # Someone else's avatar needs ADMIN.
        assert _upload(painter, "/rest/api/latest/users/viewer/avatar.png", PNG).status_code == 401
        assert painter.delete("/rest/api/latest/users/viewer/avatar.png").status_code == 401
        r = painter.delete(mine)
        assert r.status_code == 200
        assert r.json()["href"].endswith("/users/painter/avatar.png")
        assert painter.get(mine).content.startswith(b"\x89PNG") and painter.get(mine).content != PNG
        assert painter.delete(mine).status_code == 200  # deleting when none exists is fine
    with validating_client(server) as admin:
        assert _upload(admin, "/rest/api/latest/users/viewer/avatar.png", JPEG).status_code == 201
        assert admin.get("/rest/api/latest/users/viewer/avatar.png").content == JPEG
        # An ADMIN may not touch a SYS_ADMIN's avatar unless a SYS_ADMIN (the bootstrap admin is one).
        assert _upload(admin, "/rest/api/latest/users/sysop/avatar.png", GIF).status_code == 201
        assert _upload(admin, "/rest/api/latest/users/nobody/avatar.png", PNG).status_code == 404
        assert admin.delete("/rest/api/latest/users/nobody/avatar.png").status_code == 404
        browser = {"User-Agent": "Mozilla/5.0"}  # the XSRF check applies to browsers only
        assert _upload(admin, "/rest/api/latest/users/viewer/avatar.png", PNG, headers=browser).status_code == 403
    with validating_client(server, auth=None) as anon:
        assert _upload(anon, "/rest/api/latest/users/viewer/avatar.png", PNG).status_code == 401
        assert anon.delete("/rest/api/latest/users/viewer/avatar.png").status_code == 401


def test_admin_cannot_change_a_sys_admins_avatar(server: LiveServer, admin, setup: None) -> None:  # type: ignore[no-untyped-def]
    create_user(server, "plainadmin")
    r = admin.put("/rest/api/latest/admin/permissions/users", params={"name": "plainadmin", "permission": "ADMIN"})
    assert r.status_code == 204, r.text
    with validating_client(server, auth=("plainadmin", USER_PASSWORD)) as c:
        assert _upload(c, "/rest/api/latest/users/viewer/avatar.png", GIF).status_code == 201
        assert _upload(c, "/rest/api/latest/users/sysop/avatar.png", PNG).status_code == 401
        assert c.delete("/rest/api/latest/users/sysop/avatar.png").status_code == 401
    with validating_client(server, auth=("sysop", USER_PASSWORD)) as c:
        assert c.get("/rest/api/latest/users/sysop/avatar.png").content.startswith(b"GIF89a")


def test_deleting_owners_takes_their_avatars(server: LiveServer, admin, setup: None) -> None:  # type: ignore[no-untyped-def]
    assert admin.post("/rest/api/latest/projects", json={"key": "GONE", "name": "Gone"}).status_code == 201
    with validating_client(server) as c:
        assert _upload(c, "/rest/api/latest/projects/GONE/avatar.png", PNG).status_code == 201
        assert c.delete("/rest/api/latest/projects/GONE").status_code == 204
        assert c.get("/rest/api/latest/projects/GONE/avatar.png").status_code == 404
    create_user(server, "leaver")
    with validating_client(server, auth=("leaver", USER_PASSWORD)) as c:
        assert _upload(c, "/rest/api/latest/users/leaver/avatar.png", GIF).status_code == 201
    assert admin.delete("/rest/api/latest/admin/users", params={"name": "leaver"}).status_code == 200
    create_user(server, "leaver")  # the same name revives the row: without the old avatar
    with validating_client(server, auth=("leaver", USER_PASSWORD)) as c:
        assert c.get("/rest/api/latest/users/leaver/avatar.png").content != GIF
