"""Bad input to the Bamboo REST API and the build engine, on a live server with local agents: unknown and
malformed keys on every plan/result/queue endpoint, invalid specs (unknown keys, artifact-dependency cycles)
imported or pushed, hostile trigger variables, a running build continued, absurd paging. Each answer is a clean
4xx in Bamboo's error shape and nothing changes. Then atlassian-python-api's `Bamboo` drives a real build."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from atlassian import Bamboo
from sqlalchemy import func, select

from support import ADMIN, LiveServer, commit_file, cred_url, git, live_server, pushed_repo, server_db

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

SPECS = """\
---
version: 2
plan: {project-key: RB, key: ONE, name: One}
stages:
  - Build: [Build]
Build:
  tasks:
    - script:
        - printf 'evil=[%s]\\n' "$bamboo_evil"
---
version: 2
plan: {project-key: RB, key: SLOW, name: Slow}
stages:
  - Build: [Build]
Build:
  tasks:
    - script:
        - echo started
        - sleep 300
---
version: 2
plan: {project-key: RB, key: INJ, name: Inject}
stages:
  - Build: [Build]
Build:
  key: JOB1
  tasks:
    - script:
        - printf 'nul=a\\000b\\nok=fine\\n' > vars.txt
    - inject-variables: {file: vars.txt, scope: RESULT, namespace: got}
    - script:
        - echo "nul=[$bamboo_got_nul] ok=[$bamboo_got_ok]"
---
version: 2
plan: {project-key: RB, key: LOUD, name: Loud}
stages:
  - Build: [Build]
Build:
  tasks:
    - script:
        - head -c 80000000 /dev/zero | tr '\\0' 'x' | fold -w 100
        - echo tail-marker
"""

REPO_SPECS = """\
version: 2
plan: {project-key: RBP, key: PUSHED, name: Pushed}
stages:
  - Build: [Build]
Build:
  tasks:
    - script:
        - echo pushed
"""

CYCLE = """\
version: 2
plan: {project-key: RB, key: ONE, name: Cyclic}
stages:
  - S: [A, C]
A:
  tasks: [{artifact-download: {artifacts: [{name: c}]}}]
  artifacts: [{name: a, pattern: x, shared: true}]
C:
  key: CJ
  tasks: [{artifact-download: {artifacts: [{name: a}]}}]
  artifacts: [{name: c, pattern: y, shared: true}]
