"""Merging pull requests over the API: every strategy, conflicts, stale versions, closed pull requests,
the commit message suggestion, and the races the issue names (a push to the target during a merge, two
merges into one branch at once) with real `git push` over HTTP."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from pr_support import API, bitbucket, error, pr_events, push_repo

from support import ADMIN, LiveServer, commit_file, git

KEY = "PRM"
SLUG = "mrg"
R = f"{API}/projects/{KEY}/repos/{SLUG}"
STRATEGIES = ("no-ff", "ff", "ff-only", "rebase-no-ff", "rebase-ff-only", "squash", "squash-ff-only")


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("m") / "work"
    data = push_repo(server, admin, work, KEY, SLUG, [])
    r = admin.post(f"{R}/settings/pull-requests", json={"mergeConfig": {
        "defaultStrategy": {"id": "no-ff"}, "strategies": [{"id": s} for s in STRATEGIES]}})
    assert r.status_code == 200, r.text
    data["work"] = work
    return data


def remote_head(world: dict, ref: str = "main") -> str:
    out = git("ls-remote", world["url"], f"refs/heads/{ref}").stdout.split()
    return out[0] if out else ""


def branch_from_main(world: dict, name: str, files: dict[str, str]) -> str:
    """Push a new branch `name` made from the server's current main with `files` committed."""
    work: Path = world["work"]
    git("fetch", "-q", world["url"], "main", cwd=work)
    git("checkout", "-q", "-B", name, "FETCH_HEAD", cwd=work)
    tip = ""
    for fname, text in files.items():
        tip = commit_file(work, fname, text)
    git("push", "-q", "-f", world["url"], name, cwd=work)
    return tip


def open_pr(admin: httpx.Client, source: str, title: str = "PR", target: str = "main") -> dict:
    r = admin.post(f"{R}/pull-requests", json={"title": title, "fromRef": {"id": f"refs/heads/{source}"},
                                               "toRef": {"id": f"refs/heads/{target}"}})
    assert r.status_code == 201, r.text
    return r.json()


def merge(admin: httpx.Client, pr: dict, **body: object) -> httpx.Response:
    return admin.post(f"{R}/pull-requests/{pr['id']}/merge", params={"version": pr["version"]}, json=body)


def tree_has(world: dict, path: str, ref: str = "main") -> bool:
    work: Path = world["work"]
    git("fetch", "-q", world["url"], ref, cwd=work)
    return git("cat-file", "-e", f"FETCH_HEAD:{path}", cwd=work, check=False).returncode == 0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy(server: LiveServer, admin: httpx.Client, world: dict, strategy: str) -> None:
    name = f"s-{strategy}"
    tip = branch_from_main(world, name, {f"{name}.txt": "one\n", f"{name}-2.txt": "two\n"})
    before = remote_head(world)
    pr = open_pr(admin, name, f"Strategy {strategy}")
    assert "mergeResult" not in pr["properties"]  # never checked yet
    check = admin.get(f"{R}/pull-requests/{pr['id']}/merge").json()
    assert check == {"canMerge": True, "conflicted": False, "outcome": "CLEAN", "vetoes": []}
    r = merge(admin, pr, strategyId=strategy, message="Extra words")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "MERGED" and body["closed"] and body["version"] == pr["version"] + 1
    assert body["properties"]["mergeResult"] == {"outcome": "CLEAN", "current": True}
    assert "closedDate" in body
    head = remote_head(world)
    assert body["properties"]["mergeCommit"]["id"] == head or strategy == "rebase-no-ff" or head != before
    assert tree_has(world, f"{name}-2.txt")
    parents = git("rev-list", "--parents", "-n", "1", head, cwd=world["work"]).stdout.split()[1:]
    if strategy in ("ff", "ff-only"):
        assert head == tip
    elif strategy in ("no-ff", "rebase-no-ff"):
        assert len(parents) == 2
        msg = git("log", "-1", "--format=%B", head, cwd=world["work"]).stdout
        assert msg.startswith(f"Pull request #{pr['id']}: Strategy {strategy}\n\nExtra words\n\n")
        assert f"Merge in {KEY}/{SLUG} from {name} to main" in msg
    elif strategy.startswith("squash"):
        assert parents == [before]
    else:
        # rebase-ff-only: the source is already on top of the target, so the branch fast-forwards to it
        assert git("rev-list", "--count", f"{before}..{head}", cwd=world["work"]).stdout.strip() == "2"
    event = pr_events(server, "pr:merged")[-1]
    assert event["pullRequest"]["id"] == pr["id"] and event["pullRequest"]["state"] == "MERGED"
    acts = admin.get(f"{R}/pull-requests/{pr['id']}/activities").json()["values"]
    assert acts[0]["action"] == "MERGED"
    # merged: checks and merging refused
    error(admin.get(f"{R}/pull-requests/{pr['id']}/merge"), 409, "IllegalPullRequestStateException")
    error(merge(admin, body), 409, "IllegalPullRequestStateException")


