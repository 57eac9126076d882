"""A pull request's content: commits (the source's, not the target's), effective changes and diff (from the
merge base), the raw diff and patch, diff stats, the merge base; a pull request from a fork reads the
fork's commits through the target; bad parameters are clean 4xx."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pr_support import API, bitbucket, error, push_repo

from support import USER_PASSWORD, LiveServer, commit_file, create_user, cred_url, git, grant_repo, validating_client

KEY = "PRC"
SLUG = "cnt"
R = f"{API}/projects/{KEY}/repos/{SLUG}"
P1 = f"{R}/pull-requests/1"


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("c") / "work"
    data = push_repo(server, admin, work, KEY, SLUG, [])
    url = data["url"]
    git("checkout", "-q", "-b", "topic", cwd=work)
    first = commit_file(work, "README.md", "hello\nworld\n", "Extend the readme")
    (work / "bin.dat").write_bytes(b"\x00\x01\x02")
    git("add", "bin.dat", cwd=work)
    second = commit_file(work, "docs/guide.txt", "guide\n", "Add a guide")
    git("push", "-q", url, "topic", cwd=work)
    git("checkout", "-q", "main", cwd=work)
    target = commit_file(work, "main-only.txt", "main\n", "Main moves on")
    git("push", "-q", url, "main", cwd=work)
    pr = admin.post(f"{R}/pull-requests", json={"title": "Topic", "fromRef": {"id": "topic"},
                                                "toRef": {"id": "main"}})
    assert pr.status_code == 201, pr.text
    data.update(first=first, second=second, target=target, base=data["commits"]["main"], work=work)
    return data


def test_commits(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    body = admin.get(f"{P1}/commits", params={"withCounts": "true"}).json()
    assert [c["id"] for c in body["values"]] == [world["second"], world["first"]]
    assert body["totalCount"] == 2 and body["authorCount"] == 1 and body["isLastPage"] is True
    page = admin.get(f"{P1}/commits", params={"limit": 1}).json()
    assert [c["id"] for c in page["values"]] == [world["second"]] and page["isLastPage"] is False
    assert page["nextPageStart"] == 1
    listed = list(bitbucket(server).get_pull_requests_commits(KEY, SLUG, 1))
    assert [c["id"] for c in listed] == [world["second"], world["first"]]
    error(admin.get(f"{P1}/commits", params={"limit": "x"}), 400, "ArgumentValidationException")
    error(admin.get(f"{R}/pull-requests/9/commits"), 404, "NoSuchPullRequestException")
    error(admin.get(f"{R}/pull-requests/abc/commits"), 404, "NoSuchPullRequestException")


def test_changes(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    body = admin.get(f"{P1}/changes").json()
    assert body["fromHash"] == world["base"] and body["toHash"] == world["second"]
    got = {c["path"]["toString"]: c["type"] for c in body["values"]}
    assert got == {"README.md": "MODIFY", "bin.dat": "ADD", "docs/guide.txt": "ADD"}  # not main-only.txt
    listed = list(bitbucket(server).get_pull_requests_changes(KEY, SLUG, 1))
    assert sorted(c["path"]["toString"] for c in listed) == ["README.md", "bin.dat", "docs/guide.txt"]
    ignored = admin.get(f"{P1}/changes", params={"changeScope": "UNREVIEWED", "withComments": "false"}).json()
    assert len(ignored["values"]) == 3


def test_diff_and_stats(admin: httpx.Client, world: dict) -> None:
    body = admin.get(f"{P1}/diff").json()
    assert body["fromHash"] == world["base"] and body["toHash"] == world["second"]
    names = [(d.get("source") or {}).get("toString") or d["destination"]["toString"] for d in body["diffs"]]
    assert sorted(names) == ["README.md", "bin.dat", "docs/guide.txt"]
    one = admin.get(f"{P1}/diff/README.md", params={"contextLines": 0}).json()
    assert len(one["diffs"]) == 1 and one["contextLines"] == 0
    seg = [s for s in one["diffs"][0]["hunks"][0]["segments"] if s["type"] == "ADDED"][0]
    assert seg["lines"][0]["line"] == "world"
    commit = admin.get(f"{P1}/diff", params={"untilId": world["first"], "diffType": "COMMIT"}).json()
    assert [d["destination"]["toString"] for d in commit["diffs"]] == ["README.md"]
    ranged = admin.get(f"{P1}/diff", params={"sinceId": world["first"], "untilId": world["second"]}).json()
    assert sorted(d["destination"]["toString"] for d in ranged["diffs"]) == ["bin.dat", "docs/guide.txt"]
    stats = admin.get(f"{P1}/diff-stats-summary/docs").json()
    assert stats == {"filesChanged": 1, "totalInsertions": 1, "totalDeletions": 0}
    error(admin.get(f"{P1}/diff", params={"diffType": "SIDEWAYS"}), 400, "ArgumentValidationException")
    error(admin.get(f"{P1}/diff", params={"sinceId": "-x"}), 404, "NoSuchCommitException")
    for path in ("-x", "a/%2E%2E/README.md", "%2E%2E/etc/passwd", "a%00b"):
        assert admin.get(f"{P1}/diff/{path}").status_code == 400, path
    error(admin.get(f"{P1}/diff/README.md", params={"srcPath": "/etc/passwd"}), 400, "ArgumentValidationException")
    error(admin.get(f"{P1}/diff", params={"contextLines": "many"}), 400, "ArgumentValidationException")
    raw = admin.get(f"{P1}.diff")
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/plain")
    assert "+world" in raw.text and "main-only" not in raw.text
    patch = admin.get(f"{P1}.patch")
    assert patch.status_code == 200 and patch.text.count("\nSubject: ") == 2 and "Add a guide" in patch.text
    error(admin.get(f"{R}/pull-requests/7.patch"), 404, "NoSuchPullRequestException")


def test_merge_base(admin: httpx.Client, world: dict) -> None:
    assert admin.get(f"{P1}/merge-base").json()["id"] == world["base"]


def test_pull_request_from_a_fork(server: LiveServer, admin: httpx.Client, world: dict, tmp_path: Path) -> None:
    create_user(server, "pc_alice")
    grant_repo(server, KEY, SLUG, "pc_alice", "REPO_READ")
    with validating_client(server, auth=("pc_alice", USER_PASSWORD)) as alice:
        assert alice.post(R, json={}).status_code == 201
        url = cred_url(server, f"/scm/~pc_alice/{SLUG}.git", "pc_alice", USER_PASSWORD)
        git("clone", "-q", url, str(tmp_path / "f"))
        git("checkout", "-q", "-b", "fix", cwd=tmp_path / "f")
        head = commit_file(tmp_path / "f", "fix.txt", "fix\n", "Fix it")
        git("push", "-q", "origin", "fix", cwd=tmp_path / "f")
        r = alice.post(f"{R}/pull-requests", json={"title": "From fork", "fromRef": {
            "id": "fix", "repository": {"slug": SLUG, "project": {"key": "~pc_alice"}}}, "toRef": {"id": "main"}})
        assert r.status_code == 201, r.text
        pr = r.json()
    url_pr = f"{R}/pull-requests/{pr['id']}"
    assert [c["id"] for c in admin.get(f"{url_pr}/commits", params={"withCounts": "true"}).json()["values"]] == [head]
    assert [c["path"]["toString"] for c in admin.get(f"{url_pr}/changes").json()["values"]] == ["fix.txt"]
    assert [d["destination"]["toString"] for d in admin.get(f"{url_pr}/diff").json()["diffs"]] == ["fix.txt"]
    assert "+fix" in admin.get(f"{url_pr}.diff").text and "Fix it" in admin.get(f"{url_pr}.patch").text
    assert admin.get(f"{url_pr}/diff-stats-summary/fix.txt").json()["filesChanged"] == 1
    assert admin.get(f"{url_pr}/merge").json()["canMerge"] is True
    # the target moves on; alice rebases her fork's branch onto it (objects borrowed from the origin)
    work = world["work"]
    git("checkout", "-q", "main", cwd=work)
    git("pull", "-q", "--ff-only", world["url"], "main", cwd=work)
    moved = commit_file(work, "later.txt", "later\n", "Later on main")
    git("push", "-q", world["url"], "main", cwd=work)
    rebase = f"/rest/git/latest/projects/{KEY}/repos/{SLUG}/pull-requests/{pr['id']}/rebase"
    with validating_client(server, auth=("pc_alice", USER_PASSWORD)) as alice:
        assert alice.get(rebase).json() == {"vetoes": []}
        r = alice.post(rebase, json={"version": pr["version"]})
        assert r.status_code == 200, r.text
    new = r.json()["refChange"]["toHash"]
    git("fetch", "-q", url, "fix", cwd=work)
    assert git("rev-parse", "FETCH_HEAD", "FETCH_HEAD^", cwd=work).stdout.split() == [new, moved]
    pr = admin.get(url_pr).json()
    assert pr["fromRef"]["latestCommit"] == new
    assert [c["id"] for c in admin.get(f"{url_pr}/commits").json()["values"]] == [new]
    merged = admin.post(f"{url_pr}/merge", params={"version": pr["version"]}, json={})
    assert merged.status_code == 200, merged.text
    out = git("ls-remote", world["url"], "refs/heads/main").stdout.split()[0]
    assert merged.json()["properties"]["mergeCommit"]["id"] == out
    assert git("ls-remote", world["url"]).stdout.count("refs/culm/") == 0
