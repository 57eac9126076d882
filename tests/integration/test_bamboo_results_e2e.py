"""A build run by a real local agent, followed only through the Bamboo REST API and URLs a client uses: trigger,
poll the status until it ends, read the result with its tests, fetch the log from `logFiles` and the artifact
from its link."""

from __future__ import annotations

import time

import httpx
from atlassian import Bamboo

from bamboo_support import import_specs, server_fixture
from support import ADMIN, LiveServer

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}

SPECS = """\
---
version: 2
plan: {project-key: ETE, key: RUN, name: Real run}
stages:
  - Build: [Build]
Build:
  tasks:
    - script:
        - echo "hello from ${bamboo.greeting}"
        - mkdir -p out reports && echo payload > out/p.txt
        - printf '<testsuite><testcase classname="e.T" name="ok" time="0.2"/></testsuite>' > reports/t.xml
    - test-parser: {type: junit, test-results: "reports/*.xml"}
  artifacts:
    - name: bundle
      pattern: "out/**"
"""


server = server_fixture({"CULM_LOCAL_AGENTS": "1", "CULM_BAMBOO_TRIGGERS": "0"})


def test_real_agent_build_through_the_api(server: LiveServer) -> None:
    with server.client() as admin:
        import_specs(admin, SPECS)
        bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
        queued = bamboo.execute_build("ETE-RUN", greeting="mars")
        key = queued["buildResultKey"]
        assert key == "ETE-RUN-1"
        deadline = time.monotonic() + 90
        while admin.get(B + f"/result/status/{key}", headers=J).status_code == 200:
            assert time.monotonic() < deadline, "the build did not finish"
            time.sleep(0.2)
        res = admin.get(B + f"/result/{key}", params={"expand": "stages.stage.results.result.artifacts,"
                                                               "stages.stage.results.result.testResults.allTests"},
                        headers=J).json()
        assert res["lifeCycleState"] == "Finished" and res["state"] == "Successful", res.get("buildReason")
        assert res["successfulTestCount"] == 1 and res["buildTestSummary"] == "1 passed"
        job = res["stages"]["stage"][0]["results"]["result"][0]
        assert [t["methodName"] for t in job["testResults"]["allTests"]["testResult"]] == ["ok"]
        log = admin.get(job["logFiles"][0])
        assert log.status_code == 200 and "hello from mars" in log.text
        link = job["artifacts"]["artifact"][0]["link"]["href"]
        assert admin.get(link + "out/p.txt").text == "payload\n"
        assert admin.get("/bamboo/artifact/ETE-RUN/shared/build-latest/bundle/out/p.txt").text == "payload\n"
        assert bamboo.build_latest_result("ETE-RUN")["key"] == key
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get(job["logFiles"][0]).status_code == 401
