"""A push that leaves many loose refs gets them packed (culm runs no automatic gc), and nothing is lost:
every branch still listed, served and recorded in the outbox."""

from __future__ import annotations

from pathlib import Path

import httpx

from support import ADMIN, LiveServer, commit_file, create_repo, cred_url, git, refs_changed_events

KEY = "MNT"
BRANCHES = 300


def test_many_pushed_branches_are_packed(server: LiveServer, admin: httpx.Client, tmp_path: Path) -> None:
    from culm.git.maintenance import LOOSE_REFS_LIMIT

    assert BRANCHES > LOOSE_REFS_LIMIT
    repo = create_repo(admin, KEY, "many")
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work))
    tip = commit_file(work, "a.txt", "a\n")
    lines = "".join(f"create refs/heads/topic/{i:04d} {tip}\n" for i in range(BRANCHES))
    git("update-ref", "--stdin", cwd=work, input=lines.encode())
    url = cred_url(server, f"/scm/{KEY}/many.git", *ADMIN)
    git("push", "-q", url, "refs/heads/*:refs/heads/*", cwd=work)

    bare = server.home / "shared" / "data" / "repositories" / str(repo["id"])
    assert (bare / "packed-refs").exists()
    assert not any((bare / "refs" / "heads" / "topic").glob("*"))  # no loose branch files left
    heads = git("ls-remote", "--heads", url).stdout.splitlines()
    assert len(heads) == BRANCHES + 1
    page = admin.get(f"/rest/api/latest/projects/{KEY}/repos/many/branches",
                     params={"filterText": "topic/0299"}).json()
    assert [b["displayId"] for b in page["values"]] == ["topic/0299"]
    assert sum(len(e["changes"]) for e in refs_changed_events(server, repo["id"])) == BRANCHES + 1
    # a later push still works on packed refs
    git("checkout", "-q", "-b", "topic/0000-next", cwd=work)
    commit_file(work, "b.txt", "b\n")
    git("push", "-q", url, "topic/0000-next", cwd=work)
    assert len(git("ls-remote", "--heads", url).stdout.splitlines()) == BRANCHES + 2