"""

UNKNOWN_KEY = SPECS.split("---\n")[1].replace("name: One}", "name: Renamed, colour: red}")


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server({"CULM_LOCAL_AGENTS": "2"}) as s:
        yield s
        log = (s.home / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.fixture(scope="module")
def built(server: LiveServer, admin: httpx.Client) -> str:
    """RB-ONE-1 built successfully (a result to read, comment and label)."""
    r = admin.post(B + "/import/plan", content=SPECS, headers=J)
    assert r.status_code == 200, r.text
    key = _queue(admin, "RB-ONE", "bamboo.variable.evil=plain")
    assert _wait(admin, key)["state"] == "Successful"
    return key


def _queue(admin: httpx.Client, plan: str, body: str = "") -> str:
    r = admin.post(f"{B}/queue/{plan}", content=body, headers={**J, **FORM})
    assert r.status_code == 200, r.text
    return r.json()["buildResultKey"]


def _wait(admin: httpx.Client, key: str, life: str = "Finished", timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = admin.get(f"{B}/result/{key}", params={"includeAllStates": "true"}, headers=J)
        if r.status_code == 200 and r.json()["lifeCycleState"] == life:
            return r.json()
        time.sleep(0.2)
    raise AssertionError(f"{key} never reached {life}")


def _log(admin: httpx.Client, key: str) -> str:
    """The log of the (single) job of build `key` (PROJ-PLAN-N)."""
    plan, number = key.rsplit("-", 1)
    r = admin.get(f"/bamboo/download/{plan}-JOB1/build_logs/{plan}-JOB1-{number}.log")
    assert r.status_code == 200, r.text
    return r.text


def _plans(server: LiveServer) -> list[tuple]:
    from culm.domain.bamboo.models import BambooPlan

    with server_db(server) as s:
        return [(p.key, p.name, p.enabled, str(p.labels), str(p.spec), p.repository_id)
                for p in s.scalars(select(BambooPlan).order_by(BambooPlan.id))]  # type: ignore[attr-defined]


def _snapshot(server: LiveServer) -> list[tuple]:
    """Everything a bad request could change: plans, results, jobs, comments, labels."""
    import culm.domain.models  # noqa: F401  (every table known)
    from culm.domain.bamboo.models import BambooJobResult, BambooPlan, BambooResult, BambooResultComment

    with server_db(server) as s:
        plans = [(p.key, p.name, p.enabled, str(p.labels), str(p.spec), p.next_number)
                 for p in s.scalars(select(BambooPlan).order_by(BambooPlan.id))]  # type: ignore[attr-defined]
        results = [(r.id, r.number, str(r.labels), str(r.variables), r.life_cycle, r.state)
                   for r in s.scalars(select(BambooResult).order_by(BambooResult.id))]  # type: ignore[attr-defined]
        jobs = s.scalar(select(func.count()).select_from(BambooJobResult))  # type: ignore[attr-defined]
        comments = s.scalar(select(func.count()).select_from(BambooResultComment))  # type: ignore[attr-defined]
    return [*plans, *results, (jobs, comments)]


def _bamboo_error(r: httpx.Response, *statuses: int) -> None:
    """A 4xx with Bamboo's error body."""
    assert r.status_code in statuses, (r.request.method, r.request.url, r.status_code, r.text[:300])
    body = r.json()
    assert isinstance(body.get("errors"), list) and body["errors"] and body.get("fieldErrors") == {}, body


PLAN_KEYS = ["RB-NOPE", "NOPE-ONE", "a-b", "RB-", "-ONE", "RB-ONE-x", quote("../x", safe=""), "K" * 3000,
             "RB-" + "O" * 3000, quote("PRÖJ-ONE"), quote("RB-ÖNE"), "RB-ONE-JOB1-1-2", quote("RB-ONE\x00")]
RESULT_KEYS = ["RB-ONE-999", "RB-ONE-0", "RB-ONE--1", "RB-ONE-" + "9" * 30, "RB-ONE-x", "RB-NOPE-1", "a-b-1", "RB--1",
               "RB-ONE-NOJOB-1", "RB-ONE-JOB1-999", quote("../x-1", safe=""), "R" * 3000 + "-ONE-1",
               quote("RB-ÖNE-1"), quote("RB-ONE-1\x00")]


def test_unknown_and_malformed_plan_keys(server: LiveServer, admin: httpx.Client, built: str) -> None:
    before = _snapshot(server)
    for key in PLAN_KEYS:
        for method, path in (("GET", "/plan/{}"), ("DELETE", "/plan/{}"), ("GET", "/plan/{}/label"),
                             ("POST", "/plan/{}/label"), ("DELETE", "/plan/{}/label/x"), ("GET", "/plan/{}/branch"),
                             ("GET", "/plan/{}/branch/x"), ("PUT", "/plan/{}/branch/x"),
                             ("POST", "/plan/{}/enable"), ("DELETE", "/plan/{}/enable"),
                             ("POST", "/plan/{}/favourite"), ("GET", "/plan/{}/specs"),
                             ("GET", "/plan/{}/vcsBranches"), ("GET", "/plan/{}/variables"),
                             ("GET", "/result/{}"), ("GET", "/result/{}/latest"), ("GET", "/result/{}/1"),
                             ("GET", "/result/{}/branch/x"), ("POST", "/queue/{}"), ("GET", "/project/{}"),
                             ("GET", "/search/jobs/{}"), ("GET", "/search/stages/{}"), ("GET", "/export/{}")):
            r = admin.request(method, B + path.format(key), headers={**J, **FORM},
                              content="name=x" if method in ("POST", "PUT") and "label" in path else None)
            # A "key" with a slash can land on the GET-only alias /plan/{projectKey}/{buildKey}: 405 there.
            _bamboo_error(r, 400, 404, *((405,) if "/" in key or "%2F" in key.upper() else ()))
    assert _snapshot(server) == before


