"""Bamboo REST project administration (issue rest2, slice 2): create (201) and delete (empty projects only)
projects, and the repositories allowed to manage a project through Specs, enforced on real pushes of
repository-stored Specs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from xml.etree import ElementTree as ET

import httpx
import pytest
from sqlalchemy import select

from support import (
    ADMIN,
    USER_PASSWORD,
    LiveServer,
    commit_file,
    create_repo,
    create_user,
    cred_url,
    git,
    live_server,
    server_db,
    validating_client,
)

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}
T = TypeVar("T")


def specs(project: str, key: str) -> str:
    return (f"version: 2\nplan: {{project-key: {project}, key: {key}, name: {key.title()}}}\n"
            "stages: [{S: [J]}]\nJ: {tasks: [clean]}\n")


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server({"CULM_LOCAL_AGENTS": "0"}) as s:
        create_user(s, "bob")
        yield s
        log = (s.home / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 15.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def plan_repo(server: LiveServer, project: str, key: str) -> tuple[bool, int | None]:
    import culm.domain.models  # noqa: F401
    from culm.domain.bamboo.models import BambooPlan, BambooProject

    with server_db(server) as session:
        row = session.scalar(select(BambooPlan).join(BambooProject, BambooProject.id == BambooPlan.project_id)  # type: ignore[attr-defined]
                             .where(BambooProject.key == project, BambooPlan.key == key))
        return (row is not None, row.repository_id if row else None)


def specs_error(server: LiveServer, repo_id: int) -> tuple[str, str | None] | None:
    from culm.domain.bamboo.trigger_models import BambooRepoSpecs

    with server_db(server) as session:
        row = session.get(BambooRepoSpecs, repo_id)  # type: ignore[attr-defined]
        return (row.revision, row.error) if row else None


def test_create_project(server: LiveServer, admin: httpx.Client) -> None:
    r = admin.post(B + "/project", json={"key": "NEWP", "name": "New project", "description": "d"}, headers=J)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["key"] == "NEWP" and body["name"] == "New project" and body["description"] == "d"
    assert body["link"]["href"].endswith(B + "/project/NEWP")
    assert admin.get(B + "/project/NEWP", headers=J).json()["name"] == "New project"
    r = admin.post(B + "/project", json={"key": "XMLP", "name": "In XML"})
    assert r.status_code == 201 and ET.fromstring(r.content).get("key") == "XMLP"
    dup = admin.post(B + "/project", json={"key": "NEWP", "name": "Other"}, headers=J)
    assert dup.status_code == 400 and "key" in dup.json()["fieldErrors"]
    same_name = admin.post(B + "/project", json={"key": "OTHER", "name": "new PROJECT"}, headers=J)
    assert same_name.status_code == 400 and "name" in same_name.json()["fieldErrors"]
    for bad in ({"key": "lower", "name": "x"}, {"key": "OK"}, {"name": "x"}, {"key": "A-B", "name": "x"}):
        assert admin.post(B + "/project", json=bad, headers=J).status_code == 400, bad
    assert admin.post(B + "/project", content=b"[]", headers={**J, "Content-Type": "application/json"}
                      ).status_code == 400
    with validating_client(server, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.post(B + "/project", json={"key": "BOBS", "name": "Bob's"}, headers=J).status_code in (401, 403)
    assert admin.get(B + "/project/BOBS", headers=J).status_code == 404


def test_delete_project(server: LiveServer, admin: httpx.Client) -> None:
    assert admin.post(B + "/project", json={"key": "GONE", "name": "Gone"}).status_code == 201
    assert admin.post(B + "/project/GONE/variable", json={"name": "v", "value": "1"}, headers=J).status_code in (
        200, 201)
    with validating_client(server, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.delete(B + "/project/GONE", headers=J).status_code in (401, 403)
    assert admin.delete(B + "/project/GONE").status_code == 204
    assert admin.get(B + "/project/GONE", headers=J).status_code == 404
    assert admin.delete(B + "/project/GONE", headers=J).status_code == 404
    assert admin.post(B + "/import/plan", content=specs("FULL", "PLAN"), headers=J).status_code == 200
    r = admin.delete(B + "/project/FULL", headers=J)
    assert r.status_code == 400 and "plan" in r.json()["errors"][0]
    assert admin.get(B + "/plan/FULL-PLAN", headers=J).status_code == 200


def _push_new(server: LiveServer, admin: httpx.Client, work: Path, slug: str, text: str,
              before_push: Callable[[int], None] | None = None) -> int:
    repo = create_repo(admin, "RP", slug)
    if before_push:
        before_push(repo["id"])
    git("init", "-q", "-b", "main", str(work))
    commit_file(work, "bamboo-specs/bamboo.yml", text)
    git("push", "-q", cred_url(server, f"/scm/RP/{slug}.git", *ADMIN), "main", cwd=work)
    return int(repo["id"])


def test_repositories_allowed_to_manage_a_project(server: LiveServer, admin: httpx.Client, tmp_path: Path) -> None:
    assert admin.post(B + "/project", json={"key": "LOCK", "name": "Locked"}).status_code == 201
    url = B + "/project/LOCK/repository"
    assert admin.get(url, headers=J).json() == []

    def grant(repo_id: int) -> None:
        r = admin.post(url, json={"id": repo_id}, headers=J)
        assert r.status_code == 201 and r.json()["id"] == repo_id and r.json()["name"] == "good"
        assert admin.post(url, json={"id": repo_id}, headers=J).status_code == 400

    good = _push_new(server, admin, tmp_path / "good", "good", specs("LOCK", "GOOD"), grant)
    wait_for(lambda: plan_repo(server, "LOCK", "GOOD")[0], "the granted repository's plan")
    assert plan_repo(server, "LOCK", "GOOD") == (True, good)

    evil = _push_new(server, admin, tmp_path / "evil", "evil", specs("LOCK", "EVIL"))
    error = wait_for(lambda: (e := specs_error(server, evil)) and e[1], "the refusal")
    assert "not allowed to manage project LOCK" in error
    assert plan_repo(server, "LOCK", "EVIL") == (False, None)

    # A project the Specs create is open (nobody assigned yet): the same repository may create plans there.
    opener = _push_new(server, admin, tmp_path / "open", "opener", specs("OPEN", "ONE"))
    wait_for(lambda: plan_repo(server, "OPEN", "ONE")[0], "the open project's plan")
    assert plan_repo(server, "OPEN", "ONE") == (True, opener)

    listed = admin.get(url, headers=J).json()
    assert listed == [{"id": good, "name": "good", "url": listed[0]["url"], "rssEnabled": True,
                       "projectKey": "RP", "projectName": "RP"}]
    assert listed[0]["url"].endswith("/projects/RP/repos/good/browse")
    root = ET.fromstring(admin.get(url).content)
    assert root.tag == "repositories" and root.find("repository/name").text == "good"
    found = admin.get(url + "/search", params={"searchTerm": "ev"}, headers=J).json()
    assert [r["name"] for r in found["searchResults"]] == ["evil"] and found["size"] == 1
    everything = admin.get(url + "/search", headers=J).json()
    assert {r["name"] for r in everything["searchResults"]} == {"evil", "opener"}

    page = admin.get(B + "/project/LOCK/repositories", headers=J).json()
    assert [r["name"] for r in page["results"]] == ["good"] and page["start"] == 0 and page["limit"] == 25
    assert page["results"][0]["location"] == "RP/good" and page["results"][0]["admin"] is True
    assert admin.get(B + "/project/LOCK/repositories", params={"limit": "0"}, headers=J).status_code == 400

    # Removing the only grant opens the project again: the refused repository's next push imports its plan.
    assert admin.delete(f"{url}/{good}").status_code == 204
    assert admin.delete(f"{url}/{good}", headers=J).status_code == 404
    assert admin.delete(f"{url}/abc", headers=J).status_code == 404
    commit_file(tmp_path / "evil", "README", "again\n")
    git("push", "-q", cred_url(server, "/scm/RP/evil.git", *ADMIN), "main", cwd=tmp_path / "evil")
    wait_for(lambda: plan_repo(server, "LOCK", "EVIL")[0], "the plan of the no longer refused repository")


def test_project_repository_bad_inputs(server: LiveServer, admin: httpx.Client) -> None:
    assert admin.post(B + "/project", json={"key": "BADR", "name": "Bad repos"}).status_code == 201
    url = B + "/project/BADR/repository"
    assert admin.post(url, json={}, headers=J).status_code == 400
    assert admin.post(url, json={"id": 999999}, headers=J).status_code == 404
    assert admin.post(url, content=b"nope", headers={**J, "Content-Type": "application/json"}).status_code == 400
    assert admin.get(B + "/project/NOPE/repository", headers=J).status_code == 404
    assert admin.get(B + "/project/NOPE/repositories", headers=J).status_code == 404
    assert admin.get(B + "/project/NOPE/repository/search", headers=J).status_code == 404
    with validating_client(server, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.get(url, headers=J).status_code in (401, 403)
        assert bob.post(url, json={"id": 1}, headers=J).status_code in (401, 403)
        assert bob.get(url + "/search", headers=J).status_code in (401, 403)
    assert admin.get(url, headers=J).json() == []




def test_empty_projects_are_listed_with_show_empty(admin: httpx.Client) -> None:
    assert admin.post(B + "/project", json={"key": "EMPTY", "name": "Empty"}).status_code == 201
    hidden = admin.get(B + "/project", params={"max-result": 25}, headers=J).json()["projects"]["project"]
    assert "EMPTY" not in {p["key"] for p in hidden}
    shown = admin.get(B + "/project", params={"showEmpty": "true"}, headers=J).json()["projects"]
    assert "EMPTY" in {p["key"] for p in shown["project"]} and shown["size"] > len(hidden)
