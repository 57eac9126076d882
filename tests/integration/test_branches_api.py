"""Branches: `GET/POST {R}/branches`, branch-utils create/delete/info, with real repositories pushed over
HTTP, atlassian-python-api, the outbox events of every change, and bad input of every kind."""

from __future__ import annotations

import subprocess
import time
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
KEY = "BR"
R = f"{API}/projects/{KEY}/repos/tree"
U = f"/rest/branch-utils/latest/projects/{KEY}/repos/tree/branches"
ZERO = "0" * 40
AHEAD_BEHIND = "com.atlassian.bitbucket.server.bitbucket-branch:ahead-behind-metadata-provider"
LATEST = "com.atlassian.bitbucket.server.bitbucket-branch:latest-commit-metadata"


def commit(work: Path, name: str, when: int) -> str:
    """A commit with a fixed date, so MODIFICATION order is known."""
    (work / name).write_text(f"{name} {when}\n")
    git("add", "--", name, cwd=work)
    date = f"{when} +0000"
    git("commit", "-q", "-m", f"add {name}", cwd=work, env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


@dataclass
class Tree:
    id: int
    url: str
    c1: str  # main~1: also on feature/a, release/1.0, a-fix
    c2: str  # main: also on fix, fix-ü
    c3: str  # feature/a only (newest)


@pytest.fixture(scope="module")
def tree(server: LiveServer, admin, tmp_path_factory: pytest.TempPathFactory) -> Tree:
    repo = create_repo(admin, KEY, "tree")
    url = cred_url(server, f"/scm/{KEY}/tree.git", *ADMIN)
    work = tmp_path_factory.mktemp("tree")
    git("init", "-q", "-b", "main", str(work))
    c1 = commit(work, "one", 1_600_000_000)
    c2 = commit(work, "two", 1_600_000_100)
    git("push", "-q", url, "main", f"{c1}:refs/heads/release/1.0", f"{c1}:refs/heads/a-fix",
        f"{c2}:refs/heads/fix", f"{c2}:refs/heads/fix-ü", cwd=work)
    git("checkout", "-q", "-b", "feature/a", c1, cwd=work)
    c3 = commit(work, "three", 1_600_000_200)
    git("push", "-q", url, "feature/a", cwd=work)
    return Tree(repo["id"], url, c1, c2, c3)


@pytest.fixture(scope="module")
def reader(server: LiveServer, tree: Tree) -> httpx.Client:
    create_user(server, "reader")
    grant_repo(server, KEY, "tree", "reader", "REPO_READ")
    with server.client(auth=("reader", USER_PASSWORD)) as c:
        yield c


def names(body: dict) -> list[str]:
    return [b["displayId"] for b in body["values"]]


def err(r: httpx.Response) -> tuple[int, str, str]:
    e = r.json()["errors"][0]
    return r.status_code, e["exceptionName"].rsplit(".", 1)[-1], e["message"]


def remote_heads(url: str) -> dict[str, str]:
    out = git("ls-remote", "--heads", url).stdout
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}


def last_changes(server: LiveServer, repo_id: int, after: int) -> list[tuple[str, str, str, str]]:
    return [(c["refId"], c["type"], c["fromHash"], c["toHash"])
            for e in refs_changed_events(server, repo_id) if e["id"] > after for c in e["changes"]]


def last_event_id(server: LiveServer, repo_id: int) -> int:
    events = refs_changed_events(server, repo_id)
    return events[-1]["id"] if events else 0


