"""Bamboo REST plan administration (issue rest2, slice 1): artifact definitions, plan directory information,
Jira issue (none linked), a job's Docker configuration, enabling Specs for branches, and test quarantine
with its effect on real builds (a fake agent claims and finishes jobs through the engine)."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree import ElementTree as ET

import httpx
import pytest
from bamboo_build_support import run_jobs

from support import USER_PASSWORD, LiveServer, create_user, live_server, server_db, validating_client

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}
SPECS = """version: 2
plan: {project-key: QA, key: FLAKY, name: Flaky}
stages:
  - Build: [Unit]
Unit:
  key: UNIT
  docker: {image: 'python:3.11', volumes: {/cache: /root/.cache}}
  tasks: [clean]
  artifacts:
    - {name: report, pattern: 'out/*.html', location: build}
    - {name: logs, pattern: '*.log', shared: false}
"""
FAILING = [{"className": "com.x.FlakyTest", "methodName": "testSometimes", "status": "failed", "errors": ["boom"]},
           {"className": "com.x.FlakyTest", "methodName": "testAlways", "status": "successful"}]


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server({"CULM_LOCAL_AGENTS": "0", "CULM_BAMBOO_TRIGGERS": "0"}) as s:
        yield s
        log = (s.home / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]


@pytest.fixture(scope="module")
def plan(server: LiveServer, admin: httpx.Client) -> str:
    r = admin.post(B + "/import/plan", content=SPECS, headers=J)
    assert r.status_code == 200, r.text
    create_user(server, "bob")
    return "QA-FLAKY"


def _build(server: LiveServer, admin: httpx.Client) -> dict:
    r = admin.post(B + "/queue/QA-FLAKY", headers=J)
    assert r.status_code == 200, r.text
    ran = run_jobs(server, {"UNIT": {"successful": False, "failure": "Tests failed", "tests": FAILING}})
    assert len(ran) == 1
    key = r.json()["buildResultKey"]
    return admin.get(f"{B}/result/{key}", params={"expand": "stages.stage.results.result"}, headers=J).json()


def _test_id(server: LiveServer, result_number: int) -> int:
    from sqlalchemy import select

    import culm.domain.models  # noqa: F401
    from culm.domain.bamboo.models import BambooJobResult, BambooResult, BambooTestResult

    with server_db(server) as session:
        return session.scalar(select(BambooTestResult.id)  # type: ignore[attr-defined]
                              .join(BambooJobResult, BambooJobResult.id == BambooTestResult.job_result_id)
                              .join(BambooResult, BambooResult.id == BambooJobResult.result_id)
                              .where(BambooResult.number == result_number,
                                     BambooTestResult.method_name == "testSometimes"))


def test_artifact_definitions(admin: httpx.Client, plan: str) -> None:
    data = admin.get(f"{B}/plan/{plan}/artifact", headers=J).json()
    arts = data["artifacts"]
    assert arts["size"] == 2 and data["link"]["href"].endswith(f"/plan/{plan}/artifact")
    report = arts["artifact"][0]
    assert report["name"] == "report" and report["copyPatterns"] == ["out/*.html"] and report["location"] == "build"
    assert report["shared"] is True and arts["artifact"][1]["shared"] is False
    assert report["producerJobKey"] == "QA-FLAKY-UNIT"
    page = admin.get(f"{B}/plan/{plan}/artifact", params={"start-index": 1, "max-result": 1}, headers=J).json()
    assert [a["name"] for a in page["artifacts"]["artifact"]] == ["logs"] and page["artifacts"]["size"] == 2
    root = ET.fromstring(admin.get(f"{B}/plan/{plan}/artifact").content)
    assert root.find("artifacts").get("size") == "2"
    assert [a.find("name").text for a in root.findall("artifacts/artifact")] == ["report", "logs"]
    assert admin.get(f"{B}/plan/QA-NOPE/artifact", headers=J).status_code == 404
    assert admin.get(f"{B}/plan/{plan}/artifact", params={"max-result": "x"}, headers=J).status_code == 400


def test_plan_directory_info(server: LiveServer, admin: httpx.Client, plan: str) -> None:
    data = admin.get(f"{B}/planDirectoryInfo/{plan}", headers=J).json()
    (info,) = data["results"]
    assert info["isBranchBuild"] is False and info["storageTag"] == plan
    assert info["artifact_plan_roots"] == [str(server.home / "bamboo" / "artifacts")]
    assert info["build_log_job_roots"] == {"QA-FLAKY-UNIT": str(server.home / "bamboo" / "logs" / "QA-FLAKY-UNIT")}
    assert admin.get(f"{B}/planDirectoryInfo/QA-NOPE", headers=J).status_code == 404


def test_issue_without_jira(admin: httpx.Client, plan: str) -> None:
    r = admin.get(f"{B}/plan/{plan}/issue/ABC-1", headers=J)
    assert r.status_code == 400 and "Jira" in r.json()["errors"][0]
    assert admin.get(f"{B}/plan/QA-NOPE/issue/ABC-1", headers=J).status_code == 404


def test_job_docker(server: LiveServer, admin: httpx.Client, plan: str) -> None:
    url = f"{B}/job/{plan}-UNIT/docker"
    assert admin.get(url, headers=J).json() == {
        "enabled": True, "dockerImage": "python:3.11",
        "dataVolumes": [{"hostDirectory": "/cache", "containerDirectory": "/root/.cache"}], "additionalArguments": []}
    body = {"enabled": True, "dockerImage": "node:20", "dataVolumes": [],
            "additionalArguments": ["--memory=2g"]}
    r = admin.put(url, json=body, headers=J)
    assert r.status_code == 200 and r.json() == body
    assert admin.get(url, headers=J).json() == body
    root = ET.fromstring(admin.get(url).content)
    assert root.find("dockerImage").text == "node:20" and root.find("additionalArguments").text == "--memory=2g"
    for bad in ({"dockerImage": ""}, {"enabled": "yes"}, {"dockerImage": "x", "dataVolumes": [1]}):
        assert admin.put(url, json=bad, headers=J).status_code == 400
    assert admin.put(url, content=b"{nope", headers={**J, "Content-Type": "application/json"}).status_code == 400
    assert admin.get(url, headers=J).json() == body
    assert admin.put(url, json={"enabled": False}, headers=J).json()["enabled"] is False
    assert admin.get(f"{B}/job/{plan}-NOPE/docker", headers=J).status_code == 404
    assert admin.get(f"{B}/job/QA-NOPE-UNIT/docker", headers=J).status_code == 404
    with validating_client(server, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.put(url, json=body, headers=J).status_code == 403
    assert admin.get(url, headers=J).json()["enabled"] is False


def test_enable_specs_for_branches(server: LiveServer, admin: httpx.Client, plan: str) -> None:
    with validating_client(server, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.post(f"{B}/plan/{plan}/branch/enableSpecsForBranches", headers=J).status_code == 403
    assert admin.post(f"{B}/plan/{plan}/branch/enableSpecsForBranches").status_code == 204
    assert admin.post(f"{B}/plan/QA-NOPE/branch/enableSpecsForBranches", headers=J).status_code == 404
    import culm.domain.models  # noqa: F401
    from culm.domain.bamboo import service

    with server_db(server) as session:
        assert service.plan(session, plan)[1].spec["branches"]["specs-for-branches"] is True  # type: ignore[arg-type]


def test_quarantine_changes_builds(server: LiveServer, admin: httpx.Client, plan: str) -> None:
    first = _build(server, admin)
    assert first["buildState"] == "Failed" and first["failedTestCount"] == 1
    test_id = _test_id(server, first["buildNumber"])
    url = f"{B}/plan/{plan}/test/{test_id}"
    with validating_client(server, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.post(url + "/quarantine", json={}, headers=J).status_code == 403
    assert admin.post(url + "/quarantine", json={"expiryDuration": 0, "expiryPeriod": "x"}, headers=J
                      ).status_code == 400
    assert admin.post(f"{B}/plan/{plan}/test/999999/quarantine", json={}, headers=J).status_code == 400
    assert admin.post(f"{B}/plan/QA-NOPE/test/{test_id}/quarantine", json={}, headers=J).status_code == 404
    assert admin.post(url + "/quarantine", json={"expiryDuration": 2, "expiryPeriod": "WEEKS"}).status_code == 204

    second = _build(server, admin)
    assert second["buildState"] == "Successful", second
    assert second["failedTestCount"] == 0 and second["quarantinedTestCount"] == 1
    job = second["stages"]["stage"][0]["results"]["result"][0]
    assert job["buildState"] == "Successful" and job["quarantinedTestCount"] == 1

    assert admin.post(url + "/unleash").status_code == 200
    r = admin.post(url + "/unleash", headers=J)
    assert r.status_code == 400 and r.json()["errors"]
    third = _build(server, admin)
    assert third["buildState"] == "Failed" and third["quarantinedTestCount"] == 0 and third["failedTestCount"] == 1


def test_plan_alias(admin: httpx.Client, plan: str) -> None:
    data = admin.get(f"{B}/plan/QA/FLAKY", headers=J).json()
    assert data["key"] == plan and data["shortKey"] == "FLAKY"
    assert ET.fromstring(admin.get(f"{B}/plan/QA/FLAKY.xml").content).get("key") == plan
    assert admin.get(f"{B}/plan/QA/NOPE", headers=J).status_code == 404
    # The routes below a plan key are not taken by the alias.
    assert admin.get(f"{B}/plan/{plan}/variables", headers=J).status_code == 200
    assert admin.get(f"{B}/plan/{plan}/label", headers=J).json()["labels"]["size"] == 0
