"""Pull requests: open (same repository and from a fork), page with filters, get, update, decline,
reopen, delete, watch, pull requests of a commit; refusals change nothing; every change is in the outbox."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pr_support import API, bitbucket, error, pr_events, pr_state, push_repo

from support import USER_PASSWORD, LiveServer, commit_file, create_user, cred_url, git, grant_repo, validating_client

KEY = "PRA"
SLUG = "app"
R = f"{API}/projects/{KEY}/repos/{SLUG}"
BRANCHES = ["feature/a", "feature/b", "feature/c", "feature/d", "feature/e", "feature/f", "merged"]


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_user(server, "alice", "bob", "carol", "dave")
    work = tmp_path_factory.mktemp("w") / "work"
    data = push_repo(server, admin, work, KEY, SLUG, BRANCHES)
    # `merged` has nothing new for main once main moves to it.
    git("push", "-q", data["url"], f"{data['commits']['merged']}:refs/heads/main", cwd=work)
    grant_repo(server, KEY, SLUG, "alice", "REPO_WRITE")
    grant_repo(server, KEY, SLUG, "bob", "REPO_READ")
    grant_repo(server, KEY, SLUG, "carol", "REPO_READ")
    return data


def client(server: LiveServer, user: str) -> httpx.Client:
    return validating_client(server, auth=(user, USER_PASSWORD))


def body(src: str, dst: str = "main", title: str = "T", **extra: object) -> dict:
    return {"title": title, "fromRef": {"id": src}, "toRef": {"id": dst}, **extra}


def test_open_with_atlassian_client_and_shape(server: LiveServer, world: dict) -> None:
    bb = bitbucket(server, "bob")
    pr = bb.open_pull_request(KEY, SLUG, KEY, SLUG, "feature/a", "main", "Add A", "Adds **A**", reviewers=["carol"])
    assert pr["id"] == 1 and pr["version"] == 0 and pr["state"] == "OPEN" and pr["open"] and not pr["closed"]
    assert (pr["title"], pr["description"], pr["draft"], pr["locked"]) == ("Add A", "Adds **A**", False, False)
    assert pr["fromRef"]["id"] == "refs/heads/feature/a" and pr["fromRef"]["displayId"] == "feature/a"
    assert pr["fromRef"]["latestCommit"] == world["commits"]["feature/a"] and pr["fromRef"]["type"] == "BRANCH"
    assert pr["toRef"]["latestCommit"] == world["commits"]["merged"]
    assert pr["toRef"]["repository"]["slug"] == SLUG and pr["toRef"]["repository"]["project"]["key"] == KEY
    assert pr["author"]["user"]["name"] == "bob" and pr["author"]["role"] == "AUTHOR"
    assert pr["author"]["status"] == "UNAPPROVED" and pr["author"]["approved"] is False
    assert [(r["user"]["name"], r["role"], r["status"]) for r in pr["reviewers"]] == [
        ("carol", "REVIEWER", "UNAPPROVED")]
    assert pr["participants"] == [] and pr["createdDate"] == pr["updatedDate"] > 1.6e12
    assert pr["properties"] == {"resolvedTaskCount": 0, "commentCount": 0, "openTaskCount": 0}
    assert pr["links"]["self"][0]["href"].endswith(f"/projects/{KEY}/repos/{SLUG}/pull-requests/1")
    assert bb.get_pull_request(KEY, SLUG, 1) == pr
    opened = pr_events(server, "pr:opened")
    assert len(opened) == 1 and opened[0]["pullRequest"] == pr and opened[0]["actor"]["name"] == "bob"
    assert opened[0]["eventKey"] == "pr:opened" and opened[0]["repository_id"] == world["repo"]["id"]
    assert opened[0]["date"].endswith("+0000")


def test_create_with_full_refs_and_draft(admin: httpx.Client, world: dict) -> None:
    r = admin.post(f"{R}/pull-requests", json={
        "title": "B", "draft": True, "fromRef": {"id": "refs/heads/feature/b", "repository": {
            "slug": SLUG, "project": {"key": KEY}}}, "toRef": {"id": "refs/heads/main", "repository": {
                "slug": SLUG, "project": {"key": KEY}}}})
    assert r.status_code == 201, r.text
    pr = r.json()
    assert pr["id"] == 2 and pr["draft"] is True and "description" not in pr


def test_create_refusals_change_nothing(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    before = pr_state(server)
    error(admin.post(f"{R}/pull-requests", json=body("main", "main")), 409, "InvalidPullRequestTargetException")
    error(admin.post(f"{R}/pull-requests", json=body("nope")), 404, "NoSuchBranchException")
    error(admin.post(f"{R}/pull-requests", json=body("feature/a", "nope")), 404, "NoSuchBranchException")
    error(admin.post(f"{R}/pull-requests", json=body("merged")), 409, "EmptyPullRequestException")
    dup = error(admin.post(f"{R}/pull-requests", json=body("feature/a")), 409, "DuplicatePullRequestException")
    assert dup["existingPullRequest"]["id"] == 1
    err = error(admin.post(f"{R}/pull-requests", json=body("feature/c", reviewers=[
        {"user": {"name": "admin"}}, {"user": {"name": "dave"}}, {"user": {"name": "ghost"}},
        {"user": {"name": "carol"}}])), 409, "InvalidPullRequestReviewersException")
    assert [u["name"] for u in err["validReviewers"]] == ["carol"]
    assert [e["context"] for e in err["reviewerErrors"]] == ["admin", "dave", "ghost"]
    for bad in ({"title": "x"}, {"fromRef": {"id": "feature/c"}, "toRef": {"id": "main"}},
                body("feature/c", title=""), body("feature/c", title=5), body("-x"), body("feature/c", "a..b"),
                body("feature/c", draft="yes"), body("feature/c", reviewers="bob"),
                body("feature/c", title="x" * 256), {**body("feature/c"), "fromRef": "feature/c"}):
        error(admin.post(f"{R}/pull-requests", json=bad), 400, "ArgumentValidationException")
    error(admin.post(f"{R}/pull-requests", content=b"{bad"), 400, "ArgumentValidationException")
    error(admin.post(f"{R}/pull-requests", json={**body("feature/c"), "fromRef": {
        "id": "feature/c", "repository": {"slug": "none", "project": {"key": KEY}}}}), 404, "NoSuchRepositoryException")
    with client(server, "dave") as dave:
        error(dave.post(f"{R}/pull-requests", json=body("feature/c")), 401, "AuthorisationException")
    with server.client(auth=None) as anon:
        assert anon.post(f"{R}/pull-requests", json=body("feature/c")).status_code == 401
    assert pr_state(server) == before


def test_pull_request_from_a_fork(server: LiveServer, admin: httpx.Client, world: dict, tmp_path: Path) -> None:
    with client(server, "alice") as alice:
        fork = alice.post(f"{R}", json={})
        assert fork.status_code == 201, fork.text
        url = cred_url(server, "/scm/~alice/app.git", "alice", USER_PASSWORD)
        git("clone", "-q", url, str(tmp_path / "f"))
        git("checkout", "-q", "-b", "fix", cwd=tmp_path / "f")
        head = commit_file(tmp_path / "f", "fix.txt", "fix\n")
        git("push", "-q", "origin", "fix", cwd=tmp_path / "f")
        r = alice.post(f"{R}/pull-requests", json={"title": "From fork", "fromRef": {
            "id": "fix", "repository": {"slug": "app", "project": {"key": "~alice"}}}, "toRef": {"id": "main"}})
        assert r.status_code == 201, r.text
        pr = r.json()
        assert pr["fromRef"]["repository"]["project"]["key"] == "~ALICE" or \
            pr["fromRef"]["repository"]["project"]["key"].lower() == "~alice"
        assert pr["fromRef"]["latestCommit"] == head and pr["toRef"]["repository"]["slug"] == SLUG
        # Outgoing from the fork.
        out = alice.get(f"{API}/users/alice/repos/app/pull-requests", params={"direction": "OUTGOING"}).json()
        assert [p["id"] for p in out["values"]] == [pr["id"]]
        # A repository outside the hierarchy is refused; bob cannot read alice's fork.
        other = alice.post(f"{API}/users/alice/repos", json={"name": "other"})
        assert other.status_code == 201
        error(alice.post(f"{R}/pull-requests", json={"title": "x", "fromRef": {
            "id": "main", "repository": {"slug": "other", "project": {"key": "~alice"}}}, "toRef": {"id": "main"}}),
            409, "InvalidPullRequestTargetException")
    with client(server, "bob") as bob:
        before = pr_state(server)
        error(bob.post(f"{R}/pull-requests", json={"title": "x", "fromRef": {
            "id": "fix", "repository": {"slug": "app", "project": {"key": "~alice"}}}, "toRef": {"id": "main"}}),
            401, "AuthorisationException")
        assert pr_state(server) == before


def test_page_filters(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    bb = bitbucket(server)
    ids = [p["id"] for p in bb.get_pull_requests(KEY, SLUG)]
    assert ids == sorted(ids, reverse=True) and {1, 2} <= set(ids)
    oldest = [p["id"] for p in bb.get_pull_requests(KEY, SLUG, order="oldest")]
    assert oldest == sorted(oldest)
    page = admin.get(f"{R}/pull-requests", params={"limit": 1, "order": "OLDEST"}).json()
    assert page["size"] == 1 and page["isLastPage"] is False and page["values"][0]["id"] == 1
    assert page["nextPageStart"] == 1
    assert [p["id"] for p in admin.get(f"{R}/pull-requests", params={"draft": "true"}).json()["values"]] == [2]
    assert [p["id"] for p in bb.get_pull_requests(KEY, SLUG, filter_text="add a")] == [1]
    assert [p["id"] for p in bb.get_pull_requests(KEY, SLUG, at="refs/heads/main", order="OLDEST")][:2] == [1, 2]
    assert list(bb.get_pull_requests(KEY, SLUG, at="refs/heads/feature/a")) == []
    by_author = admin.get(f"{R}/pull-requests", params={"role.1": "AUTHOR", "username.1": "bob"}).json()
    assert [p["id"] for p in by_author["values"]] == [1]
    reviewer = admin.get(f"{R}/pull-requests", params={"role.1": "REVIEWER", "username.1": "carol",
                                                       "approved.1": "false"}).json()
    assert [p["id"] for p in reviewer["values"]] == [1]
    bare = admin.get(f"{R}/pull-requests", params={"withProperties": "false", "limit": 1}).json()["values"][0]
    assert "properties" not in bare
    for params in ({"state": "OPENED"}, {"order": "sideways"}, {"direction": "UP"}, {"draft": "maybe"},
                   {"role.1": "OWNER"}, {"approved.1": "x"}, {"limit": "x"}, {"start": "-1"}):
        error(admin.get(f"{R}/pull-requests", params=params), 400, "ArgumentValidationException")
    assert admin.get(f"{API}/projects/{KEY}/repos/none/pull-requests").status_code == 404
    with client(server, "dave") as dave:
        error(dave.get(f"{R}/pull-requests"), 401, "AuthorisationException")


def test_unknown_pull_request_is_404(admin: httpx.Client, world: dict) -> None:
    for pid in ("999", "0", "abc", "-1"):
        error(admin.get(f"{R}/pull-requests/{pid}"), 404, "NoSuchPullRequestException")
        error(admin.post(f"{R}/pull-requests/{pid}/decline"), 404, "NoSuchPullRequestException")
        error(admin.put(f"{R}/pull-requests/{pid}", json={"version": 0}), 404, "NoSuchPullRequestException")


def test_update_title_reviewers_retarget_and_stale_version(server: LiveServer, admin: httpx.Client,
                                                           world: dict) -> None:
    bb = bitbucket(server, "alice")
    pr = bb.open_pull_request(KEY, SLUG, KEY, SLUG, "feature/d", "main", "D", "d", reviewers=["bob"])
    pid = pr["id"]
    url = f"{R}/pull-requests/{pid}"
    before = pr_state(server)
    error(admin.put(url, json={"title": "x"}), 400, "ArgumentValidationException")
    stale = error(admin.put(url, json={"version": 7, "title": "x"}), 409, "PullRequestOutOfDateException")
    assert (stale["currentVersion"], stale["expectedVersion"], stale["pullRequest"]["id"]) == (0, 7, pid)
    assert stale["message"] == "You are attempting to modify a pull request based on out-of-date information."
    error(admin.put(url, json={"version": 0, "title": ""}), 400, "ArgumentValidationException")
    error(admin.put(url, json={"version": 0, "toRef": {"id": "feature/d"}}), 409,
          "InvalidPullRequestTargetException")
    error(admin.put(url, json={"version": 0, "toRef": {"id": "ghost"}}), 404, "NoSuchBranchException")
    error(admin.put(url, json={"version": 0, "reviewers": [{"user": {"name": "dave"}}]}), 409,
          "InvalidPullRequestReviewersException")
    with client(server, "carol") as carol:
        error(carol.put(url, json={"version": 0, "title": "x"}), 401, "AuthorisationException")
    assert pr_state(server) == before
    updated = bb.update_pull_request(KEY, SLUG, pid, {
        "version": 0, "title": "D2", "description": "new", "reviewers": [{"user": {"name": "carol"}}],
        "toRef": {"id": "refs/heads/feature/e"}, "draft": True})
    assert updated["version"] == 1 and updated["title"] == "D2" and updated["description"] == "new"
    assert updated["toRef"]["id"] == "refs/heads/feature/e" and updated["draft"] is True
    assert updated["toRef"]["latestCommit"] == world["commits"]["feature/e"]
    assert [r["user"]["name"] for r in updated["reviewers"]] == ["carol"]
    modified = pr_events(server, "pr:modified")[-1]
    assert modified["previousTitle"] == "D" and modified["previousDescription"] == "d"
    assert modified["previousDraft"] is False and modified["previousTarget"] == {
        "id": "refs/heads/main", "displayId": "main", "type": "BRANCH", "latestCommit": world["commits"]["merged"],
        "latestChangeset": world["commits"]["merged"]}
    assert modified["pullRequest"]["version"] == 1
    rev = pr_events(server, "pr:reviewer:updated")[-1]
    assert [u["name"] for u in rev["addedReviewers"]] == ["carol"]
    assert [u["name"] for u in rev["removedReviewers"]] == ["bob"]
    acts = admin.get(f"{url}/activities").json()["values"]
    assert [a["action"] for a in acts] == ["RESCOPED", "UPDATED", "UPDATED", "OPENED"]
    assert (acts[0]["previousToHash"], acts[0]["toHash"]) == (world["commits"]["merged"],
                                                              world["commits"]["feature/e"])
    assert (acts[1]["previousTitle"], acts[1]["previousDescription"], acts[1]["previousDraft"]) == ("D", "d", False)
    assert acts[1]["previousToRef"]["id"] == "refs/heads/main"
    assert [u["name"] for u in acts[2]["addedReviewers"]] == ["carol"]
    same = admin.put(url, json={"version": 1, "title": "D2"})
    assert same.status_code == 200 and same.json()["version"] == 1  # nothing changed, nothing bumped


def test_decline_reopen_delete(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    bb = bitbucket(server, "bob")
    pr = bb.open_pull_request(KEY, SLUG, KEY, SLUG, "feature/f", "main", "F", "", reviewers=[])
    pid, url = pr["id"], f"{R}/pull-requests/{pr['id']}"
    before = pr_state(server)
    error(admin.post(f"{url}/decline", params={"version": 3}), 409, "PullRequestOutOfDateException")
    error(admin.post(f"{url}/reopen", params={"version": 0}), 409, "IllegalPullRequestStateException")
    with client(server, "carol") as carol:
        error(carol.post(f"{url}/decline", params={"version": 0}), 401, "AuthorisationException")
        error(carol.request("DELETE", url, json={"version": 0}), 401, "AuthorisationException")
    assert pr_state(server) == before
    declined = bb.decline_pull_request(KEY, SLUG, pid, 0)
    assert declined["state"] == "DECLINED" and declined["closed"] and declined["version"] == 1
    assert declined["closedDate"] >= declined["createdDate"]
    error(admin.post(f"{url}/decline", params={"version": 1}), 409, "IllegalPullRequestStateException")
    states = {p["id"]: p["state"] for p in bb.get_pull_requests(KEY, SLUG, state="DECLINED")}
    assert states == {pid: "DECLINED"}
    assert pid not in [p["id"] for p in bb.get_pull_requests(KEY, SLUG)]
    assert pid in [p["id"] for p in bb.get_pull_requests(KEY, SLUG, state="ALL")]
    # While declined, a new pull request for the same refs may be opened; then reopening is a duplicate.
    other = admin.post(f"{R}/pull-requests", json=body("feature/f", title="F again"))
    assert other.status_code == 201
    error(admin.post(f"{url}/reopen", params={"version": 1}), 409, "DuplicatePullRequestException")
    assert admin.request("DELETE", f"{R}/pull-requests/{other.json()['id']}", json={"version": 0}).status_code == 204
    again = admin.post(f"{R}/pull-requests", json=body("feature/b", "feature/f", title="ids are not reused"))
    assert again.status_code == 201 and again.json()["id"] == other.json()["id"] + 1
    assert admin.request("DELETE", f"{R}/pull-requests/{again.json()['id']}", json={"version": 0}).status_code == 204
    reopened = bb.reopen_pull_request(KEY, SLUG, pid, 1)
    assert reopened["state"] == "OPEN" and reopened["version"] == 2 and "closedDate" not in reopened
    error(admin.request("DELETE", url, json={"version": 0}), 409, "PullRequestOutOfDateException")
    missing = error(admin.delete(url), 409, "PullRequestOutOfDateException")  # Bitbucket's default version is -1
    assert missing["expectedVersion"] == -1
    error(admin.request("DELETE", url, json={"version": "two"}), 400, "ArgumentValidationException")
    bb.delete_pull_request(KEY, SLUG, pid, 2)
    error(admin.get(url), 404, "NoSuchPullRequestException")
    kinds = [e["kind"] for e in pr_events(server) if e["pullRequest"]["id"] == pid]
    assert kinds == ["pr:opened", "pr:declined", "pr:reopened", "pr:deleted"]
    assert all(e["pullRequest"]["id"] == pid for e in pr_events(server, "pr:declined"))


def test_watch_and_unwatch(server: LiveServer, world: dict) -> None:
    from sqlalchemy import select

    from culm.domain.pullrequests.models import Watcher
    from support import server_db

    with client(server, "carol") as carol:
        assert carol.post(f"{R}/pull-requests/1/watch").status_code == 204
        assert carol.post(f"{R}/pull-requests/1/watch").status_code == 204
        with server_db(server) as s:
            assert len(s.scalars(select(Watcher).where(Watcher.pull_request_id == 1)).all()) >= 2
        assert carol.delete(f"{R}/pull-requests/1/watch").status_code == 204
        error(carol.post(f"{R}/pull-requests/99/watch"), 404, "NoSuchPullRequestException")
    with server.client(auth=None) as anon:
        assert anon.post(f"{R}/pull-requests/1/watch").status_code == 401


def test_pull_requests_of_a_commit(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    bb = bitbucket(server)
    found = bb.get_pull_requests_contain_commit(KEY, SLUG, world["commits"]["feature/a"])
    assert [p["id"] for p in found] == [1]
    assert bb.get_pull_requests_contain_commit(KEY, SLUG, world["commits"]["main"]) == []
    error(admin.get(f"{R}/commits/{'0' * 40}/pull-requests"), 404, "NoSuchCommitException")
    error(admin.get(f"{R}/commits/-x/pull-requests"), 404, "NoSuchCommitException")
    error(admin.get(f"{R}/commits/a%00b/pull-requests"), 404, "NoSuchCommitException")


def test_archived_repository_refuses_changes(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    if admin.get(f"{R}/pull-requests/1").status_code == 404:  # when run alone
        bitbucket(server, "bob").open_pull_request(KEY, SLUG, KEY, SLUG, "feature/a", "main", "A", "")
    assert admin.put(R, json={"archived": True}).status_code in (200, 201)
    try:
        before = pr_state(server)
        error(admin.post(f"{R}/pull-requests", json=body("feature/c")), 409, "RepositoryArchivedException")
        error(admin.put(f"{R}/pull-requests/1", json={"version": 0, "title": "x"}), 409,
              "RepositoryArchivedException")
        error(admin.post(f"{R}/pull-requests/1/participants", json={"user": {"name": "bob"}, "role": "REVIEWER"}),
              409, "RepositoryArchivedException")
        error(admin.request("DELETE", f"{R}/pull-requests/1", json={"version": 0}), 409,
              "RepositoryArchivedException")
        assert admin.get(f"{R}/pull-requests/1").status_code == 200
        assert pr_state(server) == before
    finally:
        assert admin.put(R, json={"archived": False}).status_code in (200, 201)


def test_concurrent_opens_number_once_and_refuse_duplicates(server: LiveServer, world: dict) -> None:
    import threading

    results: list[tuple[str, int, int | None]] = []

    def open_one(src: str) -> None:
        with server.client() as c:
            r = c.post(f"{R}/pull-requests", json=body(src, title=f"race {src}"))
            results.append((src, r.status_code, r.json().get("id")))

    threads = [threading.Thread(target=open_one, args=(src,)) for src in ["feature/c"] * 4 + ["feature/e"] * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    created = [(src, pid) for src, status, pid in results if status == 201]
    assert sorted(src for src, _ in created) == ["feature/c", "feature/e"]
    assert sorted(status for _, status, _ in results) == [201, 201, 409, 409, 409, 409]
    ids = [pid for _, pid in created]
    assert len(set(ids)) == 2
    opened = [e["pullRequest"]["id"] for e in pr_events(server, "pr:opened")]
    assert sorted(set(opened)) == sorted(opened) and set(ids) <= set(opened)


def test_reopen_after_source_branch_deleted_is_refused(server: LiveServer, admin: httpx.Client, world: dict,
                                                       tmp_path: Path) -> None:
    work = tmp_path / "gone"
    git("clone", "-q", world["url"], str(work))
    git("checkout", "-q", "-b", "gone", cwd=work)
    commit_file(work, "gone.txt", "gone\n")
    git("push", "-q", "origin", "gone", cwd=work)
    pr = admin.post(f"{R}/pull-requests", json=body("gone", title="Gone")).json()
    url = f"{R}/pull-requests/{pr['id']}"
    assert admin.post(f"{url}/decline", params={"version": 0}).status_code == 200
    git("push", "-q", "origin", ":gone", cwd=work)
    before = pr_state(server)
    error(admin.post(f"{url}/reopen", params={"version": 1}), 409, "IllegalPullRequestStateException")
    assert pr_state(server) == before


def test_nul_and_odd_values_are_clean_4xx(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    before = pr_state(server)
    for bad in (body("feature/f", title="a\u0000b"), body("feature/f", description="a\u0000b"),
                body("feature/f\u0000"), body("feature/f", "ma\u0000in"),
                {**body("feature/f"), "fromRef": {"id": "feature/f", "repository": {
                    "slug": "a\u0000", "project": {"key": KEY}}}}):
        error(admin.post(f"{R}/pull-requests", json=bad), 400, "ArgumentValidationException")
    error(admin.post(f"{R}/pull-requests", json=body("feature/f", reviewers=[{"user": {"name": "bo\u0000b"}}])),
          409, "InvalidPullRequestReviewersException")
    for params in ({"filterText": "a\u0000"}, {"at": "ma\u0000in"}, {"username.1": "b\u0000"},
                   {"state": "\u0000"}):
        error(admin.get(f"{R}/pull-requests", params=params), 400, "ArgumentValidationException")
    error(admin.get(f"{R}/participants", params={"filter": "\u0000"}), 400, "ArgumentValidationException")
    assert admin.put(f"{R}/pull-requests/1", json={"version": 0, "title": "x\u0000"}).status_code == 400
    assert admin.put(f"{R}/pull-requests/1/participants/a%00b", json={"status": "APPROVED"}).status_code in (
        400, 401, 404)
    assert pr_state(server) == before
