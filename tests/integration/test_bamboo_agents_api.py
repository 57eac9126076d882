"""Bamboo agents REST: list (bare JSON array / XML), details, online status, enable/disable, delete (refused while
building), capabilities; administrators only for changes; atlassian-python-api's agent methods."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import httpx
import pytest
from atlassian import Bamboo

from bamboo_support import import_specs, server_fixture
from support import ADMIN, USER_PASSWORD, LiveServer, create_user, server_db, validating_client

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}
SPECS = "version: 2\nplan: {project-key: AG, key: P, name: P}\nstages: [{S: [J]}]\nJ: {tasks: [clean]}\n"


server = server_fixture({"CULM_LOCAL_AGENTS": "0"})


@pytest.fixture(scope="module")
def agents(server: LiveServer, admin: httpx.Client) -> dict[str, int]:
    """Three agents: online local, offline remote, and an online remote one busy with a job."""
    import culm.domain.models  # noqa: F401  (every table known, so foreign keys resolve)
    from culm.domain.bamboo.models import BambooAgent, BambooJobResult, BambooResult
    from culm.domain.bamboo.service import plan
    from culm.domain.base import now_ms

    import_specs(admin, SPECS)
    create_user(server, "bob")
    with server_db(server) as session:
        now = now_ms()
        local = BambooAgent(uuid="u-local", name="Local 1", type="LOCAL", capabilities={"os": "linux"},
                            last_seen=now)
        gone = BambooAgent(uuid="u-gone", name="Remote gone", type="REMOTE", last_seen=now - 3_600_000)
        busy = BambooAgent(uuid="u-busy", name="Remote busy", type="REMOTE", last_seen=now, capabilities={})
        session.add_all([local, gone, busy])  # type: ignore[attr-defined]
        session.flush()  # type: ignore[attr-defined]
        _, p = plan(session, "AG-P")  # type: ignore[arg-type]
        result = BambooResult(plan_id=p.id, number=1, life_cycle="InProgress")
        session.add(result)  # type: ignore[attr-defined]
        session.flush()  # type: ignore[attr-defined]
        session.add(BambooJobResult(result_id=result.id, stage_idx=0, job_key="J", name="J",  # type: ignore[attr-defined]
                                    life_cycle="InProgress", agent_id=busy.id, claim_token="t" * 32, attempt=1,
                                    claimed_date=now, started_date=now,
                                    # the server's reaper must not take this job away while the module runs
                                    heartbeat_date=now + 86_400_000))
        return {"local": local.id, "gone": gone.id, "busy": busy.id}


def test_list_json_and_xml(admin: httpx.Client, agents: dict[str, int]) -> None:
    data = admin.get(B + "/agent", headers=J).json()
    assert isinstance(data, list)
    by_name = {a["name"]: a for a in data}
    assert set(by_name) == {"Local 1", "Remote gone", "Remote busy"}
    assert by_name["Local 1"] == {"id": agents["local"], "name": "Local 1", "type": "LOCAL", "active": True,
                                  "enabled": True, "busy": False}
    assert by_name["Remote gone"]["active"] is False and by_name["Remote busy"]["busy"] is True
    online = admin.get(B + "/agent.json", params={"online": "true"}).json()
    assert {a["name"] for a in online} == {"Local 1", "Remote busy"}
    remote = admin.get(B + "/agent/remote", headers=J).json()
    assert {a["type"] for a in remote} == {"REMOTE"} and len(remote) == 2
    root = ET.fromstring(admin.get(B + "/agent").content)
    assert root.tag == "agents"
    assert sorted(a.find("name").text for a in root.findall("agent")) == ["Local 1", "Remote busy", "Remote gone"]
    busy = [a for a in root.findall("agent") if a.find("name").text == "Remote busy"][0]
    assert busy.find("busy").text == "true" and busy.find("type").text == "REMOTE"


def test_details_and_status(admin: httpx.Client, agents: dict[str, int]) -> None:
    info = admin.get(B + f"/agent/{agents['local']}", headers=J).json()
    assert info["general"]["name"] == "Local 1" and info["general"]["active"] is True
    assert info["capabilities"]["size"] == 1 and info["capabilities"]["capabilities"][0]["key"] == "os"
    assert admin.get(B + f"/agent/{agents['gone']}/status", headers=J).json() == {"online": False}
    assert admin.get(B + f"/agent/{agents['local']}/status", headers=J).json() == {"online": True}
    root = ET.fromstring(admin.get(B + f"/agent/{agents['local']}/status").content)
    assert root.find("online").text == "true"
    for bad in ("999999", "abc"):
        r = admin.get(B + f"/agent/{bad}", headers=J)
        assert r.status_code == 404 and r.json()["errors"]


def test_enable_disable(admin: httpx.Client, agents: dict[str, int]) -> None:
    r = admin.put(B + f"/agent/{agents['gone']}/disable", headers=J)
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["id"] == agents["gone"]
    listed = {a["id"]: a for a in admin.get(B + "/agent", headers=J).json()}
    assert listed[agents["gone"]]["enabled"] is False
    assert admin.put(B + f"/agent/{agents['gone']}/enable", headers=J).json()["enabled"] is True
    assert admin.put(B + "/agent/424242/enable", headers=J).status_code == 404


def test_capabilities(admin: httpx.Client, agents: dict[str, int]) -> None:
    url = B + f"/agent/{agents['busy']}/capability"
    assert admin.post(url, json={"key": "system.jdk.JDK 17", "value": "/opt/jdk"}).status_code == 204
    r = admin.post(url, json={"key": "system.jdk.JDK 17", "value": "/other"}, headers=J)
    assert r.status_code == 400 and r.json()["errors"]
    assert admin.post(url, json={"value": "x"}, headers=J).status_code == 400
    assert admin.post(url, content=b"[1]", headers={**J, "Content-Type": "application/json"}).status_code == 400
    caps = admin.get(url, headers=J).json()
    assert [(c["key"], c["value"]) for c in caps] == [("system.jdk.JDK 17", "/opt/jdk")]
    assert admin.put(url + "/system.jdk.JDK 17", json={"value": "/opt/jdk17"}).status_code == 204
    assert admin.put(url + "/nope", json={"value": "x"}, headers=J).status_code == 404
    assert admin.put(url + "/system.jdk.JDK 17", json={"key": "other", "value": "x"}, headers=J).status_code == 400
    root = ET.fromstring(admin.get(url).content)
    assert root.tag == "capabilities" and root.find("capability").get("value") == "/opt/jdk17"
    assert admin.delete(url + "/system.jdk.JDK 17").status_code == 204
    assert admin.delete(url + "/system.jdk.JDK 17", headers=J).status_code == 404
    assert admin.post(url, json={"key": "a", "value": "1"}).status_code == 204
    assert admin.delete(url).status_code == 204
    assert admin.get(url, headers=J).json() == []


def test_non_admin_and_anonymous(server: LiveServer, admin: httpx.Client, agents: dict[str, int]) -> None:
    before = admin.get(B + "/agent", headers=J).json()
    with validating_client(server, auth=("bob", USER_PASSWORD)) as bob:
        assert len(bob.get(B + "/agent", headers=J).json()) == 3
        assert bob.put(B + f"/agent/{agents['local']}/disable", headers=J).status_code in (401, 403)
        assert bob.delete(B + f"/agent/{agents['gone']}", headers=J).status_code in (401, 403)
        r = bob.post(B + f"/agent/{agents['local']}/capability", json={"key": "k", "value": "v"}, headers=J)
        assert r.status_code in (401, 403) and r.json()["errors"]
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get(B + "/agent", headers=J).status_code == 401
        assert anon.put(B + f"/agent/{agents['local']}/disable").status_code == 401
    assert admin.get(B + "/agent", headers=J).json() == before


def test_python_client(server: LiveServer, agents: dict[str, int]) -> None:
    bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
    assert {a["name"] for a in bamboo.agent_status()} == {"Local 1", "Remote gone", "Remote busy"}
    assert bamboo.agent_is_online(agents["local"]) is True
    assert bamboo.agent_is_online(agents["gone"]) is False
    assert {a["name"] for a in bamboo.agent_remote()} == {"Remote gone", "Remote busy"}
    assert bamboo.agent_details(agents["local"])["general"]["id"] == agents["local"]
    bamboo.agent_disable(agents["local"])
    assert bamboo.agent_details(agents["local"])["general"]["enabled"] is False
    bamboo.agent_enable(agents["local"])
    bamboo.add_agent_capability(agents["local"], {"key": "docker", "value": "yes"})
    assert {c["key"] for c in bamboo.agent_capabilities(agents["local"])} == {"os", "docker"}
    bamboo.delete_agent_capability(agents["local"], "docker")
    assert [a["name"] for a in bamboo.activity(busy=True)] == ["Remote busy"]


def test_delete(admin: httpx.Client, agents: dict[str, int]) -> None:
    r = admin.delete(B + f"/agent/{agents['busy']}", headers=J)
    assert r.status_code == 400 and "building" in r.json()["errors"][0]
    assert admin.delete(B + f"/agent/{agents['gone']}").status_code == 204
    assert admin.get(B + f"/agent/{agents['gone']}", headers=J).status_code == 404
    assert admin.delete(B + f"/agent/{agents['gone']}", headers=J).status_code == 404
    assert {a["name"] for a in admin.get(B + "/agent", headers=J).json()} == {"Local 1", "Remote busy"}
