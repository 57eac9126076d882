"""Rescoping re-anchors comments: after a push to the source, a line comment whose line left the diff is
ORPHANED, while one on a line still in the diff follows the new commits."""

from __future__ import annotations

import time

import httpx
from pr_support import API, push_repo

from support import LiveServer, commit_file, git, validating_client

KEY = "RAN"
SLUG = "anchors"
R = f"{API}/projects/{KEY}/repos/{SLUG}"


def test_push_orphans_comments_whose_line_left_the_diff(server: LiveServer, admin: httpx.Client,
                                                         tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("r") / "work"
    data = push_repo(server, admin, work, KEY, SLUG, ["topic"])
    git("checkout", "-q", "topic", cwd=work)
    commit_file(work, "notes.txt", "keep me\ndrop me\n")
    git("push", "-q", data["url"], "topic", cwd=work)
    pr = admin.post(f"{R}/pull-requests", json={"title": "Anchors", "fromRef": {"id": "refs/heads/topic"},
                                                "toRef": {"id": "refs/heads/main"}}).json()
    url = f"{R}/pull-requests/{pr['id']}"
    client = validating_client(server)

    def comment(line: int) -> dict:
        r = client.post(f"{url}/comments", json={"text": f"on line {line}", "anchor": {
            "path": "notes.txt", "line": line, "lineType": "ADDED", "fileType": "TO", "diffType": "EFFECTIVE"}})
        assert r.status_code == 201, r.text
        return r.json()

    kept, dropped = comment(1), comment(2)
    tip = commit_file(work, "notes.txt", "keep me\n")  # line 2 leaves the diff
    git("push", "-q", data["url"], "topic", cwd=work)
    deadline = time.monotonic() + 20
    while client.get(url).json()["fromRef"]["latestCommit"] != tip:
        assert time.monotonic() < deadline, "the pull request was not rescoped"
        time.sleep(0.1)

    def ids(state: str) -> set[int]:
        body = client.get(f"{url}/comments", params={"path": "notes.txt", "anchorState": state}).json()
        return {c["id"] for c in body["values"]}

    assert ids("ACTIVE") == {kept["id"]}
    assert ids("ORPHANED") == {dropped["id"]}
    moved = client.get(f"{url}/comments/{kept['id']}").json()["anchor"]
    assert moved["toHash"] == tip and moved["line"] == 1  # EFFECTIVE: merge base .. source tip
    assert client.get(f"{url}/comments/{dropped['id']}").json()["anchor"]["orphaned"] is True
