"""Test result deltas of job results (notes §4 testResults): new failures, existing failures and fixed tests
against the same job of the plan's previous build, and quarantined tests listed apart from failed ones. Builds
run on the real engine: a fake agent in the test process claims and finishes jobs on the server's database."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from bamboo_build_support import run_jobs

from bamboo_support import import_specs
from support import LiveServer, live_server

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}
LISTS = ("allTests", "successfulTests", "failedTests", "skippedTests", "newFailedTests", "existingFailedTests",
         "fixedTests", "quarantinedTests")
COUNTS = ("all", "successful", "failed", "newFailed", "existingFailed", "fixed", "quarantined", "skipped")
SPECS = """\
---
version: 2
plan: {project-key: DELTA, key: TESTS, name: Deltas}
stages:
  - Test: [Unit, Other]
Unit:
  key: UNIT
  tasks: [clean]
Other:
  key: OTHER
  tasks: [clean]
"""


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    """No local agents (the test's fake agent takes every job) and no build on push."""
    with live_server({"CULM_LOCAL_AGENTS": "0", "CULM_BAMBOO_TRIGGERS": "0"}) as s:
        yield s
        log = (s.home / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]


def _tests(**statuses: str) -> list[dict[str, Any]]:
    return [{"className": "delta.SuiteTest", "methodName": name, "status": status, "durationMs": 3,
             "errors": ["boom"] if status == "failed" else []} for name, status in statuses.items()]


def _build(server: LiveServer, admin: httpx.Client, unit: dict[str, str],
           other: dict[str, str] | None = None) -> int:
    r = admin.post(f"{B}/queue/DELTA-TESTS", headers=J)
    assert r.status_code == 200, r.text
    number = int(r.json()["buildNumber"])
    ran = run_jobs(server, {"UNIT": {"tests": _tests(**unit)}, "OTHER": {"tests": _tests(**(other or {}))}})
    assert sorted(ran) == [f"DELTA-TESTS-OTHER-{number}", f"DELTA-TESTS-UNIT-{number}"]
    return number


def _job(admin: httpx.Client, number: int, job: str = "UNIT") -> dict[str, Any]:
    expand = ",".join(f"testResults.{name}.testResult.errors" for name in LISTS)
    r = admin.get(f"{B}/result/DELTA-TESTS-{job}-{number}", params={"expand": expand}, headers=J)
    assert r.status_code == 200, r.text
    return r.json()["testResults"]


def _names(tests: dict[str, Any], name: str) -> list[str]:
    return [t["methodName"] for t in tests[name]["testResult"]]


def _check(tests: dict[str, Any], **expected: list[str]) -> None:
    """Each list holds exactly the expected method names (empty when not given); counts match the lists."""
    for name in LISTS:
        assert sorted(_names(tests, name)) == sorted(expected.get(name, [])), name
        assert tests[name]["size"] == len(tests[name]["testResult"]), name
    for count, name in zip(COUNTS, ("allTests", "successfulTests", "failedTests", "newFailedTests",
                                    "existingFailedTests", "fixedTests", "quarantinedTests", "skippedTests"),
                           strict=True):
        assert tests[count] == len(expected.get(name, [])), count


@pytest.fixture(scope="module")
def builds(server: LiveServer, admin: httpx.Client) -> list[int]:
    """Build 1: A passes, B fails (OTHER: C fails). Build 2: A fails, B passes, C fails. Build 3: A fails, B and
    C pass."""
    import_specs(admin, SPECS)
    return [_build(server, admin, {"A": "successful", "B": "failed"}, {"C": "failed"}),
            _build(server, admin, {"A": "failed", "B": "successful", "C": "failed", "S": "skipped"}),
            _build(server, admin, {"A": "failed", "B": "successful", "C": "successful"})]


def test_first_build_failures_are_new(admin: httpx.Client, builds: list[int]) -> None:
    _check(_job(admin, builds[0]), allTests=["A", "B"], successfulTests=["A"], failedTests=["B"],
           newFailedTests=["B"])
    _check(_job(admin, builds[0], "OTHER"), allTests=["C"], failedTests=["C"], newFailedTests=["C"])


def test_new_failures_and_fixes(admin: httpx.Client, builds: list[int]) -> None:
    """A passed and C was absent in UNIT's previous run (C failed in another job, which does not count)."""
    tests = _job(admin, builds[1])
    _check(tests, allTests=["A", "B", "C", "S"], successfulTests=["B"], failedTests=["A", "C"],
           skippedTests=["S"], newFailedTests=["A", "C"], fixedTests=["B"])
    assert tests["newFailedTests"]["testResult"][0]["errors"]["error"] == [{"message": "boom"}]
    assert tests["fixedTests"]["testResult"][0]["status"] == "successful"
    # Collapsed lists carry the same sizes.
    r = admin.get(f"{B}/result/DELTA-TESTS-UNIT-{builds[1]}", headers=J)
    collapsed = r.json()["testResults"]
    assert collapsed["newFailedTests"] == {"size": 2, "start-index": 0, "max-result": 2}
    assert collapsed["fixedTests"]["size"] == 1 and collapsed["existingFailedTests"]["size"] == 0
    assert (collapsed["newFailed"], collapsed["fixed"], collapsed["existingFailed"]) == (2, 1, 0)


def test_existing_failures(admin: httpx.Client, builds: list[int]) -> None:
    _check(_job(admin, builds[2]), allTests=["A", "B", "C"], successfulTests=["B", "C"], failedTests=["A"],
           existingFailedTests=["A"], fixedTests=["C"])


def test_deltas_in_xml_and_plan_result_expand(admin: httpx.Client, builds: list[int]) -> None:
    r = admin.get(f"{B}/result/DELTA-TESTS-UNIT-{builds[1]}.xml", params={"expand": "testResults.newFailedTests"})
    assert r.status_code == 200, r.text
    tests = ET.fromstring(r.content).find("testResults")
    assert tests is not None and tests.findtext("newFailed") == "2" and tests.findtext("fixed") == "1"
    listed = tests.find("newFailedTests")
    assert listed is not None and sorted(t.get("methodName") or "" for t in listed.iter("testResult")) == ["A", "C"]
    r = admin.get(f"{B}/result/DELTA-TESTS-{builds[2]}", headers=J,
                  params={"expand": "stages.stage.results.result.testResults.existingFailedTests"})
    jobs = {j["plan"]["shortKey"]: j for j in r.json()["stages"]["stage"][0]["results"]["result"]}
    assert _names(jobs["UNIT"]["testResults"], "existingFailedTests") == ["A"]
    assert jobs["OTHER"]["testResults"]["all"] == 0


def test_quarantined_tests_are_listed_apart(server: LiveServer, admin: httpx.Client, builds: list[int]) -> None:
    failed = _job(admin, builds[2])["failedTests"]["testResult"]
    url = f"{B}/plan/DELTA-TESTS/test/{failed[0]['testCaseId']}"
    assert admin.post(url + "/quarantine", json={}, headers=J).status_code == 204
    fourth = _build(server, admin, {"A": "failed", "B": "failed", "C": "successful"})
    tests = _job(admin, fourth)
    _check(tests, allTests=["A", "B", "C"], successfulTests=["C"], failedTests=["B"], quarantinedTests=["A"],
           newFailedTests=["B"])
    assert tests["quarantinedTests"]["testResult"][0]["status"] == "failed"
    result = admin.get(f"{B}/result/DELTA-TESTS-UNIT-{fourth}", headers=J).json()
    assert result["failedTestCount"] == 1 and result["quarantinedTestCount"] == 1

    assert admin.post(url + "/unleash", headers=J).status_code == 200
    fifth = _build(server, admin, {"A": "failed", "B": "successful", "C": "successful"})
    _check(_job(admin, fifth), allTests=["A", "B", "C"], successfulTests=["B", "C"], failedTests=["A"],
           existingFailedTests=["A"], fixedTests=["B"])


def test_rerun_compares_with_the_previous_build(server: LiveServer, admin: httpx.Client,
                                                builds: list[int]) -> None:
    """A rerun job is compared with the previous build's run of the job, not with its own earlier run."""
    number = _build(server, admin, {"A": "failed", "Z": "failed"})
    _check(_job(admin, number), allTests=["A", "Z"], failedTests=["A", "Z"], existingFailedTests=["A"],
           newFailedTests=["Z"])
    r = admin.put(f"{B}/queue/DELTA-TESTS-{number}", headers=J)
    assert r.status_code == 200, r.text
    assert run_jobs(server, {"UNIT": {"tests": _tests(A="failed", Z="failed")}}) == [f"DELTA-TESTS-UNIT-{number}"]
    _check(_job(admin, number), allTests=["A", "Z"], failedTests=["A", "Z"], existingFailedTests=["A"],
           newFailedTests=["Z"])
