"""Merge checks block a merge until they are met: required builds (build statuses posted through the API),
minimum approvals and all-reviewers approval (PUT participants), default reviewer conditions, drafts;
the veto texts show through `GET {PR}/merge` and in the 409 of `POST {PR}/merge`."""

from __future__ import annotations

import httpx
import pytest
from pr_support import API, error, push_repo

from support import USER_PASSWORD, LiveServer, create_user, git, grant_repo, validating_client

KEY = "PMC"
SLUG = "chk"
R = f"{API}/projects/{KEY}/repos/{SLUG}"
P1 = f"{R}/pull-requests/1"
RB = f"/rest/required-builds/latest/projects/{KEY}/repos/{SLUG}"


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_user(server, "mc_rev1", "mc_rev2", "mc_reader")
    data = push_repo(server, admin, tmp_path_factory.mktemp("c") / "work", KEY, SLUG, ["topic", "draft"])
    for name in ("mc_rev1", "mc_rev2", "mc_reader"):
        grant_repo(server, KEY, SLUG, name, "REPO_READ")
    r = admin.post(f"{R}/pull-requests", json={"title": "Checked", "fromRef": {"id": "refs/heads/topic"},
                                               "toRef": {"id": "refs/heads/main"},
                                               "reviewers": [{"user": {"name": "mc_rev1"}},
                                                             {"user": {"name": "mc_rev2"}}]})
    assert r.status_code == 201, r.text
    return data


def as_user(server: LiveServer, name: str) -> httpx.Client:
    return validating_client(server, auth=(name, USER_PASSWORD))


def summaries(body: dict) -> list[str]:
    return [v["summaryMessage"] for v in body["vetoes"]]


