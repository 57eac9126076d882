"""Bamboo REST agent administration (issue rest2, slice 3): remote agent approval (CULM_AGENT_APPROVAL), the
admin agent configuration, the server's grouped capability listing, and agents dedicated to jobs, with their
effect on the engine: an unapproved agent gets no work, a dedicated job goes only to its agents and says why
it waits."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from bamboo_build_support import server_home
from sqlalchemy import select

from support import USER_PASSWORD, LiveServer, create_user, live_server, server_db, validating_client

B = "/bamboo/rest/api/latest"
A = "/bamboo/rest/admin/latest"
P = "/bamboo/rest/culm-agent/1.0"
J = {"Accept": "application/json"}
SPECS = """version: 2
plan: {project-key: AGA, key: DED, name: Dedicated}
stages: [{Build: [Compile]}]
Compile:
  key: COMP
  tasks: [clean]
  requirements: [linux]
"""


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server({"CULM_LOCAL_AGENTS": "0", "CULM_BAMBOO_TRIGGERS": "0", "CULM_AGENT_APPROVAL": "true"}) as s:
        create_user(s, "bob")
        yield s
        log = (s.home / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]


def _register(server: LiveServer, name: str, caps: dict[str, str] | None = None) -> tuple[str, int]:
    token = (server.home / "shared" / "agent-token").read_text().strip()
    agent_uuid = str(uuidlib.uuid4())
    r = httpx.post(server.url + P + "/register", json={"name": name, "type": "REMOTE", "capabilities": caps or {}},
                   headers={"X-Culm-Agent-Token": token, "X-Culm-Agent-Uuid": agent_uuid})
    assert r.status_code == 200, r.text
    return agent_uuid, r.json()["id"]


def _claim(server: LiveServer, agent_id: int) -> Any:
    """The engine's claim for this agent, in the test process (the job keeps running: it is not finished)."""
    import culm.domain.models  # noqa: F401
    from culm.domain.bamboo import queue
    from culm.domain.bamboo.models import BambooAgent

    with server_home(server), server_db(server) as session:
        agent = session.get(BambooAgent, agent_id)  # type: ignore[attr-defined]
        claimed = queue.claim(session, agent)
        return claimed.job_result_key if claimed else None


def _queued_note(server: LiveServer) -> str | None:
    import culm.domain.models  # noqa: F401
    from culm.domain.bamboo import builds
    from culm.domain.bamboo.models import BambooJobResult

    with server_home(server), server_db(server) as session:
        builds.refresh_blocked(session)  # type: ignore[arg-type]
        job = session.scalar(select(BambooJobResult).where(BambooJobResult.life_cycle == "Queued"))  # type: ignore[attr-defined]
        return job.blocked_reason if job else "no queued job"


def _set_enabled(server: LiveServer, agent_id: int, enabled: bool) -> None:
    from culm.domain.bamboo.models import BambooAgent

    with server_db(server) as session:
        session.get(BambooAgent, agent_id).enabled = enabled  # type: ignore[attr-defined]


