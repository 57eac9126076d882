"""Comparing refs: compare/commits (reachable from `from`, not from `to`) and compare/changes (what
`from` changed since its merge base with `to`), within a repository and from a fork (`fromRepo`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import ADMIN, LiveServer, create_repo, create_user, cred_url, git, grant_repo

KEY = "CMP"
API = "/rest/api/latest"
R = f"{API}/projects/{KEY}/repos/base"


def commit(work: Path, name: str, text: str, message: str) -> str:
    target = work / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


@pytest.fixture(scope="module")
def c(server: LiveServer, admin, tmp_path_factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """main: b1 → b2 → m1; topic (from b2): t1 → t2 (renames a.txt); the fork gets k1 on its main."""
    create_repo(admin, KEY, "base")
    work = tmp_path_factory.mktemp("cmp") / "w"
    git("init", "-q", "-b", "main", str(work))
    ids = {"b1": commit(work, "a.txt", "a\n" * 20, "b1"), "b2": commit(work, "b.txt", "b\n", "b2")}
    git("checkout", "-q", "-b", "topic", cwd=work)
    ids["t1"] = commit(work, "t.txt", "t\n", "t1")
    git("mv", "a.txt", "renamed.txt", cwd=work)
    git("commit", "-q", "-m", "t2", cwd=work)
    ids["t2"] = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    git("checkout", "-q", "main", cwd=work)
    ids["m1"] = commit(work, "b.txt", "b changed\n", "m1")
    git("push", "-q", cred_url(server, f"/scm/{KEY}/base.git", *ADMIN), "main", "topic", cwd=work)
    r = admin.post(f"{R}", json={"name": "fork", "project": {"key": KEY}})
    assert r.status_code == 201, r.text
    ids["k1"] = commit(work, "fork.txt", "fork\n", "k1")
    git("push", "-q", cred_url(server, f"/scm/{KEY}/fork.git", *ADMIN), "main", cwd=work)
    ids["fork_id"] = str(admin.get(f"{API}/projects/{KEY}/repos/fork").json()["id"])
    return ids


def ids_of(r) -> list[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.text
    return [v["id"] for v in r.json()["values"]]


def err(r) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    return r.status_code, r.json()["errors"][0]["exceptionName"].rsplit(".", 1)[-1]


def test_compare_commits(admin, c) -> None:  # type: ignore[no-untyped-def]
    get = admin.get
    assert ids_of(get(R + "/compare/commits", params={"from": "topic", "to": "main"})) == [c["t2"], c["t1"]]
    assert ids_of(get(R + "/compare/commits", params={"from": "main", "to": "topic"})) == [c["m1"]]
    # `to` defaults to the default branch
    assert ids_of(get(R + "/compare/commits", params={"from": "refs/heads/topic"})) == [c["t2"], c["t1"]]
    assert ids_of(get(R + "/compare/commits", params={"from": c["b2"], "to": "topic"})) == []
    assert ids_of(get(R + "/compare/commits")) == []
    body = get(R + "/compare/commits", params={"from": "topic", "to": "main", "limit": 1}).json()
    assert [v["id"] for v in body["values"]] == [c["t2"]] and body["nextPageStart"] == 1
    body = get(R + "/compare/commits", params={"from": "topic", "to": "main", "limit": 1, "start": 1}).json()
    assert [v["id"] for v in body["values"]] == [c["t1"]] and body["isLastPage"]


def test_compare_changes(admin, c) -> None:  # type: ignore[no-untyped-def]
    r = admin.get(R + "/compare/changes", params={"from": "topic", "to": "main"})
    assert r.status_code == 200, r.text
    changes = {v["path"]["toString"]: v for v in r.json()["values"]}
    # against the merge base (b2): m1's change to b.txt on main is not part of it
    assert set(changes) == {"t.txt", "renamed.txt"}
    assert changes["renamed.txt"]["type"] == "MOVE" and changes["renamed.txt"]["srcPath"]["toString"] == "a.txt"
    assert changes["t.txt"]["type"] == "ADD"
    r = admin.get(R + "/compare/changes", params={"from": "main", "to": "topic"})
    assert [(v["type"], v["path"]["toString"]) for v in r.json()["values"]] == [("MODIFY", "b.txt")]


def test_compare_bad_refs(admin, c) -> None:  # type: ignore[no-untyped-def]
    for params in ({"from": "nope"}, {"from": "topic", "to": "nope"}, {"from": "-x"}, {"from": "topic~1"}):
        for what in ("commits", "changes"):
            assert err(admin.get(R + f"/compare/{what}", params=params)) == (404, "NoSuchCommitException"), params


def test_compare_from_fork(server: LiveServer, admin, c) -> None:  # type: ignore[no-untyped-def]
    for from_repo in (f"{KEY}/fork", c["fork_id"]):
        params = {"from": "main", "to": "main", "fromRepo": from_repo}
        assert ids_of(admin.get(R + "/compare/commits", params=params)) == [c["k1"]]
        r = admin.get(R + "/compare/changes", params=params)
        assert [(v["type"], v["path"]["toString"]) for v in r.json()["values"]] == [("ADD", "fork.txt")]
    # the fork's commit is not in the base repository itself
    assert err(admin.get(R + "/compare/commits", params={"from": c["k1"]})) == (404, "NoSuchCommitException")
    for bad in ("CMP/nope", "999999", "nope"):
        r = admin.get(R + "/compare/commits", params={"from": "main", "fromRepo": bad})
        assert err(r) == (404, "NoSuchRepositoryException"), bad
    # a caller who may read the base repository but not the fork cannot compare from it
    create_user(server, "cmpreader")
    grant_repo(server, KEY, "base", "cmpreader", "REPO_READ")
    with server.client(auth=("cmpreader", "user-Secret-1")) as reader:
        assert reader.get(R + "/compare/commits", params={"from": "topic"}).status_code == 200
        r = reader.get(R + "/compare/commits", params={"from": "main", "fromRepo": f"{KEY}/fork"})
        assert r.status_code == 401


def test_compare_empty_repository(admin, c) -> None:  # type: ignore[no-untyped-def]
    create_repo(admin, KEY, "void")
    for what in ("commits", "changes"):
        r = admin.get(f"{API}/projects/{KEY}/repos/void/compare/{what}")
        assert r.status_code == 200 and r.json()["values"] == []