def test_checks_block_until_builds_and_approvals(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    tip = world["commits"]["topic"]
    assert admin.get(f"{P1}/merge").json()["canMerge"] is True
    assert admin.post(f"{RB}/condition", json={"buildParentKeys": ["ci"], "refMatcher": {
        "id": "refs/heads/main", "type": {"id": "BRANCH"}}}).status_code == 200
    assert admin.post(f"{R}/settings/pull-requests", json={"requiredApprovers": 1,
                                                           "requiredAllApprovers": True}).status_code == 200
    body = admin.get(f"{P1}/merge").json()
    assert body["canMerge"] is False and body["conflicted"] is False and body["outcome"] == "CLEAN"
    assert body["vetoes"] == [
        {"summaryMessage": "Not all required builds are successful yet",
         "detailedMessage": "These builds must be successful before this pull request can be merged: ci."},
        {"summaryMessage": "Requires approvals",
         "detailedMessage": "You still need 1 approval before this pull request can be merged."},
        {"summaryMessage": "Not all reviewers have approved yet",
         "detailedMessage": "All reviewers must approve this pull request before it can be merged."}]
    head = git("ls-remote", world["url"], "refs/heads/main").stdout.split()[0]
    version = admin.get(P1).json()["version"]
    err = error(admin.post(f"{P1}/merge", params={"version": version}, json={}), 409,
                "PullRequestMergeVetoedException")
    assert err["message"] == "Merging the pull request has been vetoed."
    assert err["conflicted"] is False and err["vetoes"] == body["vetoes"]
    # a failed build still blocks; a successful one clears the build veto
    assert admin.post(f"{R}/commits/{tip}/builds", json={"key": "ci", "state": "FAILED",
                                                         "url": "https://ci.example/1"}).status_code == 204
    assert summaries(admin.get(f"{P1}/merge").json())[0] == "Not all required builds are successful yet"
    assert admin.post(f"{R}/commits/{tip}/builds", json={"key": "ci", "state": "SUCCESSFUL",
                                                         "url": "https://ci.example/1"}).status_code == 204
    assert summaries(admin.get(f"{P1}/merge").json()) == ["Requires approvals", "Not all reviewers have approved yet"]
    with as_user(server, "mc_rev1") as rev1:
        assert rev1.put(f"{P1}/participants/mc_rev1", json={"status": "APPROVED"}).status_code == 200
    assert summaries(admin.get(f"{P1}/merge").json()) == ["Not all reviewers have approved yet"]
    with as_user(server, "mc_rev2") as rev2:
        assert rev2.put(f"{P1}/participants/mc_rev2", json={"status": "NEEDS_WORK"}).status_code == 200
        assert summaries(admin.get(f"{P1}/merge").json()) == ["Not all reviewers have approved yet"]
        assert rev2.put(f"{P1}/participants/mc_rev2", json={"status": "APPROVED"}).status_code == 200
    assert git("ls-remote", world["url"], "refs/heads/main").stdout.split()[0] == head
    assert admin.get(f"{P1}/merge").json() == {"canMerge": True, "conflicted": False, "outcome": "CLEAN",
                                               "vetoes": []}
    # a reader may look at the checks but not merge
    with as_user(server, "mc_reader") as reader:
        assert reader.get(f"{P1}/merge").status_code == 200
        version = admin.get(P1).json()["version"]
        error(reader.post(f"{P1}/merge", params={"version": version}, json={}), 401, "AuthorisationException")
    version = admin.get(P1).json()["version"]
    merged = admin.post(f"{P1}/merge", params={"version": version}, json={})
    assert merged.status_code == 200, merged.text
    assert merged.json()["state"] == "MERGED"


def test_default_reviewer_condition_and_draft(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    admin.post(f"{R}/settings/pull-requests", json={"requiredApprovers": 0, "requiredAllApprovers": False})
    r = admin.post(f"/rest/default-reviewers/latest/projects/{KEY}/repos/{SLUG}/condition", json={
        "sourceMatcher": {"id": "ANY_REF_MATCHER_ID", "type": {"id": "ANY_REF"}},
        "targetMatcher": {"id": "ANY_REF_MATCHER_ID", "type": {"id": "ANY_REF"}},
        "reviewers": [{"name": "mc_rev1"}], "requiredApprovals": 1})
    assert r.status_code == 200, r.text
    pr = admin.post(f"{R}/pull-requests", json={"title": "Draft", "draft": True,
                                                "fromRef": {"id": "refs/heads/draft"},
                                                "toRef": {"id": "refs/heads/main"}}).json()
    url = f"{R}/pull-requests/{pr['id']}"
    body = admin.get(f"{url}/merge").json()
    assert summaries(body) == ["Draft pull request", "Not all required builds are successful yet",
                               "Not all required reviewers have approved yet"]
    assert body["vetoes"][2]["detailedMessage"].startswith("At least 1 of the following users must review and "
                                                           "approve this pull request before it can be merged")
    error(admin.post(f"{url}/merge", params={"version": pr["version"]}, json={}), 409,
          "PullRequestMergeVetoedException")


def test_merge_result_is_not_current_once_the_target_moves(server: LiveServer, admin: httpx.Client,
                                                           world: dict) -> None:
    """`properties.mergeResult.current` says whether the shown outcome is for the present commits."""
    from culm.domain.pullrequests.models import PullRequest
    from support import server_db

    pr = admin.post(f"{R}/pull-requests", json={"title": "Stale", "fromRef": {"id": "refs/heads/draft"},
                                                "toRef": {"id": "refs/heads/main"}})
    pr = pr.json() if pr.status_code == 201 else admin.get(f"{R}/pull-requests", params={"state": "OPEN"}).json()[
        "values"][0]
    url = f"{R}/pull-requests/{pr['id']}"
    admin.get(f"{url}/merge")
    assert admin.get(url).json()["properties"]["mergeResult"]["current"] is True
    with server_db(server) as session:  # the pull request's target commit as a rescope would move it
        row = session.get(PullRequest, next(p.id for p in session.query(PullRequest).filter_by(local_id=pr["id"])))
        row.to_commit = "0" * 40
    assert admin.get(url).json()["properties"]["mergeResult"]["current"] is False


def test_task_check_counts_open_tasks() -> None:
    """The task check takes the number of open tasks (provided by `checks._open_tasks`)."""
    from culm.domain.mergechecks.model import CheckInput
    from culm.domain.mergechecks.tasks import all_tasks_complete
    from culm.domain.merging.settings import MergeConfigValue, MergeSettings
    from culm.domain.pullrequests.models import PullRequest

    config = MergeConfigValue("no-ff", ("no-ff",), 20, "DEFAULT")
    on, off = MergeSettings(config, required_all_tasks_complete=True), MergeSettings(config)
    pr = PullRequest(local_id=1, from_ref="refs/heads/a", to_ref="refs/heads/main")
    assert all_tasks_complete(CheckInput(None, None, pr, on, [], open_tasks=0)) == []  # type: ignore[arg-type]
    assert all_tasks_complete(CheckInput(None, None, pr, off, [], open_tasks=3)) == []  # type: ignore[arg-type]
    [veto] = all_tasks_complete(CheckInput(None, None, pr, on, [], open_tasks=2))  # type: ignore[arg-type]
    assert veto.json() == {"summaryMessage": "Resolve all tasks",
                           "detailedMessage": "You need to resolve 2 open tasks before this pull request can be "
                                              "merged."}
