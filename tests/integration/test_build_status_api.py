"""Build statuses: the legacy `/rest/build-status` API (commit only: store, replace by key, list with
orderBy and paging, stats for one and many commits) and the repository-scoped `{R}/commits/{id}/builds`
(store, get, delete by key; the commit must exist in the repository); atlassian-python-api's
`get_associated_build_statuses`; every bad input answers a clean 4xx in Bitbucket's shape and stores nothing."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from atlassian import Bitbucket

from support import ADMIN, USER_PASSWORD, LiveServer, create_user, grant_repo, pushed_repo

KEY = "BS"
SLUG = "built"
LEGACY = "/rest/build-status/latest/commits"
LEGACY_1 = "/rest/build-status/1.0/commits"
R = f"/rest/api/latest/projects/{KEY}/repos/{SLUG}"
UNKNOWN = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Built:
    c1: str
    c2: str


@pytest.fixture(scope="module")
def built(server: LiveServer, admin, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return Built(*pushed_repo(server, admin, KEY, SLUG, tmp_path_factory.mktemp("built"),
                             [("a.txt", "one\n"), ("b.txt", "two\n")]))


@pytest.fixture(scope="module")
def reader(server: LiveServer, built: Built) -> httpx.Client:
    create_user(server, "reader", "outsider")
    grant_repo(server, KEY, SLUG, "reader", "REPO_READ")
    with server.client(auth=("reader", USER_PASSWORD)) as c:
        yield c


def err(r: httpx.Response) -> tuple[int, str]:
    body = r.json()
    assert set(body) == {"errors"} and body["errors"][0]["message"], body
    return r.status_code, body["errors"][0]["exceptionName"].rsplit(".", 1)[-1]


def status(key: str, state: str = "SUCCESSFUL", **extra: object) -> dict:
    return {"key": key, "state": state, "url": f"https://ci.example.com/{key}", **extra}


def keys(page: dict) -> list[str]:
    return [v["key"] for v in page["values"]]


def test_legacy_store_replace_list_and_client(server: LiveServer, admin, built: Built) -> None:
    c = "a" * 40
    assert admin.post(f"{LEGACY}/{c}", json=status("K1", "INPROGRESS", name="Unit", description="d")).status_code == 204
    assert admin.post(f"{LEGACY_1}/{c}", json=status("K2", "FAILED")).status_code == 204
    # same key on the same commit replaces
    assert admin.post(f"{LEGACY}/{c}", json=status("K1", "SUCCESSFUL", name="Unit 2")).status_code == 204
    page = admin.get(f"{LEGACY}/{c}").json()
    assert keys(page) == ["K1", "K2"] and page["isLastPage"] is True and page["size"] == 2
    first = page["values"][0]
    assert first["state"] == "SUCCESSFUL" and first["name"] == "Unit 2" and "description" not in first
    assert first["url"] == "https://ci.example.com/K1" and isinstance(first["dateAdded"], int)
    # upper-case ids are the same commit
    assert keys(admin.get(f"{LEGACY}/{c.upper()}").json()) == ["K1", "K2"]
    bb = Bitbucket(server.url, username=ADMIN[0], password=ADMIN[1])
    got = bb.get_associated_build_statuses(c)
    assert {v["key"]: v["state"] for v in got["values"]} == {"K1": "SUCCESSFUL", "K2": "FAILED"}


def test_legacy_order_and_paging(admin, built: Built) -> None:
    c = "b" * 40
    for i, state in enumerate(["SUCCESSFUL", "FAILED", "INPROGRESS", "CANCELLED", "UNKNOWN"]):
        r = admin.post(f"{LEGACY}/{c}", json=status(f"O{i}", state, lastUpdated=1_700_000_000_000 + i))
        assert r.status_code == 204
    assert keys(admin.get(f"{LEGACY}/{c}").json()) == ["O4", "O3", "O2", "O1", "O0"]
    assert keys(admin.get(f"{LEGACY}/{c}?orderBy=newest").json()) == ["O4", "O3", "O2", "O1", "O0"]
    assert keys(admin.get(f"{LEGACY}/{c}?orderBy=OLDEST").json()) == ["O0", "O1", "O2", "O3", "O4"]
    assert keys(admin.get(f"{LEGACY}/{c}?orderBy=STATUS").json()) == ["O1", "O2", "O3", "O4", "O0"]
    p1 = admin.get(f"{LEGACY}/{c}?limit=2").json()
    assert keys(p1) == ["O4", "O3"] and p1["isLastPage"] is False and p1["nextPageStart"] == 2
    p3 = admin.get(f"{LEGACY}/{c}?limit=2&start=4").json()
    assert keys(p3) == ["O0"] and p3["isLastPage"] is True
    assert admin.get(f"{LEGACY}/{c}?start=200").json()["values"] == []
    assert err(admin.get(f"{LEGACY}/{c}?orderBy=SIDEWAYS")) == (400, "ArgumentValidationException")
    assert err(admin.get(f"{LEGACY}/{c}?limit=x")) == (400, "ArgumentValidationException")
    assert err(admin.get(f"{LEGACY}/{c}?start=-1")) == (400, "ArgumentValidationException")


def test_legacy_stats(admin, built: Built) -> None:
    c, d, none = "c" * 40, "d" * 40, "e" * 40
    for i, state in enumerate(["SUCCESSFUL", "SUCCESSFUL", "FAILED", "INPROGRESS", "CANCELLED", "UNKNOWN"]):
        assert admin.post(f"{LEGACY}/{c}", json=status(f"S{i}", state)).status_code == 204
    assert admin.post(f"{LEGACY}/{d}", json=status("only", "FAILED")).status_code == 204
    assert admin.get(f"{LEGACY}/stats/{c}").json() == {"successful": 2, "failed": 1, "inProgress": 1,
                                                       "cancelled": 1, "unknown": 1}
    assert admin.get(f"{LEGACY}/stats/{none}").json() == {"successful": 0, "failed": 0, "inProgress": 0,
                                                          "cancelled": 0, "unknown": 0}
    unique = admin.get(f"{LEGACY}/stats/{d}?includeUnique=true").json()
    assert unique["failed"] == 1 and unique["results"][0]["key"] == "only"
    assert "results" not in admin.get(f"{LEGACY}/stats/{c}?includeUnique=true").json()
    many = admin.post(f"{LEGACY}/stats", json=[c, d, none]).json()
    assert set(many) == {c, d} and many[d]["failed"] == 1 and many[c]["successful"] == 2
    assert admin.post(f"{LEGACY}/stats", json=[]).json() == {}
    for bad in ({"a": 1}, [1, 2], ["short"], "nope"):
        assert err(admin.post(f"{LEGACY}/stats", json=bad)) == (400, "ArgumentValidationException")
    assert err(admin.post(f"{LEGACY}/stats", content=b"[", headers={"content-type": "application/json"}))[0] == 400
    assert err(admin.get(f"{LEGACY}/stats/abc")) == (400, "ArgumentValidationException")


@pytest.mark.parametrize(("body", "context"), [
    ({"key": "k", "url": "u"}, "state"),
    ({"key": "k", "url": "u", "state": "BOGUS"}, "state"),
    ({"key": "k", "url": "u", "state": 3}, "state"),
    ({"state": "FAILED", "url": "u"}, "key"),
    ({"state": "FAILED", "url": "u", "key": "  "}, "key"),
    ({"state": "FAILED", "url": "u", "key": ["k"]}, "key"),
    ({"state": "FAILED", "key": "k"}, "url"),
    ({"state": "FAILED", "key": "k" * 256, "url": "u"}, "key"),
    ({"state": "FAILED", "key": "k", "url": "u" * 451}, "url"),
    ({"state": "FAILED", "key": "k", "url": "u", "name": "n" * 256}, "name"),
    ({"state": "FAILED", "key": "k", "url": "u", "description": "d" * 256}, "description"),
    ({"state": "FAILED", "key": "k\x00", "url": "u"}, "key"),
])
def test_legacy_bad_bodies_store_nothing(admin, built: Built, body: dict, context: str) -> None:
    c = "f" * 40
    r = admin.post(f"{LEGACY}/{c}", json=body)
    assert err(r) == (400, "ArgumentValidationException")
    assert r.json()["errors"][0]["context"] == context
    assert admin.get(f"{LEGACY}/stats/{c}").json()["failed"] == 0


def test_legacy_bad_commit_and_access(server: LiveServer, admin, reader, built: Built) -> None:
    for bad in ("abc1234", "g" * 40, "a" * 39, "a" * 41, "-" + "a" * 39):
        assert err(admin.post(f"{LEGACY}/{bad}", json=status("X"))) == (400, "ArgumentValidationException")
        assert err(admin.get(f"{LEGACY}/{bad}")) == (400, "ArgumentValidationException")
    assert err(admin.post(f"{LEGACY}/{'1' * 40}", content=b"{", headers={"content-type": "application/json"})) \
        == (400, "ArgumentValidationException")
    with server.client(auth=None) as anon:
        assert anon.get(f"{LEGACY}/{'1' * 40}").status_code == 401
        assert anon.post(f"{LEGACY}/{'1' * 40}", json=status("X")).status_code == 401
        assert anon.get(f"{LEGACY}/stats/{'1' * 40}").status_code == 401
    # any licensed user may post (legacy statuses are not tied to a repository)
    assert reader.post(f"{LEGACY}/{'1' * 40}", json=status("X")).status_code == 204


def test_repo_builds_store_get_replace(admin, built: Built) -> None:
    body = status("B1", "INPROGRESS", name="Matrix", description="long " * 100, buildNumber="7", parent="PLAN",
                  ref="refs/heads/main", duration=1500, testResults={"successful": 3, "failed": 1, "skipped": 2})
    assert admin.post(f"{R}/commits/{built.c1}/builds", json=body).status_code == 204
    got = admin.get(f"{R}/commits/{built.c1}/builds", params={"key": "B1"}).json()
    assert got["state"] == "INPROGRESS" and got["buildNumber"] == "7" and got["parent"] == "PLAN"
    assert got["ref"] == "refs/heads/main" and got["duration"] == 1500
    assert got["testResults"] == {"successful": 3, "failed": 1, "skipped": 2}
    created = got["createdDate"]
    assert admin.post(f"{R}/commits/{built.c1}/builds",
                      json=status("B1", "SUCCESSFUL", lastUpdated=1_800_000_000_000)).status_code == 204
    again = admin.get(f"{R}/commits/{built.c1}/builds", params={"key": "B1"}).json()
    assert again["state"] == "SUCCESSFUL" and "buildNumber" not in again and "testResults" not in again
    assert again["createdDate"] == created and again["updatedDate"] == 1_800_000_000_000
    # the legacy reads see repository statuses too
    assert keys(admin.get(f"{LEGACY}/{built.c1}").json()) == ["B1"]
    assert admin.get(f"{LEGACY}/stats/{built.c1}").json()["successful"] == 1
    # the full id in any case; an unknown key is a 404
    assert admin.get(f"{R}/commits/{built.c1.upper()}/builds", params={"key": "B1"}).status_code == 200
    assert err(admin.get(f"{R}/commits/{built.c1}/builds", params={"key": "nope"})) == (404,
                                                                                       "NoSuchBuildStatusException")
    assert err(admin.get(f"{R}/commits/{built.c1}/builds")) == (400, "ArgumentValidationException")


def test_repo_builds_bad_input_store_nothing(admin, built: Built) -> None:
    url = f"{R}/commits/{built.c2}/builds"
    bad_bodies = [
        {"key": "k", "url": "u", "state": "DONE"},
        {"key": "k", "url": "u"},
        {"state": "FAILED", "url": "u"},
        {"state": "FAILED", "key": "k"},
        {"state": "FAILED", "key": "k" * 256, "url": "u"},
        {"state": "FAILED", "key": "k", "url": "u" * 451},
        {"state": "FAILED", "key": "k", "url": "u", "ref": "main"},
        {"state": "FAILED", "key": "k", "url": "u", "ref": "refs/heads/a..b"},
        {"state": "FAILED", "key": "k", "url": "u", "parent": "p" * 1025},
        {"state": "FAILED", "key": "k", "url": "u", "buildNumber": "1" * 256},
        {"state": "FAILED", "key": "k", "url": "u", "duration": -1},
        {"state": "FAILED", "key": "k", "url": "u", "duration": "soon"},
        {"state": "FAILED", "key": "k", "url": "u", "lastUpdated": True},
        {"state": "FAILED", "key": "k", "url": "u", "testResults": [1]},
        {"state": "FAILED", "key": "k", "url": "u", "testResults": {"failed": -2}},
    ]
    for body in bad_bodies:
        assert err(admin.post(url, json=body)) == (400, "ArgumentValidationException"), body
    assert admin.get(url, params={"key": "k"}).status_code == 404
    good = status("k")
    for bad in ("abc1234", "z" * 40, "a" * 41):
        assert err(admin.post(f"{R}/commits/{bad}/builds", json=good)) == (400, "ArgumentValidationException")
    assert err(admin.post(f"{R}/commits/{UNKNOWN}/builds", json=good)) == (404, "NoSuchCommitException")
    assert err(admin.get(f"{R}/commits/{UNKNOWN}/builds", params={"key": "k"})) == (404, "NoSuchCommitException")
    missing = f"/rest/api/latest/projects/{KEY}/repos/nope/commits/{built.c2}/builds"
    assert err(admin.post(missing, json=good)) == (404, "NoSuchRepositoryException")
    assert admin.get(f"{LEGACY}/stats/{UNKNOWN}").json()["successful"] == 0


def test_repo_builds_permissions_and_delete(server: LiveServer, admin, reader, built: Built) -> None:
    url = f"{R}/commits/{built.c2}/builds"
    assert reader.post(url, json=status("R1", "FAILED")).status_code == 204  # REPO_READ may post
    assert reader.get(url, params={"key": "R1"}).json()["state"] == "FAILED"
    assert err(reader.delete(url, params={"key": "R1"})) == (401, "AuthorisationException")
    assert reader.get(url, params={"key": "R1"}).status_code == 200
    with server.client(auth=("outsider", USER_PASSWORD)) as outsider:
        assert err(outsider.post(url, json=status("O1"))) == (401, "AuthorisationException")
        assert err(outsider.get(url, params={"key": "R1"})) == (401, "AuthorisationException")
    assert err(admin.delete(url)) == (400, "ArgumentValidationException")
    assert admin.delete(url, params={"key": "R1"}).status_code == 204
    assert admin.get(url, params={"key": "R1"}).status_code == 404
    assert admin.delete(url, params={"key": "R1"}).status_code == 204  # already gone


def test_concurrent_posts_of_one_key_keep_one_status(server: LiveServer, built: Built) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url = f"{R}/commits/{built.c2}/builds"

    def post(i: int) -> int:
        with server.client() as c:
            return c.post(url, json=status("RACE", "SUCCESSFUL" if i % 2 else "FAILED", name=f"n{i}")).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert set(pool.map(post, range(8))) == {204}
    with server.client() as c:
        page = c.get(f"{LEGACY}/{built.c2}", params={"limit": 100}).json()
    assert [v["key"] for v in page["values"]].count("RACE") == 1


def test_public_repository_anonymous_reads_but_does_not_post(server: LiveServer, admin, built: Built) -> None:
    url = f"{R}/commits/{built.c1}/builds"
    assert admin.put(R, json={"public": True}).status_code == 201
    try:
        with server.client(auth=None) as anon:
            assert anon.get(url, params={"key": "B1"}).status_code == 200
            assert err(anon.post(url, json=status("ANON"))) == (401, "AuthenticationRequiredException")
            dep = f"{R}/commits/{built.c1}/deployments"
            assert err(anon.post(dep, json={"key": "k"})) == (401, "AuthenticationRequiredException")
        assert admin.get(url, params={"key": "ANON"}).status_code == 404
    finally:
        assert admin.put(R, json={"public": False}).status_code == 201
