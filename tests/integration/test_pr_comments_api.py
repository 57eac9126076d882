"""Pull request comments and tasks: general, file and line comments (checked against the effective diff),
replies as threads, edits with versions, deletes, tasks (BLOCKER) and their resolution, counts on the
pull request, the COMMENTED activity and pr:comment:* events, and the refusals (nothing half-written)."""

from __future__ import annotations

import httpx
import pytest
from pr_support import API, bitbucket, error, pr_events, pr_state

from support import USER_PASSWORD, LiveServer, commit_file, create_user, git, grant_repo, validating_client

KEY = "PRC"
SLUG = "cmt"
R = f"{API}/projects/{KEY}/repos/{SLUG}"
P1 = f"{R}/pull-requests/1"


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from pr_support import push_repo

    create_user(server, "author", "reader", "outsider", "boss")
    work = tmp_path_factory.mktemp("w") / "work"
    data = push_repo(server, admin, work, KEY, SLUG, ["topic"])
    git("checkout", "-q", "topic", cwd=work)
    data["tip"] = commit_file(work, "README.md", "hello\nworld\n")
    git("push", "-q", data["url"], "topic", cwd=work)
    for name, perm in (("author", "REPO_READ"), ("reader", "REPO_READ"), ("boss", "REPO_ADMIN")):
        grant_repo(server, KEY, SLUG, name, perm)
    pr = bitbucket(server, "author").open_pull_request(KEY, SLUG, KEY, SLUG, "topic", "main", "Topic", "")
    assert pr["id"] == 1
    return data


def client(server: LiveServer, user: str) -> httpx.Client:
    return validating_client(server, auth=(user, USER_PASSWORD))


def comment_state(server: LiveServer) -> list:
    from sqlalchemy import select

    from culm.domain.comments.models import Comment
    from support import server_db

    with server_db(server) as s:
        return [(c.id, c.version, c.text, c.state, c.severity) for c in s.scalars(select(Comment).order_by(Comment.id))]


