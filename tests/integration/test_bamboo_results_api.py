"""Bamboo build results and the build queue over REST: trigger, continue, rerun and stop builds; read results
(lists, filters, expands, XML and JSON), status, comments, labels; logs and artifacts outside REST. Builds run
on the real engine: a fake agent in the test process claims and finishes jobs on the server's database."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
from atlassian import Bamboo
from bamboo_build_support import claim_one, finish, heartbeat, link_plan, run_jobs

from support import (
    ADMIN,
    USER_PASSWORD,
    commit_file,
    create_user,
    cred_url,
    git,
    grant_repo,
    live_server,
    personal_token,
    pushed_repo,
    server_db,
)

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

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
    - Test
  - Ship:
      manual: true
      jobs: [Package]
Build:
  tasks:
    - script:
        - echo wings > wings
Test:
  key: TST
  tasks:
    - script:
        - echo test
Package:
  key: PKG
  tasks: [clean]
---
version: 2
plan: {project-key: MARS, key: LANDER, name: Lander}
stages:
  - Default: [Default Job]
Default Job:
  tasks: [clean]
"""

LOG = "".join(f"line {i}\n" for i in range(1, 31))
PASSING = [{"className": "rocket.WingTest", "methodName": "test_left", "status": "successful", "durationMs": 1200},
           {"className": "rocket.WingTest", "methodName": "test_right", "status": "successful", "durationMs": 5},
           {"className": "rocket.WingTest", "methodName": "test_later", "status": "skipped", "durationMs": 0}]
FAILING = [{"className": "rocket.FuelTest", "methodName": "test_tank", "status": "failed", "durationMs": 30,
            "errors": ["AssertionError: tank empty"]}]


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    """No local agents (the test's fake agent is the only one taking jobs) and no build on push (builds are
    triggered through the queue API only, so their numbers are known)."""
    with live_server({"CULM_LOCAL_AGENTS": "0", "CULM_BAMBOO_TRIGGERS": "0"}) as s:
        yield s
        log = (s.home / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]


@pytest.fixture(scope="module")
def built(server, admin, tmp_path_factory):  # type: ignore[no-untyped-def]
    """MARS-ROCKET-1 paused at its manual stage (tests passed, an artifact saved, a trigger variable and a
    password variable), linked to a real repository."""
    r = admin.post(B + "/import/plan", content=SPECS, headers=J)
    assert r.status_code == 200, r.text
    create_user(server, "bob")
    work = tmp_path_factory.mktemp("rocket")
    commits = pushed_repo(server, admin, "MARS", "rocket", work, [("README", "hi\n"), ("wings.c", "int x;\n")])
    link_plan(server, "MARS", "ROCKET", "MARS", "rocket")
    r = admin.post(B + "/queue/MARS-ROCKET", params={"bamboo.variable.target": "jupiter"}, headers={**J, **FORM},
                   content="bamboo.variable.target=venus&bamboo.variable.db.password=s3cret&executeAllStages=false")
    assert r.status_code == 200, r.text
    ran = run_jobs(server, {"JOB1": {"log": LOG, "artifacts": {"wings": {"wings.txt": b"wings\n",
                                                                         "sub/part.txt": b"part"}}},
                            "TST": {"tests": PASSING}})
    assert sorted(ran) == ["MARS-ROCKET-JOB1-1", "MARS-ROCKET-TST-1"]
    return {"trigger": r.json(), "work": work, "commits": commits}


def _result(admin: httpx.Client, key: str, expand: str = "") -> dict:
    r = admin.get(f"{B}/result/{key}", params={"expand": expand} if expand else {}, headers=J)
    assert r.status_code == 200, r.text
    return r.json()


def test_trigger_response(built) -> None:  # type: ignore[no-untyped-def]
    body = built["trigger"]
    assert body["planKey"] == "MARS-ROCKET" and body["buildNumber"] == 1 and body["buildResultKey"] == "MARS-ROCKET-1"
    assert body["triggerReason"] == "Manual build"
    assert body["link"]["href"].endswith(B + "/result/MARS-ROCKET-1") and body["link"]["rel"] == "self"


