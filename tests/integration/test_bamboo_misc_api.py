"""Bamboo REST odds and ends: resource directory, /status, server pause/resume and nodes, Specs export (which
re-imports to the same plan), clone, export, charts (a real PNG) and report keys."""

from __future__ import annotations

import struct
import zlib
from xml.etree import ElementTree as ET

import httpx
import pytest
import yaml
from atlassian import Bamboo

from bamboo_support import import_specs
from support import ADMIN, USER_PASSWORD, LiveServer, create_user, server_db

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}
SPECS = """\
version: 2
plan:
  project-key: MARS
  key: ROCKET
  name: Build the rockets
  description: Big ones
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
        - |
          for i in 1 2; do
            echo "$i"
          done
    - test-parser: {type: junit, test-results: '**/junit/*.xml'}
  final-tasks: [clean]
  requirements: [system.git.executable, {os: linux}]
  artifacts:
    - name: wings
      pattern: wings
      shared: true
Package:
  key: PKG
  tasks:
    - artifact-download:
        artifacts: [{name: wings}]
    - inject-variables: {file: out.env, scope: RESULT, namespace: pkg}
variables:
  target: mars
  deploy.password: hunter2
labels: [space]
triggers:
  - cron: 0 0 * * *
"""


@pytest.fixture(scope="module")
def imported(server: LiveServer, admin: httpx.Client) -> None:
    import_specs(admin, SPECS)
    create_user(server, "bob")


def test_resource_directory(admin: httpx.Client, imported: None) -> None:
    for path in (B, B + "/", "/bamboo/rest/api/1.0/"):
        root = ET.fromstring(admin.get(path).content)
        assert root.tag == "resources" and root.get("expand") == "resources"
        inner = root.find("resources")
        names = [r.get("name") for r in inner.findall("resource")]
        assert inner.get("size") == str(len(names))
        assert names[:9] == ["info", "project", "plan", "result", "chart", "queue", "export", "clone",
                             "currentUser"]
        info = inner.find("resource")
        assert info.find("link").get("rel") == "self" and info.find("link").get("href").endswith(B + "/info")
    data = admin.get(B + ".json").json()
    assert data["resources"]["resource"][1] == {"name": "project",
                                                "link": {"href": data["resources"]["resource"][1]["link"]["href"],
                                                         "rel": "self"}}