# -- listing -----------------------------------------------------------------------------------------
def test_list_orders_default_flag_and_shape(admin, tree: Tree) -> None:
    body = admin.get(f"{R}/branches").json()
    # Default order is MODIFICATION: newest commit first, then by name for equal dates.
    assert names(body) == ["feature/a", "fix", "fix-ü", "main", "a-fix", "release/1.0"]
    assert body["isLastPage"] is True and body["size"] == 6 and body["start"] == 0 and body["limit"] == 25
    main = next(b for b in body["values"] if b["displayId"] == "main")
    assert main == {"id": "refs/heads/main", "displayId": "main", "type": "BRANCH", "latestCommit": tree.c2,
                    "latestChangeset": tree.c2, "isDefault": True}
    assert [b["isDefault"] for b in body["values"]].count(True) == 1
    alpha = admin.get(f"{R}/branches", params={"orderBy": "ALPHABETICAL"}).json()
    assert names(alpha) == ["a-fix", "feature/a", "fix", "fix-ü", "main", "release/1.0"]
    # Enum values in any case (Jenkins sends `orderBy=modification`).
    assert names(admin.get(f"{R}/branches", params={"orderBy": "alphabetical"}).json()) == names(alpha)
    assert names(admin.get(f"{R}/branches", params={"orderBy": "modification"}).json()) == names(body)


def test_filter_boost_and_paging(admin, tree: Tree) -> None:
    get = lambda **p: admin.get(f"{R}/branches", params={"orderBy": "ALPHABETICAL", **p})  # noqa: E731
    assert names(get(filterText="FEAT").json()) == ["feature/a"]
    assert names(get(filterText="ü").json()) == ["fix-ü"]
    assert names(get(filterText="fix").json()) == ["a-fix", "fix", "fix-ü"]
    assert names(get(filterText="fix", boostMatches="true").json()) == ["fix", "fix-ü", "a-fix"]
    assert names(get(filterText="nothing-like-this").json()) == []

    first = get(limit=2).json()
    assert names(first) == ["a-fix", "feature/a"] and first["isLastPage"] is False and first["nextPageStart"] == 2
    second = get(limit=2, start=first["nextPageStart"]).json()
    assert names(second) == ["fix", "fix-ü"] and second["start"] == 2
    last = get(limit=2, start=4).json()
    assert names(last) == ["main", "release/1.0"] and last["isLastPage"] is True and "nextPageStart" not in last
    assert get(start=100).json()["values"] == []


def test_details_metadata_for_the_page(admin, tree: Tree) -> None:
    body = admin.get(f"{R}/branches", params={"details": "true", "orderBy": "ALPHABETICAL",
                                              "filterText": "a"}).json()
    by = {b["displayId"]: b for b in body["values"]}
    assert set(by) == {"a-fix", "feature/a", "main", "release/1.0"}
    # Relative to the default branch (main = c1 + c2).
    assert by["feature/a"]["metadata"][AHEAD_BEHIND] == {"ahead": 1, "behind": 1}
    assert by["a-fix"]["metadata"][AHEAD_BEHIND] == {"ahead": 0, "behind": 1}
    assert by["main"]["metadata"][AHEAD_BEHIND] == {"ahead": 0, "behind": 0}
    latest = by["feature/a"]["metadata"][LATEST]
    assert latest["id"] == tree.c3 and latest["displayId"] == tree.c3[:11]
    assert latest["message"] == "add three" and latest["parents"] == [{"id": tree.c1, "displayId": tree.c1[:11]}]
    assert latest["authorTimestamp"] == 1_600_000_200_000
    assert latest["author"] == {"name": "Test Author", "emailAddress": "author@example.com"}
    # Another base: a branch name, a commit id.
    based = admin.get(f"{R}/branches", params={"details": "true", "base": "feature/a", "filterText": "main"}).json()
    assert based["values"][0]["metadata"][AHEAD_BEHIND] == {"ahead": 1, "behind": 1}
    based = admin.get(f"{R}/branches", params={"details": "true", "base": tree.c1, "filterText": "main"}).json()
    assert based["values"][0]["metadata"][AHEAD_BEHIND] == {"ahead": 1, "behind": 0}
    # An unknown base leaves ahead/behind out but keeps the rest.
    based = admin.get(f"{R}/branches", params={"details": "true", "base": "no-such", "filterText": "main"}).json()
    assert AHEAD_BEHIND not in based["values"][0]["metadata"] and LATEST in based["values"][0]["metadata"]
    # Without details, no metadata.
    assert "metadata" not in admin.get(f"{R}/branches").json()["values"][0]


