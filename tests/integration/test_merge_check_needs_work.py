"""The bundled "No 'needs work' status" merge check: enabled per repository through
`{R}/settings/pull-requests` with its plugin key; while a reviewer has NEEDS_WORK its veto shows in
`GET {PR}/merge` and in the 409 of `POST {PR}/merge`; an approval clears it; off, it is not enforced."""

from __future__ import annotations

import httpx
import pytest
from pr_support import API, error, push_repo

from support import USER_PASSWORD, LiveServer, create_user, git, grant_repo, validating_client

KEY = "PNW"
SLUG = "nw"
R = f"{API}/projects/{KEY}/repos/{SLUG}"
P1 = f"{R}/pull-requests/1"
HOOK = "com.atlassian.bitbucket.server.bitbucket-bundled-hooks:needs-work-merge-check"
VETO = {"summaryMessage": "Needs work",
        "detailedMessage": "A reviewer has marked this pull request as needing work."}


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_user(server, "nw_rev", "nw_admin")
    data = push_repo(server, admin, tmp_path_factory.mktemp("nw") / "work", KEY, SLUG, ["topic"])
    grant_repo(server, KEY, SLUG, "nw_rev", "REPO_READ")
    grant_repo(server, KEY, SLUG, "nw_admin", "REPO_WRITE")
    r = admin.post(f"{R}/pull-requests", json={"title": "Needs work", "fromRef": {"id": "refs/heads/topic"},
                                               "toRef": {"id": "refs/heads/main"},
                                               "reviewers": [{"user": {"name": "nw_rev"}}]})
    assert r.status_code == 201, r.text
    return data


def reviewer(server: LiveServer) -> httpx.Client:
    return validating_client(server, auth=("nw_rev", USER_PASSWORD))


def test_setting_defaults_off_and_validates(admin: httpx.Client, world: dict) -> None:
    assert admin.get(f"{R}/settings/pull-requests").json()[HOOK] == {"enabled": False}
    for bad in ("yes", 1, {"enabled": "true"}, None):
        error(admin.post(f"{R}/settings/pull-requests", json={HOOK: bad}), 400, "ValidationException")
    assert admin.get(f"{R}/settings/pull-requests").json()[HOOK] == {"enabled": False}


def test_setting_needs_repo_admin(server: LiveServer, world: dict) -> None:
    with validating_client(server, auth=("nw_admin", USER_PASSWORD)) as writer:
        assert writer.post(f"{R}/settings/pull-requests", json={HOOK: {"enabled": True}}).status_code == 401


def test_not_enforced_when_off(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    with reviewer(server) as rev:
        assert rev.put(f"{P1}/participants/nw_rev", json={"status": "NEEDS_WORK"}).status_code == 200
    assert admin.get(f"{P1}/merge").json() == {"canMerge": True, "conflicted": False, "outcome": "CLEAN",
                                               "vetoes": []}


def test_veto_while_needs_work_then_approval_clears(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    r = admin.post(f"{R}/settings/pull-requests", json={HOOK: {"enabled": True}})
    assert r.status_code == 200 and r.json()[HOOK] == {"enabled": True}
    # other settings left out keep their values; the flag survives unrelated updates
    r = admin.post(f"{R}/settings/pull-requests", json={"requiredAllTasksComplete": False})
    assert r.json()[HOOK] == {"enabled": True}
    body = admin.get(f"{P1}/merge").json()
    assert body["canMerge"] is False and body["vetoes"] == [VETO]
    head = git("ls-remote", world["url"], "refs/heads/main").stdout.split()[0]
    version = admin.get(P1).json()["version"]
    err = error(admin.post(f"{P1}/merge", params={"version": version}, json={}), 409,
                "PullRequestMergeVetoedException")
    assert err["vetoes"] == [VETO] and err["conflicted"] is False
    assert git("ls-remote", world["url"], "refs/heads/main").stdout.split()[0] == head
    with reviewer(server) as rev:
        assert rev.put(f"{P1}/participants/nw_rev", json={"status": "UNAPPROVED"}).status_code == 200
        assert admin.get(f"{P1}/merge").json()["vetoes"] == []
        assert rev.put(f"{P1}/participants/nw_rev", json={"status": "NEEDS_WORK"}).status_code == 200
        assert admin.get(f"{P1}/merge").json()["vetoes"] == [VETO]
        assert rev.put(f"{P1}/participants/nw_rev", json={"status": "APPROVED"}).status_code == 200
    assert admin.get(f"{P1}/merge").json()["canMerge"] is True
    # switched off again: a new NEEDS_WORK no longer blocks
    with reviewer(server) as rev:
        assert rev.put(f"{P1}/participants/nw_rev", json={"status": "NEEDS_WORK"}).status_code == 200
    assert admin.post(f"{R}/settings/pull-requests", json={HOOK: False}).json()[HOOK] == {"enabled": False}
    assert admin.get(f"{P1}/merge").json()["canMerge"] is True
    version = admin.get(P1).json()["version"]
    merged = admin.post(f"{P1}/merge", params={"version": version}, json={})
    assert merged.status_code == 200 and merged.json()["state"] == "MERGED"
