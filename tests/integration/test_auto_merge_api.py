"""Auto-merge (`{PR}/auto-merge`, `{R}/settings/auto-merge`) against a live server with real pushes:
a request blocked by a running required build is kept and executed by the server once the build
succeeds; a push to the source cancels it, DELETE cancels it; nothing blocking merges at once; a
conflict is refused; bad input, permissions and the disabled setting are refused cleanly."""

from __future__ import annotations

import time

import httpx
import pytest
from pr_support import API, error, pr_events, push_repo

from support import ADMIN, USER_PASSWORD, LiveServer, commit_file, create_user, git, grant_repo, validating_client

KEY = "PAM"
SLUG = "am"
R = f"{API}/projects/{KEY}/repos/{SLUG}"
RB = f"/rest/required-builds/latest/projects/{KEY}/repos/{SLUG}"
BRANCHES = ["built", "pushed", "deleted", "ready", "conf", "rel"]


def pr_url(n: int) -> str:
    return f"{R}/pull-requests/{n}"


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_user(server, "am_reader", "am_writer")
    work = tmp_path_factory.mktemp("am") / "work"
    data = push_repo(server, admin, work, KEY, SLUG, BRANCHES)
    data["work"] = work
    # conf and rel change README.md differently: conf → rel conflicts
    for branch, text in (("conf", "conf\n"), ("rel", "rel\n")):
        git("checkout", "-q", branch, cwd=work)
        data["commits"][branch] = commit_file(work, "README.md", text)
        git("push", "-q", data["url"], branch, cwd=work)
    git("checkout", "-q", "main", cwd=work)
    grant_repo(server, KEY, SLUG, "am_reader", "REPO_READ")
    grant_repo(server, KEY, SLUG, "am_writer", "REPO_WRITE")
    numbers = {}
    for branch, target in (("built", "main"), ("pushed", "main"), ("deleted", "main"), ("ready", "main"),
                           ("conf", "rel")):
        r = admin.post(f"{R}/pull-requests", json={"title": branch, "fromRef": {"id": f"refs/heads/{branch}"},
                                                   "toRef": {"id": f"refs/heads/{target}"}})
        assert r.status_code == 201, r.text
        numbers[branch] = r.json()["id"]
    data["prs"] = numbers
    assert admin.post(f"{RB}/condition", json={"buildParentKeys": ["ci"], "refMatcher": {
        "id": "refs/heads/main", "type": {"id": "BRANCH"}}}).status_code == 200
    return data


def as_user(server: LiveServer, name: str) -> httpx.Client:
    return validating_client(server, auth=(name, USER_PASSWORD))


def build(admin: httpx.Client, commit: str, state: str) -> None:
    assert admin.post(f"{R}/commits/{commit}/builds", json={"key": "ci", "state": state,
                                                            "url": "https://ci.example/1"}).status_code == 204


