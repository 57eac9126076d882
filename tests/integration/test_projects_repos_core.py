"""Creating projects and repositories makes real bare repositories that git can clone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support import LiveServer, git, validating_client


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    """The administrator's client, checking every response against the reference spec."""
    with validating_client(server) as c:
        yield c


def test_create_project_and_repo_then_clone_path_exists(server: LiveServer, admin, tmp_path: Path) -> None:
    r = admin.post("/rest/api/latest/projects", json={"key": "CORE", "name": "Core", "description": "d"})
    assert r.status_code == 201, r.text
    assert r.json()["key"] == "CORE" and r.json()["links"]["self"][0]["href"].endswith("/projects/CORE")
    r = admin.post("/rest/api/latest/projects/CORE/repos", json={"name": "My Repo", "scmId": "git"})
    assert r.status_code == 201, r.text
    repo = r.json()
    assert repo["slug"] == "my-repo" and repo["state"] == "AVAILABLE"
    clone = {c["name"]: c["href"] for c in repo["links"]["clone"]}
    assert clone["http"] == f"{server.url}/scm/core/my-repo.git"
    disk = server.home / "shared" / "data" / "repositories" / str(repo["id"])
    assert (disk / "HEAD").read_text().strip() == "ref: refs/heads/main"
    assert git("--git-dir", str(disk), "config", "receive.fsckObjects").stdout.strip() == "true"
    assert admin.get("/rest/api/1.0/projects/core/repos/my-repo").json()["id"] == repo["id"]


def test_duplicate_and_invalid_names_change_nothing(server: LiveServer, admin) -> None:
    admin.post("/rest/api/latest/projects", json={"key": "DUP", "name": "Dup"})
    assert admin.post("/rest/api/latest/projects", json={"key": "dup", "name": "Other"}).status_code == 409
    assert admin.post("/rest/api/latest/projects", json={"key": "1BAD", "name": "x"}).status_code == 400
    assert admin.post("/rest/api/latest/projects", json={"key": "OK" * 100, "name": "x"}).status_code == 400
    r = admin.post("/rest/api/latest/projects", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["errors"][0]["message"]
    before = set((server.home / "shared/data/repositories").iterdir())
    assert admin.post("/rest/api/latest/projects/DUP/repos", json={"name": "r1"}).status_code == 201
    assert admin.post("/rest/api/latest/projects/DUP/repos", json={"name": "R1"}).status_code == 409
    assert admin.post("/rest/api/latest/projects/DUP/repos", json={"name": "-x"}).status_code == 400
    assert admin.post("/rest/api/latest/projects/DUP/repos",
                      json={"name": "r2", "defaultBranch": "--upload-pack=x"}).status_code == 400
    assert admin.post("/rest/api/latest/projects/DUP/repos", json={"name": "r3", "public": "yes"}).status_code == 400
    after = set((server.home / "shared/data/repositories").iterdir())
    assert len(after - before) == 1


def test_delete_repo_removes_data(server: LiveServer, admin) -> None:
    admin.post("/rest/api/latest/projects", json={"key": "DEL", "name": "Del"})
    repo = admin.post("/rest/api/latest/projects/DEL/repos", json={"name": "gone"}).json()
    disk = server.home / "shared" / "data" / "repositories" / str(repo["id"])
    assert disk.exists()
    assert admin.delete("/rest/api/latest/projects/DEL/repos/gone").status_code == 202
    assert not disk.exists()
    assert admin.get("/rest/api/latest/projects/DEL/repos/gone").status_code == 404
    assert admin.delete("/rest/api/latest/projects/DEL/repos/gone").status_code == 204


def test_personal_repository(server: LiveServer, admin) -> None:
    r = admin.post("/rest/api/latest/projects/~admin/repos", json={"name": "mine"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["project"]["type"] == "PERSONAL" and body["project"]["key"] == "~admin"
    assert body["project"]["owner"]["name"] == "admin"
    assert any(c["href"].endswith("/scm/~admin/mine.git") for c in body["links"]["clone"])
    assert body["links"]["self"][0]["href"].endswith("/users/admin/repos/mine/browse")


def test_anonymous_cannot_see_private_repo(server: LiveServer, admin) -> None:
    admin.post("/rest/api/latest/projects", json={"key": "PRIV", "name": "Priv"})
    admin.post("/rest/api/latest/projects/PRIV/repos", json={"name": "secret"})
    with validating_client(server, auth=None) as anon:
        r = anon.get("/rest/api/latest/projects/PRIV/repos/secret")
        assert r.status_code == 401
        assert r.json()["errors"][0]["exceptionName"].endswith("AuthenticationRequiredException")
