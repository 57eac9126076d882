"""The dashboard (`/dashboard/pull-requests`, `/dashboard/pull-request-suggestions`) and the inbox
(`/inbox/pull-requests`, `/count`): filters, order, paging, visibility (a pull request in a repository the
caller cannot read never appears), and clean 400/401 for bad parameters and anonymous callers."""

from __future__ import annotations

import httpx
import pytest
from pr_support import API, push_repo

from support import USER_PASSWORD, LiveServer, commit_file, create_user, cred_url, git, grant_repo, validating_client

KEY = "DSH"
D = f"{API}/dashboard/pull-requests"
S = f"{API}/dashboard/pull-request-suggestions"
INBOX = f"{API}/inbox/pull-requests"


def repo_url(slug: str) -> str:
    return f"{API}/projects/{KEY}/repos/{slug}"


def client(server: LiveServer, user: str) -> httpx.Client:
    return validating_client(server, auth=(user, USER_PASSWORD))


def open_pr(c: httpx.Client, slug: str, src: str, reviewers: list[str]) -> dict:
    r = c.post(f"{repo_url(slug)}/pull-requests", json={
        "title": src, "fromRef": {"id": src}, "toRef": {"id": "main"},
        "reviewers": [{"user": {"name": n}} for n in reviewers]})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_user(server, "alice", "bob", "carol", "erin")
    one = push_repo(server, admin, tmp_path_factory.mktemp("one") / "w", KEY, "one", ["a", "b", "d"])
    two = push_repo(server, admin, tmp_path_factory.mktemp("two") / "w", KEY, "two", ["c"])
    for name, level in (("alice", "REPO_WRITE"), ("bob", "REPO_READ"), ("carol", "REPO_READ")):
        grant_repo(server, KEY, "one", name, level)
    grant_repo(server, KEY, "two", "alice", "REPO_WRITE")
    grant_repo(server, KEY, "two", "carol", "REPO_READ")
    prs: dict[str, dict] = {}
    with client(server, "alice") as alice:
        prs["a"] = open_pr(alice, "one", "a", ["bob", "carol"])
        prs["c"] = open_pr(alice, "two", "c", ["carol"])
        prs["d"] = open_pr(alice, "one", "d", [])
        r = alice.post(f"{repo_url('one')}/pull-requests/{prs['d']['id']}/decline", params={"version": 0})
        assert r.status_code == 200, r.text
    with client(server, "bob") as bob:
        prs["b"] = open_pr(bob, "one", "b", ["alice"])
    # carol loses access to `two`: its pull request must vanish from her lists.
    r = admin.delete(f"{repo_url('two')}/permissions/users", params={"name": "carol"})
    assert r.status_code == 204, r.text
    return {"one": one, "two": two, "prs": prs}


def ids(page: dict) -> list[tuple[str, int]]:
    return [(p["toRef"]["repository"]["slug"], p["id"]) for p in page["values"]]


