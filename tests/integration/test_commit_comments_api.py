"""Commit comments: general, file and line comments on a commit's own diff, replies, edits, deletes,
repo:comment:* events, and the refusals (unknown commits and comments, readers vs anonymous)."""

from __future__ import annotations

import json

import httpx
import pytest
from pr_support import API, error

from support import (
    ADMIN,
    USER_PASSWORD,
    LiveServer,
    commit_file,
    create_repo,
    create_user,
    cred_url,
    git,
    grant_repo,
    server_db,
    validating_client,
)

KEY = "CCM"
SLUG = "ccm"
R = f"{API}/projects/{KEY}/repos/{SLUG}"


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_user(server, "ccreader", "ccoutsider")
    repo = create_repo(admin, KEY, SLUG)
    work = tmp_path_factory.mktemp("w") / "work"
    git("init", "-q", "-b", "main", str(work))
    first = commit_file(work, "a.txt", "one\ntwo\n")
    second = commit_file(work, "a.txt", "one\nTWO\nthree\n")
    git("push", "-q", cred_url(server, f"/scm/{KEY}/{SLUG}.git", *ADMIN), "main", cwd=work)
    grant_repo(server, KEY, SLUG, "ccreader", "REPO_READ")
    return {"repo": repo, "first": first, "second": second}


def repo_events(server: LiveServer) -> list[dict]:
    from sqlalchemy import select

    from culm.domain.events.models import Event

    with server_db(server) as s:
        return [json.loads(e.payload) for e in s.scalars(select(Event).where(Event.kind.like("repo:comment:%"))
                                                         .order_by(Event.id))]


def test_commit_comment_lifecycle(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    c = f"{R}/commits/{world['second']}/comments"
    reader = validating_client(server, auth=("ccreader", USER_PASSWORD))
    made = reader.post(c, json={"text": "nice"})
    assert made.status_code == 201, made.text
    root = made.json()
    assert root["author"]["name"] == "ccreader" and root["version"] == 0 and "anchor" not in root
    reply = admin.post(c, json={"text": "thanks", "parent": {"id": root["id"]}}).json()
    got = admin.get(f"{c}/{root['id']}").json()
    assert [r["id"] for r in got["comments"]] == [reply["id"]]
    plain = validating_client(server)
    line = plain.post(c, json={"text": "line", "anchor": {"path": "a.txt", "line": 3, "lineType": "ADDED",
                                                           "fileType": "TO"}})
    assert line.status_code == 201, line.text
    assert line.json()["anchor"]["fromHash"] == world["first"] and line.json()["anchor"]["toHash"] == world["second"]
    assert plain.post(c, json={"text": "x", "anchor": {"path": "zzz.txt"}}).status_code == 400
    assert plain.post(c, json={"text": "x", "anchor": {"path": "a.txt", "line": 9}}).status_code == 400
    listed = plain.get(c).json()["values"]
    assert [v["id"] for v in listed] == [root["id"], line.json()["id"]]
    assert [v["id"] for v in plain.get(c, params={"path": "a.txt"}).json()["values"]] == [line.json()["id"]]
    # abbreviated ids name the same commit; another commit has its own comments
    assert admin.get(f"{R}/commits/{world['second'][:12]}/comments/{root['id']}").status_code == 200
    error(admin.get(f"{R}/commits/{world['first']}/comments/{root['id']}"), 404, "NoSuchCommentException")
    assert admin.get(f"{R}/commits/{world['first']}/comments").json()["values"] == []
    edited = reader.put(f"{c}/{root['id']}", json={"version": 0, "text": "very nice"})
    assert edited.json()["version"] == 1
    error(reader.put(f"{c}/{root['id']}", json={"version": 0, "text": "x"}), 409, "CommentOutOfDateException")
    error(admin.delete(f"{c}/{root['id']}"), 409, "CommentDeletionException")
    assert admin.delete(f"{c}/{reply['id']}", params={"version": 0}).status_code == 204
    assert reader.delete(f"{c}/{root['id']}", params={"version": 1}).status_code == 204
    kinds = [e["eventKey"] for e in repo_events(server)]
    assert kinds == ["repo:comment:added", "repo:comment:added", "repo:comment:added", "repo:comment:edited",
                     "repo:comment:deleted", "repo:comment:deleted"]
    first = repo_events(server)[0]
    assert first["commit"] == world["second"] and first["repository"]["slug"] == SLUG
    assert first["comment"]["text"] == "nice" and first["actor"]["name"] == "ccreader"


def test_commit_comment_refusals(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    c = f"{R}/commits/{world['second']}/comments"
    before = repo_events(server)
    error(admin.post(f"{R}/commits/{'0' * 40}/comments", json={"text": "x"}), 404, "NoSuchCommitException")
    error(admin.post(f"{R}/commits/-rf/comments", json={"text": "x"}), 404, "NoSuchCommitException")
    error(admin.get(f"{R}/commits/nope/comments"), 404, "NoSuchCommitException")
    error(validating_client(server, auth=None).post(c, json={"text": "x"}), 401, "AuthenticationRequiredException")
    error(validating_client(server, auth=("ccoutsider", USER_PASSWORD)).get(c), 401, "AuthorisationException")
    error(admin.post(c, json={"text": "a\x00b"}), 400, "ArgumentValidationException")
    error(admin.post(c, json={"text": "x", "state": "PENDING"}), 400, "ArgumentValidationException")
    error(admin.post(c, json={"text": "x" * 40000}), 400, "ArgumentValidationException")
    error(admin.get(c, params={"path": "a\x00"}), 400, "ArgumentValidationException")
    error(admin.get(f"{c}/12345"), 404, "NoSuchCommentException")
    assert repo_events(server) == before
