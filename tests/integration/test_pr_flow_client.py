"""The whole pull-request flow driven by atlassian-python-api, a client nobody here wrote: open, comment,
approve, post and read build statuses, merge past the merge checks, and decline."""

from __future__ import annotations

import httpx
from atlassian import Bitbucket
from pr_support import API, push_repo

from support import ADMIN, USER_PASSWORD, LiveServer, create_user, git, grant_repo

KEY = "FLOW"
SLUG = "app"
R = f"{API}/projects/{KEY}/repos/{SLUG}"


def client(server: LiveServer, user: tuple[str, str] = ADMIN) -> Bitbucket:
    return Bitbucket(server.url, username=user[0], password=user[1])


def test_open_comment_approve_build_merge_decline(server: LiveServer, admin: httpx.Client,
                                                  tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    create_user(server, "flow_rev")
    data = push_repo(server, admin, tmp_path_factory.mktemp("f") / "work", KEY, SLUG, ["topic", "other"])
    grant_repo(server, KEY, SLUG, "flow_rev", "REPO_READ")
    assert admin.post(f"{R}/settings/pull-requests", json={"requiredApprovers": 1}).status_code == 200
    required = {"buildParentKeys": ["ci"], "refMatcher": {"id": "refs/heads/main", "type": {"id": "BRANCH"}}}
    assert admin.post(f"/rest/required-builds/latest/projects/{KEY}/repos/{SLUG}/condition",
                      json=required).status_code == 200
    bb, reviewer = client(server), client(server, ("flow_rev", USER_PASSWORD))

    pr = bb.open_pull_request(KEY, SLUG, KEY, SLUG, "topic", "main", "Topic", "Please review",
                              reviewers=["flow_rev"])
    assert pr["state"] == "OPEN" and [r["user"]["name"] for r in pr["reviewers"]] == ["flow_rev"]
    comment = reviewer.add_pull_request_comment(KEY, SLUG, pr["id"], "Looks fine, one nit")
    assert comment["text"] == "Looks fine, one nit" and comment["author"]["name"] == "flow_rev"

    checks = bb.is_pull_request_can_be_merged(KEY, SLUG, pr["id"])
    assert checks["canMerge"] is False
    assert {v["summaryMessage"] for v in checks["vetoes"]} == {"Not all required builds are successful yet",
                                                               "Requires approvals"}
    status = reviewer.change_reviewed_status(KEY, SLUG, pr["id"], "APPROVED", "flow_rev")
    assert status["status"] == "APPROVED" and status["approved"] is True

    tip = data["commits"]["topic"]
    bb.post(f"rest/build-status/1.0/commits/{tip}", data={"state": "SUCCESSFUL", "key": "ci",
                                                            "url": "https://ci.example/1", "name": "CI"})
    assert [(s["key"], s["state"]) for s in bb.get_associated_build_statuses(tip)["values"]] == [("ci", "SUCCESSFUL")]
    assert bb.is_pull_request_can_be_merged(KEY, SLUG, pr["id"])["canMerge"] is True

    version = bb.get_pull_request(KEY, SLUG, pr["id"])["version"]
    merged = bb.merge_pull_request(KEY, SLUG, pr["id"], "Ship it", pr_version=version)
    assert merged["state"] == "MERGED" and merged["properties"]["mergeCommit"]["id"]
    main = git("ls-remote", data["url"], "refs/heads/main").stdout.split()[0]
    assert main == merged["properties"]["mergeCommit"]["id"]
    history = admin.get(f"{R}/commits", params={"until": "main", "limit": 10}).json()["values"]
    assert tip in {c["id"] for c in history}

    other = bb.open_pull_request(KEY, SLUG, KEY, SLUG, "other", "main", "Other", "")
    declined = bb.decline_pull_request(KEY, SLUG, other["id"], other["version"])
    assert declined["state"] == "DECLINED"
