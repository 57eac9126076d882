"""Pushes land in the outbox as `repo:refs_changed` events: in order, attributed, and never lost."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import httpx
import pytest

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
    live_server,
    refs_changed_events,
    server_db,
)

KEY = "OUT"
ZERO = "0" * 40


def remote(server: LiveServer, slug: str, user: tuple[str, str] = ADMIN) -> str:
    return cred_url(server, f"/scm/{KEY}/{slug}.git", *user)


def admin_id(server: LiveServer) -> int:
    from culm.domain.users import service as users

    with server_db(server) as session:
        return users.require_user(session, "admin").id  # type: ignore[arg-type]


def changes(events: list[dict]) -> list[tuple[str, str, str, str]]:
    return [(c["refId"], c["type"], c["fromHash"], c["toHash"]) for e in events for c in e["changes"]]


def remote_refs(url: str) -> dict[str, str]:
    out = git("ls-remote", "--heads", "--tags", url).stdout
    pairs = (line.split("\t") for line in out.splitlines())
    return {ref: sha for sha, ref in pairs if not ref.endswith("^{}")}


def replay(events: list[dict]) -> dict[str, str]:
    """Apply the events from nothing; every change must start where the previous one left the ref."""
    state: dict[str, str] = {}
    for change in (c for e in events for c in e["changes"]):
        assert state.get(change["refId"], ZERO) == change["fromHash"], change
        if change["toHash"] == ZERO:
            state.pop(change["refId"])
        else:
            state[change["refId"]] = change["toHash"]
    return state


def break_post_receive(server: LiveServer, repo_id: int) -> None:
    """A post-receive that never reaches the server (as if it crashed or the server was down)."""
    hook = server.home / "shared" / "data" / "repositories" / str(repo_id) / "hooks" / "post-receive"
    hook.write_text("#!/bin/sh\ncat >/dev/null\nexit 0\n")
    os.chmod(hook, 0o755)


def restore_hooks(server: LiveServer, repo_id: int) -> None:
    from culm.git import hooks

    hooks.install(server.home / "shared" / "data" / "repositories" / str(repo_id))


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    git("init", "-q", "-b", "main", str(path))
    return path


def test_branch_create_update_delete_force_push_and_tags(server: LiveServer, admin, work: Path) -> None:
    repo = create_repo(admin, KEY, "life")
    url = remote(server, "life")
    c1 = commit_file(work, "a.txt", "1")
    git("push", "-q", url, "main", cwd=work)
    c2 = commit_file(work, "a.txt", "2")
    git("push", "-q", url, "main", cwd=work)
    git("push", "-q", url, "main:refs/heads/feature", cwd=work)
    git("tag", "-a", "v1", "-m", "release", cwd=work)
    tag = git("rev-parse", "v1", cwd=work).stdout.strip()
    git("push", "-q", url, "v1", cwd=work)
    git("reset", "-q", "--hard", c1, cwd=work)
    c3 = commit_file(work, "b.txt", "3")
    git("push", "-q", "--force", url, "main", cwd=work)
    git("push", "-q", url, ":refs/heads/feature", cwd=work)
    git("push", "-q", url, "main:refs/heads/x", "main:refs/heads/y", cwd=work)

    events = refs_changed_events(server, repo["id"])
    assert changes(events) == [
        ("refs/heads/main", "ADD", ZERO, c1),
        ("refs/heads/main", "UPDATE", c1, c2),
        ("refs/heads/feature", "ADD", ZERO, c2),
        ("refs/tags/v1", "ADD", ZERO, tag),
        ("refs/heads/main", "UPDATE", c2, c3),
        ("refs/heads/feature", "DELETE", c2, ZERO),
        ("refs/heads/x", "ADD", ZERO, c3),
        ("refs/heads/y", "ADD", ZERO, c3),
    ]
    assert len(events) == 7  # one event per push; the last push changed two refs
    me = admin_id(server)
    assert all(e["actor_id"] == me and e["actorId"] == me and not e["reconciled"] for e in events)
    assert events[3]["changes"][0]["ref"] == {"id": "refs/tags/v1", "displayId": "v1", "type": "TAG"}
    assert events[0]["repository"] == {"id": repo["id"], "slug": "life", "projectKey": KEY}
    assert len({e["pushId"] for e in events}) == 7
    assert replay(events) == remote_refs(url)
    # Event ids only grow, also across repositories.
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)


def test_concurrent_pushes_lose_no_event(server: LiveServer, admin, tmp_path: Path) -> None:
    slugs = ["race-a", "race-b"]
    repos = {slug: create_repo(admin, KEY, slug) for slug in slugs}
    errors: list[BaseException] = []

    def pusher(slug: str, n: int) -> None:
        try:
            work = tmp_path / f"{slug}-{n}"
            git("init", "-q", "-b", "main", str(work))
            for i in range(2):
                commit_file(work, f"f{n}.txt", f"{n}-{i}")
                # Each thread owns a branch; everybody also force-pushes one shared branch, where
                # some lose the race (git reports a failed lock), but no accepted change is lost.
                git("push", "-q", remote(server, slug), f"HEAD:refs/heads/t{n}", "+HEAD:refs/heads/shared",
                    cwd=work, check=False)
            git("push", "-q", remote(server, slug), f":refs/heads/t{n}", cwd=work)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=pusher, args=(slug, n)) for slug in slugs for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for slug in slugs:
        events = refs_changed_events(server, repos[slug]["id"])
        final = remote_refs(remote(server, slug))
        assert set(final) == {"refs/heads/shared"}
        assert replay(events) == final
        assert not any(e["reconciled"] for e in events)
        per_branch = [c for c in changes(events) if c[0].startswith("refs/heads/t")]
        assert sorted(c[1] for c in per_branch) == sorted(["ADD", "UPDATE", "DELETE"] * 3)
        assert any(c[0] == "refs/heads/shared" for c in changes(events))


def test_lost_post_receive_is_recorded_by_the_next_push(server: LiveServer, admin, work: Path) -> None:
    repo = create_repo(admin, KEY, "lost")
    url = remote(server, "lost")
    c1 = commit_file(work, "a.txt", "1")
    git("push", "-q", url, "main", cwd=work)
    break_post_receive(server, repo["id"])
    c2 = commit_file(work, "a.txt", "2")
    git("push", "-q", url, "main", cwd=work)
    assert changes(refs_changed_events(server, repo["id"])) == [("refs/heads/main", "ADD", ZERO, c1)]
    restore_hooks(server, repo["id"])
    git("push", "-q", url, "main:refs/heads/next", cwd=work)
    events = refs_changed_events(server, repo["id"])
    assert changes(events) == [
        ("refs/heads/main", "ADD", ZERO, c1),
        ("refs/heads/main", "UPDATE", c1, c2),  # repaired, still attributed to its pusher
        ("refs/heads/next", "ADD", ZERO, c2),
    ]
    assert events[1]["actor_id"] == admin_id(server) and not events[1]["reconciled"]


def test_push_outside_culm_is_reconciled(server: LiveServer, admin, work: Path) -> None:
    repo = create_repo(admin, KEY, "disk")
    url = remote(server, "disk")
    c1 = commit_file(work, "a.txt", "1")
    git("push", "-q", url, "main", cwd=work)
    c2 = commit_file(work, "a.txt", "2")
    disk = server.home / "shared" / "data" / "repositories" / str(repo["id"])
    git("push", "-q", str(disk), "main", "main:refs/heads/side", cwd=work)
    git("push", "-q", url, "main:refs/heads/after", cwd=work)
    events = refs_changed_events(server, repo["id"])
    assert changes(events) == [
        ("refs/heads/main", "ADD", ZERO, c1),
        ("refs/heads/main", "UPDATE", c1, c2),
        ("refs/heads/side", "ADD", ZERO, c2),
        ("refs/heads/after", "ADD", ZERO, c2),
    ]
    assert events[1]["reconciled"] and events[1]["actor_id"] is None
    assert not events[2]["reconciled"]


def test_lost_post_receive_is_recorded_on_server_start(tmp_path: Path) -> None:
    with live_server() as first:
        with first.client() as admin:
            repo = create_repo(admin, KEY, "crash")
        work = tmp_path / "w"
        git("init", "-q", "-b", "main", str(work))
        c1 = commit_file(work, "a.txt", "1")
        break_post_receive(first, repo["id"])
        git("push", "-q", remote(first, "crash"), "main", cwd=work)
        assert refs_changed_events(first, repo["id"]) == []
        first.stop()
        second = LiveServer(first.home, first.database_url)
        try:
            events = refs_changed_events(second, repo["id"])
            assert changes(events) == [("refs/heads/main", "ADD", ZERO, c1)]
            assert events[0]["actor_id"] == admin_id(second)
            # Start also brought the broken hook back, so the next push is recorded directly.
            hook = second.home / "shared" / "data" / "repositories" / str(repo["id"]) / "hooks" / "post-receive"
            assert "culm.git.hookclient post-receive" in hook.read_text()
            c2 = commit_file(work, "a.txt", "2")
            git("push", "-q", remote(second, "crash"), "main", cwd=work)
            assert changes(refs_changed_events(second, repo["id"]))[1:] == [("refs/heads/main", "UPDATE", c1, c2)]
        finally:
            second.stop()


def test_hook_api_needs_the_secret_and_rechecks_permission(server: LiveServer, admin) -> None:
    repo = create_repo(admin, KEY, "guarded")
    create_user(server, "hookreader")
    grant_repo(server, KEY, "guarded", "hookreader", "REPO_READ")
    secret_file = server.home / "shared" / "config" / "hook-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    from culm.domain.users import service as users

    with server_db(server) as session:
        reader_id = users.require_user(session, "hookreader").id  # type: ignore[arg-type]
    body = {"pushId": "p" * 32, "repositoryId": repo["id"], "userId": reader_id,
            "updates": [{"ref": "refs/heads/main", "old": ZERO, "new": "a" * 40}]}
    base = f"{server.url}/rest/internal/latest/hooks"
    with httpx.Client() as c:
        assert c.post(f"{base}/pre-receive", json=body).status_code == 403
        assert c.post(f"{base}/post-receive", json=body,
                      headers={"X-Culm-Hook-Secret": "wrong"}).status_code == 403
        r = c.post(f"{base}/pre-receive", json=body, headers={"X-Culm-Hook-Secret": secret})
        assert r.status_code == 200 and r.json()["accepted"] is False
        assert "no longer have permission" in r.json()["messages"][0]
        r = c.post(f"{base}/pre-receive", json={**body, "repositoryId": 999999},
                   headers={"X-Culm-Hook-Secret": secret})
        assert r.json()["accepted"] is False
        r = c.post(f"{base}/pre-receive", content=b"[1,2", headers={"X-Culm-Hook-Secret": secret,
                                                                     "Content-Type": "application/json"})
        assert r.status_code == 400
    assert refs_changed_events(server, repo["id"]) == []
    # The pusher's rights are rechecked by pre-receive: a user without REPO_WRITE is refused.
    with httpx.Client(auth=("hookreader", USER_PASSWORD)) as c:
        r = c.get(f"{server.url}/scm/{KEY}/guarded.git/info/refs", params={"service": "git-receive-pack"})
        assert r.status_code == 403


def test_consumers_read_after_their_offset(server: LiveServer, admin, work: Path) -> None:
    from culm.domain.events import service as events

    repo = create_repo(admin, KEY, "consumed")
    commit_file(work, "a.txt", "1")
    git("push", "-q", remote(server, "consumed"), "main", cwd=work)
    mine = refs_changed_events(server, repo["id"])
    with server_db(server) as session:
        seen = events.read_after(session, "test-consumer", limit=10_000)  # type: ignore[arg-type]
        assert mine[-1]["id"] in [e.id for e in seen]
        assert [e.id for e in seen] == sorted(e.id for e in seen)
        events.ack(session, "test-consumer", mine[-1]["id"])  # type: ignore[arg-type]
        events.ack(session, "test-consumer", 1)  # type: ignore[arg-type]  (never moves back)
    with server_db(server) as session:
        assert events.offset(session, "test-consumer") == mine[-1]["id"]  # type: ignore[arg-type]
        assert all(e.id > mine[-1]["id"] for e in events.read_after(session, "test-consumer"))  # type: ignore[arg-type]
