"""Issue 5, end to end: a repository pushed with the real `git` program carries Bamboo Specs; culm reads them,
the push builds the plan on the server's local agents (real shell tasks), the result reads back in XML and JSON,
the commit's build status turns SUCCESSFUL, a failing JUnit report fails a build with the right counts, a
manual stage is continued through `PUT /queue`, a queued and a running build are stopped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest

from bamboo_support import server_fixture
from support import ADMIN, LiveServer, commit_file, create_repo, cred_url, git

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}

SPECS = """\
---
version: 2
plan: {project-key: E2E, key: APP, name: App}
stages:
  - Build: [Build]
  - Release:
      manual: true
      jobs: [Release]
Build:
  tasks:
    - checkout
    - script:
        - test -f README.md
        - echo "building ${bamboo.buildResultKey} of $bamboo_planRepository_revision"
        - mkdir -p out reports
        - echo binary > out/app.bin
        - echo '<testsuite name="s" tests="2">' > reports/junit.xml
        - echo '<testcase classname="a.B" name="one" time="0.01"/>' >> reports/junit.xml
        - echo '<testcase classname="a.B" name="two" time="0.02"/></testsuite>' >> reports/junit.xml
    - test-parser: {type: junit, test-results: 'reports/*.xml'}
  artifacts:
    - {name: app, pattern: 'out/*'}
Release:
  tasks:
    - artifact-download:
        artifacts: [{name: app}]
    - script:
        - find . -name app.bin | grep -q app.bin
        - echo released
---
version: 2
plan: {project-key: E2E, key: FAIL, name: Failing tests}
stages:
  - Test: [Test]
Test:
  tasks:
    - script:
        - mkdir -p reports
        - echo '<testsuite name="s" tests="3" failures="1">' > reports/junit.xml
        - echo '<testcase classname="a.C" name="good1"/><testcase classname="a.C" name="good2"/>' >> reports/junit.xml
        - echo '<testcase classname="a.C" name="bad">' >> reports/junit.xml
        - echo '<failure message="expected 1 but was 2">trace</failure>' >> reports/junit.xml
        - echo '</testcase></testsuite>' >> reports/junit.xml
    - test-parser: {type: junit, test-results: 'reports/*.xml'}
---
version: 2
plan: {project-key: E2E, key: WAIT, name: Never scheduled}
triggers: []
stages:
  - S: [J]
J:
  requirements: [no.agent.has.this]
  tasks:
    - script: [echo never]
---
version: 2
plan: {project-key: E2E, key: SLOW, name: Slow}
triggers: []
stages:
  - S: [Slow]
Slow:
  tasks:
    - script:
        - echo started
        - sleep 600
