"""Projects API: list (filters, visibility, paging), create, get, update, delete, personal projects."""

from __future__ import annotations

import pytest

from support import USER_PASSWORD, LiveServer, create_repo, create_user, grant_project, grant_repo

API = "/rest/api/latest"


@pytest.fixture(scope="module")
def people(server: LiveServer) -> None:
    create_user(server, "pat", "rita", "nobody")


def err(r) -> str:  # type: ignore[no-untyped-def]
    return r.json()["errors"][0]["exceptionName"]


def test_create_get_update_delete(server: LiveServer, admin, people) -> None:
    r = admin.post(f"{API}/projects", json={"key": "CRUD", "name": "Crud", "description": "first"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["key"] == "CRUD" and body["public"] is False and body["type"] == "NORMAL"
    assert body["links"]["self"][0]["href"] == f"{server.url}/projects/CRUD"

    assert admin.get(f"{API}/projects/crud").json()["id"] == body["id"]
    r = admin.put(f"{API}/projects/CRUD", json={"name": "Crud 2", "description": "second", "public": True})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["description"], r.json()["public"]) == ("Crud 2", "second", True)

    r = admin.put(f"{API}/projects/CRUD", json={"key": "CRUDX"})
    assert r.status_code == 201 and r.json()["key"] == "CRUDX"
    assert admin.get(f"{API}/projects/CRUD").status_code == 404
    assert admin.get(f"{API}/projects/CRUDX").json()["name"] == "Crud 2"

    assert admin.delete(f"{API}/projects/CRUDX").status_code == 204
    r = admin.get(f"{API}/projects/CRUDX")
    assert r.status_code == 404 and err(r).endswith("NoSuchProjectException")
    assert admin.delete(f"{API}/projects/CRUDX").status_code == 404


def test_update_bad_inputs_change_nothing(server: LiveServer, admin, people) -> None:
    admin.post(f"{API}/projects", json={"key": "UPA", "name": "Upa"})
    admin.post(f"{API}/projects", json={"key": "UPB", "name": "Upb"})
    assert admin.put(f"{API}/projects/UPA", json={"key": "UPB"}).status_code == 409
    assert admin.put(f"{API}/projects/UPA", json={"name": "upb"}).status_code == 409
    assert admin.put(f"{API}/projects/UPA", json={"key": "9no"}).status_code == 400
    assert admin.put(f"{API}/projects/UPA", json={"name": ""}).status_code == 400
    assert admin.put(f"{API}/projects/UPA", json={"public": "yes"}).status_code == 400
    r = admin.put(f"{API}/projects/UPA", content=b"{oops", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["errors"][0]["message"]
    assert admin.put(f"{API}/projects/NOPE", json={"name": "x"}).status_code == 404
    after = admin.get(f"{API}/projects/UPA").json()
    assert (after["key"], after["name"], after["public"]) == ("UPA", "Upa", False)


def test_delete_refused_while_repositories_remain(server: LiveServer, admin) -> None:
    create_repo(admin, "FULL", "keep")
    r = admin.delete(f"{API}/projects/FULL")
    assert r.status_code == 409 and err(r).endswith("IntegrityException")
    assert "has repositories" in r.json()["errors"][0]["message"]
    assert admin.delete(f"{API}/projects/FULL/repos/keep").status_code == 202
    assert admin.delete(f"{API}/projects/FULL").status_code == 204


def test_create_needs_project_create(server: LiveServer, admin, people) -> None:
    with server.client(auth=("pat", USER_PASSWORD)) as pat:
        r = pat.post(f"{API}/projects", json={"key": "PATS", "name": "Pats"})
        assert r.status_code == 401 and err(r).endswith("AuthorisationException")
    with server.client(auth=None) as anon:
        assert anon.post(f"{API}/projects", json={"key": "ANON", "name": "Anon"}).status_code == 401
    assert admin.get(f"{API}/projects/PATS").status_code == 404


def test_read_user_cannot_update_or_delete(server: LiveServer, admin, people) -> None:
    admin.post(f"{API}/projects", json={"key": "RO", "name": "Ro"})
    grant_project(server, "RO", "pat", "PROJECT_READ")
    with server.client(auth=("pat", USER_PASSWORD)) as pat:
        assert pat.get(f"{API}/projects/RO").status_code == 200
        r = pat.put(f"{API}/projects/RO", json={"name": "Mine"})
        assert r.status_code == 401 and err(r).endswith("AuthorisationException")
        assert pat.delete(f"{API}/projects/RO").status_code == 401
    with server.client(auth=("nobody", USER_PASSWORD)) as nobody:
        assert nobody.get(f"{API}/projects/RO").status_code == 401
    assert admin.get(f"{API}/projects/RO").json()["name"] == "Ro"


def test_list_visibility_filters_and_paging(server: LiveServer, admin, people) -> None:
    for i in range(5):
        admin.post(f"{API}/projects", json={"key": f"VIS{i}", "name": f"Visible {i}"})
    admin.post(f"{API}/projects", json={"key": "VISPUB", "name": "Visible public", "public": True})
    grant_project(server, "VIS0", "rita", "PROJECT_READ")
    grant_project(server, "VIS1", "rita", "PROJECT_ADMIN")
    grant_project(server, "VIS2", "stash-users", "PROJECT_WRITE", group=True)
    create_repo(admin, "VIS3", "inner")
    create_repo(admin, "VIS4", "hidden")  # a repository rita cannot read does not make VIS4 visible
    grant_repo(server, "VIS3", "inner", "rita", "REPO_READ")

    with server.client(auth=("rita", USER_PASSWORD)) as rita:
        keys = [p["key"] for p in rita.get(f"{API}/projects", params={"name": "visible"}).json()["values"]]
        assert keys == ["VIS0", "VIS1", "VIS2", "VIS3", "VISPUB"]  # not VIS4
        first = rita.get(f"{API}/projects", params={"name": "VISIBLE", "limit": 2}).json()
        assert [p["key"] for p in first["values"]] == ["VIS0", "VIS1"]
        assert first["isLastPage"] is False and first["nextPageStart"] == 2 and first["size"] == 2
        last = rita.get(f"{API}/projects", params={"name": "visible", "start": 4, "limit": 2}).json()
        assert [p["key"] for p in last["values"]] == ["VISPUB"] and last["isLastPage"] is True
        assert "nextPageStart" not in last
        admins = rita.get(f"{API}/projects", params={"permission": "PROJECT_ADMIN", "name": "visible"}).json()
        assert [p["key"] for p in admins["values"]] == ["VIS1"]
        writes = rita.get(f"{API}/projects", params={"permission": "PROJECT_WRITE", "name": "visible"}).json()
        assert [p["key"] for p in writes["values"]] == ["VIS1", "VIS2"]
        r = rita.get(f"{API}/projects", params={"permission": "REPO_READ"})
        assert r.status_code == 400
    with server.client(auth=None) as anon:
        keys = [p["key"] for p in anon.get(f"{API}/projects", params={"name": "visible"}).json()["values"]]
        assert keys == ["VISPUB"]
        assert anon.get(f"{API}/projects/VISPUB").status_code == 200
        assert anon.get(f"{API}/projects/VIS0").status_code == 401
    assert len(admin.get(f"{API}/projects", params={"name": "visible"}).json()["values"]) == 6
    assert admin.get(f"{API}/projects", params={"start": "x"}).status_code == 400


def test_personal_projects(server: LiveServer, admin, people) -> None:
    with server.client(auth=("pat", USER_PASSWORD)) as pat:
        r = pat.post(f"{API}/projects/~pat/repos", json={"name": "dotfiles"})
        assert r.status_code == 201, r.text
        assert r.json()["project"]["key"] == "~pat"
        listed = pat.get(f"{API}/users/pat/repos").json()
        assert [x["slug"] for x in listed["values"]] == ["dotfiles"]
        assert pat.get(f"{API}/users/~pat/repos/dotfiles").json()["id"] == r.json()["id"]
        project = pat.get(f"{API}/projects/~PAT").json()
        assert project["type"] == "PERSONAL" and project["owner"]["name"] == "pat"
        # Personal projects are not in the project list.
        assert all(p["type"] == "NORMAL" for p in pat.get(f"{API}/projects").json()["values"])
        assert pat.post(f"{API}/projects/~rita/repos", json={"name": "x"}).status_code == 401
    with server.client(auth=("rita", USER_PASSWORD)) as rita:
        assert rita.get(f"{API}/users/pat/repos/dotfiles").status_code == 401
    assert admin.get(f"{API}/projects/~ghost").status_code == 404
    assert admin.get(f"{API}/users/ghost/repos").status_code == 404