def test_status_pause_resume(server: LiveServer, admin: httpx.Client, imported: None) -> None:
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get(B + "/status", headers=J).json() == {"status": "RUNNING"}
        assert ET.fromstring(anon.get(B + "/status").content).find("status").text == "RUNNING"
        assert anon.post(B + "/server/pause").status_code == 401
    with httpx.Client(base_url=server.url, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.post(B + "/server/pause", headers=J).status_code in (401, 403)
    r = admin.post(B + "/server/pause", headers=J)
    assert r.status_code == 200 and r.json()["state"] == "PAUSED" and r.json()["setByUser"] == "admin"
    assert admin.get(B + "/server", headers=J).json()["state"] == "PAUSED"
    assert admin.get(B + "/info", headers=J).json()["state"] == "PAUSED"
    assert admin.get(B + "/status", headers=J).json() == {"status": "PAUSED"}
    bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
    assert bamboo.resume_server()["state"] == "RUNNING"
    assert bamboo.get_server()["state"] == "RUNNING" and bamboo.server_info()["state"] == "RUNNING"
    nodes = bamboo.get_server_nodes()
    assert nodes["state"] == "RUNNING" and nodes["nodeStatuses"][0]["primary"] is True


def test_specs_export_round_trip(admin: httpx.Client, imported: None) -> None:
    assert admin.post(B + "/plan/MARS-ROCKET/variables", json={"name": "added", "value": "later"}).status_code == 201
    before = admin.get(B + "/plan/MARS-ROCKET.json", params={"expand": "stages.stage.plans"}).json()
    r = admin.get(B + "/plan/MARS-ROCKET/specs", params={"format": "YAML"}, headers=J)
    assert r.status_code == 200
    spec = r.json()["spec"]
    assert spec["projectKey"] == "MARS" and spec["buldKey"] == "ROCKET"
    doc = yaml.safe_load(spec["code"])
    assert doc["plan"] == {"project-key": "MARS", "key": "ROCKET", "name": "Build the rockets",
                           "description": "Big ones", "enabled": True}
    assert doc["variables"] == {"added": "later", "deploy.password": "hunter2", "target": "mars"}
    # delete the plan, re-import the export: the same plan comes back
    assert admin.delete(B + "/plan/MARS-ROCKET").status_code == 204
    assert admin.post(B + "/import/plan", content=spec["code"], headers=J).status_code == 200
    after = admin.get(B + "/plan/MARS-ROCKET.json", params={"expand": "stages.stage.plans"}).json()
    assert after == before
    again = admin.get(B + "/plan/MARS-ROCKET/specs", headers=J).json()["spec"]["code"]
    assert again == spec["code"]
    root = ET.fromstring(admin.get(B + "/plan/MARS-ROCKET/specs").content)
    assert root.find("spec").get("buldKey") == "ROCKET" and "version: 2" in root.find("spec/code").text
    project = admin.get(B + "/project/MARS/specs", params={"format": "yaml"}, headers=J).json()
    assert project["projectKey"] == "MARS" and [s["buldKey"] for s in project["spec"]] == ["ROCKET"]
    r = admin.get(B + "/plan/MARS-ROCKET/specs", params={"format": "JAVA"}, headers=J)
    assert r.status_code == 400 and "not supported" in r.json()["errors"][0]
    assert admin.get(B + "/plan/MARS-ROCKET/specs", params={"format": "XML"}, headers=J).status_code == 400
    assert admin.get(B + "/plan/MARS-NOPE/specs", headers=J).status_code == 404
    bamboo_code = Bamboo(admin.base_url.__str__().rstrip("/") + "/bamboo", username=ADMIN[0], password=ADMIN[1]) \
        .get_plan_specs("MARS-ROCKET")["spec"]["code"]
    assert bamboo_code == spec["code"]


def test_clone(server: LiveServer, admin: httpx.Client, imported: None) -> None:
    r = admin.put(B + "/clone/MARS-ROCKET:VENUS-PROBE", headers=J)
    assert r.status_code == 200, r.text
    assert r.json()["key"] == "VENUS-PROBE" and r.json()["shortName"] == "Build the rockets"
    cloned = admin.get(B + "/plan/VENUS-PROBE.json", params={"expand": "stages.stage.plans"}).json()
    assert [s["name"] for s in cloned["stages"]["stage"]] == ["Build stage", "Ship"]
    assert {v["name"] for v in admin.get(B + "/plan/VENUS-PROBE/variables", headers=J).json()} == \
        {"added", "deploy.password", "target"}
    code = admin.get(B + "/plan/VENUS-PROBE/specs", headers=J).json()["spec"]["code"]
    assert "project-key: VENUS" in code and "key: PROBE" in code
    before = admin.get(B + "/plan", headers=J).json()
    for path, status in (("/clone/MARS-ROCKET:VENUS-PROBE", 400), ("/clone/MARS-NOPE:VENUS-X", 404),
                         ("/clone/MARS-ROCKET:venus-x", 400), ("/clone/garbage", 400),
                         ("/clone/MARS-ROCKET:VENUS", 400)):
        r = admin.put(B + path, headers=J)
        assert r.status_code == status and r.json()["errors"], path
    with httpx.Client(base_url=server.url, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.put(B + "/clone/MARS-ROCKET:VENUS-BOB", headers=J).status_code in (401, 403)
    assert admin.get(B + "/plan", headers=J).json() == before


def test_export(admin: httpx.Client, imported: None) -> None:
    data = admin.get(B + "/export/MARS-ROCKET", headers=J).json()
    assert data["project"]["key"] == "MARS" and data["plan"]["key"] == "MARS-ROCKET"
    assert [s["name"] for s in data["plan"]["stages"]["stage"]] == ["Build stage", "Ship"]
    variables = {v["key"]: v["value"] for v in data["plan"]["variableContext"]["variable"]}
    assert variables["deploy.password"] == "********" and variables["target"] == "mars"
    root = ET.fromstring(admin.get(B + "/export/MARS-ROCKET").content)
    assert root.tag == "export" and root.find("plan").get("key") == "MARS-ROCKET"
    assert admin.get(B + "/export/MARS-NOPE", headers=J).status_code == 404


def _png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == b"\x89PNG\r\n\x1a\n" and body[12:16] == b"IHDR"
    width, height = struct.unpack(">II", body[16:24])
    pos, data = 8, b""
    while pos < len(body):  # every chunk's CRC checks out and the pixels decompress
        (length,), kind = struct.unpack(">I", body[pos:pos + 4]), body[pos + 4:pos + 8]
        chunk = body[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", body[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + chunk)
        if kind == b"IDAT":
            data += chunk
        pos += 12 + length
    assert len(zlib.decompress(data)) == height * (1 + 3 * width)
    return width, height


def test_chart(server: LiveServer, admin: httpx.Client, imported: None) -> None:
    import culm.domain.models  # noqa: F401
    from culm.domain.bamboo.models import BambooResult
    from culm.domain.bamboo.service import plan
    from culm.domain.base import now_ms

    with server_db(server) as session:
        _, rocket = plan(session, "MARS-ROCKET")  # type: ignore[arg-type]
        now = now_ms()
        for n, (state, days) in enumerate([("Successful", 3), ("Failed", 2), ("Successful", 1)], start=1):
            done = now - days * 86_400_000
            session.add(BambooResult(plan_id=rocket.id, number=n, life_cycle="Finished",  # type: ignore[attr-defined]
                                     state=state, queued_date=done - 60_000, started_date=done - 30_000,
                                     completed_date=done))
    reports = admin.get(B + "/chart/reports", headers=J).json()["reports"]
    keys = [r["key"] for r in reports["report"]]
    assert reports["size"] == len(keys) and "com.atlassian.bamboo.plugin.system.reports:averageDuration" in keys
    params = {"reportKey": "com.atlassian.bamboo.plugin.system.reports:numberOfBuilds", "buildKeys": "MARS-ROCKET",
              "groupByPeriod": "DAY", "dateFilter": "LAST_7_DAYS", "width": 300, "height": 200}
    chart = admin.get(B + "/chart", params=params, headers=J).json()
    assert chart["width"] == 300 and chart["height"] == 200 and chart["imageMapName"].startswith("chart")
    assert chart["location"].startswith(server.url + "/bamboo/chart/") and chart["location"].endswith(".png")
    image = admin.get(chart["location"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert _png_size(image.content) == (300, 200)
    with httpx.Client() as anon:
        assert anon.get(chart["location"]).status_code == 401
    assert admin.get(chart["location"].replace("/chart/", "/chart/x")).status_code == 404
    root = ET.fromstring(admin.get(B + "/chart", params=params).content)
    assert root.tag == "chart" and root.find("location").text == chart["location"]
    for bad in ({"reportKey": "nope"}, {"buildKeys": ""}, {"groupByPeriod": "CENTURY"}, {"dateFilter": "SOMETIME"},
                {"dateFilter": "RANGE", "dateFrom": "2026-13-45"}, {"width": "0"}, {"width": "x"}):
        r = admin.get(B + "/chart", params={**params, **bad}, headers=J)
        assert r.status_code == 400 and r.json()["errors"], bad
    assert admin.get(B + "/chart", params={**params, "buildKeys": "MARS-NOPE"}, headers=J).status_code == 404
    summary = admin.get(B + "/chart/planSummary", params={"buildKeys": "MARS-ROCKET"}, headers=J).json()
    assert _png_size(admin.get(summary["location"]).content) == (450, 400)
    assert admin.get(B + "/chart/planSummary", headers=J).status_code == 400
    bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
    assert {r["key"] for r in bamboo.reports()} == set(keys)
    got = bamboo.chart("com.atlassian.bamboo.plugin.system.reports:buildSuccessRate", "MARS-ROCKET", "WEEK",
                       date_filter="RANGE", date_from="01/01/2020", date_to="31/12/2099")
    assert _png_size(admin.get(got["location"]).content) == (450, 400)