def test_general_comment_reply_edit_delete(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    bb = bitbucket(server, "author")
    first = bb.add_pull_request_comment(KEY, SLUG, 1, "Looks **good**")
    assert (first["text"], first["version"], first["severity"], first["state"]) == ("Looks **good**", 0, "NORMAL",
                                                                                    "OPEN")
    assert first["author"]["name"] == "author" and first["comments"] == [] and "anchor" not in first
    assert first["properties"]["repositoryId"] == world["repo"]["id"]
    assert first["permittedOperations"] == {"editable": True, "transitionable": True, "deletable": True}
    reply = bitbucket(server, "reader").add_pull_request_comment(KEY, SLUG, 1, "Thanks", parent_id=first["id"])
    thread = admin.get(f"{P1}/comments/{first['id']}").json()
    assert [c["id"] for c in thread["comments"]] == [reply["id"]]
    assert thread["permittedOperations"]["deletable"] is False  # it has a reply
    # edits: author only (or a repository admin); stale versions are refused
    with client(server, "reader") as reader:
        error(reader.put(f"{P1}/comments/{first['id']}", json={"version": 0, "text": "mine"}), 401,
              "AuthorisationException")
    edited = bb.update_pull_request_comment(KEY, SLUG, 1, first["id"], "Looks great", 0)
    assert (edited["text"], edited["version"]) == ("Looks great", 1)
    error(admin.put(f"{P1}/comments/{first['id']}", json={"version": 0, "text": "stale"}), 409,
          "CommentOutOfDateException")
    error(admin.put(f"{P1}/comments/{first['id']}", json={"text": "no version"}), 400, "ArgumentValidationException")
    with client(server, "boss") as boss:
        assert boss.put(f"{P1}/comments/{first['id']}", json={"version": 1, "text": "by admin"}).json()["version"] == 2
    # a comment with replies cannot be deleted; the reply can, then the comment
    error(admin.delete(f"{P1}/comments/{first['id']}", params={"version": 2}), 409, "CommentDeletionException")
    error(admin.delete(f"{P1}/comments/{reply['id']}", params={"version": 5}), 409, "CommentOutOfDateException")
    with client(server, "outsider") as outsider:
        error(outsider.delete(f"{P1}/comments/{reply['id']}"), 401, "AuthorisationException")
    bitbucket(server, "reader").delete_pull_request_comment(KEY, SLUG, 1, reply["id"], 0)
    assert admin.delete(f"{P1}/comments/{first['id']}", params={"version": 2}).status_code == 204
    error(admin.get(f"{P1}/comments/{first['id']}"), 404, "NoSuchCommentException")
    kinds = [e["kind"] for e in pr_events(server) if e["kind"].startswith("pr:comment:")]
    assert kinds == ["pr:comment:added", "pr:comment:added", "pr:comment:edited", "pr:comment:edited",
                     "pr:comment:deleted", "pr:comment:deleted"]
    added = pr_events(server, "pr:comment:added")
    assert added[1]["commentParentId"] == first["id"] and added[0]["comment"]["text"] == "Looks **good**"
    assert pr_events(server, "pr:comment:edited")[0]["previousComment"] == "Looks **good**"
    acts = admin.get(f"{P1}/activities").json()["values"]
    commented = [a["commentAction"] for a in acts if a["action"] == "COMMENTED"]
    assert commented == ["DELETED", "DELETED", "EDITED", "EDITED", "REPLIED", "ADDED"]


def test_file_and_line_comments_follow_the_diff(server: LiveServer, world: dict) -> None:
    admin = validating_client(server)  # anchor.path as a string: tests/spec_check.py STRING_ALLOWED
    bb = bitbucket(server, "author")
    line = admin.post(f"{P1}/comments", json={"text": "why?", "anchor": {
        "path": "README.md", "line": 2, "lineType": "ADDED", "fileType": "TO", "diffType": "EFFECTIVE"}})
    assert line.status_code == 201, line.text
    anchor = line.json()["anchor"]
    assert (anchor["path"], anchor["line"], anchor["lineType"], anchor["fileType"], anchor["diffType"]) == (
        "README.md", 2, "ADDED", "TO", "EFFECTIVE")
    assert anchor["toHash"] == world["tip"] and anchor["fromHash"] == world["commits"]["main"]
    ctx = admin.post(f"{P1}/comments", json={"text": "ctx", "anchor": {"path": "README.md", "line": 1,
                                                                        "lineType": "CONTEXT", "fileType": "FROM"}})
    assert ctx.status_code == 201, ctx.text
    file_c = bb.add_pull_request_inline_comment(KEY, SLUG, 1, "new file", "topic.txt", world["commits"]["main"],
                                                world["tip"])
    assert file_c["anchor"]["path"] == "topic.txt" and "line" not in file_c["anchor"]
    before = comment_state(server)
    for bad in ({"path": "nothere.txt"},
                {"path": "README.md", "line": 7, "lineType": "ADDED", "fileType": "TO"},
                {"path": "README.md", "line": 2, "lineType": "REMOVED", "fileType": "FROM"},
                {"path": "README.md", "line": 1, "lineType": "ADDED", "fileType": "FROM"},
                {"path": "../etc/passwd"}, {"path": "/abs"}, {"path": "a\x00b"}, {"line": 1},
                {"path": "README.md", "line": "x"}, {"path": "README.md", "diffType": "SIDEWAYS"},
                {"path": "README.md", "diffType": "RANGE", "fromHash": "deadbeef", "toHash": world["tip"]},
                {"path": "README.md", "diffType": "RANGE", "fromHash": "-x", "toHash": world["tip"]}):
        r = admin.post(f"{P1}/comments", json={"text": "x", "anchor": bad})
        assert r.status_code == 400, (bad, r.text)
    assert comment_state(server) == before
    page = admin.get(f"{P1}/comments", params={"path": "README.md"}).json()
    assert [c["id"] for c in page["values"]] == [line.json()["id"], ctx.json()["id"]] and page["isLastPage"]
    assert admin.get(f"{P1}/comments", params={"path": "README.md", "limit": 1}).json()["isLastPage"] is False
    assert admin.get(f"{P1}/comments", params={"path": "README.md", "anchorState": "ORPHANED"}).json()["values"] == []
    error(admin.get(f"{P1}/comments"), 400, "ArgumentValidationException")
    error(admin.get(f"{P1}/comments", params={"path": "README.md", "anchorState": "GONE"}), 400,
          "ArgumentValidationException")
    error(admin.get(f"{P1}/comments", params={"path": "README.md", "state": "NOPE"}), 400,
          "ArgumentValidationException")


def test_tasks_resolve_and_counts(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    bb = bitbucket(server, "author")
    task = bb.add_pull_request_blocker_comment(KEY, SLUG, 1, "fix the typo", "BLOCKER")
    assert (task["severity"], task["state"]) == ("BLOCKER", "OPEN")
    plain_task = admin.post(f"{P1}/blocker-comments", json={"text": "also this"}).json()
    assert plain_task["severity"] == "BLOCKER"
    pr = admin.get(P1).json()["properties"]
    assert (pr["openTaskCount"], pr["resolvedTaskCount"]) == (2, 0) and pr["commentCount"] >= 2
    with client(server, "reader") as reader:  # any reader may resolve a task
        done = reader.put(f"{R}/pull-requests/1/blocker-comments/{task['id']}",
                          json={"version": 0, "state": "RESOLVED"})
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "RESOLVED" and done.json()["resolver"]["name"] == "reader"
    listed = admin.get(f"{P1}/blocker-comments", params={"states": "OPEN"}).json()["values"]
    assert [t["id"] for t in listed] == [plain_task["id"]]
    assert len(bb.search_pull_request_blocker_comment(KEY, SLUG, 1)["values"]) == 2
    listing = admin.get(f"{R}/pull-requests").json()["values"][0]["properties"]
    assert (listing["openTaskCount"], listing["resolvedTaskCount"]) == (1, 1)
    from culm.domain.comments.service import open_task_count
    from culm.domain.pullrequests.models import PullRequest
    from support import server_db

    with server_db(server) as s:
        from sqlalchemy import select

        pr_row = s.scalar(select(PullRequest).where(PullRequest.repository_id == world["repo"]["id"]))
        assert open_task_count(s, pr_row) == 1  # type: ignore[arg-type]
    normal = admin.post(f"{P1}/comments", json={"text": "plain"}).json()
    error(admin.put(f"{P1}/comments/{normal['id']}", json={"version": 0, "state": "RESOLVED"}), 400,
          "ArgumentValidationException")
    back = admin.put(f"{P1}/comments/{normal['id']}", json={"version": 0, "severity": "BLOCKER"}).json()
    assert back["severity"] == "BLOCKER" and back["version"] == 1
    error(admin.get(f"{P1}/blocker-comments/999999"), 404, "NoSuchCommentException")
    resolved = admin.put(f"{P1}/comments/{normal['id']}", json={"version": 1, "threadResolved": True}).json()
    assert resolved["threadResolved"] is True and resolved["threadResolver"]["name"] == "admin"
    error(admin.put(f"{P1}/comments/{normal['id']}", json={"version": 2, "threadResolved": "yes"}), 400,
          "ArgumentValidationException")
    event = pr_events(server, "pr:comment:edited")[-1]
    assert "permittedOperations" not in event["comment"] and event["comment"]["threadResolved"] is True
    error(admin.get(f"{P1}/blocker-comments", params={"state": "WHAT"}), 400, "ArgumentValidationException")


def test_refusals_change_nothing(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    before = (comment_state(server), pr_state(server))
    anon = validating_client(server, auth=None)
    error(anon.post(f"{P1}/comments", json={"text": "hi"}), 401, "AuthenticationRequiredException")
    with client(server, "outsider") as outsider:
        error(outsider.post(f"{P1}/comments", json={"text": "hi"}), 401, "AuthorisationException")
        error(outsider.get(f"{P1}/comments", params={"path": "README.md"}), 401, "AuthorisationException")
    for body in ({"text": ""}, {"text": "   "}, {}, {"text": 5}, {"text": "a\x00b"}, {"text": "x" * (32 * 1024 + 1)},
                 {"text": "x", "severity": "HUGE"}, {"text": "x", "state": "RESOLVED"}, {"text": "x", "state": "LATER"},
                 {"text": "x", "parent": {"id": "abc"}}, {"text": "x", "parent": 7}):
        r = admin.post(f"{P1}/comments", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["errors"][0]["exceptionName"].endswith("ArgumentValidationException")
    error(admin.post(f"{P1}/comments", json={"text": "x", "parent": {"id": 999999}}), 404, "NoSuchCommentException")
    error(admin.post(f"{R}/pull-requests/99/comments", json={"text": "x"}), 404, "NoSuchPullRequestException")
    error(admin.post(f"{R}/pull-requests/abc/comments", json={"text": "x"}), 404, "NoSuchPullRequestException")
    error(admin.get(f"{P1}/comments/abc"), 404, "NoSuchCommentException")
    error(admin.put(f"{P1}/comments/999999", json={"version": 0, "text": "x"}), 404, "NoSuchCommentException")
    error(admin.delete(f"{P1}/comments/999999"), 404, "NoSuchCommentException")
    error(admin.post(f"{API}/projects/{KEY}/repos/nope/pull-requests/1/comments", json={"text": "x"}), 404,
          "NoSuchRepositoryException")
    assert (comment_state(server), pr_state(server)) == before
    big = admin.post(f"{P1}/comments", json={"text": "é" * (32 * 1024)})
    assert big.status_code == 201 and len(big.json()["text"]) == 32 * 1024


def test_pending_review_finish_and_discard(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    reader = client(server, "reader")
    events_before = len(pr_events(server))
    draft = reader.post(f"{P1}/comments", json={"text": "pending one", "state": "PENDING"})
    assert draft.status_code == 201, draft.text
    assert draft.json()["state"] == "PENDING" and draft.json()["pending"] is True
    task = reader.post(f"{P1}/comments", json={"text": "pending task", "state": "PENDING", "severity": "BLOCKER"})
    assert len(pr_events(server)) == events_before  # nothing announced while pending
    # only the author sees pending comments
    error(admin.get(f"{P1}/comments/{draft.json()['id']}"), 404, "NoSuchCommentException")
    assert reader.get(f"{P1}/comments/{draft.json()['id']}").status_code == 200
    assert [c["id"] for c in reader.get(f"{P1}/review").json()["values"]] == [draft.json()["id"], task.json()["id"]]
    assert admin.get(f"{P1}/review").json()["values"] == []
    open_before = admin.get(P1).json()["properties"]["openTaskCount"]
    error(reader.put(f"{P1}/review", json={"participantStatus": "SIDEWAYS"}), 400, "ArgumentValidationException")
    assert reader.get(f"{P1}/comments/{draft.json()['id']}").json()["state"] == "PENDING"
    done = reader.put(f"{P1}/review", json={"commentText": "Overall fine", "participantStatus": "NEEDS_WORK"})
    assert done.status_code == 200, done.text
    assert done.json()["publishedCommentCount"] == 3
    assert admin.get(f"{P1}/comments/{draft.json()['id']}").json()["state"] == "OPEN"
    assert admin.get(P1).json()["properties"]["openTaskCount"] == open_before + 1
    me = [p for p in admin.get(P1).json()["participants"] if p["user"]["name"] == "reader"]
    assert me and me[0]["status"] == "NEEDS_WORK"
    kinds = [e["kind"] for e in pr_events(server)[events_before:]]
    assert kinds.count("pr:comment:added") == 3 and "pr:reviewer:needs_work" in kinds
    # discard: pending comments go, published ones stay
    gone = reader.post(f"{P1}/comments", json={"text": "second thoughts", "state": "PENDING"}).json()
    assert reader.delete(f"{P1}/review").status_code == 204
    error(reader.get(f"{P1}/comments/{gone['id']}"), 404, "NoSuchCommentException")
    assert reader.get(f"{P1}/review").json()["values"] == []
    error(validating_client(server, auth=None).get(f"{P1}/review"), 401, "AuthenticationRequiredException")


def test_task_counts_diff_type_rule_and_watching(server: LiveServer, world: dict) -> None:
    plain = validating_client(server)
    counts = plain.get(f"{P1}/blocker-comments", params={"count": "true"}).json()
    assert set(counts) == {"OPEN", "RESOLVED"} and counts["OPEN"] >= 1
    # hashes without a diffType: the diffType is required (only a bare anchor defaults to EFFECTIVE)
    r = plain.post(f"{P1}/comments", json={"text": "x", "anchor": {"path": "README.md", "fromHash": world["commits"]
                                                                   ["main"], "toHash": world["tip"]}})
    assert r.status_code == 400 and "diffType" in r.text
    ranged = plain.post(f"{P1}/comments", json={"text": "x", "anchor": {
        "path": "README.md", "diffType": "RANGE", "fromHash": world["commits"]["main"], "toHash": world["tip"],
        "line": 2, "lineType": "ADDED", "fileType": "TO"}})
    assert ranged.status_code == 201, ranged.text
    # a commenter who does not take part watches the pull request
    from sqlalchemy import select

    from culm.domain.pullrequests.models import Watcher
    from culm.domain.users.models import User
    from support import server_db

    with server_db(server) as s:
        reader_id = s.scalar(select(User.id).where(User.name == "reader"))
        watchers = s.scalars(select(Watcher.user_id)).all()
    assert reader_id in watchers
