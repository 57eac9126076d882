"""Bamboo plans: import Specs YAML through the API, read projects and plans as XML and JSON, enable/disable,
labels; bad input changes nothing."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import httpx
import pytest
from atlassian import Bamboo

from bamboo_support import import_specs
from support import ADMIN, create_user

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}

SPECS = """\
---
version: 2
plan:
  project-key: MARS
  key: ROCKET
  name: Build the rockets
stages:
  - Build stage:
    - Build
  - Ship:
      manual: true
      jobs: [Package]
Build:
  tasks:
    - checkout
    - script:
        - echo wings > wings
  artifacts:
    - name: wings
      pattern: wings
Package:
  key: PKG
  tasks:
    - artifact-download:
        artifacts: [{name: wings}]
variables:
  target: mars
  deploy.password: hunter2
labels: [space]
---
version: 2
plan: {project-key: MARS, key: LANDER, name: Lander}
stages:
  - Default: [Default Job]
Default Job:
  tasks: [clean]
"""


@pytest.fixture(scope="module")
def imported(server, admin):  # type: ignore[no-untyped-def]
    answer = import_specs(admin, SPECS)
    create_user(server, "bob")
    return answer


def _snapshot(admin: httpx.Client) -> object:
    return admin.get(B + "/plan.json", params={"expand": "plans.plan.stages,plans.plan.variableContext"}).json()


def test_import_returns_plans(imported) -> None:  # type: ignore[no-untyped-def]
    assert imported["plans"]["size"] == 2
    assert [p["key"] for p in imported["plans"]["plan"]] == ["MARS-ROCKET", "MARS-LANDER"]


def test_plan_json_shape(admin, imported) -> None:  # type: ignore[no-untyped-def]
    plan = admin.get(B + "/plan/MARS-ROCKET", headers=J).json()
    assert plan["key"] == "MARS-ROCKET" and plan["shortKey"] == "ROCKET" and plan["type"] == "chain"
    assert plan["projectKey"] == "MARS" and plan["planKey"] == {"key": "MARS-ROCKET"}
    assert plan["enabled"] is True and plan["expand"] == "actions,stages,branches,variableContext"
    assert plan["stages"] == {"size": 2, "start-index": 0, "max-result": 2}
    assert plan["link"]["href"].endswith(B + "/plan/MARS-ROCKET") and plan["link"]["rel"] == "self"
    full = admin.get(B + "/plan/MARS-ROCKET.json", params={"expand": "stages.stage.plans,variableContext"}).json()
    stages = full["stages"]["stage"]
    assert [(s["name"], s["manual"]) for s in stages] == [("Build stage", False), ("Ship", True)]
    assert [p["key"] for p in stages[1]["plans"]["plan"]] == ["MARS-ROCKET-PKG"]
    variables = {v["key"]: v["value"] for v in full["variableContext"]["variable"]}
    assert variables == {"target": "mars", "deploy.password": "********"}


def test_plan_xml_shape(admin, imported) -> None:  # type: ignore[no-untyped-def]
    r = admin.get(B + "/plan/MARS-ROCKET")
    assert r.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "plan" and root.get("key") == "MARS-ROCKET" and root.get("enabled") == "true"
    assert root.get("type") == "chain" and root.get("shortKey") == "ROCKET"
    assert root.find("projectKey").text == "MARS"
    assert root.find("planKey/key").text == "MARS-ROCKET"
    assert root.find("link").get("rel") == "self"
    stages = root.find("stages")
    assert stages.get("size") == "2" and stages.get("start-index") == "0" and not list(stages)
    root = ET.fromstring(admin.get(B + "/plan.xml").content)
    inner = root.find("plans")
    assert root.tag == "plans" and inner.get("size") == "2"
    assert [p.get("key") for p in inner.findall("plan")] == ["MARS-LANDER", "MARS-ROCKET"]


def test_projects_xml_and_json(admin, imported) -> None:  # type: ignore[no-untyped-def]
    root = ET.fromstring(admin.get("/bamboo/rest/api/1.0/project").content)
    project = root.find("projects/project")
    assert project.get("key") == "MARS" and project.find("plans").get("size") == "2"
    assert project.find("plans/plan") is None
    data = admin.get(B + "/project.json", params={"expand": "projects.project.plans"}).json()
    plans = data["projects"]["project"][0]["plans"]
    assert plans["size"] == 2 and len(plans["plan"]) == 2
    one = admin.get(B + "/project/MARS", headers=J, params={"expand": "plans"}).json()
    assert one["key"] == "MARS" and one["plans"]["size"] == 2
    paged = admin.get(B + "/plan", headers=J, params={"max-result": 1, "start-index": 1}).json()["plans"]
    assert paged["size"] == 2 and paged["start-index"] == 1 and [p["shortKey"] for p in paged["plan"]] == ["ROCKET"]


def test_python_client(server, imported) -> None:  # type: ignore[no-untyped-def]
    bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
    assert [p["key"] for p in bamboo.projects()] == ["MARS"]
    assert bamboo.project("MARS")["key"] == "MARS"
    assert {p["key"] for p in bamboo.plans()} == {"MARS-ROCKET", "MARS-LANDER"}
    assert bamboo.get_plan("MARS-LANDER")["shortName"] == "Lander"
    bamboo.disable_plan("MARS-LANDER")
    assert bamboo.get_plan("MARS-LANDER")["enabled"] is False
    bamboo.enable_plan("MARS-LANDER")
    assert bamboo.get_plan("MARS-LANDER")["enabled"] is True
    assert bamboo.get_current_user()["name"] == "admin"
    assert bamboo.server_info()["state"] == "RUNNING"


def test_labels(admin, imported) -> None:  # type: ignore[no-untyped-def]
    assert admin.post(B + "/plan/MARS-ROCKET/label", json={"name": "Fast"}, headers=J).status_code == 204
    labels = admin.get(B + "/plan/MARS-ROCKET/label", headers=J).json()["labels"]
    assert [lbl["name"] for lbl in labels["label"]] == ["space", "fast"]
    root = ET.fromstring(admin.get(B + "/plan/MARS-ROCKET/label").content)
    assert [e.get("name") for e in root.findall("labels/label")] == ["space", "fast"]
    assert admin.delete(B + "/plan/MARS-ROCKET/label/fast").status_code == 204
    assert admin.delete(B + "/plan/MARS-ROCKET/label/fast", headers=J).status_code == 404
    r = admin.post(B + "/plan/MARS-ROCKET/label", json={"name": "two words"}, headers=J)
    assert r.status_code == 400 and r.json()["errors"]


BAD = [
    ("version: 2\nplan: [\n", "malformed YAML"),
    (SPECS.replace("  artifacts:\n", "  colour: red\n  artifacts:\n", 1), "unknown key 'colour'"),
    ("version: 2\nplan: {project-key: MARS, name: X}\nstages: [{S: [J]}]\nJ: {tasks: [clean]}\n", "missing key 'key'"),
    ("version: 2\nplan: {project-key: mars!, key: X, name: X}\nstages: [{S: [J]}]\nJ: {tasks: [clean]}\n",
     "invalid project key"),
    (SPECS.replace("name: Build the rockets", "name: Renamed") + "---\nversion: 2\nplan: {}\n", "missing key"),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_specs_change_nothing(admin, imported, text: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    before = _snapshot(admin)
    r = admin.post(B + "/import/plan", content=text, headers=J)
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"errors", "fieldErrors"} and any(expected in e for e in body["errors"]), body
    assert any("line " in e for e in body["errors"]) or expected == "missing key 'key'"
    assert _snapshot(admin) == before


def test_not_found_and_auth(server, admin, imported) -> None:  # type: ignore[no-untyped-def]
    for path in ("/plan/MARS-NOPE", "/plan/NOPE-ROCKET", "/plan/garbage", "/plan/MARS-ROCKET-X-Y", "/project/NOPE"):
        r = admin.get(B + path, headers=J)
        assert r.status_code == 404, path
        assert r.json()["errors"] and r.json()["fieldErrors"] == {}
    assert admin.post(B + "/plan/MARS-NOPE/enable").status_code == 404
    assert admin.get(B + "/plan", params={"max-result": "x"}, headers=J).status_code == 400
    before = _snapshot(admin)
    big = admin.post(B + "/import/plan", content=SPECS + "#" * (1 << 20), headers=J)
    assert big.status_code == 400 and "too large" in big.json()["errors"][0]
    assert admin.post(B + "/import/plan", content=b"version: 2\n\xff\xfe", headers=J).status_code == 400
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get(B + "/plan", headers=J).status_code == 401
        assert anon.post(B + "/import/plan", content=SPECS).status_code == 401
        assert anon.delete(B + "/plan/MARS-ROCKET/enable").status_code == 401
    with httpx.Client(base_url=server.url, auth=("bob", "user-Secret-1")) as bob:
        r = bob.post(B + "/import/plan", content=SPECS.replace("Lander", "Hijacked"), headers=J)
        assert r.status_code in (401, 403), r.text
        assert bob.delete(B + "/plan/MARS-ROCKET/enable").status_code in (401, 403)
    assert _snapshot(admin) == before
