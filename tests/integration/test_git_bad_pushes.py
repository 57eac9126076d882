"""Pushes that must fail cleanly: missing repositories, truncated and corrupt packs. Nothing half-written."""

from __future__ import annotations

import subprocess

import pytest

from support import (
    ADMIN,
    LiveServer,
    commit_file,
    create_repo,
    cred_url,
    git,
    refs_changed_events,
)

KEY = "BAD"
ZERO = "0" * 40


def pkt(line: bytes) -> bytes:
    return b"%04x" % (len(line) + 4) + line


@pytest.fixture(scope="module")
def pushed(server: LiveServer, admin, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[no-untyped-def]
    repo = create_repo(admin, KEY, "target")
    work = tmp_path_factory.mktemp("work")
    git("init", "-q", "-b", "main", str(work))
    base = commit_file(work, "a.txt", "one\n")
    git("push", "-q", cred_url(server, f"/scm/{KEY}/target.git", *ADMIN), "main", cwd=work)
    new = commit_file(work, "b.txt", "two\n" * 5000)
    pack = subprocess.run(["git", "pack-objects", "--stdout", "--revs"], cwd=work, input=f"{new}\n^{base}\n".encode(),
                          capture_output=True, check=True).stdout
    return {"repo": repo, "work": work, "base": base, "new": new, "pack": pack}


def _receive(server: LiveServer, body: bytes) -> tuple[int, bytes]:
    with server.client() as c:
        r = c.post(f"/scm/{KEY}/target.git/git-receive-pack", content=body,
                   headers={"Content-Type": "application/x-git-receive-pack-request"})
        return r.status_code, r.content


def _state(server: LiveServer, repo_id: int) -> tuple[str, int]:
    refs = git("ls-remote", cred_url(server, f"/scm/{KEY}/target.git", *ADMIN)).stdout
    return refs, len(refs_changed_events(server, repo_id))


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "no-pack", "garbage-commands"])
def test_damaged_push_changes_nothing(server: LiveServer, pushed: dict, damage: str) -> None:
    before = _state(server, pushed["repo"]["id"])
    command = pkt(f"{pushed['base']} {pushed['new']} refs/heads/main\0 report-status\n".encode()) + b"0000"
    pack = pushed["pack"]
    if damage == "truncated":
        body = command + pack[: len(pack) // 2]
    elif damage == "corrupt":
        middle = len(pack) // 2
        body = command + pack[:middle] + bytes(b ^ 0xFF for b in pack[middle:middle + 64]) + pack[middle + 64:]
    elif damage == "no-pack":
        body = command
    else:
        body = b"zzzz not a pkt-line at all"
    status, content = _receive(server, body)
    assert status < 500, content
    assert _state(server, pushed["repo"]["id"]) == before
    # The repository on disk is still whole.
    disk = server.home / "shared" / "data" / "repositories" / str(pushed["repo"]["id"])
    fsck = git("fsck", "--no-dangling", cwd=disk, check=False)
    assert fsck.returncode == 0, fsck.stderr


def test_push_to_missing_repository_fails_cleanly(server: LiveServer, pushed: dict) -> None:
    for path in (f"/scm/{KEY}/missing.git", "/scm/NOSUCH/target.git", "/scm/~nobody/target.git"):
        r = git("push", cred_url(server, path, *ADMIN), "main", cwd=pushed["work"], check=False)
        assert r.returncode != 0
        assert "not found" in r.stderr.lower() or "404" in r.stderr, r.stderr


def test_valid_push_still_works_after_damaged_ones(server: LiveServer, pushed: dict) -> None:
    git("push", "-q", cred_url(server, f"/scm/{KEY}/target.git", *ADMIN), "main", cwd=pushed["work"])
    refs, _ = _state(server, pushed["repo"]["id"])
    assert f"{pushed['new']}\trefs/heads/main" in refs
    assert refs_changed_events(server, pushed["repo"]["id"])[-1]["changes"][0]["toHash"] == pushed["new"]


def test_ref_name_that_is_not_utf8_is_refused(server: LiveServer, pushed: dict) -> None:
    """git allows any bytes in ref names; culm refuses them at pre-receive with a message, nothing moves."""
    before = _state(server, pushed["repo"]["id"])
    work = pushed["work"]
    git("update-ref", "refs/heads/caf\udce9", "HEAD", cwd=work)  # b"caf\xe9": Latin-1, not UTF-8
    push = subprocess.run(["git", "push", cred_url(server, f"/scm/{KEY}/target.git", *ADMIN),
                           b"refs/heads/caf\xe9"], cwd=work, capture_output=True, check=False)
    assert push.returncode != 0
    assert b"ref names must be valid UTF-8" in push.stderr
    assert _state(server, pushed["repo"]["id"]) == before
    git("update-ref", "-d", "refs/heads/caf\udce9", cwd=work)