"""


server = server_fixture({"CULM_LOCAL_AGENTS": "2"})


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def wait_for(fetch: Any, until: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    value = fetch()
    while not until(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last value: {value!r}")
        time.sleep(0.2)
        value = fetch()
    return value


def result(admin: httpx.Client, key: str, expand: str = "") -> dict[str, Any]:
    r = admin.get(f"{B}/result/{key}", headers=J, params={"expand": expand} if expand else None)
    return r.json() if r.status_code == 200 else {"status": r.status_code}


@pytest.fixture(scope="module")
def pushed(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> str:
    work: Path = tmp_path_factory.mktemp("e2e")
    assert admin.post("/rest/api/latest/projects", json={"key": "E2E", "name": "E2E"}).status_code == 201
    create_repo(admin, "E2E", "app")
    git("init", "-q", "-b", "main", str(work))
    commit_file(work, "README.md", "hello\n")
    (work / "bamboo-specs").mkdir()
    sha = commit_file(work, "bamboo-specs/bamboo.yml", SPECS, "Add the build")
    git("push", "-q", cred_url(server, "/scm/E2E/app.git", *ADMIN), "main", cwd=work)
    return sha


def test_push_builds_and_pauses_at_manual_stage(admin: httpx.Client, pushed: str) -> None:
    wait_for(lambda: admin.get(f"{B}/plan/E2E-APP", headers=J).status_code, lambda s: s == 200, 30)
    done = wait_for(lambda: result(admin, "E2E-APP-1"), lambda r: r.get("lifeCycleState") == "Finished", 120)
    assert done["state"] == "Successful" and done["buildState"] == "Successful"
    assert done["continuable"] is True and done["number"] == done["buildNumber"] == 1
    assert done["vcsRevisionKey"] == pushed

    full = result(admin, "E2E-APP-1", "stages.stage.results.result,changes")
    stages = full["stages"]["stage"]
    assert [(s["name"], s["state"], s["lifeCycleState"]) for s in stages] == [
        ("Build", "Successful", "Finished"), ("Release", "Unknown", "NotBuilt")]
    job = stages[0]["results"]["result"][0]
    assert job["key"] == "E2E-APP-JOB1-1" or job["buildResultKey"].endswith("-1")
    assert job["successfulTestCount"] == 2 and job["failedTestCount"] == 0

    root = ET.fromstring(admin.get(f"{B}/result/E2E-APP-1").content)
    assert root.tag == "result" and root.get("key") == "E2E-APP-1" and root.get("state") == "Successful"
    assert root.get("lifeCycleState") == "Finished" and root.findtext("buildState") == "Successful"
    assert root.findtext("planResultKey/key") == "E2E-APP-1"

    log = admin.get(f"/bamboo/download/{job['plan']['key'] if 'plan' in job else 'E2E-APP-JOB1'}"
                    f"/build_logs/E2E-APP-JOB1-1.log")
    assert log.status_code == 200 and f"building E2E-APP-JOB1-1 of {pushed}" in log.text, log.text

    status = admin.get(f"/rest/build-status/1.0/commits/{pushed}").json()["values"]
    assert [(s["key"], s["state"]) for s in status if s["key"] == "E2E-APP"] == [("E2E-APP", "SUCCESSFUL")]


def test_manual_stage_continued(admin: httpx.Client, pushed: str) -> None:
    wait_for(lambda: result(admin, "E2E-APP-1"), lambda r: r.get("continuable") is True, 120)
    r = admin.put(f"{B}/queue/E2E-APP-1", headers=J)
    assert r.status_code == 200, r.text
    done = wait_for(lambda: result(admin, "E2E-APP-1", "stages"),
                    lambda r: r.get("lifeCycleState") == "Finished" and r["stages"]["stage"][1]["state"] != "Unknown",
                    120)
    assert done["state"] == "Successful" and done["continuable"] is False
    assert [s["state"] for s in done["stages"]["stage"]] == ["Successful", "Successful"]
    log = admin.get("/bamboo/download/E2E-APP-JOB2/build_logs/E2E-APP-JOB2-1.log")
    assert "released" in log.text


def test_failing_junit_fails_the_build(admin: httpx.Client, pushed: str) -> None:
    wait_for(lambda: admin.get(f"{B}/plan/E2E-FAIL", headers=J).status_code, lambda s: s == 200, 30)
    key = wait_for(lambda: result(admin, "E2E-FAIL-latest"), lambda r: r.get("lifeCycleState") == "Finished", 120)
    assert key["state"] == "Failed"
    full = result(admin, key["key"], "stages.stage.results.result.testResults.failedTests.testResult.errors")
    job = full["stages"]["stage"][0]["results"]["result"][0]
    assert (job["successfulTestCount"], job["failedTestCount"]) == (2, 1)
    failed = job["testResults"]["failedTests"]["testResult"]
    assert [(t["className"], t["methodName"]) for t in failed] == [("a.C", "bad")]
    assert "expected 1 but was 2" in failed[0]["errors"]["error"][0]["message"]
    status = admin.get(f"/rest/build-status/1.0/commits/{pushed}").json()["values"]
    assert ("E2E-FAIL", "FAILED") in [(s["key"], s["state"]) for s in status]


def test_queued_build_stopped(admin: httpx.Client, pushed: str) -> None:
    wait_for(lambda: admin.get(f"{B}/plan/E2E-WAIT", headers=J).status_code, lambda s: s == 200, 30)
    queued = admin.post(f"{B}/queue/E2E-WAIT", headers=J)
    assert queued.status_code == 200, queued.text
    key = queued.json()["buildResultKey"]
    queue = admin.get(f"{B}/queue", headers=J, params={"expand": "queuedBuilds"}).json()
    assert key in [q["buildResultKey"] for q in queue["queuedBuilds"]["queuedBuild"]]
    assert admin.delete(f"{B}/queue/{key}").status_code == 204
    stopped = wait_for(lambda: result(admin, key), lambda r: r.get("lifeCycleState") in ("NotBuilt", "Finished"))
    assert stopped["lifeCycleState"] == "NotBuilt"
    queue = admin.get(f"{B}/queue", headers=J, params={"expand": "queuedBuilds"}).json()
    assert key not in [q["buildResultKey"] for q in queue["queuedBuilds"].get("queuedBuild", [])]


def test_running_build_stopped(admin: httpx.Client, pushed: str) -> None:
    wait_for(lambda: admin.get(f"{B}/plan/E2E-SLOW", headers=J).status_code, lambda s: s == 200, 30)
    key = admin.post(f"{B}/queue/E2E-SLOW", headers=J).json()["buildResultKey"]
    wait_for(lambda: result(admin, key), lambda r: r.get("lifeCycleState") == "InProgress", 60)
    number = key.rsplit("-", 1)[1]
    assert admin.delete(f"{B}/queue/E2E-SLOW-JOB1-{number}").status_code in (204, 200)
    done = wait_for(lambda: result(admin, key), lambda r: r.get("lifeCycleState") == "Finished", 60)
    assert done["state"] == "Failed"
