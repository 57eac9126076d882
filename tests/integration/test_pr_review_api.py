"""Pull request review: participants (assign, unassign), statuses (approve, needs work, unapprove) with
the deprecated approve endpoints, the activity stream, and the repository's participant search."""

from __future__ import annotations

import httpx
import pytest
from pr_support import API, bitbucket, error, pr_events, pr_state, push_repo

from support import USER_PASSWORD, LiveServer, create_user, grant_repo, validating_client

KEY = "PRV"
SLUG = "rev"
R = f"{API}/projects/{KEY}/repos/{SLUG}"
P1 = f"{R}/pull-requests/1"


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_user(server, "author", "rev1", "rev2", "writer", "outsider")
    data = push_repo(server, admin, tmp_path_factory.mktemp("w") / "work", KEY, SLUG, ["topic", "other"])
    for name, perm in (("author", "REPO_READ"), ("rev1", "REPO_READ"), ("rev2", "REPO_READ"),
                       ("writer", "REPO_WRITE")):
        grant_repo(server, KEY, SLUG, name, perm)
    pr = bitbucket(server, "author").open_pull_request(KEY, SLUG, KEY, SLUG, "topic", "main", "Topic", "",
                                                       reviewers=["rev1"])
    assert pr["id"] == 1
    return data


def client(server: LiveServer, user: str) -> httpx.Client:
    return validating_client(server, auth=(user, USER_PASSWORD))