def test_bad_list_parameters(admin, tree: Tree) -> None:
    for params in ({"orderBy": "NEWEST"}, {"limit": "abc"}, {"start": "-1"}, {"start": "x"}):
        r = admin.get(f"{R}/branches", params=params)
        assert r.status_code == 400, params
        assert r.json()["errors"][0]["exceptionName"].endswith("ArgumentValidationException")
    assert admin.get(f"{API}/projects/{KEY}/repos/ghost/branches").status_code == 404
    assert admin.get(f"{API}/projects/NOPE/repos/tree/branches").status_code == 404


def test_empty_repository(admin, server: LiveServer) -> None:
    create_repo(admin, KEY, "empty")
    body = admin.get(f"{API}/projects/{KEY}/repos/empty/branches", params={"details": "true"}).json()
    assert body == {"size": 0, "limit": 25, "isLastPage": True, "values": [], "start": 0}
    r = admin.post(f"{API}/projects/{KEY}/repos/empty/branches", json={"name": "x", "startPoint": "main"})
    assert r.status_code == 404
    r = admin.request("DELETE", f"/rest/branch-utils/latest/projects/{KEY}/repos/empty/branches", json={"name": "x"})
    assert r.status_code == 204
    r = admin.get(f"/rest/branch-utils/latest/projects/{KEY}/repos/empty/branches/info/{'a' * 40}")
    assert r.status_code == 404


# -- create ------------------------------------------------------------------------------------------
def test_create_through_api_and_branch_utils(server: LiveServer, admin, tree: Tree, tmp_path: Path) -> None:
    mark = last_event_id(server, tree.id)
    r = admin.post(f"{R}/branches", json={"name": "topic/new", "startPoint": "feature/a", "message": "hi"})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": "refs/heads/topic/new", "displayId": "topic/new", "type": "BRANCH",
                        "latestCommit": tree.c3, "latestChangeset": tree.c3, "isDefault": False}
    r = admin.post(U, json={"name": "refs/heads/from-commit", "startPoint": tree.c1[:12]})
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "refs/heads/from-commit" and r.json()["latestCommit"] == tree.c1
    r = admin.post(f"{R}/branches", json={"name": "näme", "startPoint": "refs/heads/main"})
    assert r.status_code == 200 and r.json()["displayId"] == "näme"

    assert last_changes(server, tree.id, mark) == [
        ("refs/heads/topic/new", "ADD", ZERO, tree.c3),
        ("refs/heads/from-commit", "ADD", ZERO, tree.c1),
        ("refs/heads/näme", "ADD", ZERO, tree.c2),
    ]
    heads = remote_heads(tree.url)
    assert heads["refs/heads/topic/new"] == tree.c3 and heads["refs/heads/from-commit"] == tree.c1
    clone = tmp_path / "clone"
    git("clone", "-q", tree.url, str(clone))
    assert git("rev-parse", "origin/topic/new", cwd=clone).stdout.strip() == tree.c3
    assert "topic/new" in names(admin.get(f"{R}/branches", params={"filterText": "topic"}).json())


