"""Bamboo REST (issue rest2, slice 4): commit author search, preparing the server for a restart (ready once no
job runs; no new job starts meanwhile), plan favicons coloured by the latest build, and plan dependency
search (empty: culm has no plan dependencies)."""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Iterator
from xml.etree import ElementTree as ET

import httpx
import pytest
from bamboo_build_support import claim_one, finish, run_jobs

from support import ADMIN, USER_PASSWORD, LiveServer, create_user, live_server, server_db, validating_client

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}
SPECS = "version: 2\nplan: {project-key: SRC, key: %s, name: %s}\nstages: [{S: [J]}]\nJ: {key: JOB, tasks: [clean]}\n"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server({"CULM_LOCAL_AGENTS": "0", "CULM_BAMBOO_TRIGGERS": "0", "CULM_REAPER_INTERVAL": "0.2"}) as s:
        create_user(s, "bob")
        yield s
        log = (s.home / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]


@pytest.fixture(scope="module")
def plans(admin: httpx.Client) -> list[str]:
    for key in ("ONE", "TWO"):
        assert admin.post(B + "/import/plan", content=SPECS % (key, key.title()), headers=J).status_code == 200
    return ["SRC-ONE", "SRC-TWO"]


def _center_pixel(png: bytes) -> tuple[int, int, int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    pos, data = 8, b""
    while pos < len(png):
        length = struct.unpack(">I", png[pos:pos + 4])[0]
        kind = png[pos + 4:pos + 8]
        if kind == b"IDAT":
            data += png[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(data)
    stride = 1 + width * 4
    row = raw[(height // 2) * stride:(height // 2 + 1) * stride]
    x = width // 2
    return tuple(row[1 + x * 4:1 + x * 4 + 4])  # type: ignore[return-value]


def test_search_authors(server: LiveServer, admin: httpx.Client, plans: list[str]) -> None:
    import culm.domain.models  # noqa: F401
    from culm.domain.bamboo import service
    from culm.domain.bamboo.models import BambooResult

    with server_db(server) as session:
        _, plan = service.plan(session, "SRC-ONE")  # type: ignore[arg-type]
        session.add(BambooResult(plan_id=plan.id, number=100, life_cycle="Finished", state="Successful",  # type: ignore[attr-defined]
                                 changes=[{"id": "a" * 40, "author": "Alice Liddell", "email": "alice@wonder.land",
                                           "message": "m", "date": 0, "files": []},
                                          {"id": "b" * 40, "author": "Bob", "email": "bob@example.com",
                                           "message": "m", "date": 0, "files": []}]))
    data = admin.get(B + "/search/authors", params={"searchTerm": "lid"}, headers=J).json()
    assert data["size"] == 1
    assert data["searchResults"][0] == {"id": "Alice Liddell", "type": "author",
                                        "searchEntity": {"id": "Alice Liddell", "authorName": "Alice Liddell",
                                                         "fullName": "Alice Liddell", "email": "alice@wonder.land",
                                                         "linkedUserName": "", "type": "author"}}
    everyone = admin.get(B + "/search/authors", params={"searchTerm": ""}, headers=J).json()
    linked = {r["id"]: r["searchEntity"]["linkedUserName"] for r in everyone["searchResults"]}
    assert linked == {"Alice Liddell": "", "Bob": "bob"}
    unlinked = admin.get(B + "/search/authors", params={"searchTerm": "", "unlinkedOnly": "true"}, headers=J).json()
    assert [r["id"] for r in unlinked["searchResults"]] == ["Alice Liddell"]
    root = ET.fromstring(admin.get(B + "/search/authors", params={"searchTerm": "bo"}).content)
    assert root.get("size") == "1" and root.find("searchResults").get("id") == "Bob"
    assert admin.get(B + "/search/authors", headers=J).status_code == 400
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get(B + "/search/authors", params={"searchTerm": "a"}).status_code == 401


def test_dependency_search(admin: httpx.Client, plans: list[str]) -> None:
    for direction in ("child", "parent"):
        data = admin.get(f"{B}/dependency/search/SRC-ONE/{direction}", params={"searchTerm": "T"}, headers=J).json()
        assert data["dependencies"] == {"size": 0, "expand": "plan", "start-index": 0, "max-result": 0, "plan": []}
        assert data["link"]["href"].endswith(f"/dependency/search/SRC-ONE/{direction}")
        root = ET.fromstring(admin.get(f"{B}/dependency/search/SRC-ONE/{direction}", params={"searchTerm": ""}).content)
        assert root.tag == "dependencies" and root.find("dependencies").get("size") == "0"
        assert admin.get(f"{B}/dependency/search/SRC-ONE/{direction}", headers=J).status_code == 400
        assert admin.get(f"{B}/dependency/search/SRC-NOPE/{direction}", params={"searchTerm": "x"},
                         headers=J).status_code == 404


def test_favicon_follows_the_latest_build(server: LiveServer, admin: httpx.Client, plans: list[str]) -> None:
    data = admin.get(B + "/plan/favicon/SRC-TWO", headers=J).json()
    assert data["faviconType"] == "image/png" and "/bamboo/plan-favicon/SRC-TWO.png" in data["faviconUrl"]
    assert ET.fromstring(admin.get(B + "/plan/favicon/SRC-TWO").content).find("faviconUrl").text == data["faviconUrl"]
    url = data["faviconUrl"].replace(server.url, "")
    image = admin.get(url)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert _center_pixel(image.content) == (0x99, 0x99, 0x99, 255)  # never built
    assert admin.post(B + "/queue/SRC-TWO", headers=J).status_code == 200
    assert _center_pixel(admin.get("/bamboo/plan-favicon/SRC-TWO.png").content)[:3] == (0x35, 0x72, 0xB0)
    run_jobs(server, {"JOB": {"successful": False}})
    assert _center_pixel(admin.get("/bamboo/plan-favicon/SRC-TWO.png").content)[:3] == (0xD0, 0x44, 0x37)
    assert "state=failed" in admin.get(B + "/plan/favicon/SRC-TWO", headers=J).json()["faviconUrl"]
    assert admin.post(B + "/queue/SRC-TWO", headers=J).status_code == 200
    run_jobs(server)
    assert _center_pixel(admin.get("/bamboo/plan-favicon/SRC-TWO.png").content)[:3] == (0x14, 0x89, 0x2C)
    assert admin.get(B + "/plan/favicon/SRC-NOPE", headers=J).status_code == 404
    assert admin.get("/bamboo/plan-favicon/SRC-NOPE.png").status_code == 404
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get("/bamboo/plan-favicon/SRC-TWO.png").status_code == 401
        assert anon.get(B + "/plan/favicon/SRC-TWO").status_code == 401


def _server_state(admin: httpx.Client) -> str:
    return admin.get(B + "/server", headers=J).json()["state"]


def test_prepare_for_restart(server: LiveServer, admin: httpx.Client, plans: list[str]) -> None:
    with validating_client(server, auth=("bob", USER_PASSWORD)) as bob:
        assert bob.put(B + "/server/prepareForRestart", headers=J).status_code in (401, 403)
    assert _server_state(admin) == "RUNNING"
    # Idle: ready at once.
    r = admin.put(B + "/server/prepareForRestart", headers=J)
    assert r.status_code == 200 and r.json() == {"state": "READY_FOR_RESTART", "setByUser": ADMIN[0],
                                                 "reindexInProgress": False}
    assert admin.post(B + "/server/resume", headers=J).json()["state"] == "RUNNING"

    # A job running: preparing until it ends; no other job starts meanwhile.
    assert admin.post(B + "/queue/SRC-ONE", headers=J).status_code == 200
    claimed = claim_one(server)
    assert claimed is not None
    assert admin.post(B + "/queue/SRC-TWO", headers=J).status_code == 200
    root = ET.fromstring(admin.put(B + "/server/prepareForRestart").content)
    assert root.find("state").text == "PREPARING_FOR_RESTART"
    assert _server_state(admin) == "PREPARING_FOR_RESTART"
    assert claim_one(server) is None
    finish(server, claimed[0], claimed[1], successful=True)
    deadline = time.monotonic() + 15
    while _server_state(admin) != "READY_FOR_RESTART":
        assert time.monotonic() < deadline, "the server never became ready for the restart"
        time.sleep(0.1)
    assert admin.get(B + "/status", headers=J).json()["status"] == "READY_FOR_RESTART"
    assert admin.post(B + "/server/resume", headers=J).json()["state"] == "RUNNING"
    assert claim_one(server) is not None  # the queued build starts after the resume