def test_participants_list_and_assign(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    bb = bitbucket(server, "author")
    people = list(bb.get_pull_requests_participants(KEY, SLUG, 1))
    assert [(p["user"]["name"], p["role"]) for p in people] == [("author", "AUTHOR"), ("rev1", "REVIEWER")]
    added = bb.assign_pull_request_participant_role(KEY, SLUG, 1, "REVIEWER", "rev2")
    assert (added["user"]["name"], added["role"], added["status"], added["approved"]) == (
        "rev2", "REVIEWER", "UNAPPROVED", False)
    pr = admin.get(P1).json()
    assert [r["user"]["name"] for r in pr["reviewers"]] == ["rev1", "rev2"] and pr["version"] == 1
    event = pr_events(server, "pr:reviewer:updated")[-1]
    assert [u["name"] for u in event["addedReviewers"]] == ["rev2"] and event["removedReviewers"] == []
    before = pr_state(server)
    with client(server, "rev1") as rev1:  # a reader who is not the author cannot change reviewers
        error(rev1.post(f"{P1}/participants", json={"user": {"name": "rev2"}, "role": "REVIEWER"}), 401,
              "AuthorisationException")
    error(admin.post(f"{P1}/participants", json={"user": {"name": "author"}, "role": "REVIEWER"}), 400,
          "InvalidPullRequestParticipantException")
    error(admin.post(f"{P1}/participants", json={"user": {"name": "rev2"}, "role": "AUTHOR"}), 400,
          "InvalidPullRequestParticipantException")
    error(admin.post(f"{P1}/participants", json={"user": {"name": "rev2"}}), 400, "ArgumentValidationException")
    error(admin.post(f"{P1}/participants", json={"user": {"name": "ghost"}, "role": "REVIEWER"}), 404,
          "NoSuchUserException")
    error(admin.post(f"{P1}/participants", json={"user": {"name": "outsider"}, "role": "REVIEWER"}), 409,
          "InvalidPullRequestReviewersException")
    assert pr_state(server) == before


def test_statuses_approve_needs_work_unapprove(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    head = world["commits"]["topic"]
    before = pr_state(server)
    with client(server, "author") as author:
        error(author.put(f"{P1}/participants/author", json={"status": "APPROVED"}), 400,
              "InvalidPullRequestParticipantException")
        error(author.post(f"{P1}/approve"), 400, "InvalidPullRequestParticipantException")
    with client(server, "rev1") as rev1:
        error(rev1.put(f"{P1}/participants/rev1", json={"status": "LOVED"}), 400, "ArgumentValidationException")
        error(rev1.put(f"{P1}/participants/rev1", json={}), 400, "ArgumentValidationException")
        error(rev1.put(f"{P1}/participants/rev2", json={"status": "APPROVED"}), 401, "AuthorisationException")
        error(rev1.put(f"{P1}/participants/rev1", json={"status": "APPROVED", "lastReviewedCommit": "0" * 40}),
              409, "PullRequestOutOfDateException")
        assert pr_state(server) == before
        p = rev1.put(f"{P1}/participants/rev1", json={"status": "APPROVED", "lastReviewedCommit": head})
        assert p.status_code == 200, p.text
        assert (p.json()["status"], p.json()["approved"], p.json()["lastReviewedCommit"]) == ("APPROVED", True, head)
        p = rev1.put(f"{P1}/participants/rev1", json={"status": "NEEDS_WORK"}).json()
        assert (p["status"], p["approved"]) == ("NEEDS_WORK", False)
        assert rev1.put(f"{P1}/participants/rev1", json={"status": "UNAPPROVED"}).json()["status"] == "UNAPPROVED"
    with client(server, "writer") as writer:  # not a reviewer: approving makes a participant
        p = writer.post(f"{P1}/approve")
        assert p.status_code == 200 and (p.json()["role"], p.json()["status"]) == ("PARTICIPANT", "APPROVED")
        assert writer.delete(f"{P1}/approve").json()["status"] == "UNAPPROVED"
    with client(server, "rev2") as rev2:
        p = rev2.post(f"{P1}/approve").json()
        assert (p["role"], p["approved"]) == ("REVIEWER", True)
    pr = admin.get(P1).json()
    assert [(r["user"]["name"], r["status"]) for r in pr["reviewers"]] == [("rev1", "UNAPPROVED"),
                                                                            ("rev2", "APPROVED")]
    assert [(p["user"]["name"], p["role"]) for p in pr["participants"]] == [("writer", "PARTICIPANT")]
    kinds = [(e["kind"], e["previousStatus"], e["participant"]["user"]["name"]) for e in pr_events(server)
             if e["kind"].startswith("pr:reviewer:") and e["kind"] != "pr:reviewer:updated"]
    assert kinds == [("pr:reviewer:approved", "UNAPPROVED", "rev1"), ("pr:reviewer:needs_work", "APPROVED", "rev1"),
                     ("pr:reviewer:unapproved", "NEEDS_WORK", "rev1"), ("pr:reviewer:approved", "UNAPPROVED", "writer"),
                     ("pr:reviewer:unapproved", "APPROVED", "writer"), ("pr:reviewer:approved", "UNAPPROVED", "rev2")]
    with client(server, "outsider") as outsider:
        error(outsider.post(f"{P1}/approve"), 401, "AuthorisationException")
    with server.client(auth=None) as anon:
        assert anon.post(f"{P1}/approve").status_code == 401
    error(admin.delete(f"{P1}/approve"), 404, "NoSuchUserException")  # admin takes no part


def test_unassign_and_activities(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    with client(server, "rev2") as rev2:  # a reviewer may remove themself
        assert rev2.delete(f"{P1}/participants/rev1").status_code == 401
        assert rev2.delete(f"{P1}/participants/rev2").status_code == 204
    pr = admin.get(P1).json()
    assert [r["user"]["name"] for r in pr["reviewers"]] == ["rev1"]
    assert ("rev2", "PARTICIPANT") in [(p["user"]["name"], p["role"]) for p in pr["participants"]]  # had approved
    assert admin.delete(f"{P1}/participants", params={"username": "rev1"}).status_code == 204
    assert admin.get(P1).json()["reviewers"] == []
    error(admin.delete(f"{P1}/participants/author"), 400, "InvalidPullRequestParticipantException")
    error(admin.delete(f"{P1}/participants/ghost"), 404, "NoSuchUserException")
    error(admin.delete(f"{P1}/participants"), 400, "ArgumentValidationException")
    acts = list(bitbucket(server).get_pull_requests_activities(KEY, SLUG, 1))
    actions = [a["action"] for a in acts]
    assert actions[-1] == "OPENED" and actions[:2] == ["UPDATED", "UPDATED"]
    assert actions.count("APPROVED") == 3 and "REVIEWED" in actions and "UNAPPROVED" in actions
    assert [u["name"] for u in acts[0]["removedReviewers"]] == ["rev1"] and acts[0]["addedReviewers"] == []
    assert acts[-1]["user"]["name"] == "author" and acts[0]["createdDate"] >= acts[-1]["createdDate"]
    ids = [a["id"] for a in acts]
    assert ids == sorted(ids, reverse=True)
    page = admin.get(f"{P1}/activities", params={"limit": 2}).json()
    assert page["size"] == 2 and not page["isLastPage"]
    frm = admin.get(f"{P1}/activities", params={"fromId": ids[2], "fromType": "ACTIVITY"}).json()
    assert frm["values"][0]["id"] == ids[2]
    error(admin.get(f"{P1}/activities", params={"fromId": 1, "fromType": "NOPE"}), 400, "ArgumentValidationException")
    error(admin.get(f"{R}/pull-requests/9/activities"), 404, "NoSuchPullRequestException")


def test_closed_pull_request_refuses_reviews(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    pr = admin.post(f"{R}/pull-requests", json={"title": "O", "fromRef": {"id": "other"}, "toRef": {"id": "main"},
                                                "reviewers": [{"user": {"name": "rev1"}}]}).json()
    url = f"{R}/pull-requests/{pr['id']}"
    assert admin.post(f"{url}/decline", params={"version": pr["version"]}).status_code == 200
    before = pr_state(server)
    with client(server, "rev1") as rev1:
        error(rev1.post(f"{url}/approve"), 409, "IllegalPullRequestStateException")
        error(rev1.put(f"{url}/participants/rev1", json={"status": "NEEDS_WORK"}), 409,
              "IllegalPullRequestStateException")
    error(admin.post(f"{url}/participants", json={"user": {"name": "rev2"}, "role": "REVIEWER"}), 409,
          "IllegalPullRequestStateException")
    error(admin.put(url, json={"version": 1, "title": "x"}), 409, "IllegalPullRequestStateException")
    assert pr_state(server) == before


def test_repository_participants_search(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    names = [u["name"] for u in admin.get(f"{R}/participants").json()["values"]]
    assert {"author", "rev1", "rev2", "writer", "admin"} <= set(names)
    assert [u["name"] for u in admin.get(f"{R}/participants", params={"role": "AUTHOR"}).json()["values"]] == [
        "admin", "author"]
    assert [u["name"] for u in admin.get(f"{R}/participants", params={"filter": "wri"}).json()["values"]] == ["writer"]
    error(admin.get(f"{R}/participants", params={"role": "BOSS"}), 400, "ArgumentValidationException")
    with client(server, "outsider") as outsider:
        error(outsider.get(f"{R}/participants"), 401, "AuthorisationException")