def test_create_refusals(server: LiveServer, admin, tree: Tree) -> None:
    mark = last_event_id(server, tree.id)
    r = admin.post(U, json={"name": "fix", "startPoint": "main"})
    assert err(r) == (400, "DuplicateRefException", "Branch 'fix' already exists in repository 'tree'")
    r = admin.post(f"{R}/branches", json={"name": "refs/heads/fix", "startPoint": "main"})
    assert err(r)[:2] == (400, "DuplicateRefException")
    for bad in ("a..b", "-x", "has space", "nul\x00byte", "end.lock", "HEAD", "x~1", "a:b", "tail/", "/lead",
                "q?", "star*", "", "   ", 5, None):
        for url in (U, f"{R}/branches"):
            r = admin.post(url, json={"name": bad, "startPoint": "main"})
            assert r.status_code == 400, (bad, url, r.text)
            assert r.json()["errors"][0]["context"] == "name"
    # Unknown start point: 404 NoSuchCommit on the core API, 400 on branch-utils (its spec).
    r = admin.post(f"{R}/branches", json={"name": "nowhere", "startPoint": "no-such-branch"})
    assert err(r) == (404, "NoSuchCommitException", "Commit 'no-such-branch' does not exist in repository 'tree'.")
    r = admin.post(U, json={"name": "nowhere", "startPoint": "f" * 40})
    assert r.status_code == 400 and r.json()["errors"][0]["context"] == "startPoint"
    for start in ("", None, "-x", "main~1", "HEAD^", "../x", 7):
        assert admin.post(U, json={"name": "nowhere", "startPoint": start}).status_code in (400, 404), start
    # A name overlapping an existing branch's path: 409.
    r = admin.post(U, json={"name": "feature", "startPoint": "main"})
    assert r.status_code == 409 and "refs/heads/feature/a" in r.json()["errors"][0]["message"]
    r = admin.post(U, json={"name": "fix/sub", "startPoint": "main"})
    assert r.status_code == 409
    # Bodies that are not JSON objects.
    assert admin.post(U, content=b"[1]", headers={"content-type": "application/json"}).status_code == 400
    assert admin.post(U, content=b"{", headers={"content-type": "application/json"}).status_code == 400
    assert last_changes(server, tree.id, mark) == []
    assert "nowhere" not in str(remote_heads(tree.url))


# -- delete ------------------------------------------------------------------------------------------
def test_delete_end_point_dry_run_missing_and_default(server: LiveServer, admin, tree: Tree) -> None:
    for name in ("del/one", "del/two", "del/three"):
        assert admin.post(U, json={"name": name, "startPoint": tree.c1}).status_code == 201
    mark = last_event_id(server, tree.id)
    delete = lambda body: admin.request("DELETE", U, json=body)  # noqa: E731

    assert delete({"name": "del/one", "dryRun": True}).status_code == 204
    assert delete({"name": "del/one", "dryRun": "true"}).status_code == 204
    assert "refs/heads/del/one" in remote_heads(tree.url)
    r = delete({"name": "del/one", "endPoint": tree.c2})
    assert r.status_code == 400 and r.json()["errors"][0]["context"] == "endPoint"
    assert delete({"name": "del/one", "endPoint": tree.c2, "dryRun": True}).status_code == 400
    assert last_changes(server, tree.id, mark) == []

    assert delete({"name": "del/one", "endPoint": tree.c1}).status_code == 204
    assert delete({"name": "refs/heads/del/two", "endPoint": tree.c1[:10], "dryRun": "false"}).status_code == 204
    assert delete({"name": "del/three"}).status_code == 204
    # Already gone, never existed, or a name that cannot exist: still 204 (idempotent), no event.
    for name in ("del/one", "never-was", "a..b", "-x"):
        assert delete({"name": name}).status_code == 204, name
    assert last_changes(server, tree.id, mark) == [
        ("refs/heads/del/one", "DELETE", tree.c1, ZERO),
        ("refs/heads/del/two", "DELETE", tree.c1, ZERO),
        ("refs/heads/del/three", "DELETE", tree.c1, ZERO),
    ]
    assert not any(ref.startswith("refs/heads/del/") for ref in remote_heads(tree.url))

    mark = last_event_id(server, tree.id)
    for body in ({"name": "main"}, {"name": "refs/heads/main", "dryRun": True}):
        r = delete(body)
        assert r.status_code == 400 and "default branch" in r.json()["errors"][0]["message"]
    for body in ({}, {"name": ""}, {"name": 3}, {"name": "refs/tags/v1"}, {"name": "x", "endPoint": "zz"},
                 {"name": "x", "dryRun": "maybe"}):
        assert delete(body).status_code == 400, body
    assert last_changes(server, tree.id, mark) == []
    assert remote_heads(tree.url)["refs/heads/main"] == tree.c2


