"""Comments placed in pull request and commit diffs (`withComments`, default true): `commentIds` on the
commented lines, the comments (with their replies) in the file's `lineComments`; only the comments of the
diff shown; nothing with `withComments=false` or a raw diff."""

from __future__ import annotations

import httpx
import pytest
from pr_support import API

from support import ADMIN, LiveServer, commit_file, create_repo, cred_url, git, validating_client

KEY = "DCM"
SLUG = "diffc"
R = f"{API}/projects/{KEY}/repos/{SLUG}"
PR = f"{R}/pull-requests/1"


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_repo(admin, KEY, SLUG)
    url = cred_url(server, f"/scm/{KEY}/{SLUG}.git", *ADMIN)
    work = tmp_path_factory.mktemp("w") / "work"
    git("init", "-q", "-b", "main", str(work))
    commit_file(work, "README.md", "hello\n")
    base = commit_file(work, "f.txt", "1\n2\n3\n")
    git("push", "-q", url, "main", cwd=work)
    git("checkout", "-q", "-b", "topic", cwd=work)
    first = commit_file(work, "f.txt", "1\nTWO\n3\n4\n")
    tip = commit_file(work, "new.txt", "brand\nnew\n")
    git("push", "-q", url, "topic", cwd=work)
    r = admin.post(f"{R}/pull-requests", json={"title": "T", "fromRef": {"id": "refs/heads/topic"},
                                                "toRef": {"id": "refs/heads/main"}})
    assert r.status_code == 201, r.text
    client = validating_client(server)

    def comment(text: str, **anchor: object) -> int:
        body: dict = {"text": text}
        if anchor:
            body["anchor"] = anchor
        r = client.post(f"{PR}/comments", json=body)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    ids = {
        "added": comment("on TWO", path="f.txt", line=2, lineType="ADDED", fileType="TO", diffType="EFFECTIVE"),
        "removed": comment("on 2", path="f.txt", line=2, lineType="REMOVED", fileType="FROM"),
        "context": comment("on 1", path="f.txt", line=1, lineType="CONTEXT", fileType="TO"),
        "new": comment("on brand", path="new.txt", line=1, lineType="ADDED", fileType="TO"),
        "file": comment("whole file", path="f.txt"),
        "general": comment("general"),
        "commit": comment("in commit diff", path="f.txt", line=4, lineType="ADDED", fileType="TO",
                          diffType="COMMIT", fromHash=base, toHash=first),
    }
    r = client.post(f"{PR}/comments", json={"text": "a reply", "parent": {"id": ids["added"]}})
    assert r.status_code == 201, r.text
    ids["reply"] = r.json()["id"]
    return {"ids": ids, "base": base, "first": first, "tip": tip}


def placed(body: dict) -> dict[str, dict]:
    """path -> {(segment type, source, destination): commentIds} and the lineComments ids."""
    out: dict[str, dict] = {}
    for d in body["diffs"]:
        name = (d.get("destination") or d["source"])["toString"]
        lines = {(s["type"], x["source"], x["destination"]): x["commentIds"]
                 for h in d["hunks"] for s in h["segments"] for x in s["lines"] if "commentIds" in x}
        out[name] = {"lines": lines, "comments": [c["id"] for c in d.get("lineComments", [])]}
        for c in d.get("lineComments", []):
            assert "anchor" in c and c["anchor"]["path"] == name
    return out


def test_pull_request_diff_places_its_comments(server: LiveServer, world: dict) -> None:
    ids = world["ids"]
    client = validating_client(server)
    body = client.get(f"{PR}/diff").json()
    got = placed(body)
    assert got["f.txt"]["lines"] == {("CONTEXT", 1, 1): [ids["context"]], ("REMOVED", 2, 2): [ids["removed"]],
                                     ("ADDED", 3, 2): [ids["added"]]}
    assert sorted(got["f.txt"]["comments"]) == sorted([ids["context"], ids["removed"], ids["added"]])
    assert got["new.txt"] == {"lines": {("ADDED", 1, 1): [ids["new"]]}, "comments": [ids["new"]]}
    f_txt = next(d for d in body["diffs"] if d["destination"]["toString"] == "f.txt")
    added = next(c for c in f_txt["lineComments"] if c["id"] == ids["added"])
    assert [r["id"] for r in added["comments"]] == [ids["reply"]]  # threads come with their replies
    # one path
    one = placed(client.get(f"{PR}/diff/new.txt").json())
    assert one == {"new.txt": {"lines": {("ADDED", 1, 1): [ids["new"]]}, "comments": [ids["new"]]}}
    # explicitly on, and off
    assert placed(client.get(f"{PR}/diff", params={"withComments": "true"}).json()) == got
    for off in ("false", "FALSE", "nope"):
        plain = client.get(f"{PR}/diff", params={"withComments": off}).json()
        assert placed(plain) == {"f.txt": {"lines": {}, "comments": []}, "new.txt": {"lines": {}, "comments": []}}
    raw = client.get(f"{PR}/diff", headers={"Accept": "text/plain"})
    assert raw.status_code == 200 and raw.text.startswith("diff --git") and "commentIds" not in raw.text


def test_other_diffs_show_only_their_own_comments(server: LiveServer, world: dict) -> None:
    ids = world["ids"]
    client = validating_client(server)
    # the first commit's own diff inside the pull request: the COMMIT anchor, not the EFFECTIVE ones
    body = client.get(f"{PR}/diff", params={"sinceId": world["base"], "untilId": world["first"],
                                            "diffType": "COMMIT"}).json()
    got = placed(body)
    assert got["f.txt"] == {"lines": {("ADDED", 4, 4): [ids["commit"]]}, "comments": [ids["commit"]]}
    # a range that no comment was made on
    body = client.get(f"{PR}/diff", params={"sinceId": world["first"], "untilId": world["tip"]}).json()
    assert all(not v["comments"] for v in placed(body).values())


def test_commit_diff_places_commit_comments(server: LiveServer, world: dict) -> None:
    client = validating_client(server)
    url = f"{R}/commits/{world['first']}"
    r = client.post(f"{url}/comments", json={"text": "commit note", "anchor": {
        "path": "f.txt", "line": 2, "lineType": "ADDED", "fileType": "TO"}})
    assert r.status_code == 201, r.text
    note = r.json()["id"]
    gone = client.post(f"{url}/comments", json={"text": "general"})
    assert gone.status_code == 201
    got = placed(client.get(f"{url}/diff").json())
    assert got == {"f.txt": {"lines": {("ADDED", 3, 2): [note]}, "comments": [note]}}
    assert placed(client.get(f"{url}/diff/f.txt").json()) == got
    assert placed(client.get(f"{url}/diff", params={"withComments": "false"}).json()) == {
        "f.txt": {"lines": {}, "comments": []}}
    # the same commit against another base is another diff: the comment is not on it
    other = placed(client.get(f"{url}/diff", params={"since": world["first"]}).json())
    assert all(not v["comments"] for v in other.values())
    # pull request comments never show up in commit diffs
    tip = placed(client.get(f"{R}/commits/{world['tip']}/diff").json())
    assert tip == {"new.txt": {"lines": {}, "comments": []}}