def get(c: httpx.Client, url: str, **params: object) -> dict:
    r = c.get(url, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_dashboard_roles_states_and_order(server: LiveServer, world: dict) -> None:
    prs = world["prs"]
    a, b, c, d = (("one", prs["a"]["id"]), ("one", prs["b"]["id"]), ("two", prs["c"]["id"]), ("one", prs["d"]["id"]))
    with client(server, "alice") as alice:
        everything = get(alice, D)
        assert sorted(ids(everything)) == sorted([a, b, c, d]) and everything["isLastPage"] is True
        assert everything["values"][0]["id"] == prs["b"]["id"]  # newest (most recently updated) first
        assert ids(get(alice, D, order="OLDEST")) == [a, c, d, b]
        assert sorted(ids(get(alice, D, role="AUTHOR", state="OPEN"))) == sorted([a, c])
        assert ids(get(alice, D, role="reviewer")) == [b]
        assert ids(get(alice, D, state="DECLINED")) == [d]
        assert ids(get(alice, D, state="DECLINED", closedSince=3600)) == [d]
        assert ids(get(alice, D, order="CLOSED_DATE"))[-1] == d  # open ones first
        first = get(alice, D, limit=1, order="OLDEST")
        assert ids(first) == [a] and first["isLastPage"] is False and first["nextPageStart"] == 1
        assert ids(get(alice, D, limit=1, start=1, order="OLDEST")) == [c]
        # Another user's dashboard, still filtered by what the caller can read.
        assert ids(get(alice, D, user="bob", role="AUTHOR")) == [b]
        assert get(alice, D, user="nobody-here")["values"] == []


def test_dashboard_participant_status(server: LiveServer, world: dict) -> None:
    pr = world["prs"]["a"]
    with client(server, "bob") as bob:
        assert ids(get(bob, D, participantStatus="APPROVED")) == []
        assert ids(get(bob, INBOX)) == [("one", pr["id"])]
        assert get(bob, INBOX + "/count") == {"count": 1}
        r = bob.post(f"{repo_url('one')}/pull-requests/{pr['id']}/approve")
        assert r.status_code == 200, r.text
        assert ids(get(bob, D, participantStatus="APPROVED,NEEDS_WORK")) == [("one", pr["id"])]
        assert ids(get(bob, D, participantStatus="unapproved", role="REVIEWER")) == []
        # Approved reviews leave the inbox.
        assert get(bob, INBOX)["values"] == [] and get(bob, INBOX + "/count") == {"count": 0}
        # bob's own open pull request is in his "created" inbox.
        assert ids(get(bob, INBOX, role="AUTHOR")) == [("one", world["prs"]["b"]["id"])]


def test_unreadable_repositories_never_appear(server: LiveServer, world: dict) -> None:
    a = ("one", world["prs"]["a"]["id"])
    with client(server, "carol") as carol:
        assert ids(get(carol, D)) == [a]
        assert ids(get(carol, D, role="REVIEWER")) == [a]
        assert ids(get(carol, INBOX)) == [a] and get(carol, INBOX + "/count") == {"count": 1}
    with client(server, "erin") as erin:  # takes part in nothing and reads nothing
        assert get(erin, D)["values"] == [] and get(erin, INBOX)["values"] == []
        assert get(erin, D, user="alice")["values"] == []
        assert get(erin, INBOX + "/count") == {"count": 0}


def test_bad_parameters_are_400(server: LiveServer, world: dict) -> None:
    with client(server, "alice") as alice:
        for params in ({"state": "NOPE"}, {"state": "ALL"}, {"role": "OWNER"}, {"participantStatus": "MAYBE"},
                       {"order": "SIDEWAYS"}, {"closedSince": "abc"}, {"closedSince": "-5"}, {"limit": "x"},
                       {"start": "-1"}, {"role": "AUTHOR\x00"}):
            r = alice.get(D, params=params)
            assert r.status_code == 400, (params, r.text)
            assert r.json()["errors"][0]["message"]
        for params in ({"role": "boss"}, {"limit": "abc"}, {"start": "-1"}):
            assert alice.get(INBOX, params=params).status_code == 400, params
        for params in ({"changesSince": "soon"}, {"limit": "0"}, {"limit": "x"}):
            assert alice.get(S, params=params).status_code == 400, params
    anonymous = server.client(auth=None)
    for url in (D, S, INBOX, INBOX + "/count"):
        r = anonymous.get(url)
        assert r.status_code == 401, (url, r.text)
        assert r.json()["errors"][0]["exceptionName"]


def test_pull_request_suggestions(server: LiveServer, admin: httpx.Client, world: dict,
                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    work = tmp_path_factory.mktemp("s") / "w"
    url = cred_url(server, f"/scm/{KEY}/one.git", "alice", USER_PASSWORD)
    git("clone", "-q", url, str(work))
    tips = {}
    for name in ("topic/x", "topic/y"):
        git("checkout", "-q", "-b", name, "origin/main", cwd=work)
        tips[name] = commit_file(work, f"{name.replace('/', '_')}.txt", name + "\n")
        git("push", "-q", "origin", name, cwd=work)
    git("checkout", "-q", "main", cwd=work)
    commit_file(work, "main-by-alice.txt", "m\n")
    git("push", "-q", "origin", "main", cwd=work)  # the default branch is never suggested
    with client(server, "alice") as alice:
        page = get(alice, S, limit=5)
        got = [(s["fromRef"]["id"], s["refChange"]["toHash"]) for s in page["values"]]
        assert got == [("refs/heads/topic/y", tips["topic/y"]), ("refs/heads/topic/x", tips["topic/x"])]
        first = page["values"][0]
        assert first["repository"]["slug"] == "one" and first["toRef"]["id"] == "refs/heads/main"
        assert first["refChange"]["type"] == "ADD" and first["refChange"]["refId"] == "refs/heads/topic/y"
        assert first["fromRef"]["displayId"] == "topic/y" and first["changeTime"] > 1.6e12
        assert len(get(alice, S, limit=1)["values"]) == 1
        # Opening a pull request from a branch removes its suggestion.
        open_pr(alice, "one", "topic/y", [])
        assert [s["fromRef"]["id"] for s in get(alice, S, limit=5)["values"]] == ["refs/heads/topic/x"]
    # bob pushed nothing; carol can read `one` but the suggestions are alice's pushes only.
    with client(server, "bob") as bob:
        assert get(bob, S)["values"] == []
    # After alice loses access to the repository, its branches are no longer suggested to her.
    r = admin.delete(f"{repo_url('one')}/permissions/users", params={"name": "alice"})
    assert r.status_code == 204
    with client(server, "alice") as alice:
        assert get(alice, S, limit=5)["values"] == []
        assert all(p["toRef"]["repository"]["slug"] != "one" for p in get(alice, D)["values"])