def test_remote_agents_wait_for_approval(server: LiveServer, admin: httpx.Client) -> None:
    assert admin.post(B + "/import/plan", content=SPECS.replace("DED", "APP"), headers=J).status_code == 200
    agent_uuid, agent_id = _register(server, "Needs approval", {"linux": "yes"})
    pending = admin.get(B + "/agent/authentication", params={"pending": "true"}, headers=J).json()
    assert pending == [{"approved": False, "ip": "127.0.0.1", "ipPatterns": [], "uuid": agent_uuid}]
    assert admin.get(B + "/agent/authentication", params={"pending": "false"}, headers=J).json() == []
    root = ET.fromstring(admin.get(B + "/agent/authentication").content)
    assert root.find("agentAuthentication/uuid").text == agent_uuid
    assert admin.post(B + "/queue/AGA-APP", headers=J).status_code == 200
    assert _claim(server, agent_id) is None  # not approved: no work

    with validating_client(server, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.get(B + "/agent/authentication", headers=J).status_code in (401, 403)
        assert bob.put(B + f"/agent/authentication/{agent_uuid}", headers=J).status_code in (401, 403)
    r = admin.put(B + "/agent/authentication/no-such-agent", headers=J)
    assert r.status_code == 400 and r.json()["errors"]
    assert admin.get(B + "/agent/authentication", params={"pending": "maybe"}, headers=J).status_code == 400
    assert _claim(server, agent_id) is None

    assert admin.put(B + f"/agent/authentication/{agent_uuid}").status_code == 204
    approved = admin.get(B + "/agent/authentication", headers=J).json()
    assert [(a["uuid"], a["approved"]) for a in approved] == [(agent_uuid, True)]
    assert _claim(server, agent_id) == "AGA-APP-COMP-1"


def test_admin_agent_configuration(server: LiveServer, admin: httpx.Client) -> None:
    _, agent_id = _register(server, "Configured", {"system.jdk.JDK 17": "/opt/jdk", "docker": "yes"})
    page = admin.get(A + "/config/agents", headers=J).json()
    mine = [a for a in page["results"] if a["id"] == agent_id]
    assert mine == [{"id": agent_id, "type": "remote", "name": "Configured", "description": "", "enabled": True,
                     "link": mine[0]["link"]}] and page["start"] == 0 and page["limit"] == 25
    assert mine[0]["link"].endswith(f"{A}/config/agents/{agent_id}")
    r = admin.put(A + f"/config/agents/{agent_id}", json={"name": "Renamed", "description": "Build box",
                                                           "enabled": False}, headers=J)
    assert r.status_code == 200 and r.json()["name"] == "Renamed" and r.json()["enabled"] is False
    got = admin.get(A + f"/config/agents/{agent_id}", headers=J).json()
    assert got["description"] == "Build box" and got["enabled"] is False
    assert ET.fromstring(admin.get(A + f"/config/agents/{agent_id}").content).find("name").text == "Renamed"
    for bad in ({"name": ""}, {"enabled": "no"}, {"description": 5}, {"id": 424242}):
        assert admin.put(A + f"/config/agents/{agent_id}", json=bad, headers=J).status_code == 400, bad
    assert admin.get(A + "/config/agents/424242", headers=J).status_code == 404
    assert admin.get(A + "/config/agents", params={"limit": "0"}, headers=J).status_code == 400
    with validating_client(server, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.get(A + "/config/agents", headers=J).status_code in (401, 403)
        assert bob.put(A + f"/config/agents/{agent_id}", json={"name": "x"}, headers=J).status_code in (401, 403)
    assert admin.get(A + f"/config/agents/{agent_id}", headers=J).json()["name"] == "Renamed"

    listing = admin.get(B + "/capability/groupedListing", headers=J).json()
    groups = {g["name"]: {c["key"]: c for c in g["capabilities"]} for g in listing["groups"]}
    assert groups["JDK"]["system.jdk.JDK 17"]["values"] == ["/opt/jdk"]
    assert "docker" in groups["Custom"] and "system.git.executable" in groups["Executable"]
    found = admin.get(B + "/capability/groupedListing", params={"searchTerm": "jdk"}, headers=J).json()
    assert [c["key"] for g in found["groups"] for c in g["capabilities"]] == ["system.jdk.JDK 17"]
    paged = admin.get(B + "/capability/groupedListing", params={"max-result": 1, "start-index": 1,
                                                                "lastGroup": "JDK"}, headers=J).json()
    assert paged["max-result"] == 1 and paged["size"] == listing["size"]
    assert ET.fromstring(admin.get(B + "/capability/groupedListing").content).tag == "capabilityGroups"


def test_dedicated_agents_run_the_job(server: LiveServer, admin: httpx.Client) -> None:
    assert admin.post(B + "/import/plan", content=SPECS, headers=J).status_code == 200
    uuid_a, a = _register(server, "Anyone", {"linux": "yes"})
    uuid_d, d = _register(server, "Dedicated", {"linux": "yes"})
    uuid_n, n = _register(server, "No linux", {})
    for agent_uuid in (uuid_a, uuid_d, uuid_n):
        assert admin.put(B + f"/agent/authentication/{agent_uuid}").status_code == 204
    url = B + "/config/job/AGA-DED-COMP/agent-assignment"
    assert admin.get(url, headers=J).json() == []
    r = admin.post(url, json={"value": f"AGENT-{d}"}, headers=J)
    assert r.status_code == 200 and r.json() == {"id": d, "key": f"AGENT-{d}", "type": "AGENT",
                                                 "agentType": "REMOTE", "name": "Dedicated",
                                                 "capabilitiesMatch": True, "disabled": False, "removable": True}
    assert admin.post(url, content=f'"AGENT-{d}"', headers={**J, "Content-Type": "application/json"}
                      ).status_code == 400  # already assigned
    assert [x["id"] for x in admin.get(url, headers=J).json()] == [d]
    assert ET.fromstring(admin.get(url).content).find("agentAssignment/name").text == "Dedicated"
    possible = admin.get(url + "/possible-agent-assignment", params={"searchTerm": "o"}, headers=J).json()
    by_name = {x["name"]: x for x in possible["agents"]}
    assert d not in {x["id"] for x in possible["agents"]}
    assert by_name["No linux"]["capabilitiesMatch"] is False and by_name["Anyone"]["capabilitiesMatch"] is True

    assert admin.post(B + "/queue/AGA-DED", headers=J).status_code == 200
    assert _claim(server, a) is None  # the job is dedicated to another agent
    _set_enabled(server, d, False)
    assert _queued_note(server) == "No agent dedicated to this job is enabled and online"
    _set_enabled(server, d, True)
    assert _queued_note(server) is None
    assert _claim(server, d) == "AGA-DED-COMP-1"

    assert admin.delete(f"{url}/AGENT-{d}").status_code == 204
    assert admin.delete(f"{url}/AGENT-{d}", headers=J).status_code == 400
    assert admin.post(B + "/queue/AGA-DED", headers=J).status_code == 200
    assert _claim(server, a) == "AGA-DED-COMP-2"  # no assignments left: any capable agent


def test_assignment_bad_inputs(server: LiveServer, admin: httpx.Client) -> None:
    url = B + "/config/job/AGA-DED-COMP/agent-assignment"
    assert admin.get(B + "/config/job/AGA-DED-NOPE/agent-assignment", headers=J).status_code == 404
    assert admin.get(B + "/config/job/AGA-NOPE-COMP/agent-assignment", headers=J).status_code == 404
    for bad in ({"value": "AGENT-999999"}, {"value": "nonsense"}, {}):
        assert admin.post(url, json=bad, headers=J).status_code == 400, bad
    assert admin.delete(url + "/bogus", headers=J).status_code == 400
    with validating_client(server, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.get(url, headers=J).status_code == 403
        assert bob.post(url, json={"value": "AGENT-1"}, headers=J).status_code == 403
    assert admin.get(url, headers=J).json() == []