def test_paused_build_json(admin, built) -> None:  # type: ignore[no-untyped-def]
    res = _result(admin, "MARS-ROCKET-1", "stages.stage.results.result.artifacts,variables,changes.change.files,"
                  "metadata,vcsRevisions,stages.stage.results.result.testResults.allTests")
    assert res["key"] == res["buildResultKey"] == "MARS-ROCKET-1"
    assert res["state"] == res["buildState"] == "Successful" and res["lifeCycleState"] == "Finished"
    assert res["number"] == res["buildNumber"] == 1
    assert res["planResultKey"] == {"key": "MARS-ROCKET-1", "entityKey": {"key": "MARS-ROCKET"}, "resultNumber": 1}
    assert res["continuable"] is True and res["finished"] is True and res["successful"] is True
    assert res["restartable"] is False and res["notRunYet"] is False and res["onceOff"] is False
    assert res["plan"]["key"] == "MARS-ROCKET" and res["plan"]["type"] == "chain"
    assert res["planName"] == "Build the rockets" and res["projectName"] == "MARS"
    assert res["buildReason"].startswith("Manual run by <a href=") and "/bamboo/browse/user/admin" in res["buildReason"]
    assert res["reasonSummary"] == res["buildReason"]
    assert res["successfulTestCount"] == 2 and res["skippedTestCount"] == 1 and res["failedTestCount"] == 0
    assert res["buildTestSummary"] == "2 passed"
    for field in ("buildStartedTime", "buildCompletedTime", "prettyBuildStartedTime", "buildDurationDescription",
                  "buildRelativeTime", "queueStartedTime"):
        assert res[field], field
    assert isinstance(res["buildDuration"], int) and isinstance(res["buildDurationInSeconds"], int)
    assert res["expand"] == "changes,metadata,plan,vcsRevisions,artifacts,comments,labels,jiraIssues,stages"
    assert res["comments"] == {"size": 0, "start-index": 0, "max-result": 0}
    assert res["vcsRevisionKey"] == built["commits"][-1]
    assert res["vcsRevisions"]["vcsRevision"][0]["vcsRevisionKey"] == built["commits"][-1]
    variables = {v["name"]: v["value"] for v in res["variables"]["variable"]}
    assert variables == {"target": "jupiter", "db.password": "********"}
    change = res["changes"]["change"][0]
    assert change["changesetId"] == built["commits"][-1] and change["author"] == "Test Author"
    assert [f["name"] for f in change["files"]["file"]] == ["wings.c"]
    assert {"key": "ManualBuildTriggerReason.userName", "value": "admin"} in res["metadata"]["item"]
    stages = res["stages"]["stage"]
    assert [(s["name"], s["lifeCycleState"], s["manual"]) for s in stages] == [
        ("Build stage", "Finished", False), ("Ship", "NotBuilt", True)]  # as the S6 fixture shows a paused stage
    assert stages[0]["displayMessage"] == "2 jobs passed" and stages[1]["runnable"] is True
    jobs = stages[0]["results"]["result"]
    assert [j["key"] for j in jobs] == ["MARS-ROCKET-JOB1-1", "MARS-ROCKET-TST-1"]
    build_job = jobs[0]
    assert build_job["plan"]["type"] == "job" and build_job["plan"]["key"] == "MARS-ROCKET-JOB1"
    assert build_job["parent"]["href"].endswith(B + "/result/MARS-ROCKET-1")
    assert build_job["logFiles"] == [f"{admin.base_url}/bamboo/download/MARS-ROCKET-JOB1/build_logs/"
                                     "MARS-ROCKET-JOB1-1.log"]
    art = build_job["artifacts"]["artifact"][0]
    assert art["name"] == "wings" and art["shared"] is True and art["producerJobKey"] == "MARS-ROCKET-JOB1"
    assert art["size"] == 10 and art["link"]["href"].endswith("/bamboo/browse/MARS-ROCKET-1/artifact/shared/wings/")
    tests = jobs[1]["testResults"]
    assert (tests["all"], tests["successful"], tests["skipped"], tests["failed"]) == (3, 2, 1, 0)
    assert [t["methodName"] for t in tests["allTests"]["testResult"]] == ["test_left", "test_right", "test_later"]
    assert tests["failedTests"] == {"size": 0, "start-index": 0, "max-result": 0}
    assert stages[1]["results"]["size"] == 1 and stages[1]["results"]["result"][0]["lifeCycleState"] == "NotBuilt"


def test_result_xml(admin, built) -> None:  # type: ignore[no-untyped-def]
    r = admin.get(B + "/result/MARS-ROCKET-1", params={"expand": "stages.stage.results.result"})
    assert r.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "result" and root.get("key") == "MARS-ROCKET-1" and root.get("state") == "Successful"
    assert root.get("lifeCycleState") == "Finished" and root.get("number") == "1"
    assert root.get("continuable") == "true" and root.get("finished") == "true"
    assert root.find("buildResultKey").text == "MARS-ROCKET-1" and root.find("buildState").text == "Successful"
    assert root.find("buildNumber").text == "1"
    assert root.find("planResultKey/entityKey/key").text == "MARS-ROCKET"
    assert root.find("link").get("rel") == "self"
    jobs = root.find("stages/stage").findall("results/result")
    assert [j.get("key") for j in jobs] == ["MARS-ROCKET-JOB1-1", "MARS-ROCKET-TST-1"]
    assert jobs[0].find("logFiles").text.endswith("/build_logs/MARS-ROCKET-JOB1-1.log")
    assert jobs[0].find("parent").get("rel") == "parent" and jobs[0].find("parent").get("href").endswith("-1")
    job = ET.fromstring(admin.get(B + "/result/MARS-ROCKET-JOB1-1", params={"expand": "artifacts"}).content)
    artifact = job.find("artifacts/artifact")
    assert artifact.find("name").text == "wings" and artifact.find("size").text == "10"
    assert artifact.find("shared").text == "true" and artifact.find("link").get("href").endswith("/shared/wings/")
    listing = ET.fromstring(admin.get(B + "/result/MARS-ROCKET.xml").content)
    assert listing.tag == "results" and listing.find("results").get("size") == "1"
    assert listing.find("results/result").get("key") == "MARS-ROCKET-1"


def test_job_result_and_log_entries(admin, built) -> None:  # type: ignore[no-untyped-def]
    job = admin.get(B + "/result/MARS-ROCKET-JOB1-1", params={"expand": "logEntries", "max-results": 5,
                                                               "start-index": 2}, headers=J).json()
    assert job["key"] == "MARS-ROCKET-JOB1-1" and job["stage"] == "Build stage" and job["planName"] == "Build"
    entries = job["logEntries"]
    assert entries["size"] == 30 and entries["start-index"] == 2
    assert [e["unstyledLog"] for e in entries["logEntry"]] == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    same = _result(admin, "MARS-ROCKET-JOB1/1")
    assert same["key"] == "MARS-ROCKET-JOB1-1"
    listing = admin.get(B + "/result/MARS-ROCKET-JOB1", headers=J).json()["results"]
    assert listing["size"] == 1 and listing["result"][0]["key"] == "MARS-ROCKET-JOB1-1"