def wait_for(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def contains(world: dict, target: str, commit: str) -> bool:
    git("fetch", "-q", world["url"], f"+refs/heads/{target}:refs/remotes/o/{target}", cwd=world["work"])
    done = git("merge-base", "--is-ancestor", commit, f"refs/remotes/o/{target}", cwd=world["work"], check=False)
    return done.returncode == 0


def test_setting_off_by_default_and_admin_only(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    assert admin.get(f"{R}/settings/auto-merge").json() == {"enabled": False, "restrictionState": "NONE",
                                                            "scope": {"resourceId": 0, "type": "GLOBAL"}}
    error(admin.post(f"{pr_url(world['prs']['built'])}/auto-merge", json={}), 403, "AuthorisationException")
    for bad in ({}, {"enabled": "yes"}, {"enabled": None}):
        error(admin.put(f"{R}/settings/auto-merge", json=bad), 400, "ValidationException")
    with as_user(server, "am_writer") as writer:
        error(writer.put(f"{R}/settings/auto-merge", json={"enabled": True}), 401, "AuthorisationException")
        assert writer.get(f"{R}/settings/auto-merge").json()["enabled"] is False
    assert admin.delete(f"{R}/settings/auto-merge").status_code == 204
    r = admin.put(f"{R}/settings/auto-merge", json={"enabled": True})
    assert r.status_code == 200 and r.json()["enabled"] is True and r.json()["scope"]["type"] == "REPOSITORY"


def test_pending_until_build_succeeds_then_server_merges(server: LiveServer, admin: httpx.Client,
                                                         world: dict) -> None:
    n, tip = world["prs"]["built"], world["commits"]["built"]
    error(admin.get(f"{pr_url(n)}/auto-merge"), 404, "NoSuchEntityException")
    build(admin, tip, "INPROGRESS")
    with as_user(server, "am_reader") as reader:
        error(reader.post(f"{pr_url(n)}/auto-merge", json={}), 401, "AuthorisationException")
    with as_user(server, "am_writer") as writer:
        r = writer.post(f"{pr_url(n)}/auto-merge", json={"strategyId": "no-ff", "message": "ship it"})
    assert r.status_code == 200, r.text
    assert r.json()["autoMergeProcessingStatus"] == "VETOED" and r.json()["pullRequest"]["state"] == "OPEN"
    with as_user(server, "am_reader") as reader:
        pending = reader.get(f"{pr_url(n)}/auto-merge").json()
    assert pending["fromHash"] == tip and pending["toRefId"] == "refs/heads/main"
    assert pending["strategyId"] == "no-ff" and pending["message"] == "ship it" and pending["autoSubject"] is True
    time.sleep(1.0)
    assert admin.get(pr_url(n)).json()["state"] == "OPEN" and not contains(world, "main", tip)
    build(admin, tip, "SUCCESSFUL")
    assert wait_for(lambda: admin.get(pr_url(n)).json()["state"] == "MERGED")
    merged = admin.get(pr_url(n)).json()
    assert contains(world, "main", tip)
    merge_commit = merged["properties"]["mergeCommit"]["id"]
    message = git("log", "-1", "--format=%B", merge_commit, cwd=world["work"]).stdout
    assert "ship it" in message
    events = [e for e in pr_events(server, "pr:merged") if e["pullRequest"]["id"] == n]
    assert len(events) == 1 and events[0]["actor"]["name"] == "am_writer"
    error(admin.get(f"{pr_url(n)}/auto-merge"), 404, "NoSuchEntityException")


def test_push_to_source_cancels(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    n, tip = world["prs"]["pushed"], world["commits"]["pushed"]
    r = admin.post(f"{pr_url(n)}/auto-merge", json={})
    assert r.json()["autoMergeProcessingStatus"] == "VETOED"
    assert admin.get(f"{pr_url(n)}/auto-merge").json()["fromHash"] == tip
    work = world["work"]
    git("checkout", "-q", "pushed", cwd=work)
    new_tip = commit_file(work, "more.txt", "more\n")
    git("push", "-q", world["url"], "pushed", cwd=work)
    git("checkout", "-q", "main", cwd=work)
    assert wait_for(lambda: admin.get(f"{pr_url(n)}/auto-merge").status_code == 404)
    assert admin.get(pr_url(n)).json()["fromRef"]["latestCommit"] == new_tip
    build(admin, new_tip, "SUCCESSFUL")
    time.sleep(1.5)
    assert admin.get(pr_url(n)).json()["state"] == "OPEN"


def test_delete_cancels(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    n, tip = world["prs"]["deleted"], world["commits"]["deleted"]
    assert admin.post(f"{pr_url(n)}/auto-merge", json={}).json()["autoMergeProcessingStatus"] == "VETOED"
    with as_user(server, "am_reader") as reader:
        error(reader.delete(f"{pr_url(n)}/auto-merge"), 401, "AuthorisationException")
    assert admin.get(f"{pr_url(n)}/auto-merge").status_code == 200
    with as_user(server, "am_writer") as writer:
        assert writer.delete(f"{pr_url(n)}/auto-merge").status_code == 204
        assert writer.delete(f"{pr_url(n)}/auto-merge").status_code == 204
    error(admin.get(f"{pr_url(n)}/auto-merge"), 404, "NoSuchEntityException")
    build(admin, tip, "SUCCESSFUL")
    time.sleep(1.5)
    assert admin.get(pr_url(n)).json()["state"] == "OPEN"


def test_merges_at_once_when_nothing_blocks(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    n, tip = world["prs"]["ready"], world["commits"]["ready"]
    build(admin, tip, "SUCCESSFUL")
    r = admin.post(f"{pr_url(n)}/auto-merge", json={})
    assert r.status_code == 200, r.text
    assert r.json()["autoMergeProcessingStatus"] == "MERGED" and r.json()["pullRequest"]["state"] == "MERGED"
    assert contains(world, "main", tip)
    error(admin.get(f"{pr_url(n)}/auto-merge"), 404, "NoSuchEntityException")
    with server.client(auth=ADMIN) as plain:  # 409 for a closed pull request (as POST merge)
        assert plain.post(f"{pr_url(n)}/auto-merge", json={}).status_code == 409
        assert plain.delete(f"{pr_url(n)}/auto-merge").status_code == 409


def test_conflict_is_refused(admin: httpx.Client, world: dict) -> None:
    n = world["prs"]["conf"]
    r = admin.post(f"{pr_url(n)}/auto-merge", json={})
    assert r.status_code == 200 and r.json()["autoMergeProcessingStatus"] == "CANCELLED"
    assert r.json()["pullRequest"]["state"] == "OPEN"
    error(admin.get(f"{pr_url(n)}/auto-merge"), 404, "NoSuchEntityException")


def test_bad_input(admin: httpx.Client, world: dict) -> None:
    n = world["prs"]["pushed"]
    error(admin.post(f"{pr_url(n)}/auto-merge", json={"strategyId": "bogus"}), 400, "ValidationException")
    error(admin.post(f"{pr_url(n)}/auto-merge", json={"strategyId": "squash"}), 400, "ValidationException")
    error(admin.post(f"{pr_url(n)}/auto-merge", json={"message": 5}), 400, "ValidationException")
    error(admin.post(f"{pr_url(n)}/auto-merge", json={"message": "a\x00b"}), 400, "ValidationException")
    error(admin.post(f"{pr_url(n)}/auto-merge", json={"autoSubject": "maybe"}), 400, "ValidationException")
    error(admin.get(f"{pr_url(n)}/auto-merge"), 404, "NoSuchEntityException")
    for bad in ("999", "0"):
        error(admin.get(f"{pr_url(int(bad))}/auto-merge"), 404, "NoSuchPullRequestException")
    with httpx.Client(base_url=admin.base_url, auth=ADMIN, trust_env=False) as plain:
        assert plain.post(f"{R}/pull-requests/abc/auto-merge", json={}).status_code in (400, 404)
        assert plain.post(f"{API}/projects/{KEY}/repos/nope/pull-requests/1/auto-merge", json={}).status_code == 404


def test_approval_lets_the_server_merge(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    """Last (it turns on a repository-wide approval check): an approval unblocks a pending request."""
    tip = world["commits"]["rel"]
    r = admin.post(f"{R}/pull-requests", json={"title": "rel", "fromRef": {"id": "refs/heads/rel"},
                                               "toRef": {"id": "refs/heads/main"},
                                               "reviewers": [{"user": {"name": "am_reader"}}]})
    assert r.status_code == 201, r.text
    n = r.json()["id"]
    build(admin, tip, "SUCCESSFUL")
    assert admin.post(f"{R}/settings/pull-requests", json={"requiredApprovers": 1}).status_code == 200
    assert admin.post(f"{pr_url(n)}/auto-merge", json={}).json()["autoMergeProcessingStatus"] == "VETOED"
    time.sleep(1.0)
    assert admin.get(pr_url(n)).json()["state"] == "OPEN"
    with as_user(server, "am_reader") as reader:
        assert reader.put(f"{pr_url(n)}/participants/am_reader", json={"status": "APPROVED"}).status_code == 200
    assert wait_for(lambda: admin.get(pr_url(n)).json()["state"] == "MERGED")
    assert contains(world, "main", tip)
