"""Bamboo plan branches REST: create with PUT (key = plan key + number), list (enabledOnly), get (204 when
missing, `/` sent as `-`), vcsBranches of the linked repository, delete; favourites; plan deletion."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
from atlassian import Bamboo

from bamboo_support import import_specs
from support import ADMIN, USER_PASSWORD, LiveServer, create_repo, create_user, cred_url, git, server_db

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}
SPECS = """\
version: 2
plan: {project-key: BR, key: APP, name: App}
stages: [{S: [Build]}]
Build: {tasks: [checkout, {script: [make]}]}
variables: {color: blue}
---
version: 2
plan: {project-key: BR, key: LIB, name: Lib}
stages: [{S: [J]}]
J: {tasks: [clean]}
"""


@pytest.fixture(scope="module")
def imported(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> None:
    import culm.domain.models  # noqa: F401
    from culm.domain.bamboo.service import plan
    from culm.domain.repos import service as repos

    import_specs(admin, SPECS)
    create_user(server, "bob")
    create_repo(admin, "SRC", "app")
    work = Path(tmp_path_factory.mktemp("work"))
    git("init", "-q", "-b", "main", str(work))
    (work / "README").write_text("hi\n")
    git("add", "README", cwd=work)
    git("commit", "-q", "-m", "init", cwd=work)
    for branch in ("feature/login", "release-1"):
        git("branch", branch, cwd=work)
    git("push", "-q", cred_url(server, "/scm/src/app.git", *ADMIN), "main", "feature/login", "release-1", cwd=work)
    with server_db(server) as session:
        _, repo = repos.require(session, "SRC", "app")  # type: ignore[arg-type]
        _, app = plan(session, "BR-APP")  # type: ignore[arg-type]
        app.repository_id = repo.id


def test_create_get_list(admin: httpx.Client, imported: None) -> None:
    r = admin.put(B + "/plan/BR-APP/branch/feature-login", params={"vcsBranch": "feature/login"}, headers=J)
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["key"] == "BR-APP1" and created["shortName"] == "feature-login" and created["enabled"] is True
    assert created["master"]["key"] == "BR-APP"
    r = admin.put(B + "/plan/BR-APP/branch/release-1",
                  params={"vcsBranch": "refs/heads/release-1", "enabled": "false", "cleanupEnabled": "true"},
                  headers=J)
    assert r.status_code == 200 and r.json()["key"] == "BR-APP2" and r.json()["enabled"] is False
    one = admin.get(B + "/plan/BR-APP/branch/feature-login", headers=J).json()
    assert one["key"] == "BR-APP1" and one["shortKey"] == "APP1"
    root = ET.fromstring(admin.get(B + "/plan/BR-APP/branch/feature-login").content)
    assert root.tag == "branch" and root.get("key") == "BR-APP1"
    listed = admin.get(B + "/plan/BR-APP/branch", headers=J).json()["branches"]
    assert listed["size"] == 2 and [b["key"] for b in listed["branch"]] == ["BR-APP1", "BR-APP2"]
    enabled = admin.get(B + "/plan/BR-APP/branch.json", params={"enabledOnly": "true"}).json()["branches"]
    assert [b["key"] for b in enabled["branch"]] == ["BR-APP1"]
    root = ET.fromstring(admin.get(B + "/plan/BR-APP/branch").content)
    assert [b.get("key") for b in root.findall("branches/branch")] == ["BR-APP1", "BR-APP2"]
    # the branch is a plan of its own: readable by key, not listed among top-level plans
    plan = admin.get(B + "/plan/BR-APP1", headers=J).json()
    assert plan["type"] == "chain_branch" and plan["shortName"] == "feature-login"
    assert {p["key"] for p in admin.get(B + "/plan", headers=J).json()["plans"]["plan"]} == {"BR-APP", "BR-LIB"}
    assert {v["name"] for v in admin.get(B + "/plan/BR-APP/variables", headers=J).json()} == {"color"}
    master = admin.get(B + "/plan/BR-APP", params={"expand": "branches"}, headers=J).json()
    assert master["branches"]["size"] == 2 and [b["key"] for b in master["branches"]["branch"]] == \
        ["BR-APP1", "BR-APP2"]
    assert admin.get(B + "/plan/BR-APP", headers=J).json()["branches"] == {"size": 2, "start-index": 0,
                                                                          "max-result": 2}
    root = ET.fromstring(admin.get(B + "/plan", params={"expand": "plans.plan.branches"}).content)
    app = [p for p in root.findall("plans/plan") if p.get("key") == "BR-APP"][0]
    assert [b.find("key").text for b in app.findall("branches/branch")] == ["BR-APP1", "BR-APP2"]


def test_missing_branch_is_204(server: LiveServer, imported: None) -> None:
    with server.client() as plain:  # 204 is what clients rely on, though the spec lists only 200
        r = plain.get(B + "/plan/BR-APP/branch/nope", headers=J)
        assert r.status_code == 204 and r.content == b""
        assert plain.get(B + "/plan/BR-NOPE/branch/nope", headers=J).status_code == 404


def test_bad_creations_change_nothing(admin: httpx.Client, imported: None) -> None:
    before = admin.get(B + "/plan/BR-APP/branch", headers=J).json()
    for name, params in (("feature-login", {"vcsBranch": "feature/login"}),  # duplicate name
                         ("x", {"vcsBranch": "bad..name"}), ("y", {"vcsBranch": "-option"}),
                         ("z", {"vcsBranch": "ok", "enabled": "maybe"})):
        r = admin.put(B + f"/plan/BR-APP/branch/{name}", params=params, headers=J)
        assert r.status_code == 400 and r.json()["errors"], (name, r.text)
    assert admin.put(B + "/plan/BR-APP1/branch/sub", params={"vcsBranch": "x"}, headers=J).status_code == 404
    assert admin.put(B + "/plan/BR-NOPE/branch/x", headers=J).status_code == 404
    assert admin.get(B + "/plan/BR-APP/branch", headers=J).json() == before


def test_vcs_branches(admin: httpx.Client, imported: None) -> None:
    data = admin.get(B + "/plan/BR-APP/vcsBranches", headers=J).json()
    assert [b["name"] for b in data["branches"]["branch"]] == ["feature/login", "main", "release-1"]
    assert data["branches"]["size"] == 3
    found = admin.get(B + "/plan/BR-APP/vcsBranches", params={"searchTerm": "rel"}, headers=J).json()
    assert [b["name"] for b in found["branches"]["branch"]] == ["release-1"]
    assert admin.get(B + "/plan/BR-LIB/vcsBranches", headers=J).json()["branches"]["branch"] == []
    root = ET.fromstring(admin.get(B + "/plan/BR-APP/vcsBranches").content)
    assert [b.find("name").text for b in root.findall("branches/branch")] == ["feature/login", "main", "release-1"]


def test_python_client(server: LiveServer, imported: None) -> None:
    bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
    made = bamboo.create_branch("BR-LIB", "topic-x", vcs_branch="topic/x", enabled=True)
    assert made["key"] == "BR-LIB1"
    assert bamboo.get_branch_info("BR-LIB", "topic-x")["key"] == "BR-LIB1"
    assert [b["key"] for b in bamboo.plan_branches("BR-LIB")] == ["BR-LIB1"]
    found = list(bamboo.search_branches("BR-LIB", include_default_branch=True))
    assert {r["id"] for r in found} == {"BR-LIB", "BR-LIB1"}
    assert [b["name"] for b in bamboo.get_vcs_branches("BR-APP")["branches"]["branch"]][:1] == ["feature/login"]


def test_favourites(server: LiveServer, admin: httpx.Client, imported: None) -> None:
    assert admin.get(B + "/plan/BR-LIB", headers=J).json()["isFavourite"] is False
    assert admin.post(B + "/plan/BR-LIB/favourite").status_code == 204
    assert admin.post(B + "/plan/BR-LIB/favourite").status_code == 204
    assert admin.get(B + "/plan/BR-LIB", headers=J).json()["isFavourite"] is True
    starred = admin.get(B + "/plan", params={"favourite": "true"}, headers=J).json()["plans"]
    assert starred["size"] == 1 and [p["key"] for p in starred["plan"]] == ["BR-LIB"]
    assert admin.get(B + "/plan?favourite", headers=J).json()["plans"]["size"] == 1
    with httpx.Client(base_url=server.url, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.get(B + "/plan/BR-LIB", headers=J).json()["isFavourite"] is False
        assert bob.post(B + "/plan/BR-APP/favourite").status_code == 204
        assert bob.get(B + "/plan", params={"favourite": "true"}, headers=J).json()["plans"]["plan"][0]["key"] == \
            "BR-APP"
    with httpx.Client(base_url=server.url) as anon:
        assert anon.post(B + "/plan/BR-LIB/favourite").status_code == 401
    assert admin.post(B + "/plan/BR-NOPE/favourite", headers=J).status_code == 404
    assert admin.delete(B + "/plan/BR-LIB/favourite").status_code == 204
    assert admin.delete(B + "/plan/BR-LIB/favourite").status_code == 204
    assert admin.get(B + "/plan/BR-LIB", headers=J).json()["isFavourite"] is False


def test_delete_branch_and_plan(server: LiveServer, admin: httpx.Client, imported: None) -> None:
    with httpx.Client(base_url=server.url, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.delete(B + "/plan/BR-APP2", headers=J).status_code in (401, 403)
    assert admin.delete(B + "/plan/BR-APP2").status_code == 204
    assert [b["key"] for b in admin.get(B + "/plan/BR-APP/branch", headers=J).json()["branches"]["branch"]] == \
        ["BR-APP1"]
    # numbers are never reused
    r = admin.put(B + "/plan/BR-APP/branch/again", params={"vcsBranch": "release-1"}, headers=J)
    assert r.json()["key"] == "BR-APP3"
    assert admin.delete(B + "/plan/BR-APP").status_code == 204
    for key in ("BR-APP", "BR-APP1", "BR-APP3"):
        assert admin.get(B + f"/plan/{key}", headers=J).status_code == 404
    assert admin.delete(B + "/plan/BR-APP", headers=J).status_code == 404
    from sqlalchemy import func, select

    from culm.domain.bamboo.models import BambooVariable

    with server_db(server) as session:
        assert session.scalar(select(func.count()).select_from(BambooVariable)  # type: ignore[attr-defined]
                              .where(BambooVariable.name == "color")) == 0
