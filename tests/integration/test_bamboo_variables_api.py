"""Bamboo variables REST: plan (`/variables` and the legacy `/variable`), project and global variables; specs
variables become plan variables; password values masked; bad names/values and non-admins change nothing."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import httpx
import pytest
from atlassian import Bamboo

from bamboo_support import import_specs
from support import ADMIN, USER_PASSWORD, LiveServer, create_user, validating_client

B = "/bamboo/rest/api/latest"
G = "/bamboo/rest/admin/latest/globalVariables"
J = {"Accept": "application/json"}
SPECS = """\
version: 2
plan: {project-key: VAR, key: P, name: P}
stages: [{S: [J]}]
J: {tasks: [clean]}
variables:
  target: mars
  db.password: hunter2
"""


@pytest.fixture(scope="module")
def imported(server: LiveServer, admin: httpx.Client) -> None:
    import_specs(admin, SPECS)
    create_user(server, "bob")


def _plan_vars(admin: httpx.Client) -> dict[str, str]:
    return {v["name"]: v["value"] for v in admin.get(B + "/plan/VAR-P/variables", headers=J).json()}


def test_specs_variables_listed_masked(admin: httpx.Client, imported: None) -> None:
    assert _plan_vars(admin) == {"db.password": "********", "target": "mars"}
    root = ET.fromstring(admin.get(B + "/plan/VAR-P/variables").content)
    assert root.tag == "variables"
    assert {(v.get("name"), v.get("value")) for v in root.findall("variable")} == {
        ("db.password", "********"), ("target", "mars")}
    assert admin.get(B + "/plan/VAR-P/variable/target", headers=J).json() == {"name": "target", "value": "mars"}


def test_plan_variable_crud(admin: httpx.Client, imported: None) -> None:
    r = admin.post(B + "/plan/VAR-P/variables", json={"name": "region", "value": "eu"}, headers=J)
    assert r.status_code == 201 and r.json() == {"name": "region", "value": "eu"}
    dup = admin.post(B + "/plan/VAR-P/variables", json={"name": "region", "value": "us"}, headers=J)
    assert dup.status_code == 400 and set(dup.json()) == {"errors", "fieldErrors"}
    r = admin.put(B + "/plan/VAR-P/variables/region", json={"name": "region", "value": "us"}, headers=J)
    assert r.status_code == 200 and r.json()["value"] == "us"
    r = admin.post(B + "/plan/VAR-P/variable", content=b'<variable name="zone" value="a"/>',
                   headers={**J, "Content-Type": "application/xml"})
    assert r.status_code == 201, r.text
    assert _plan_vars(admin)["zone"] == "a" and _plan_vars(admin)["region"] == "us"
    assert admin.delete(B + "/plan/VAR-P/variable/zone").status_code == 204
    assert admin.get(B + "/plan/VAR-P/variables/zone", headers=J).status_code == 404
    assert admin.delete(B + "/plan/VAR-P/variables/zone", headers=J).status_code == 404


@pytest.mark.parametrize("body", [{"name": "bad name", "value": "x"}, {"name": "", "value": "x"},
                                  {"name": "ok", "value": ""}, {"name": "ok", "value": "   "}, {"value": "x"},
                                  {"name": "ok", "value": 5}, {"name": "x" * 300, "value": "v"}])
def test_bad_plan_variables(admin: httpx.Client, imported: None, body: dict) -> None:
    before = _plan_vars(admin)
    r = admin.post(B + "/plan/VAR-P/variables", json=body, headers=J)
    assert r.status_code == 400 and r.json()["errors"] and r.json()["fieldErrors"] == {}
    assert admin.put(B + "/plan/VAR-P/variables/target", json={**body, "name": "target"},
                     headers=J).status_code in (200, 400)
    assert admin.put(B + "/plan/VAR-P/variables/target", json={"value": "mars"}).status_code == 200
    assert _plan_vars(admin) == before


def test_bad_bodies_and_unknowns(admin: httpx.Client, imported: None) -> None:
    before = _plan_vars(admin)
    for raw, ctype in ((b"{", "application/json"), (b"[1,2]", "application/json"),
                       (b"<variable", "application/xml"),
                       (b'<!DOCTYPE x [<!ENTITY a "b">]><variable name="e" value="&a;"/>', "application/xml")):
        r = admin.post(B + "/plan/VAR-P/variables", content=raw, headers={**J, "Content-Type": ctype})
        assert r.status_code == 400, raw
    r = admin.put(B + "/plan/VAR-P/variables/target", json={"name": "other", "value": "x"}, headers=J)
    assert r.status_code == 400
    assert admin.get(B + "/plan/VAR-NOPE/variables", headers=J).status_code == 404
    assert admin.post(B + "/plan/VAR-NOPE/variables", json={"name": "a", "value": "b"}, headers=J).status_code == 404
    assert _plan_vars(admin) == before


def test_project_variables(admin: httpx.Client, imported: None) -> None:
    r = admin.post(B + "/project/VAR/variable", json={"name": "owner", "value": "team-a"}, headers=J)
    assert r.status_code == 201
    assert r.json() == {"key": "owner", "value": "team-a", "variableType": "PROJECT", "isPassword": False}
    r = admin.post(B + "/project/VAR/variable", json={"name": "owner", "value": "team-b"}, headers=J)
    assert r.status_code == 200 and r.json()["value"] == "team-b"
    r = admin.post(B + "/project/VAR/variable", json={"name": "api.secret", "value": "s3"}, headers=J)
    assert r.json()["isPassword"] is True and r.json()["value"] == "********"
    listed = admin.get(B + "/project/VAR/variables", headers=J).json()
    assert listed == [{"name": "api.secret", "value": "********"}, {"name": "owner", "value": "team-b"}]
    assert admin.get(B + "/project/VAR/variable/owner", headers=J).json()["value"] == "team-b"
    assert admin.post(B + "/project/VAR/variable", json={"name": "x y", "value": "1"}, headers=J).status_code == 400
    assert admin.delete(B + "/project/VAR/variable/owner").status_code == 204
    assert admin.get(B + "/project/VAR/variable/owner", headers=J).status_code == 404
    assert admin.get(B + "/project/NOPE/variables", headers=J).status_code == 404


def test_global_variables(server: LiveServer, admin: httpx.Client, imported: None) -> None:
    r = admin.post(G, json={"name": "company", "value": "acme"}, headers=J)
    assert r.status_code == 201
    created = r.json()
    assert created["name"] == "company" and created["value"] == "acme" and isinstance(created["id"], int)
    assert admin.post(G, json={"name": "company", "value": "x"}, headers=J).status_code == 400
    assert admin.post(G, json={"name": "ok", "value": ""}, headers=J).status_code == 400
    secret = admin.post(G, json={"name": "deploy.passphrase", "value": "p"}, headers=J).json()
    assert secret["value"] == "********" and secret["encrypted"] is True
    listed = admin.get(G, headers=J).json()
    assert [(v["name"], v["value"]) for v in listed] == [("company", "acme"), ("deploy.passphrase", "********")]
    root = ET.fromstring(admin.get("/bamboo/rest/admin/1.0/globalVariables").content)
    assert [e.find("name").text for e in root.findall("globalVariable")] == ["company", "deploy.passphrase"]
    r = admin.put(f"{G}/{created['id']}", json={"name": "company", "value": "acme2"}, headers=J)
    assert r.status_code == 200 and r.json()["value"] == "acme2"
    assert admin.get(f"{G}/{created['id']}", headers=J).json()["value"] == "acme2"
    assert admin.get(f"{G}/999999", headers=J).status_code == 404
    assert admin.get(f"{G}/abc", headers=J).status_code == 404
    bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
    assert {v["name"] for v in bamboo.get_global_variables()} == {"company", "deploy.passphrase"}
    made = bamboo.create_global_variable({"name": "via.client", "value": "1"})
    bamboo.update_global_variable(made["id"], {"name": "via.client", "value": "2"})
    assert bamboo.get_global_variable(made["id"])["value"] == "2"
    bamboo.delete_global_variable(made["id"])
    assert admin.delete(f"{G}/{secret['id']}").status_code == 204
    assert [v["name"] for v in admin.get(G, headers=J).json()] == ["company"]


def test_python_client_plan_variables(server: LiveServer, imported: None) -> None:
    bamboo = Bamboo(server.url + "/bamboo", username=ADMIN[0], password=ADMIN[1])
    bamboo.create_plan_variable("VAR-P", {"name": "client", "value": "c1"})
    assert bamboo.get_plan_variable("VAR-P", "client") == {"name": "client", "value": "c1"}
    bamboo.update_plan_variable("VAR-P", "client", {"name": "client", "value": "c2"})
    assert {"name": "client", "value": "c2"} in bamboo.get_plan_variables("VAR-P")
    bamboo.delete_plan_variable("VAR-P", "client")
    assert "client" not in {v["name"] for v in bamboo.get_plan_variables("VAR-P")}


def test_permissions(server: LiveServer, admin: httpx.Client, imported: None) -> None:
    before = (_plan_vars(admin), admin.get(G, headers=J).json())
    with validating_client(server, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.get(B + "/plan/VAR-P/variables", headers=J).status_code == 200
        for call in (lambda: bob.post(B + "/plan/VAR-P/variables", json={"name": "a", "value": "b"}, headers=J),
                     lambda: bob.put(B + "/plan/VAR-P/variables/target", json={"value": "b"}, headers=J),
                     lambda: bob.delete(B + "/plan/VAR-P/variables/target", headers=J),
                     lambda: bob.post(B + "/project/VAR/variable", json={"name": "a", "value": "b"}, headers=J),
                     lambda: bob.get(G, headers=J),
                     lambda: bob.post(G, json={"name": "a", "value": "b"}, headers=J)):
            r = call()
            assert r.status_code in (401, 403) and r.json()["errors"]
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get(B + "/plan/VAR-P/variables", headers=J).status_code == 401
        assert anon.get(G, headers=J).status_code == 401
    assert (_plan_vars(admin), admin.get(G, headers=J).json()) == before


def test_reimport_rewrites_plan_variables(admin: httpx.Client, imported: None) -> None:
    assert admin.post(B + "/import/plan", content=SPECS.replace("mars", "venus"), headers=J).status_code == 200
    assert _plan_vars(admin) == {"db.password": "********", "target": "venus"}
