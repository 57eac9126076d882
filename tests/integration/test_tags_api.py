"""Tags: `GET/POST {R}/tags`, `GET {R}/tags/{name}`, the git plugin's create (ANNOTATED/LIGHTWEIGHT,
force) and delete, against real repositories pushed over HTTP; atlassian-python-api; outbox events;
what `git ls-remote` and a fresh clone see; bad input."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from atlassian import Bitbucket

from support import (
    ADMIN,
    USER_PASSWORD,
    LiveServer,
    create_repo,
    create_user,
    cred_url,
    git,
    grant_repo,
    refs_changed_events,
)

API = "/rest/api/latest"
KEY = "TG"
R = f"{API}/projects/{KEY}/repos/tagged"
G = f"/rest/git/latest/projects/{KEY}/repos/tagged/tags"
ZERO = "0" * 40


def commit(work: Path, name: str, when: int) -> str:
    (work / name).write_text(f"{name}\n")
    git("add", "--", name, cwd=work)
    date = f"{when} +0000"
    git("commit", "-q", "-m", f"add {name}", cwd=work, env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


@dataclass
class Tagged:
    id: int
    url: str
    c1: str
    c2: str
    annotated: str  # the tag object of v1.0


@pytest.fixture(scope="module")
def tagged(server: LiveServer, admin, tmp_path_factory: pytest.TempPathFactory) -> Tagged:
    repo = create_repo(admin, KEY, "tagged")
    url = cred_url(server, f"/scm/{KEY}/tagged.git", *ADMIN)
    work = tmp_path_factory.mktemp("tagged")
    git("init", "-q", "-b", "main", str(work))
    c1 = commit(work, "one", 1_600_000_000)
    c2 = commit(work, "two", 1_600_000_100)
    env = {"GIT_COMMITTER_DATE": "1600000500 +0000"}
    git("tag", "-a", "v1.0", "-m", "release one", c1, cwd=work, env=env)
    git("tag", "light", c2, cwd=work)
    git("tag", "release/2.0", c2, cwd=work)
    git("tag", "-a", "tág", "-m", "accent", c2, cwd=work, env={"GIT_COMMITTER_DATE": "1600000300 +0000"})
    git("push", "-q", url, "main", "--tags", cwd=work)
    annotated = git("rev-parse", "v1.0", cwd=work).stdout.strip()
    return Tagged(repo["id"], url, c1, c2, annotated)


@pytest.fixture(scope="module")
def reader(server: LiveServer, tagged: Tagged) -> httpx.Client:
    create_user(server, "reader")
    grant_repo(server, KEY, "tagged", "reader", "REPO_READ")
    with server.client(auth=("reader", USER_PASSWORD)) as c:
        yield c


def names(body: dict) -> list[str]:
    return [t["displayId"] for t in body["values"]]


def err(r: httpx.Response) -> tuple[int, str, str]:
    e = r.json()["errors"][0]
    return r.status_code, e["exceptionName"].rsplit(".", 1)[-1], e["message"]


def remote_tags(url: str) -> dict[str, str]:
    out = git("ls-remote", "--tags", url).stdout
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}


def changes_since(server: LiveServer, repo_id: int, after: int) -> list[tuple[str, str, str, str]]:
    return [(c["refId"], c["type"], c["fromHash"], c["toHash"])
            for e in refs_changed_events(server, repo_id) if e["id"] > after for c in e["changes"]]


def last_event_id(server: LiveServer, repo_id: int) -> int:
    events = refs_changed_events(server, repo_id)
    return events[-1]["id"] if events else 0


def test_list_shapes_orders_filter_paging(admin, tagged: Tagged) -> None:
    body = admin.get(f"{R}/tags", params={"orderBy": "ALPHABETICAL"}).json()
    assert names(body) == ["light", "release/2.0", "tág", "v1.0"]
    by = {t["displayId"]: t for t in body["values"]}
    assert by["v1.0"] == {"id": "refs/tags/v1.0", "displayId": "v1.0", "type": "TAG", "latestCommit": tagged.c1,
                          "latestChangeset": tagged.c1, "hash": tagged.annotated}
    assert by["light"] == {"id": "refs/tags/light", "displayId": "light", "type": "TAG",
                           "latestCommit": tagged.c2, "latestChangeset": tagged.c2, "hash": None}
    # MODIFICATION (the default): newest first by tagger date, or commit date for lightweight tags.
    assert names(admin.get(f"{R}/tags").json()) == ["v1.0", "tág", "light", "release/2.0"]
    assert names(admin.get(f"{R}/tags", params={"orderBy": "modification"}).json())[0] == "v1.0"
    assert names(admin.get(f"{R}/tags", params={"filterText": "TÁG"}).json()) == ["tág"]
    assert names(admin.get(f"{R}/tags", params={"filterText": "e", "orderBy": "ALPHABETICAL"}).json()) == [
        "release/2.0"]
    page = admin.get(f"{R}/tags", params={"orderBy": "ALPHABETICAL", "limit": 3}).json()
    assert page["size"] == 3 and page["isLastPage"] is False and page["nextPageStart"] == 3
    rest = admin.get(f"{R}/tags", params={"orderBy": "ALPHABETICAL", "limit": 3, "start": 3}).json()
    assert names(rest) == ["v1.0"] and rest["isLastPage"] is True
    for params in ({"orderBy": "NAME"}, {"limit": "many"}, {"start": "-2"}):
        assert admin.get(f"{R}/tags", params=params).status_code == 400, params


def test_get_one_tag(admin, tagged: Tagged) -> None:
    assert admin.get(f"{R}/tags/v1.0").json()["hash"] == tagged.annotated
    assert admin.get(f"{R}/tags/release/2.0").json()["id"] == "refs/tags/release/2.0"
    assert admin.get(f"{R}/tags/refs/tags/light").json()["latestCommit"] == tagged.c2
    assert admin.get(f"{R}/tags/t%C3%A1g").json()["displayId"] == "tág"
    r = admin.get(f"{R}/tags/v9")
    assert err(r) == (404, "NoSuchTagException", "Tag 'v9' does not exist in repository 'tagged'.")
    for bad in ("release", "a..b", "-x", "v1.0/more", "%00"):
        assert admin.get(f"{R}/tags/{bad}").status_code == 404, bad
    assert admin.get(f"{API}/projects/{KEY}/repos/ghost/tags/v1.0").status_code == 404


def test_create_lightweight_and_annotated(server: LiveServer, admin, tagged: Tagged, tmp_path: Path) -> None:
    mark = last_event_id(server, tagged.id)
    r = admin.post(f"{R}/tags", json={"name": "api-light", "startPoint": "main"})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": "refs/tags/api-light", "displayId": "api-light", "type": "TAG",
                        "latestCommit": tagged.c2, "latestChangeset": tagged.c2, "hash": None}
    r = admin.post(f"{R}/tags", json={"name": "api/annotated", "startPoint": tagged.c1[:9], "message": "Notes\n"})
    assert r.status_code == 200, r.text
    annotated = r.json()
    assert annotated["latestCommit"] == tagged.c1 and annotated["hash"] not in (None, tagged.c1)
    r = admin.post(G, json={"name": "git-ann", "startPoint": "refs/tags/light", "type": "ANNOTATED",
                            "message": "from the git API"})
    assert r.status_code == 201 and r.json()["latestCommit"] == tagged.c2 and r.json()["hash"]
    git_ann = r.json()["hash"]
    r = admin.post(G, json={"name": "git-light", "startPoint": "v1.0", "type": "lightweight", "force": "false"})
    assert r.status_code == 201 and r.json()["hash"] is None and r.json()["latestCommit"] == tagged.c1

    assert changes_since(server, tagged.id, mark) == [
        ("refs/tags/api-light", "ADD", ZERO, tagged.c2),
        ("refs/tags/api/annotated", "ADD", ZERO, annotated["hash"]),
        ("refs/tags/git-ann", "ADD", ZERO, git_ann),
        ("refs/tags/git-light", "ADD", ZERO, tagged.c1),
    ]
    seen = remote_tags(tagged.url)
    assert seen["refs/tags/api/annotated"] == annotated["hash"]
    assert seen["refs/tags/api/annotated^{}"] == tagged.c1
    assert seen["refs/tags/api-light"] == tagged.c2

    clone = tmp_path / "clone"
    git("clone", "-q", tagged.url, str(clone))
    assert git("cat-file", "-t", "api/annotated", cwd=clone).stdout.strip() == "tag"
    raw = git("cat-file", "tag", "api/annotated", cwd=clone).stdout
    assert f"object {tagged.c1}\ntype commit\ntag api/annotated\n" in raw
    assert "\ntagger Administrator <admin@localhost> " in raw
    assert raw.rstrip().endswith("Notes")
    assert git("fsck", "--no-dangling", cwd=clone).returncode == 0
    assert git("rev-parse", "git-light^{commit}", cwd=clone).stdout.strip() == tagged.c1


def test_tagger_is_the_acting_user(server: LiveServer, admin, tagged: Tagged, tmp_path: Path) -> None:
    create_user(server, "tagger")
    grant_repo(server, KEY, "tagged", "tagger", "REPO_WRITE")
    with server.client(auth=("tagger", USER_PASSWORD)) as c:
        r = c.post(G, json={"name": "by-tagger", "startPoint": "main", "type": "ANNOTATED", "message": "m"})
    assert r.status_code == 201, r.text
    clone = tmp_path / "c"
    git("clone", "-q", "--no-checkout", tagged.url, str(clone))
    raw = git("cat-file", "tag", "by-tagger", cwd=clone).stdout
    assert "\ntagger Tagger <tagger@example.com> " in raw
    events = refs_changed_events(server, tagged.id)
    assert events[-1]["changes"][0]["refId"] == "refs/tags/by-tagger"
    assert events[-1]["actor_id"] is not None and events[-1]["actor_id"] == events[-1]["actorId"]


def test_duplicates_force_and_refusals(server: LiveServer, admin, tagged: Tagged) -> None:
    admin.post(G, json={"name": "movable", "startPoint": tagged.c1, "type": "LIGHTWEIGHT"})
    mark = last_event_id(server, tagged.id)
    r = admin.post(G, json={"name": "movable", "startPoint": tagged.c2, "type": "LIGHTWEIGHT"})
    assert err(r) == (400, "DuplicateRefException", "Tag 'movable' already exists in repository 'tagged'")
    assert err(admin.post(f"{R}/tags", json={"name": "v1.0", "startPoint": "main"}))[:2] == (
        400, "DuplicateRefException")
    for bad in ("a..b", "-x", "has space", "nul\x00", "x.lock", "HEAD", "a^b", "", None, 3):
        r = admin.post(G, json={"name": bad, "startPoint": "main", "type": "LIGHTWEIGHT"})
        assert r.status_code == 400 and r.json()["errors"][0]["context"] == "name", bad
        assert admin.post(f"{R}/tags", json={"name": bad, "startPoint": "main"}).status_code == 400, bad
    r = admin.post(G, json={"name": "t", "startPoint": "nope", "type": "LIGHTWEIGHT"})
    assert r.status_code == 400 and r.json()["errors"][0]["context"] == "startPoint"
    assert err(admin.post(f"{R}/tags", json={"name": "t", "startPoint": "nope"}))[:2] == (404, "NoSuchCommitException")
    for body in ({"name": "t", "startPoint": "main", "type": "HEAVY"},
                 {"name": "t", "startPoint": "main", "force": "perhaps"},
                 {"name": "t", "startPoint": "main", "message": 5},
                 {"name": "t", "startPoint": "main", "type": 1},
                 {"name": "t"}, {"name": "t", "startPoint": "-main"}, {"name": "t", "startPoint": "main~1"}):
        assert admin.post(G, json=body).status_code == 400, body
    assert admin.post(G, json={"name": "release/2.0/x", "startPoint": "main"}).status_code == 409
    assert changes_since(server, tagged.id, mark) == []

    # force moves an existing tag, as one compare-and-swap; forcing it onto itself changes nothing.
    r = admin.post(G, json={"name": "movable", "startPoint": tagged.c2, "type": "LIGHTWEIGHT", "force": True})
    assert r.status_code == 201 and r.json()["latestCommit"] == tagged.c2
    assert admin.post(G, json={"name": "movable", "startPoint": tagged.c2, "force": "true"}).status_code == 201
    r = admin.post(G, json={"name": "movable", "startPoint": tagged.c1, "type": "ANNOTATED", "message": "now",
                            "force": True})
    assert r.status_code == 201 and r.json()["hash"] and r.json()["latestCommit"] == tagged.c1
    assert changes_since(server, tagged.id, mark) == [
        ("refs/tags/movable", "UPDATE", tagged.c1, tagged.c2),
        ("refs/tags/movable", "UPDATE", tagged.c2, r.json()["hash"]),
    ]
    assert remote_tags(tagged.url)["refs/tags/movable^{}"] == tagged.c1


def test_delete(server: LiveServer, admin, tagged: Tagged) -> None:
    if admin.get(f"{R}/tags/api-light").status_code == 404:  # made by test_create_... unless run alone
        admin.post(f"{R}/tags", json={"name": "api-light", "startPoint": "main"})
    admin.post(G, json={"name": "gone/soon", "startPoint": "main", "type": "ANNOTATED", "message": "x"})
    hash_ = admin.get(f"{R}/tags/gone/soon").json()["hash"]
    mark = last_event_id(server, tagged.id)
    assert admin.delete(f"{G}/gone/soon").status_code == 204
    assert admin.get(f"{R}/tags/gone/soon").status_code == 404
    r = admin.delete(f"{G}/gone/soon")
    assert err(r) == (404, "NoSuchTagException", "Tag 'gone/soon' does not exist in repository 'tagged'.")
    for bad in ("a..b", "-x", "nothing"):
        assert admin.delete(f"{G}/{bad}").status_code == 404, bad
    assert admin.delete(f"/rest/git/1.0/projects/{KEY}/repos/tagged/tags/refs/tags/api-light").status_code == 204
    assert changes_since(server, tagged.id, mark) == [
        ("refs/tags/gone/soon", "DELETE", hash_, ZERO),
        ("refs/tags/api-light", "DELETE", tagged.c2, ZERO),
    ]
    seen = remote_tags(tagged.url)
    assert "refs/tags/gone/soon" not in seen and "refs/tags/api-light" not in seen


def test_empty_repository(admin) -> None:
    create_repo(admin, KEY, "bare")
    base = f"{API}/projects/{KEY}/repos/bare"
    assert admin.get(f"{base}/tags").json() == {"size": 0, "limit": 25, "isLastPage": True, "values": [],
                                                 "start": 0}
    assert admin.get(f"{base}/tags/v1").status_code == 404
    r = admin.delete(f"/rest/git/latest/projects/{KEY}/repos/bare/tags/v1")
    assert r.status_code == 400
    assert admin.post(f"{base}/tags", json={"name": "v1", "startPoint": "main"}).status_code == 404


def test_reader_may_read_but_not_write(server: LiveServer, reader: httpx.Client, tagged: Tagged) -> None:
    mark = last_event_id(server, tagged.id)
    assert reader.get(f"{R}/tags").status_code == 200
    assert reader.get(f"{R}/tags/v1.0").status_code == 200
    for method, url, body in (("POST", f"{R}/tags", {"name": "r", "startPoint": "main"}),
                              ("POST", G, {"name": "r", "startPoint": "main", "type": "LIGHTWEIGHT"}),
                              ("DELETE", f"{G}/v1.0", None)):
        r = reader.request(method, url, json=body)
        assert err(r)[:2] == (401, "AuthorisationException"), (method, url)
    with server.client(auth=None) as anon:
        assert anon.get(f"{R}/tags").status_code == 401
        assert anon.delete(f"{G}/v1.0").status_code == 401
    assert changes_since(server, tagged.id, mark) == []
    assert "refs/tags/v1.0" in remote_tags(tagged.url)


def test_atlassian_python_api(server: LiveServer, tagged: Tagged) -> None:
    bb = Bitbucket(server.url, username=ADMIN[0], password=ADMIN[1])
    listed = [t["displayId"] for t in bb.get_tags(KEY, "tagged", order_by="ALPHABETICAL")]
    assert "v1.0" in listed and "release/2.0" in listed and listed == sorted(listed, key=lambda s: s.encode())
    assert [t["displayId"] for t in bb.get_tags(KEY, "tagged", filter="v1")] == ["v1.0"]
    assert bb.get_project_tags(KEY, "tagged", "v1.0")["hash"] == tagged.annotated
    mark = last_event_id(server, tagged.id)
    made = bb.set_tag(KEY, "tagged", "apa-1", tagged.c1, "made by apa")
    assert made["latestCommit"] == tagged.c1 and made["hash"]
    plain = bb.set_tag(KEY, "tagged", "apa-2", tagged.c2)
    assert plain["hash"] is None
    bb.delete_tag(KEY, "tagged", "apa-1")
    assert changes_since(server, tagged.id, mark) == [
        ("refs/tags/apa-1", "ADD", ZERO, made["hash"]),
        ("refs/tags/apa-2", "ADD", ZERO, tagged.c2),
        ("refs/tags/apa-1", "DELETE", made["hash"], ZERO),
    ]
    seen = remote_tags(tagged.url)
    assert "refs/tags/apa-1" not in seen and seen["refs/tags/apa-2"] == tagged.c2