def test_find_by_commit(admin, tree: Tree) -> None:
    info = f"{U}/info"
    body = admin.get(f"{info}/{tree.c1}").json()
    got = [b["displayId"] for b in body["values"]]
    assert {"a-fix", "feature/a", "fix", "fix-ü", "main", "release/1.0"} <= set(got)
    assert got == sorted(got, key=lambda s: s.encode())
    assert body["values"][0] == {"id": "refs/heads/" + got[0], "displayId": got[0], "type": "BRANCH"}
    only = [b["displayId"] for b in admin.get(f"{info}/{tree.c3}").json()["values"]]
    assert "feature/a" in only and "main" not in only and "fix" not in only
    paged = admin.get(f"{info}/{tree.c1[:8]}", params={"limit": 2}).json()
    assert paged["size"] == 2 and paged["isLastPage"] is False and paged["nextPageStart"] == 2
    for bad in ("f" * 40, "main", "-x", "zz"):
        assert admin.get(f"{info}/{bad}").status_code == 404, bad


# -- permissions and clients -------------------------------------------------------------------------
def test_reader_may_read_but_not_write(server: LiveServer, reader: httpx.Client, tree: Tree) -> None:
    mark = last_event_id(server, tree.id)
    assert reader.get(f"{R}/branches").status_code == 200
    assert reader.get(f"{U}/info/{tree.c1}").status_code == 200
    for method, url, body in (("POST", f"{R}/branches", {"name": "r", "startPoint": "main"}),
                              ("POST", U, {"name": "r", "startPoint": "main"}),
                              ("DELETE", U, {"name": "fix"})):
        r = reader.request(method, url, json=body)
        assert err(r)[:2] == (401, "AuthorisationException"), (method, url)
    with server.client(auth=None) as anon:
        assert anon.get(f"{R}/branches").status_code == 401
        assert anon.request("DELETE", U, json={"name": "fix"}).status_code == 401
    assert last_changes(server, tree.id, mark) == []


def test_atlassian_python_api(server: LiveServer, tree: Tree) -> None:
    bb = Bitbucket(server.url, username=ADMIN[0], password=ADMIN[1])
    listed = list(bb.get_branches(KEY, "tree"))
    assert listed[0]["displayId"] == "feature/a" and AHEAD_BEHIND in listed[0]["metadata"]
    assert [b["displayId"] for b in bb.get_branches(KEY, "tree", filter="fix", order_by="ALPHABETICAL")] == [
        "a-fix", "fix", "fix-ü"]
    assert bb.get_default_branch(KEY, "tree")["id"] == "refs/heads/main"
    mark = last_event_id(server, tree.id)
    made = bb.create_branch(KEY, "tree", "apa/branch", tree.c2, "made by apa")
    assert made["id"] == "refs/heads/apa/branch" and made["latestCommit"] == tree.c2
    assert remote_heads(tree.url)["refs/heads/apa/branch"] == tree.c2
    bb.delete_branch(KEY, "tree", "apa/branch", end_point=tree.c2)
    assert "refs/heads/apa/branch" not in remote_heads(tree.url)
    assert last_changes(server, tree.id, mark) == [("refs/heads/apa/branch", "ADD", ZERO, tree.c2),
                                                   ("refs/heads/apa/branch", "DELETE", tree.c2, ZERO)]


