"""Anchors across rescoping: after the source branch moves, `anchors.reanchor` orphans EFFECTIVE file and
line comments whose file or line left the effective diff (kept, `anchor.orphaned`, excluded from
anchorState=ACTIVE) and moves the others to the new hashes."""

from __future__ import annotations

import os

import httpx
import pytest
from pr_support import API, bitbucket, push_repo

from support import LiveServer, commit_file, git, server_db, validating_client

KEY = "ANC"
SLUG = "anc"
P1 = f"{API}/projects/{KEY}/repos/{SLUG}/pull-requests/1"


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("w") / "work"
    data = push_repo(server, admin, work, KEY, SLUG, ["topic"])
    git("checkout", "-q", "topic", cwd=work)
    commit_file(work, "README.md", "hello\nline two\nline three\n")
    git("push", "-q", data["url"], "topic", cwd=work)
    bitbucket(server).open_pull_request(KEY, SLUG, KEY, SLUG, "topic", "main", "T", "")
    data["work"] = work
    return data


@pytest.fixture(scope="module")
def home(server: LiveServer):  # type: ignore[no-untyped-def]
    """Point this process's settings at the live server's home, so culm.git finds its repositories."""
    from culm.core.config import reset_settings

    saved = os.environ.get("CULM_HOME")
    os.environ["CULM_HOME"] = str(server.home)
    reset_settings()
    yield server
    if saved is None:
        os.environ.pop("CULM_HOME", None)
    else:
        os.environ["CULM_HOME"] = saved
    reset_settings()


def _reanchor_after_push(server: LiveServer, world: dict, new_tip: str) -> None:
    """What the rescope helper does: record the new source commit, then re-check the anchors."""
    from sqlalchemy import select

    import culm.domain.models  # noqa: F401  (every table known to the metadata)
    from culm.domain.comments.anchors import reanchor
    from culm.domain.pullrequests.models import PullRequest

    with server_db(server) as s:
        pr = s.scalar(select(PullRequest).where(PullRequest.repository_id == world["repo"]["id"]))
        assert pr is not None
        pr.from_commit = new_tip
        reanchor(s, pr)  # type: ignore[arg-type]
        s.commit()  # type: ignore[attr-defined]


def test_reanchor_orphans_what_left_the_diff(server: LiveServer, world: dict, home: LiveServer) -> None:
    plain = validating_client(server)

    def post(anchor: dict) -> dict:
        r = plain.post(f"{P1}/comments", json={"text": "c", "anchor": anchor})
        assert r.status_code == 201, r.text
        return r.json()

    kept_line = post({"path": "README.md", "line": 2, "lineType": "ADDED", "fileType": "TO"})
    lost_line = post({"path": "README.md", "line": 3, "lineType": "ADDED", "fileType": "TO"})
    lost_file = post({"path": "topic.txt"})
    general = plain.post(f"{P1}/comments", json={"text": "general"}).json()
    work = world["work"]
    git("rm", "-q", "topic.txt", cwd=work)
    new_tip = commit_file(work, "README.md", "hello\nline two\n")
    git("push", "-q", world["url"], "topic", cwd=work)
    _reanchor_after_push(server, world, new_tip)
    active = plain.get(f"{P1}/comments", params={"path": "README.md"}).json()["values"]
    assert [c["id"] for c in active] == [kept_line["id"]]
    assert active[0]["anchor"]["toHash"] == new_tip and active[0]["anchor"]["orphaned"] is False
    orphaned = plain.get(f"{P1}/comments", params={"path": "README.md", "anchorState": "ORPHANED"}).json()["values"]
    assert [c["id"] for c in orphaned] == [lost_line["id"]] and orphaned[0]["anchor"]["orphaned"] is True
    every = plain.get(f"{P1}/comments", params={"path": "topic.txt", "anchorState": "ALL"}).json()["values"]
    assert [c["id"] for c in every] == [lost_file["id"]] and every[0]["anchor"]["orphaned"] is True
    assert plain.get(f"{P1}/comments/{general['id']}").status_code == 200
    # orphaned comments stay readable, editable and deletable
    r = plain.put(f"{P1}/comments/{lost_line['id']}", json={"version": 0, "text": "still here"})
    assert r.status_code == 200 and r.json()["anchor"]["orphaned"] is True
    # a new line comment is checked against the new diff
    assert plain.post(f"{P1}/comments", json={"text": "x", "anchor": {
        "path": "README.md", "line": 3, "lineType": "ADDED", "fileType": "TO"}}).status_code == 400
    # nothing to re-check: no error, nothing changes
    _reanchor_after_push(server, world, new_tip)
    assert [c["id"] for c in plain.get(f"{P1}/comments", params={"path": "README.md"}).json()["values"]] == [
        kept_line["id"]]
