"""The task merge check: with `requiredAllTasksComplete`, an open task (a BLOCKER comment) vetoes the merge
until it is resolved."""

from __future__ import annotations

import httpx
from pr_support import API, error, push_repo

from support import LiveServer

KEY = "PMT"
SLUG = "tasks"
R = f"{API}/projects/{KEY}/repos/{SLUG}"


def test_open_tasks_block_the_merge_until_resolved(server: LiveServer, admin: httpx.Client,
                                                   tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    push_repo(server, admin, tmp_path_factory.mktemp("t") / "work", KEY, SLUG, ["topic"])
    pr = admin.post(f"{R}/pull-requests", json={"title": "Tasks", "fromRef": {"id": "refs/heads/topic"},
                                                "toRef": {"id": "refs/heads/main"}})
    assert pr.status_code == 201, pr.text
    url = f"{R}/pull-requests/{pr.json()['id']}"
    assert admin.post(f"{R}/settings/pull-requests", json={"requiredAllTasksComplete": True}).status_code == 200
    assert admin.get(f"{url}/merge").json()["canMerge"] is True
    task = admin.post(f"{url}/comments", json={"text": "fix the docs", "severity": "BLOCKER"})
    assert task.status_code == 201, task.text
    body = admin.get(f"{url}/merge").json()
    assert body["canMerge"] is False
    assert [v["summaryMessage"] for v in body["vetoes"]] == ["Resolve all tasks"]
    version = admin.get(url).json()["version"]
    error(admin.post(f"{url}/merge", params={"version": version}, json={}), 409, "PullRequestMergeVetoedException")
    resolved = admin.put(f"{url}/comments/{task.json()['id']}",
                         json={"state": "RESOLVED", "version": task.json()["version"]})
    assert resolved.status_code == 200, resolved.text
    assert admin.get(f"{url}/merge").json()["canMerge"] is True
    merged = admin.post(f"{url}/merge", params={"version": admin.get(url).json()["version"]}, json={})
    assert merged.status_code == 200, merged.text
    assert merged.json()["state"] == "MERGED"