def test_ten_thousand_branches_list_fast(server: LiveServer, admin, tree: Tree) -> None:
    """10,000 branches: a page (with details) costs one listing process plus work for that page."""
    create_repo(admin, KEY, "many")
    many = cred_url(server, f"/scm/{KEY}/many.git", *ADMIN)
    disk = server.home / "shared" / "data" / "repositories"
    repo_id = admin.get(f"{API}/projects/{KEY}/repos/many").json()["id"]
    git("push", "-q", many, f"{tree.c2}:refs/heads/main", cwd=str(disk / str(tree.id)))
    # Set-up only: write the refs as a packed-refs file (10,000 fsynced loose refs would take a minute).
    packed = "".join(f"{tree.c1} refs/heads/bulk/b{i:05d}\n" for i in range(10_000))
    (disk / str(repo_id) / "packed-refs").write_text("# pack-refs with: peeled fully-peeled sorted \n" + packed)
    url = f"{API}/projects/{KEY}/repos/many/branches"
    for params in ({"details": "true"}, {"orderBy": "ALPHABETICAL", "details": "true", "start": "9990"},
                   {"filterText": "b0999", "boostMatches": "true"}):
        began = time.monotonic()
        body = admin.get(url, params=params).json()
        assert time.monotonic() - began < 5, params
        assert body["values"]
    body = admin.get(url, params={"orderBy": "ALPHABETICAL", "start": "9990", "details": "true"}).json()
    assert names(body) == [f"bulk/b{i:05d}" for i in range(9990, 10_000)] + ["main"]
    assert body["isLastPage"] is True and body["size"] == 11
    assert body["values"][0]["metadata"][AHEAD_BEHIND] == {"ahead": 0, "behind": 1}


def test_non_utf8_branch_name_is_listed_not_an_error(server: LiveServer, admin, tmp_path: Path) -> None:
    """Git ref names are bytes; one that is not UTF-8 is shown with U+FFFD, never a 500."""
    repo = create_repo(admin, KEY, "bytes")
    url = cred_url(server, f"/scm/{KEY}/bytes.git", *ADMIN)
    work = tmp_path / "w"
    git("init", "-q", "-b", "main", str(work))
    c = commit(work, "f", 1_600_000_000)
    git("push", "-q", url, "main", cwd=work)
    # Set-up on disk: pushes of such names are refused by the push hooks, but a repository imported
    # or mirrored from elsewhere may hold them.
    disk = server.home / "shared" / "data" / "repositories" / str(repo["id"])
    subprocess.run(["git", "--git-dir", str(disk), "update-ref", b"refs/heads/caf\xe9", c], check=True)
    base = f"{API}/projects/{KEY}/repos/bytes"
    body = admin.get(f"{base}/branches", params={"details": "true", "orderBy": "ALPHABETICAL"}).json()
    assert names(body) == ["caf\ufffd", "main"]
    assert body["values"][0]["latestCommit"] == c and body["values"][0]["metadata"][AHEAD_BEHIND] == {
        "ahead": 0, "behind": 0}
    assert names(admin.get(f"{base}/branches", params={"filterText": "caf"}).json()) == ["caf\ufffd"]
    info = admin.get(f"/rest/branch-utils/latest/projects/{KEY}/repos/bytes/branches/info/{c}").json()
    assert [b["displayId"] for b in info["values"]] == ["caf\ufffd", "main"]


def test_concurrent_creates_make_one_branch_and_one_event(server: LiveServer, tree: Tree) -> None:
    """Racing creates of one name: exactly one wins (compare-and-swap); the others get a clean 4xx."""
    import threading

    mark = last_event_id(server, tree.id)
    statuses: list[int] = []

    def create(start: str) -> None:
        with server.client() as c:
            statuses.append(c.post(U, json={"name": "race/one", "startPoint": start}).status_code)

    threads = [threading.Thread(target=create, args=(tree.c1 if i % 2 else tree.c2,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses)[0] == 201 and statuses.count(201) == 1, statuses
    assert all(s in (400, 409) for s in statuses if s != 201), statuses
    changes = last_changes(server, tree.id, mark)
    assert len(changes) == 1 and changes[0][:3] == ("refs/heads/race/one", "ADD", ZERO)
    assert remote_heads(tree.url)["refs/heads/race/one"] == changes[0][3]
