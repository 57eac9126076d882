"""Bamboo search REST: plans (starts-with, fuzzy, paging), projects, branches of a plan, jobs and stages of a
plan, users; XML and JSON; python-api's search_plans."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import httpx
import pytest
from atlassian import Bamboo

from bamboo_support import import_specs
from support import ADMIN, LiveServer, create_user

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}
SPECS = """\
version: 2
plan: {project-key: MARS, key: ROCKET, name: Build the rockets, description: big ones}
stages:
  - Compile: [Build]
  - Ship it: {manual: true, jobs: [Package]}
Build: {key: BLD, tasks: [clean]}
Package: {key: PKG, tasks: [clean]}
---
version: 2
plan: {project-key: MARS, key: LANDER, name: Lander}
stages: [{S: [J]}]
J: {tasks: [clean]}
---
version: 2
plan: {project-key: MOON, key: BASE, name: Moon base}
stages: [{S: [J]}]
J: {tasks: [clean]}
"""


@pytest.fixture(scope="module")
def imported(server: LiveServer, admin: httpx.Client) -> None:
    import_specs(admin, SPECS)
    assert admin.put(B + "/plan/MARS-ROCKET/branch/feature-fins", params={"vcsBranch": "feature/fins"},
                     headers=J).status_code == 200
    create_user(server, "alice", "albert")


def _ids(admin: httpx.Client, path: str, **params: object) -> list[str]:
    data = admin.get(B + path, params=params, headers=J).json()
    assert data["size"] >= len(data["searchResults"])
    return [r["id"] for r in data["searchResults"]]


def test_search_plans(admin: httpx.Client, imported: None) -> None:
    data = admin.get(B + "/search/plans", params={"searchTerm": "Mars - B"}, headers=J).json()
    assert data["size"] == 1 and data["start-index"] == 0
    hit = data["searchResults"][0]
    assert hit["id"] == "MARS-ROCKET" and hit["type"] == "plan"
    assert hit["searchEntity"] == {"id": "MARS-ROCKET", "key": "MARS-ROCKET", "projectName": "MARS",
                                   "planName": "Build the rockets", "description": "big ones", "type": "chain"}
    assert _ids(admin, "/search/plans", searchTerm="MARS-") == ["MARS-LANDER", "MARS-ROCKET"]
    assert _ids(admin, "/search/plans", searchTerm="rockets") == []
    assert _ids(admin, "/search/plans", searchTerm="rockets", fuzzy="true") == ["MARS-ROCKET"]
    assert _ids(admin, "/search/plans") == ["MARS-LANDER", "MARS-ROCKET", "MOON-BASE"]
    page = admin.get(B + "/search/plans", params={"start-index": 1, "max-result": 1}, headers=J).json()
    assert page["size"] == 3 and page["start-index"] == 1 and [r["id"] for r in page["searchResults"]] == \
        ["MARS-ROCKET"]
    root = ET.fromstring(admin.get(B + "/search/plans", params={"searchTerm": "Moon"}).content)
    assert root.tag == "searchResults" and root.get("size") == "1"
    item = root.find("searchResults")
    assert item.get("id") == "MOON-BASE" and item.find("searchEntity/planName").text == "Moon base"
    assert admin.get(B + "/search/plans", params={"max-result": "x"}, headers=J).status_code == 400


def test_search_projects_branches_jobs_stages_users(admin: httpx.Client, imported: None) -> None:
    assert _ids(admin, "/search/projects", searchTerm="oo") == ["MOON"]
    assert _ids(admin, "/search/branches", masterPlanKey="MARS-ROCKET") == ["MARS-ROCKET1"]
    assert _ids(admin, "/search/branches", masterPlanKey="MARS-ROCKET", includeMasterBranch="true") == \
        ["MARS-ROCKET", "MARS-ROCKET1"]
    branch = admin.get(B + "/search/branches", params={"searchTerm": "feature"}, headers=J).json()["searchResults"]
    assert branch[0]["searchEntity"]["branchName"] == "feature-fins"
    assert branch[0]["searchEntity"]["planName"] == "Build the rockets"
    assert admin.get(B + "/search/branches", params={"masterPlanKey": "MARS-NOPE"}, headers=J).status_code == 400
    assert _ids(admin, "/search/jobs/MARS-ROCKET") == ["MARS-ROCKET-BLD", "MARS-ROCKET-PKG"]
    assert _ids(admin, "/search/jobs/MARS-ROCKET", searchTerm="Pack") == ["MARS-ROCKET-PKG"]
    assert admin.get(B + "/search/jobs/MARS-NOPE", headers=J).status_code == 404
    stages = admin.get(B + "/search/stages/MARS-ROCKET", params={"searchTerm": "Ship"}, headers=J).json()
    assert [r["searchEntity"]["key"] for r in stages["searchResults"]] == ["Ship it"]
    assert _ids(admin, "/search/users", searchTerm="al") == ["albert", "alice"]
    assert _ids(admin, "/search/users", searchTerm="Alice") == ["alice"]


def test_python_client_and_anonymous(server: LiveServer, imported: None) -> None:
    bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
    found = bamboo.search_plans("Lander")
    assert [r["id"] for r in found["searchResults"]] == ["MARS-LANDER"]
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get(B + "/search/plans", headers=J).status_code == 401