def test_unknown_and_malformed_result_keys(server: LiveServer, admin: httpx.Client, built: str) -> None:
    before = _snapshot(server)
    for key in RESULT_KEYS:
        for method, path in (("GET", "/result/{}"), ("GET", "/result/status/{}"), ("GET", "/result/{}/comment"),
                             ("POST", "/result/{}/comment"), ("DELETE", "/result/{}/comment/1"),
                             ("GET", "/result/{}/label"), ("POST", "/result/{}/label"),
                             ("DELETE", "/result/{}/label/x"), ("PUT", "/queue/{}"), ("DELETE", "/queue/{}")):
            body = None
            if method == "POST":
                body = '{"content": "x"}' if "comment" in path else '{"name": "x"}'
            r = admin.request(method, B + path.format(key), headers={**J, "Content-Type": "application/json"},
                              content=body)
            _bamboo_error(r, 400, 404)
    for key in ("RB-ONE-999", "RB-ONE-JOB1-999", "RB-ONE-" + "9" * 30):  # outside REST: plain 404s
        plan, number = key.rsplit("-", 1)
        for path in (f"/bamboo/browse/{key}", f"/bamboo/browse/{key}/log",
                     f"/bamboo/download/{plan}/build_logs/{key}.log"):
            assert admin.get(path).status_code == 404, path
    assert _snapshot(server) == before


@pytest.mark.parametrize(("text", "expected"), [(CYCLE, "artifact dependency cycle"),
                                                (UNKNOWN_KEY, "unknown key 'colour'")])
def test_bad_imported_specs_change_nothing(server: LiveServer, admin: httpx.Client, built: str, text: str,
                                           expected: str) -> None:
    before = _snapshot(server)
    r = admin.post(B + "/import/plan", content=text, headers=J)
    _bamboo_error(r, 400)
    assert any(expected in e for e in r.json()["errors"]), r.json()
    assert _snapshot(server) == before


def test_bad_pushed_specs_change_nothing(server: LiveServer, admin: httpx.Client, built: str,
                                         tmp_path: Path) -> None:
    from culm.domain.bamboo.trigger_models import BambooRepoSpecs

    work = tmp_path / "pushed"
    pushed_repo(server, admin, "RBR", "specs", work, [("bamboo-specs/bamboo.yml", REPO_SPECS)])
    repo_id = admin.get("/rest/api/latest/projects/RBR/repos/specs").json()["id"]
    _wait(admin, "RBP-PUSHED-1")  # imported, linked and built on the push
    before = _plans(server)
    for bad, expected in ((REPO_SPECS.replace("name: Pushed}", "name: Renamed, colour: red}"), "unknown key 'colour'"),
                          (CYCLE.replace("project-key: RB, key: ONE", "project-key: RBP, key: PUSHED"),
                           "artifact dependency cycle")):
        tip = commit_file(work, "bamboo-specs/bamboo.yml", bad)
        git("push", "-q", cred_url(server, "/scm/RBR/specs.git", *ADMIN), "main", cwd=work)
        deadline = time.monotonic() + 60
        row = None
        while time.monotonic() < deadline:
            with server_db(server) as s:
                row = s.get(BambooRepoSpecs, repo_id)  # type: ignore[attr-defined]
                if row is not None and row.revision == tip:
                    break
            time.sleep(0.2)
        assert row is not None and row.revision == tip and expected in (row.error or ""), row and row.error
        assert _plans(server) == before  # (the push itself still builds the plan as it was, as Bamboo)
    assert admin.get(B + "/plan/RBP-PUSHED", headers=J).json()["shortName"] == "Pushed"