def test_log_and_artifact_downloads(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    r = admin.get("/bamboo/download/MARS-ROCKET-JOB1/build_logs/MARS-ROCKET-JOB1-1.log")
    assert r.status_code == 200 and r.text == LOG and r.headers["content-type"].startswith("text/plain")
    assert r.headers["x-content-type-options"] == "nosniff"
    served = admin.get("/bamboo/artifact/MARS-ROCKET/shared/build-1/wings/wings.txt")
    assert served.headers["content-type"] == "application/octet-stream" and "sandbox" in served.headers[
        "content-security-policy"]
    token = personal_token(server, "admin")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as bearer:
        assert bearer.get("/bamboo/download/MARS-ROCKET-JOB1/build_logs/MARS-ROCKET-JOB1-1.log").text == LOG
        assert bearer.get("/bamboo/artifact/MARS-ROCKET/shared/build-1/wings/wings.txt").content == b"wings\n"
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get("/bamboo/download/MARS-ROCKET-JOB1/build_logs/MARS-ROCKET-JOB1-1.log").status_code == 401
        assert anon.get("/bamboo/artifact/MARS-ROCKET/shared/build-1/wings/wings.txt").status_code == 401
    assert admin.get("/bamboo/artifact/MARS-ROCKET/shared/build-latest/wings/sub/part.txt").content == b"part"
    assert admin.get("/bamboo/browse/MARS-ROCKET-1/artifact/shared/wings/wings.txt").content == b"wings\n"
    listing = admin.get("/bamboo/browse/MARS-ROCKET-1/artifact/shared/wings/")
    assert listing.status_code == 200 and "wings.txt" in listing.text and "sub/" in listing.text
    for bad in ("/bamboo/download/MARS-ROCKET-JOB1/build_logs/MARS-ROCKET-TST-1.log",
                "/bamboo/download/MARS-ROCKET-JOB1/build_logs/MARS-ROCKET-JOB1-9.log",
                "/bamboo/download/MARS-ROCKET-JOB1/build_logs/..%2F..%2Fculm.db",
                "/bamboo/artifact/MARS-ROCKET/shared/build-1/wings/..%2F..%2F..%2Fculm.db",
                "/bamboo/artifact/MARS-ROCKET/shared/build-1/wings/sub/%2e%2e/%2e%2e/%2e%2e/culm.db",
                "/bamboo/artifact/MARS-ROCKET/shared/build-1/nope/wings.txt",
                "/bamboo/artifact/MARS-ROCKET/shared/build-7/wings/wings.txt",
                "/bamboo/artifact/MARS-ROCKET/shared/1/wings/wings.txt"):
        assert admin.get(bad).status_code == 404, bad
    # A symlink inside the artifact that points outside it is not followed.
    with server_db(server) as session:
        from sqlalchemy import select

        from culm.domain.bamboo.models import BambooArtifact

        art = session.scalar(select(BambooArtifact).where(BambooArtifact.name == "wings"))
        folder = server.home / "bamboo" / "artifacts" / art.path
    (folder / "escape").symlink_to(server.home / "culm.db" if (server.home / "culm.db").exists() else "/etc/hostname")
    assert admin.get("/bamboo/artifact/MARS-ROCKET/shared/build-1/wings/escape").status_code == 404
    (folder / "escape").unlink()
    page = admin.get("/bamboo/browse/MARS-ROCKET-1")
    assert page.status_code == 200 and "MARS-ROCKET-JOB1-1" in page.text
    assert admin.get("/bamboo/browse/MARS-ROCKET").status_code == 200
    assert admin.get("/bamboo/browse/MARS-ROCKET-JOB1-1/log").text == LOG
    assert admin.get("/browse/MARS-ROCKET-JOB1-1/log").text == LOG  # the link build statuses carry
    assert "MARS-ROCKET-JOB1-1" in admin.get("/browse/MARS-ROCKET-1").text
    assert admin.get("/bamboo/browse/MARS-NOPE-1").status_code == 404
    assert "Administrator" in admin.get("/bamboo/browse/user/admin").text
    assert admin.get("/bamboo/browse/user/nobody").status_code == 404


def test_continue_queue_status(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    r = admin.put(B + "/queue/MARS-ROCKET-1", headers=J)
    assert r.status_code == 200, r.text
    assert r.json()["buildResultKey"] == "MARS-ROCKET-1"
    queue = admin.get(B + "/queue", params={"expand": "queuedBuilds"}, headers=J).json()
    assert queue["expand"] == "queuedBuilds"
    assert [q["buildResultKey"] for q in queue["queuedBuilds"]["queuedBuild"]] == ["MARS-ROCKET-1"]
    root = ET.fromstring(admin.get(B + "/queue", params={"expand": "queuedBuilds"}).content)
    assert root.tag == "queue" and root.find("queuedBuilds/queuedBuild").get("buildResultKey") == "MARS-ROCKET-1"
    assert root.find("queuedBuilds/queuedBuild/triggerReason").text == "Manual build"
    status = admin.get(B + "/result/status/MARS-ROCKET-1", params={"expand": "stages.stage"}, headers=J)
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["key"] == "MARS-ROCKET-1" and body["finished"] is False and "progress" in body
    assert [s["name"] for s in body["stages"]["stage"]] == ["Build stage", "Ship"]
    assert body["currentStage"] == "Ship"
    busy = admin.put(B + "/queue/MARS-ROCKET-1", headers=J)
    assert busy.status_code == 400 and busy.json()["errors"] and busy.json()["fieldErrors"] == {}
    assert _result(admin, "MARS-ROCKET-1", "")["lifeCycleState"] in ("Queued", "InProgress")
    assert run_jobs(server) == ["MARS-ROCKET-PKG-1"]
    res = _result(admin, "MARS-ROCKET-1")
    assert res["lifeCycleState"] == "Finished" and res["state"] == "Successful" and res["continuable"] is False
    assert admin.get(B + "/result/status/MARS-ROCKET-1", headers=J).status_code == 404
    assert admin.get(B + "/queue", headers=J).json()["queuedBuilds"] == {"size": 0, "start-index": 0, "max-result": 0}
    nothing = admin.put(B + "/queue/MARS-ROCKET-1", headers=J)
    assert nothing.status_code == 400


def test_failed_build_rerun_and_changesets(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    work: Path = built["work"]
    sha = commit_file(work, "fuel.c", "int fuel;\n", "Add fuel")
    git("push", "-q", cred_url(server, "/scm/MARS/rocket.git", *ADMIN), "main", cwd=work)
    r = admin.post(B + "/queue/MARS-ROCKET", params={"executeAllStages": "true"}, headers=J)
    assert r.status_code == 200 and r.json()["buildNumber"] == 2
    run_jobs(server, {"TST": {"successful": False, "tests": FAILING, "failure": None}})
    res = _result(admin, "MARS-ROCKET-2", "stages.stage.results.result.testResults.failedTests.testResult.errors")
    assert res["state"] == "Failed" and res["lifeCycleState"] == "Finished" and res["restartable"] is True
    assert res["buildTestSummary"] == "1 of 1 failed" and res["failedTestCount"] == 1
    stages = res["stages"]["stage"]
    assert stages[1]["lifeCycleState"] == "NotBuilt"
    failed = stages[0]["results"]["result"][1]["testResults"]["failedTests"]["testResult"]
    assert failed[0]["className"] == "rocket.FuelTest" and failed[0]["status"] == "failed"
    assert failed[0]["errors"]["error"] == [{"message": "AssertionError: tank empty"}]
    by_change = admin.get(B + f"/result/byChangeset/{sha}", headers=J).json()["results"]
    assert [x["key"] for x in by_change["result"]] == ["MARS-ROCKET-2"]
    first = built["commits"][-1]
    assert [x["key"] for x in admin.get(B + f"/result/byChangeset/{first}", headers=J).json()["results"]["result"]] \
        == ["MARS-ROCKET-1"]
    root = ET.fromstring(admin.get(B + f"/result/byCheckoutChangeset/{sha}").content)
    assert [e.get("key") for e in root.findall("results/result")] == ["MARS-ROCKET-2"]
    assert admin.get(B + "/result/byChangeset/" + "0" * 40, headers=J).json()["results"]["size"] == 0
    failed_list = admin.get(B + "/result/MARS-ROCKET", params={"buildstate": "Failed"}, headers=J).json()
    assert [x["key"] for x in failed_list["results"]["result"]] == ["MARS-ROCKET-2"]
    rerun = admin.put(B + "/queue/MARS-ROCKET-2", params={"bamboo.variable.retry": "yes"}, headers=J)
    assert rerun.status_code == 200, rerun.text
    assert run_jobs(server) == ["MARS-ROCKET-TST-2", "MARS-ROCKET-PKG-2"]
    res = _result(admin, "MARS-ROCKET-2", "variables")
    assert res["state"] == "Successful" and res["restartCount"] == 1
    # Build 2 kept no artifact: build-latest is the newest build that has it.
    assert admin.get("/bamboo/artifact/MARS-ROCKET/shared/build-latest/wings/wings.txt").content == b"wings\n"
    assert admin.get("/bamboo/artifact/MARS-ROCKET/JOB1/build-latest/wings/wings.txt").content == b"wings\n"
    assert admin.get("/bamboo/artifact/MARS-ROCKET/shared/build-2/wings/wings.txt").status_code == 404
    assert admin.get("/bamboo/artifact/MARS-ROCKET/TST/build-latest/wings/wings.txt").status_code == 404
    assert {"name": "retry", "value": "yes"} in res["variables"]["variable"]


def test_lists_filters_and_paging(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    everything = admin.get(B + "/result", headers=J).json()
    assert everything["expand"] == "results"
    assert [x["key"] for x in everything["results"]["result"]] == ["MARS-ROCKET-2"]
    r = admin.post(B + "/queue/MARS-LANDER", headers={**J, **FORM}, content="")
    assert r.status_code == 200
    # Queued builds are left out unless includeAllStates (or a state filter) asks for them.
    assert [x["key"] for x in admin.get(B + "/result/MARS", headers=J).json()["results"]["result"]] == \
        ["MARS-ROCKET-2"]
    with_all = admin.get(B + "/result/MARS", params={"includeAllStates": "true"}, headers=J).json()
    assert [x["key"] for x in with_all["results"]["result"]] == ["MARS-LANDER-1", "MARS-ROCKET-2"]
    queued = admin.get(B + "/result/MARS-LANDER", params={"lifeCycleState": "Queued,InProgress"}, headers=J).json()
    assert [x["lifeCycleState"] for x in queued["results"]["result"]] == ["Queued"]
    with server_db(server) as session:
        from sqlalchemy import update

        from culm.domain.bamboo import builds
        from culm.domain.bamboo.models import BambooAgent

        session.execute(update(BambooAgent).values(enabled=False))
        builds.refresh_blocked(session)
        session.execute(update(BambooAgent).values(enabled=True))
    waiting = _result(admin, "MARS-LANDER-1", "stages.stage.results.result")
    assert waiting["hasExecutableAgents"] is False and waiting["blockedReason"] == "No enabled agent is online"
    assert waiting["notRunYet"] is True and waiting["finished"] is False
    assert waiting["stages"]["stage"][0]["results"]["result"][0]["blockedReason"] == "No enabled agent is online"
    assert admin.get(B + "/result/MARS-LANDER/latest", headers=J).status_code == 404
    assert admin.get(B + "/result/MARS-LANDER-latest.json", params={"includeAllStates": "true"}).json()["number"] \
        == 1
    run_jobs(server)
    page = admin.get(B + "/result/MARS-ROCKET", params={"max-results": 1, "start-index": 1}, headers=J).json()
    assert page["results"]["size"] == 2 and page["results"]["start-index"] == 1
    assert [x["key"] for x in page["results"]["result"]] == ["MARS-ROCKET-1"]
    page = admin.get(B + "/result/MARS-ROCKET", params={"max-result": 1}, headers=J).json()["results"]
    assert page["max-result"] == 1 and [x["key"] for x in page["result"]] == ["MARS-ROCKET-2"]
    capped = admin.get(B + "/result/MARS-ROCKET", params={"max-results": 500}, headers=J)
    assert capped.status_code == 200
    assert admin.get(B + "/result/MARS-ROCKET/latest.json").json()["key"] == "MARS-ROCKET-2"
    assert admin.get(B + "/result/MARS-ROCKET/1", headers=J).json()["key"] == "MARS-ROCKET-1"
    assert admin.get(B + "/result/MARS-ROCKET-latest", headers=J).json()["key"] == "MARS-ROCKET-2"
    assert admin.get(B + "/result/MARS-ROCKET", params={"issueKey": "MARS-1"}, headers=J).json()["results"][
        "size"] == 0
    assert admin.get(B + "/result/MARS-ROCKET", params={"continuable": "true"}, headers=J).json()["results"][
        "size"] == 0
    assert admin.post(B + "/result/MARS-ROCKET-1/label", json={"name": "Gold"}, headers=J).status_code == 204
    labelled = admin.get(B + "/result/MARS-ROCKET", params={"label": "gold"}, headers=J).json()["results"]
    assert [x["key"] for x in labelled["result"]] == ["MARS-ROCKET-1"]
    assert admin.post(B + "/result/MARS-ROCKET-2/label", json={"name": "Glück_%"}, headers=J).status_code == 204
    for name, keys in (("glück_%", ["MARS-ROCKET-2"]), ("gl%", []),
                       ("gold,glück_%", ["MARS-ROCKET-2", "MARS-ROCKET-1"])):
        found = admin.get(B + "/result/MARS-ROCKET", params={"label": name}, headers=J).json()["results"]["result"]
        assert [x["key"] for x in found] == keys, name
    assert admin.delete(B + "/result/MARS-ROCKET-2/label/glück_%25").status_code == 204
    assert labelled["result"][0]["labels"] == {"size": 1, "start-index": 0, "max-result": 1}
    fav = admin.get(B + "/result", params={"favourite": ""}, headers=J).json()["results"]
    assert fav["size"] == 0
    with server_db(server) as session:
        from culm.domain.bamboo import service
        from culm.domain.bamboo.models import BambooFavourite
        from culm.domain.users import service as users

        _, lander = service.plan(session, "MARS-LANDER")
        session.add(BambooFavourite(user_id=users.require_user(session, "admin").id, plan_id=lander.id))
    fav = admin.get(B + "/result", params={"favourite": "true"}, headers=J).json()["results"]
    assert [x["key"] for x in fav["result"]] == ["MARS-LANDER-1"]
    expanded = admin.get(B + "/result/MARS-ROCKET", params={"expand": "results.result.labels", "max-results": 25},
                         headers=J).json()["results"]["result"]
    assert expanded[1]["labels"]["label"] == [{"name": "gold"}]


def test_repository_readers_only_see_its_builds(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    """MARS-ROCKET builds the private MARS/rocket repository: its results, logs and artifacts are for readers
    of that repository; MARS-LANDER has no repository and is for everyone logged in."""
    create_user(server, "carol")
    with httpx.Client(base_url=server.url, auth=("carol", USER_PASSWORD)) as carol:
        for path in (B + "/result/MARS-ROCKET-1", B + "/result/MARS-ROCKET", B + "/result/MARS-ROCKET-JOB1-1",
                     B + "/result/MARS-ROCKET-1/comment", B + "/result/status/MARS-ROCKET-1",
                     "/bamboo/download/MARS-ROCKET-JOB1/build_logs/MARS-ROCKET-JOB1-1.log",
                     "/bamboo/artifact/MARS-ROCKET/shared/build-1/wings/wings.txt",
                     "/bamboo/artifact/MARS-ROCKET/shared/build-latest/wings/wings.txt",
                     "/bamboo/browse/MARS-ROCKET-1", "/bamboo/browse/MARS-ROCKET-JOB1-1/log"):
            assert carol.get(path, headers=J).status_code == 403, path
        seen = carol.get(B + "/result", params={"includeAllStates": "true"}, headers=J).json()["results"]
        assert {x["plan"]["key"] for x in seen["result"]} <= {"MARS-LANDER"}
        commit = built["commits"][-1]
        assert carol.get(B + f"/result/byChangeset/{commit}", headers=J).json()["results"]["size"] == 0
        assert carol.get(B + "/result/MARS-LANDER", headers=J).status_code == 200
    grant_repo(server, "MARS", "rocket", "carol", "REPO_READ")
    with httpx.Client(base_url=server.url, auth=("carol", USER_PASSWORD)) as carol:
        assert carol.get(B + "/result/MARS-ROCKET-1", headers=J).json()["key"] == "MARS-ROCKET-1"
        assert carol.get("/bamboo/download/MARS-ROCKET-JOB1/build_logs/MARS-ROCKET-JOB1-1.log").text == LOG
        assert [x["key"] for x in carol.get(B + f"/result/byChangeset/{commit}", headers=J).json()["results"][
            "result"]] == ["MARS-ROCKET-1"]
        assert carol.post(B + "/queue/MARS-ROCKET", headers=J).status_code == 403  # reading is not building


def test_comments_and_labels(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
    bamboo.create_comment("MARS", "ROCKET", 1, "Looks good")
    r = admin.post(B + "/result/MARS-ROCKET-1/comment", content="<comment><content>From XML</content></comment>",
                   headers={"Content-Type": "application/xml"})
    assert r.status_code == 204
    comments = bamboo.comments("MARS", "ROCKET", 1)
    items = comments["comments"]["comment"]
    assert [c["content"] for c in items] == ["Looks good", "From XML"] and items[0]["author"] == "admin"
    assert comments["comments"]["size"] == 2
    root = ET.fromstring(admin.get(B + "/result/MARS-ROCKET-1/comment").content)
    assert root.tag == "comments" and root.find("comments/comment").get("author") == "admin"
    assert root.find("comments/comment/content").text == "Looks good"
    assert _result(admin, "MARS-ROCKET-1")["comments"]["size"] == 2
    grant_repo(server, "MARS", "rocket", "bob", "REPO_READ")  # readers may comment
    with httpx.Client(base_url=server.url, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.post(B + "/result/MARS-ROCKET-1/comment", json={"content": "bob was here"}).status_code == 204
        assert bob.delete(B + f"/result/MARS-ROCKET-1/comment/{items[0]['id']}").status_code == 403
        assert bob.post(B + "/result/MARS-ROCKET-1/label", json={"name": "bobs"}).status_code == 403
    assert admin.delete(B + f"/result/MARS-ROCKET-1/comment/{items[1]['id']}").status_code == 204
    assert admin.delete(B + f"/result/MARS-ROCKET-1/comment/{items[1]['id']}", headers=J).status_code == 404
    assert [c["content"] for c in bamboo.comments("MARS", "ROCKET", 1)["comments"]["comment"]] == \
        ["Looks good", "bob was here"]
    assert admin.post(B + "/result/MARS-ROCKET-1/comment", json={"content": "  "}, headers=J).status_code == 400
    bamboo.create_label("MARS", "ROCKET", 2, "release")
    assert admin.post(B + "/result/MARS-ROCKET-2/label", content='<label name="Candidate"/>',
                      headers={"Content-Type": "application/xml"}).status_code == 204
    labels = bamboo.labels("MARS", "ROCKET", 2)["labels"]
    assert [lbl["name"] for lbl in labels["label"]] == ["release", "candidate"]
    root = ET.fromstring(admin.get(B + "/result/MARS-ROCKET-2/label").content)
    assert [e.get("name") for e in root.findall("labels/label")] == ["release", "candidate"]
    bamboo.delete_label("MARS", "ROCKET", 2, "release")
    assert admin.delete(B + "/result/MARS-ROCKET-2/label/release", headers=J).status_code == 404
    assert admin.post(B + "/result/MARS-ROCKET-2/label", json={"name": "two words"}, headers=J).status_code == 400
    bad_xml = admin.post(B + "/result/MARS-ROCKET-2/label", headers={"Content-Type": "application/xml"},
                         content='<!DOCTYPE x [<!ENTITY a "b">]><label name="&a;"/>')
    assert bad_xml.status_code == 400
    assert [lbl["name"] for lbl in bamboo.labels("MARS", "ROCKET", 2)["labels"]["label"]] == ["candidate"]


def test_stop_and_python_client(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
    queued = bamboo.execute_build("MARS-ROCKET", target="moon")
    assert queued["buildResultKey"] == "MARS-ROCKET-3"
    assert [q["buildResultKey"] for q in bamboo.get_build_queue()["queuedBuilds"]["queuedBuild"]] == ["MARS-ROCKET-3"]
    assert admin.delete(B + "/queue/MARS-ROCKET-3").status_code == 204
    assert admin.delete(B + "/queue/MARS-ROCKET-3").status_code == 204
    res = _result(admin, "MARS-ROCKET-3", "stages.stage.results.result")
    assert res["lifeCycleState"] in ("Finished", "NotBuilt")
    assert {j["lifeCycleState"] for j in res["stages"]["stage"][0]["results"]["result"]} == {"NotBuilt"}
    assert bamboo.get_build_queue()["queuedBuilds"]["size"] == 0
    bamboo.execute_build("MARS-LANDER")
    bamboo.stop_build("MARS-LANDER")
    assert _result(admin, "MARS-LANDER-2")["lifeCycleState"] in ("Finished", "NotBuilt")
    assert run_jobs(server) == []
    results = list(bamboo.plan_results("MARS", "ROCKET"))
    assert [x["key"] for x in results] == ["MARS-ROCKET-2", "MARS-ROCKET-1"]
    assert [x["key"] for x in bamboo.plan_results("MARS", "ROCKET", include_all_states=True)][0] == "MARS-ROCKET-3"
    assert bamboo.build_result("MARS-ROCKET-1")["key"] == "MARS-ROCKET-1"
    assert bamboo.build_latest_result("MARS-ROCKET")["buildNumber"] == 2
    assert [x["key"] for x in bamboo.project_latest_results("MARS")] == ["MARS-LANDER-1", "MARS-ROCKET-2"]
    assert [x["key"] for x in bamboo.results("MARS", "ROCKET", build_state="Failed")] == []
    assert [x["key"] for x in bamboo.latest_results()] == ["MARS-LANDER-1", "MARS-ROCKET-2"]
    assert [p["key"] for p in bamboo.projects()] == ["MARS"]
    assert {p["key"] for p in bamboo.plans()} == {"MARS-ROCKET", "MARS-LANDER"}


def test_stop_running_job_and_job_key(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    r = admin.post(B + "/queue/MARS-LANDER", headers=J)
    number = r.json()["buildNumber"]
    job_id, token, jrk = claim_one(server)
    assert jrk == f"MARS-LANDER-JOB1-{number}"
    running = admin.get(B + f"/result/MARS-LANDER-{number}", headers=J).json()
    assert running["lifeCycleState"] == "InProgress" and running["state"] == "Unknown"
    assert running["finished"] is False and running["notRunYet"] is False
    assert {"percentageCompleted", "prettyTimeRemaining", "buildTime"} <= set(running["progress"])
    assert admin.get(B + f"/result/status/MARS-LANDER-{number}", headers=J).json()["currentStage"] == "Default"
    assert heartbeat(server, job_id, token) is False
    assert admin.delete(B + f"/queue/MARS-LANDER-JOB1-{number}").status_code == 204
    assert heartbeat(server, job_id, token) is True
    finish(server, job_id, token, successful=True)
    stopped = admin.get(B + f"/result/MARS-LANDER-JOB1-{number}", headers=J).json()
    assert stopped["state"] == "Failed" and stopped["lifeCycleState"] == "Finished"
    assert stopped["failureReason"] == "Stopped by user"
    assert admin.get(B + f"/result/MARS-LANDER-{number}", headers=J).json()["state"] == "Failed"


def test_xml_trigger_continue_status_and_versions(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    commit = built["commits"][0]
    r = admin.post("/bamboo/rest/api/1.0/queue/MARS-ROCKET.xml", params={"customRevision": commit})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "restQueuedBuild" and root.get("planKey") == "MARS-ROCKET"
    assert root.get("buildNumber") == "4" and root.get("buildResultKey") == "MARS-ROCKET-4"
    assert root.find("triggerReason").text == "Custom revision build" and root.find("link").get("rel") == "self"
    status = ET.fromstring(admin.get(B + "/result/status/MARS-ROCKET-4", params={"expand": "stages.stage"}).content)
    assert status.tag == "status" and status.get("key") == "MARS-ROCKET-4"
    assert status.find("finished").text == "false" and status.find("progress/percentageCompletedPretty") is not None
    assert [e.text for e in status.findall("stages/stage/name")] == ["Build stage", "Ship"]
    run_jobs(server)
    one = admin.get("/bamboo/rest/api/1.0/result/MARS-ROCKET-4.json").json()
    assert one["vcsRevisionKey"] == commit and one["continuable"] is True
    assert one["buildReason"].startswith(f"Custom build of revision {commit}")
    r = admin.put(B + "/queue/MARS-ROCKET-4.xml", params={"bamboo.variable.stage": "final", "stage": "Ship"})
    assert r.status_code == 200 and ET.fromstring(r.content).get("buildResultKey") == "MARS-ROCKET-4"
    assert run_jobs(server) == ["MARS-ROCKET-PKG-4"]
    res = _result(admin, "MARS-ROCKET-4", "variables")
    assert res["state"] == "Successful" and {"name": "stage", "value": "final"} in res["variables"]["variable"]
    assert admin.post(B + "/queue/MARS-ROCKET", params={"customRevision": "f" * 40}, headers=J).status_code == 400


def test_plan_branch_results(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    work: Path = built["work"]
    git("checkout", "-q", "-b", "feature/wings", cwd=work)
    sha = commit_file(work, "wing.c", "int wing;\n", "Wing work")
    git("push", "-q", cred_url(server, "/scm/MARS/rocket.git", *ADMIN), "feature/wings", cwd=work)
    git("checkout", "-q", "main", cwd=work)
    with server_db(server) as session:
        from culm.domain.bamboo import service
        from culm.domain.bamboo.models import BambooPlan

        project, master = service.plan(session, "MARS-ROCKET")
        session.add(BambooPlan(project_id=project.id, key="ROCKET1", name="feature-wings", description="",
                               enabled=True, repository_id=master.repository_id, spec=master.spec, labels=[],
                               master_id=master.id, branch_name="feature/wings"))
    r = admin.post(B + "/queue/MARS-ROCKET1", params={"executeAllStages": "true"}, headers=J)
    assert r.status_code == 200 and r.json()["buildResultKey"] == "MARS-ROCKET1-1"
    run_jobs(server)
    for name in ("feature-wings", "feature-wings.json"):
        listing = admin.get(B + f"/result/MARS-ROCKET/branch/{name}", headers=J)
        assert listing.status_code == 200, name
        items = listing.json()["results"]["result"]
        assert [x["key"] for x in items] == ["MARS-ROCKET1-1"]
    res = _result(admin, "MARS-ROCKET1-1")
    assert res["plan"]["type"] == "chain_branch" and res["plan"]["master"]["key"] == "MARS-ROCKET"
    assert res["vcsRevisionKey"] == sha and res["state"] == "Successful"
    assert [x["key"] for x in admin.get(B + f"/result/byChangeset/{sha}", headers=J).json()["results"]["result"]] \
        == ["MARS-ROCKET1-1"]
    # The latest results of all plans list top-level plans only.
    assert "MARS-ROCKET1-1" not in [x["key"] for x in admin.get(B + "/result", headers=J).json()["results"]["result"]]


def _state(admin: httpx.Client) -> list[tuple]:
    listing = admin.get(B + "/result/MARS", params={"includeAllStates": "true"}, headers=J).json()["results"]
    rows = []
    for item in listing["result"]:
        plan = item["plan"]["key"]
        for r in admin.get(B + f"/result/{plan}", params={"includeAllStates": "true", "expand": "labels,comments"},
                           headers=J).json()["results"]["result"]:
            rows.append((r["key"], r["lifeCycleState"], r["state"], str(r["labels"]), str(r["comments"])))
    return rows


def test_delete_result(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
    number = bamboo.execute_build("MARS-LANDER")["buildNumber"]
    busy = admin.post("/bamboo/build/admin/deletePlanResults.action",
                      params={"buildKey": "MARS-LANDER", "buildNumber": number})
    assert busy.status_code == 400
    run_jobs(server)
    log = server.home / "bamboo" / "logs" / "MARS-LANDER-JOB1" / f"MARS-LANDER-JOB1-{number}.log"
    assert log.is_file()
    with httpx.Client(base_url=server.url, auth=("bob", USER_PASSWORD)) as bob:
        r = bob.post("/bamboo/build/admin/deletePlanResults.action",
                     params={"buildKey": "MARS-LANDER", "buildNumber": number})
        assert r.status_code == 403
    bamboo.delete_build_result(f"MARS-LANDER-{number}")
    assert admin.get(B + f"/result/MARS-LANDER-{number}", headers=J).status_code == 404
    assert not log.exists()
    assert admin.post("/bamboo/build/admin/deletePlanResults.action",
                      params={"buildKey": "MARS-LANDER", "buildNumber": number}).status_code == 404


def test_concurrent_triggers_get_distinct_numbers(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    """Concurrent requests never wait on each other's locks with the server's event loop stopped."""
    from concurrent.futures import ThreadPoolExecutor

    def trigger(_: int) -> int:
        with server.client() as c:
            r = c.post(B + "/queue/MARS-LANDER", headers=J)
            assert r.status_code == 200, r.text
            return r.json()["buildNumber"]

    def read(_: int) -> int:
        with server.client() as c:
            return c.get(B + "/result/MARS-ROCKET-1", headers=J).status_code

    def remote(_: int) -> int:
        with server.client() as c:
            return c.post("/bamboo/updateAndBuild.action", params={"buildKey": "MARS-NOPE"}).status_code

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(read, range(6))) == [200] * 6
        assert list(pool.map(remote, range(6))) == [404] * 6
        numbers = sorted(pool.map(trigger, range(6)))
    assert len(set(numbers)) == 6 and numbers == list(range(numbers[0], numbers[0] + 6))
    queue = admin.get(B + "/queue", params={"expand": "queuedBuilds"}, headers=J).json()["queuedBuilds"]
    assert sorted(q["buildNumber"] for q in queue["queuedBuild"]) == numbers
    for n in numbers:
        assert admin.delete(B + f"/queue/MARS-LANDER-{n}").status_code == 204
    assert admin.get(B + "/queue", headers=J).json()["queuedBuilds"]["size"] == 0


def test_bad_requests_change_nothing(server, admin, built) -> None:  # type: ignore[no-untyped-def]
    before = _state(admin)
    for path in ("/result/MARS-NOPE", "/result/NOPE", "/result/garbage", "/result/MARS-ROCKET-999",
                 "/result/MARS-ROCKET-NOJOB", "/result/MARS-ROCKET-NOJOB-1", "/result/MARS-ROCKET/abc",
                 "/result/status/MARS-ROCKET-latest", "/result/status/MARS-ROCKET-999",
                 "/result/MARS-ROCKET-1/comment/99999", "/result/MARS-ROCKET/branch/nope",
                 "/result/MARS-ROCKET-999/comment"):
        r = admin.get(B + path, headers=J)
        assert r.status_code in (404, 405), path
        if r.status_code == 404:
            assert r.json()["errors"] and r.json()["fieldErrors"] == {}, path
    for path in ("/queue/MARS-NOPE", "/queue/MARS-ROCKET-JOB1", "/queue/MARS-ROCKET-1", "/queue/bad"):
        assert admin.post(B + path, headers=J).status_code == 404, path
    assert admin.put(B + "/queue/MARS-ROCKET", headers=J).status_code == 404
    assert admin.put(B + "/queue/MARS-ROCKET-999", headers=J).status_code == 404
    assert admin.delete(B + "/queue/MARS-ROCKET-999", headers=J).status_code == 404
    r = admin.post(B + "/queue/MARS-ROCKET", json={"bamboo.variable.x": "1"}, headers=J)
    assert r.status_code == 415 and r.json()["errors"]
    r = admin.post(B + "/queue/MARS-ROCKET", params={"stage": "No such stage"}, headers=J)
    assert r.status_code == 400 and "No such stage" in r.json()["errors"][0]
    assert admin.get(B + "/result/MARS-ROCKET", params={"buildstate": "Green"}, headers=J).status_code == 400
    assert admin.get(B + "/result/MARS-ROCKET", params={"lifeCycleState": "Done"}, headers=J).status_code == 400
    assert admin.get(B + "/result/MARS-ROCKET", params={"max-results": "x"}, headers=J).status_code == 400
    with httpx.Client(base_url=server.url, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.post(B + "/queue/MARS-ROCKET", headers=J).status_code == 403
        assert bob.post(B + "/queue/MARS-LANDER", headers=J).status_code == 403
        assert bob.delete(B + "/queue/MARS-ROCKET-1", headers=J).status_code == 403
        assert bob.post("/bamboo/build/admin/stopPlan.action", params={"planKey": "MARS-ROCKET"}).status_code == 403
        assert bob.get(B + "/result/MARS-ROCKET-1", headers=J).status_code == 200  # a reader since the comments
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get(B + "/result", headers=J).status_code == 401
        assert anon.post(B + "/queue/MARS-ROCKET", headers=J).status_code == 401
    assert _state(admin) == before

