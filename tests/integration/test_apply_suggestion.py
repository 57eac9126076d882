"""applySuggestion: a comment's ```suggestion block replaces its anchored line on the source branch as a new
commit by the caller (CAS ref move + outbox event), the pull request is rescoped; every refusal changes
nothing."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest
from pr_support import API, error, push_repo

from support import (
    USER_PASSWORD,
    LiveServer,
    commit_file,
    create_user,
    git,
    grant_repo,
    refs_changed_events,
    server_db,
    validating_client,
)

KEY = "SUG"
SLUG = "suggest"
R = f"{API}/projects/{KEY}/repos/{SLUG}"
CODE = "a = 1\nb = 2\nc = 3\n"
SUGGEST = "Better:\n```suggestion\nb = 20\n```\n"


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_user(server, "sg_writer", "sg_reader")
    work = tmp_path_factory.mktemp("w") / "work"
    data = push_repo(server, admin, work, KEY, SLUG, ["topic", "other"])
    git("checkout", "-q", "topic", cwd=work)
    data["first"] = commit_file(work, "code.py", CODE)
    data["tip"] = commit_file(work, "README.md", "hi\n")  # line 1 of main's README is REMOVED
    git("push", "-q", data["url"], "topic", cwd=work)
    grant_repo(server, KEY, SLUG, "sg_writer", "REPO_WRITE")
    grant_repo(server, KEY, SLUG, "sg_reader", "REPO_READ")
    for branch in ("topic", "other"):
        r = admin.post(f"{R}/pull-requests", json={"title": branch, "fromRef": {"id": f"refs/heads/{branch}"},
                                                   "toRef": {"id": "refs/heads/main"}})
        assert r.status_code == 201, r.text
    data["work"] = work
    return data


def comment(client: httpx.Client, pr: int, text: str, **anchor: object) -> dict:
    body: dict = {"text": text}
    if anchor:
        body["anchor"] = {"diffType": "EFFECTIVE", **anchor}
    r = client.post(f"{R}/pull-requests/{pr}/comments", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def head(world: dict, branch: str = "topic") -> str:
    out = subprocess.run(["git", "ls-remote", world["url"], f"refs/heads/{branch}"], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[0]


def snapshot(server: LiveServer, world: dict) -> tuple:
    from sqlalchemy import select

    from culm.domain.comments.models import Comment
    from culm.domain.pullrequests.models import PullRequest

    with server_db(server) as s:
        prs = [(p.id, p.version, p.state, p.from_commit) for p in s.scalars(select(PullRequest))]
        rows = [(c.id, c.version, c.state, c.to_hash) for c in s.scalars(select(Comment).order_by(Comment.id))]
    return head(world), head(world, "other"), prs, rows, len(refs_changed_events(server, world["repo"]["id"]))


def apply(client: httpx.Client, pr: int, c: dict, **over: object) -> httpx.Response:
    current = client.get(f"{R}/pull-requests/{pr}").json()["version"]
    body = {"commentVersion": c["version"], "pullRequestVersion": current, "suggestionIndex": 0, **over}
    return client.post(f"{R}/pull-requests/{pr}/comments/{c['id']}/apply-suggestion", json=body)


def test_refusals_change_nothing(server: LiveServer, world: dict) -> None:
    writer = validating_client(server, auth=("sg_writer", USER_PASSWORD))
    reader = validating_client(server, auth=("sg_reader", USER_PASSWORD))
    on_b = comment(writer, 1, SUGGEST, path="code.py", line=2, lineType="ADDED", fileType="TO")
    plain = comment(writer, 1, "no suggestion here", path="code.py", line=1, lineType="ADDED", fileType="TO")
    general = comment(writer, 1, "General:\n```suggestion\nx\n```")
    removed = comment(writer, 1, "```suggestion\nhello there\n```", path="README.md", line=1,
                      lineType="REMOVED", fileType="FROM")
    unclosed = comment(writer, 1, "```suggestion\nb = 3\n", path="code.py", line=2, lineType="ADDED")
    before = snapshot(server, world)
    error(apply(reader, 1, on_b), 401, "AuthorisationException")
    anonymous = validating_client(server, auth=None)
    r = anonymous.post(f"{R}/pull-requests/1/comments/{on_b['id']}/apply-suggestion",
                       json={"commentVersion": 0, "pullRequestVersion": 0, "suggestionIndex": 0})
    assert r.status_code == 401, r.text
    error(apply(writer, 1, on_b, commentVersion=on_b["version"] + 1), 409, "CommentOutOfDateException")
    error(apply(writer, 1, on_b, pullRequestVersion=99), 409, "PullRequestOutOfDateException")
    error(apply(writer, 1, on_b, suggestionIndex=1), 400, "ValidationException")
    error(apply(writer, 1, on_b, suggestionIndex=-1), 400, "ValidationException")
    error(apply(writer, 1, on_b, suggestionIndex="x"), 400, "ValidationException")
    error(apply(writer, 1, on_b, suggestionIndex=True), 400, "ValidationException")
    error(apply(writer, 1, on_b, commitMessage="a\x00b"), 400, "ValidationException")
    r = writer.post(f"{R}/pull-requests/1/comments/{on_b['id']}/apply-suggestion", json={"commentVersion": 0})
    error(r, 400, "ValidationException")
    error(apply(writer, 1, plain), 400, "ValidationException")
    error(apply(writer, 1, unclosed), 400, "ValidationException")
    error(apply(writer, 1, general), 409, "Exception")
    error(apply(writer, 1, removed), 409, "Exception")
    error(apply(writer, 1, {"id": 999999, "version": 0}), 404, "NoSuchCommentException")
    error(apply(writer, 1, {"id": "-x", "version": 0}), 404, "NoSuchCommentException")
    r = writer.post(f"{R}/pull-requests/77/comments/{on_b['id']}/apply-suggestion", json={})
    error(r, 404, "NoSuchPullRequestException")
    # a pull request that is not open
    other = comment(writer, 2, SUGGEST, path="other.txt", line=1, lineType="ADDED")
    version = writer.get(f"{R}/pull-requests/2").json()["version"]
    assert writer.post(f"{R}/pull-requests/2/decline", params={"version": version}).status_code == 200
    mid = snapshot(server, world)
    error(apply(writer, 2, other), 409, "IllegalPullRequestStateException")
    assert snapshot(server, world) == mid
    assert before[:2] == mid[:2] and before[4] == mid[4]  # no ref moved, no refs_changed event


def wait_rescoped(client: httpx.Client, pr: int, tip: str) -> dict:
    deadline = time.monotonic() + 20
    while True:
        body = client.get(f"{R}/pull-requests/{pr}").json()
        if body["fromRef"]["latestCommit"] == tip:
            return body
        assert time.monotonic() < deadline, "the pull request was not rescoped"
        time.sleep(0.1)


def test_apply_commits_to_the_source_branch(server: LiveServer, world: dict, tmp_path: Path) -> None:
    writer = validating_client(server, auth=("sg_writer", USER_PASSWORD))
    first = world["first"]
    # anchored on the first commit's own diff: goes stale when code.py changes later
    old = comment(writer, 1, "```suggestion\nA = 1\n```", path="code.py", line=1, lineType="ADDED",
                  fileType="TO", diffType="COMMIT", fromHash=world["commits"]["topic"], toHash=first)
    c = comment(writer, 1, "Two:\n```suggestion\nb = 2.5\n```\nor\n```suggestion\nb = 20\nbb = 21\n```",
                path="code.py", line=2, lineType="ADDED", fileType="TO")
    before_events = len(refs_changed_events(server, world["repo"]["id"]))
    tip = head(world)
    r = apply(writer, 1, c, suggestionIndex=1, commitMessage="Use 20")
    assert r.status_code == 204, r.text
    new = head(world)
    assert new != tip
    clone = tmp_path / "clone"
    git("clone", "-q", "-b", "topic", world["url"], str(clone))
    assert (clone / "code.py").read_text() == "a = 1\nb = 20\nbb = 21\nc = 3\n"
    assert (clone / "README.md").read_text() == "hi\n"
    log = subprocess.run(["git", "log", "-1", "--format=%an|%ae|%s|%P"], cwd=clone, check=True,
                         capture_output=True, text=True).stdout
    assert log.strip().split("|") == ["Sg_Writer", "sg_writer@example.com", "Use 20", tip]
    events = refs_changed_events(server, world["repo"]["id"])
    assert len(events) == before_events + 1
    from sqlalchemy import select

    from culm.domain.users.models import User

    with server_db(server) as s:
        writer_id = s.scalar(select(User.id).where(User.name == "sg_writer"))
    assert events[-1]["actor_id"] == writer_id
    wait_rescoped(writer, 1, new)
    # the old COMMIT-diff anchor: code.py changed since -> 409, nothing moves
    before = snapshot(server, world)
    error(apply(writer, 1, old), 409, "Exception")
    assert snapshot(server, world) == before
    # a suggestion that is what the line already holds changes nothing
    same = comment(writer, 1, "```suggestion\nbb = 21\n```", path="code.py", line=3, lineType="ADDED")
    before = snapshot(server, world)
    error(apply(writer, 1, same), 400, "ValidationException")
    assert snapshot(server, world) == before