def test_client_merge_and_can_merge(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    branch_from_main(world, "client", {"client.txt": "c\n"})
    pr = open_pr(admin, "client", "Client")
    bb = bitbucket(server)
    assert bb.is_pull_request_can_be_merged(KEY, SLUG, pr["id"])["canMerge"] is True
    merged = bb.merge_pull_request(KEY, SLUG, pr["id"], "From the client", pr_version=pr["version"])
    assert merged["state"] == "MERGED" and tree_has(world, "client.txt")


def test_refusals_change_nothing(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    branch_from_main(world, "conflict-a", {"shared.txt": "A\n"})
    branch_from_main(world, "conflict-b", {"shared.txt": "B\n"})
    first, second = open_pr(admin, "conflict-a", "A"), open_pr(admin, "conflict-b", "B")
    # stale and missing versions
    stale = admin.post(f"{R}/pull-requests/{first['id']}/merge", params={"version": 7}, json={})
    err = error(stale, 409, "PullRequestOutOfDateException")
    assert err["currentVersion"] == first["version"] and err["expectedVersion"] == 7
    error(admin.post(f"{R}/pull-requests/{first['id']}/merge", json={}), 409, "PullRequestOutOfDateException")
    error(admin.post(f"{R}/pull-requests/{first['id']}/merge", params={"version": "x"}), 400,
          "ArgumentValidationException")
    error(merge(admin, first, strategyId="octopus"), 400, "ArgumentValidationException")
    error(merge(admin, first, message=7), 400, "ArgumentValidationException")
    error(admin.post(f"{R}/pull-requests/99/merge", params={"version": 0}), 404, "NoSuchPullRequestException")
    assert merge(admin, first).status_code == 200
    # conflicts: 409, nothing moved
    head = remote_head(world)
    check = admin.get(f"{R}/pull-requests/{second['id']}/merge").json()
    assert check["conflicted"] is True and check["outcome"] == "CONFLICTED" and check["canMerge"] is False
    shown = admin.get(f"{R}/pull-requests/{second['id']}").json()["properties"]
    # `current` compares with the pull request's recorded target commit (moved by rescoping)
    assert shown["mergeResult"]["outcome"] == "CONFLICTED" and isinstance(shown["mergeResult"]["current"], bool)
    assert list(shown)[0] == "mergeResult"
    err = error(merge(admin, second), 409, "PullRequestMergeVetoedException")
    assert err["conflicted"] is True and err["vetoes"] == []
    assert remote_head(world) == head
    assert admin.get(f"{R}/pull-requests/{second['id']}").json()["state"] == "OPEN"
    # a declined pull request is not merged
    declined = admin.post(f"{R}/pull-requests/{second['id']}/decline", params={"version": second["version"]}).json()
    error(admin.get(f"{R}/pull-requests/{second['id']}/merge"), 409, "IllegalPullRequestStateException")
    error(merge(admin, declined), 409, "IllegalPullRequestStateException")
    assert remote_head(world) == head


def test_commit_message_suggestion(admin: httpx.Client, world: dict) -> None:
    branch_from_main(world, "suggest", {"suggest.txt": "s\n"})
    pr = open_pr(admin, "suggest", "Suggest me")
    body = admin.get(f"{R}/pull-requests/{pr['id']}/commit-message-suggestion").json()
    assert body == {"title": f"Pull request #{pr['id']}: Suggest me",
                    "body": f"Merge in {KEY}/{SLUG} from suggest to main"}


def test_push_to_target_during_merge_loses_nothing(server: LiveServer, admin: httpx.Client, world: dict,
                                                   tmp_path: Path) -> None:
    """(a) A real `git push` to the target runs while the merge is computed and swapped."""
    prs = []
    for i in range(3):
        branch_from_main(world, f"race-{i}", {f"race-{i}.txt": f"{i}\n"})
        prs.append(open_pr(admin, f"race-{i}", f"Race {i}"))
    pushed: list[str] = []
    other = tmp_path / "other"
    git("clone", "-q", world["url"], str(other))

    def pusher() -> None:
        for i in range(4):
            for _ in range(5):
                git("pull", "-q", "--rebase", "origin", "main", cwd=other, check=False)
                sha = commit_file(other, f"pushed-{i}.txt", f"{i}\n") if i >= len(pushed) else pushed[i]
                if i >= len(pushed):
                    pushed.append(sha)
                if git("push", "-q", "origin", "HEAD:main", cwd=other, check=False).returncode == 0:
                    break

    thread = threading.Thread(target=pusher)
    thread.start()
    results = []
    for pr in prs:
        r = merge(admin, pr)
        results.append(r.status_code)
    thread.join()
    assert results == [200, 200, 200]
    for i in range(3):
        assert tree_has(world, f"race-{i}.txt")
    for i in range(4):
        assert tree_has(world, f"pushed-{i}.txt")


def test_two_merges_at_once_both_land(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    """(b) Two pull requests into one branch merged concurrently: both land, the history keeps both."""
    prs = []
    for name in ("twin-a", "twin-b"):
        branch_from_main(world, name, {f"{name}.txt": name})
        prs.append(open_pr(admin, name, name))
    before = remote_head(world)
    out: dict[int, int] = {}

    def go(pr: dict) -> None:
        with httpx.Client(base_url=server.url, auth=ADMIN, timeout=60) as c:
            out[pr["id"]] = c.post(f"{R}/pull-requests/{pr['id']}/merge", params={"version": pr["version"]},
                                   json={}).status_code

    threads = [threading.Thread(target=go, args=(pr,)) for pr in prs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out.values()) == [200, 200]
    assert tree_has(world, "twin-a.txt") and tree_has(world, "twin-b.txt")
    head = remote_head(world)
    work = world["work"]
    assert git("merge-base", "--is-ancestor", before, head, cwd=work, check=False).returncode == 0
    merged = [admin.get(f"{R}/pull-requests/{pr['id']}").json() for pr in prs]
    for pr in merged:
        assert pr["state"] == "MERGED"
        assert git("merge-base", "--is-ancestor", pr["properties"]["mergeCommit"]["id"], head, cwd=work,
                   check=False).returncode == 0


def test_rebase(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    from support import USER_PASSWORD, create_user, grant_repo, validating_client

    rb = f"/rest/git/latest/projects/{KEY}/repos/{SLUG}/pull-requests"
    old = branch_from_main(world, "rebase-me", {"rebase-me.txt": "r\n"})
    branch_from_main(world, "rebase-bad", {"shared-r.txt": "mine\n"})
    mover = branch_from_main(world, "mover", {"mover.txt": "m\n", "shared-r.txt": "theirs\n"})
    git("push", "-q", world["url"], "mover:main", cwd=world["work"])  # main moves on
    pr = open_pr(admin, "rebase-me", "Rebase me")
    bad = open_pr(admin, "rebase-bad", "Rebase bad")
    assert admin.get(f"{rb}/{pr['id']}/rebase").json() == {"vetoes": []}
    create_user(server, "rb_reader")
    grant_repo(server, KEY, SLUG, "rb_reader", "REPO_READ")
    with validating_client(server, auth=("rb_reader", USER_PASSWORD)) as reader:
        vetoes = reader.get(f"{rb}/{pr['id']}/rebase").json()["vetoes"]
        assert [v["summaryMessage"] for v in vetoes] == ["Write access required"]
        error(reader.post(f"{rb}/{pr['id']}/rebase", json={"version": pr["version"]}), 401, "AuthorisationException")
    error(admin.post(f"{rb}/{pr['id']}/rebase", json={"version": 9}), 409, "PullRequestOutOfDateException")
    error(admin.post(f"{rb}/{pr['id']}/rebase", json={}), 400, "ArgumentValidationException")
    r = admin.post(f"{rb}/{pr['id']}/rebase", json={"version": pr["version"]})
    assert r.status_code == 200, r.text
    change = r.json()["refChange"]
    assert change["fromHash"] == old and change["refId"] == "refs/heads/rebase-me" and change["type"] == "UPDATE"
    new = change["toHash"]
    assert remote_head(world, "rebase-me") == new
    work = world["work"]
    git("fetch", "-q", world["url"], "rebase-me", cwd=work)
    assert git("rev-parse", "FETCH_HEAD^", cwd=work).stdout.strip() == mover
    after = admin.get(f"{R}/pull-requests/{pr['id']}").json()
    assert after["fromRef"]["latestCommit"] == new and after["version"] == pr["version"] + 1
    assert admin.get(f"{R}/pull-requests/{pr['id']}/activities").json()["values"][0]["action"] == "RESCOPED"
    # conflicts: 409, the source branch stays
    before = remote_head(world, "rebase-bad")
    error(admin.post(f"{rb}/{bad['id']}/rebase", json={"version": bad["version"]}), 409, "GitRebaseException")
    assert remote_head(world, "rebase-bad") == before
    assert merge(admin, after).status_code == 200
    assert admin.get(f"{rb}/{pr['id']}/rebase").json()["vetoes"][0]["summaryMessage"] == "The pull request is not open"