def test_hostile_trigger_variables_are_data(server: LiveServer, admin: httpx.Client, built: str,
                                            tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    evil = f"$(touch {pwned}) `touch {pwned}`; touch {pwned} && echo ${{HOME}} | cat > {pwned} ' \" \\ ${{bamboo.x}}"
    key = _queue(admin, "RB-ONE", "bamboo.variable.evil=" + quote(evil, safe=""))
    res = _wait(admin, key)
    text = _log(admin, key)
    assert res["state"] == "Successful", text
    # (`${bamboo.evil}` in an inline script is substituted textually, as Bamboo does: not used here)
    assert f"evil=[{evil}]" in text
    assert not pwned.exists()


@pytest.mark.parametrize("name", ["", "a b", "$(id)", "x;y", "a=b", "x\ny", "x\x00y", "ü", "v" * 300])
def test_invalid_variable_names_are_refused(server: LiveServer, admin: httpx.Client, built: str, name: str) -> None:
    before = _snapshot(server)
    for how in ("form", "query"):
        field = "bamboo.variable." + name
        if how == "form":
            r = admin.post(B + "/queue/RB-ONE", content=quote(field, safe="") + "=1", headers={**J, **FORM})
        else:
            r = admin.post(B + "/queue/RB-ONE", params={field: "1"}, headers=J)
        _bamboo_error(r, 400)
        assert "variable" in r.json()["errors"][0].lower()
    assert _snapshot(server) == before


def test_non_form_bodies_are_415(server: LiveServer, admin: httpx.Client, built: str) -> None:
    before = _snapshot(server)
    for ctype, body in (("application/json", '{"executeAllStages": true}'), ("text/plain", "executeAllStages=true"),
                        ("application/xml", "<queue/>"), ("", "bamboo.variable.x=1")):
        r = admin.post(B + "/queue/RB-ONE", content=body, headers={**J, "Content-Type": ctype} if ctype else J)
        _bamboo_error(r, 415)
    _bamboo_error(admin.post(B + "/queue/RB-ONE", content=b"bamboo.variable.x=\xff\xfe", headers={**J, **FORM}), 400)
    assert _snapshot(server) == before


def test_running_build_cannot_be_continued(server: LiveServer, admin: httpx.Client, built: str) -> None:
    key = _queue(admin, "RB-SLOW")
    _wait(admin, key, "InProgress")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        log = admin.get(f"/bamboo/download/RB-SLOW-JOB1/build_logs/RB-SLOW-JOB1-{key.rsplit('-', 1)[1]}.log")
        if log.status_code == 200 and "started" in log.text:
            break
        time.sleep(0.2)
    for params in ({}, {"executeAllStages": "true"}, {"stage": "Build"}):
        r = admin.put(f"{B}/queue/{key}", params=params, headers=J)
        _bamboo_error(r, 400)
    assert admin.get(f"{B}/result/{key}", headers=J).json()["lifeCycleState"] == "InProgress"
    assert admin.delete(f"{B}/queue/{key}").status_code == 204
    res = _wait(admin, key)
    assert res["state"] == "Failed"


@pytest.mark.parametrize("path", ["/result", "/result/RB-ONE", "/result/RB", "/plan", "/project", "/queue",
                                  "/search/plans", "/result/RB-ONE-1/comment", "/result/RB-ONE-1/label"])
def test_absurd_paging(admin: httpx.Client, built: str, path: str) -> None:
    for params in ({"max-result": str(10**12)}, {"max-results": "9" * 40}, {"start-index": str(10**12)},
                   {"start-index": "9" * 40}):
        r = admin.get(B + path, params=params, headers=J)
        assert r.status_code in (200, 400), (path, params, r.text[:300])
        if r.status_code == 400:
            _bamboo_error(r, 400)
    for params in ({"start-index": "-1"}, {"max-result": "-5"}, {"max-results": "x"}, {"start-index": "1e3"}):
        r = admin.get(B + path, params=params, headers=J)
        if path == "/queue" and r.status_code == 200:
            continue  # the queue takes no paging
        _bamboo_error(r, 400)


def test_python_client_drives_a_real_build(server: LiveServer, admin: httpx.Client, built: str) -> None:
    bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
    assert "RB" in [p["key"] for p in bamboo.get_projects]
    assert "RB" in [p["key"] for p in bamboo.projects()]
    assert {"RB-ONE", "RB-SLOW"} <= {p["key"] for p in bamboo.plans()}
    queued = bamboo.queue_build("RB-ONE", params={"bamboo.variable.evil": "from-client"})
    key = queued["buildResultKey"]
    assert key.startswith("RB-ONE-")
    deadline = time.monotonic() + 120
    latest: dict = {}
    while time.monotonic() < deadline:
        latest = bamboo.build_latest_result("RB-ONE")
        if latest.get("key") == key:
            break
        time.sleep(0.2)
    assert latest["key"] == key and latest["state"] == "Successful", latest
    assert "evil=[from-client]" in _log(admin, key)
    number = latest["buildNumber"]
    assert key in [x["key"] for x in bamboo.results("RB", "ONE")]
    bamboo.create_comment("RB", "ONE", number, "Built on a real agent")
    comments = bamboo.comments("RB", "ONE", number)["comments"]["comment"]
    assert [c["content"] for c in comments] == ["Built on a real agent"]
    bamboo.create_label("RB", "ONE", number, "robust")
    assert [lbl["name"] for lbl in bamboo.labels("RB", "ONE", number)["labels"]["label"]] == ["robust"]
    bamboo.delete_label("RB", "ONE", number, "robust")
    assert bamboo.labels("RB", "ONE", number)["labels"]["size"] == 0
    assert bamboo.get_build_queue()["queuedBuilds"]["size"] == 0
    agents = bamboo.agent_status()
    local = [a for a in agents if a["type"] == "LOCAL"]
    assert sorted(a["name"] for a in local) == ["Local agent 1", "Local agent 2"]
    assert all(a["enabled"] and a["active"] for a in local), local


def test_nul_in_a_variable_value(server: LiveServer, admin: httpx.Client, built: str) -> None:
    """A NUL cannot reach an agent's environment: refused up front, and no build is left broken."""
    before = _snapshot(server)
    r = admin.post(B + "/queue/RB-ONE", content="bamboo.variable.evil=a%00b", headers={**J, **FORM})
    _bamboo_error(r, 400)
    assert _snapshot(server) == before


def test_nul_bytes_elsewhere(server: LiveServer, admin: httpx.Client, built: str) -> None:
    """A NUL written by a build into injected variables, or sent in a comment or a label, breaks nothing (on
    PostgreSQL, text columns refuse NUL)."""
    key = _queue(admin, "RB-INJ")
    res = _wait(admin, key)
    text = _log(admin, key)
    assert res["state"] == "Successful", text
    assert "nul=[ab] ok=[fine]" in text
    before = _snapshot(server)
    for path, body in (("comment", {"content": "a\x00b"}), ("label", {"name": "a\x00b"})):
        r = admin.post(f"{B}/result/{built}/{path}", json=body, headers=J)
        assert r.status_code in (204, 400), (path, r.status_code, r.text[:300])
        if r.status_code == 400:
            _bamboo_error(r, 400)
        else:
            before = _snapshot(server)
    r = admin.post(B + "/import/plan", content=SPECS.replace("name: One", "name: O\x00ne"), headers=J)
    _bamboo_error(r, 400)
    assert _snapshot(server) == before


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_flood_of_output_is_capped_and_memory_stays_sane(server: LiveServer, admin: httpx.Client,
                                                         built: str) -> None:
    """80 MB of output as fast as a pipe goes: the build completes, the log stops at 64 MiB with a note, and
    the server (whose local agents stream the output) never holds more than a bounded amount of it."""
    before = _peak_rss_kib(server.proc.pid)
    key = _queue(admin, "RB-LOUD")
    res = _wait(admin, key, timeout=300)
    assert res["state"] == "Successful"
    number = key.rsplit("-", 1)[1]
    path = server.home / "bamboo" / "logs" / "RB-LOUD-JOB1" / f"RB-LOUD-JOB1-{number}.log"
    size = path.stat().st_size
    assert (64 << 20) <= size < (64 << 20) + 4096
    with path.open("rb") as f:
        f.seek(-200, 2)
        assert b"The log is truncated" in f.read()
    assert _peak_rss_kib(server.proc.pid) - before < 64 * 1024  # never near the 80 MB sent
