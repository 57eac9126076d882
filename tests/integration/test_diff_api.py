"""Diffs over REST against real repositories pushed over HTTP: commit diffs, raw diffs, compare diffs,
stats summaries and patches; renames, copies, binary and non-UTF-8 files, whitespace, path filters,
a huge diff cut short, atlassian-python-api's get_diff, and bad input."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from atlassian import Bitbucket

from support import ADMIN, LiveServer, create_repo, create_user, cred_url, git

KEY = "DIF"
API = "/rest/api/latest"
R = f"{API}/projects/{KEY}/repos/diffs"
HUGE_LINES = 200_000
AWKWARD = [b"caf\xe9 latin.txt", "caf\u00e9 utf8.txt".encode(), b'quote "me".txt', b"tab\there.txt",
           b"a b/c d.txt", b"-dash.txt"]


@dataclass
class Repo:
    root: str  # the first commit
    main: str  # the commit with every kind of change
    feature: str  # a branch from `root`, behind main
    big: str  # a commit adding a huge file
    names: str  # a commit adding files with awkward names
    merged: str  # main with feature merged in
    work: Path


def numbered(prefix: str, n: int) -> str:
    return "".join(f"{prefix} {i}\n" for i in range(1, n + 1))


def commit_all(work: Path, message: str) -> str:
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


@pytest.fixture(scope="module")
def repo(server: LiveServer, admin, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    create_repo(admin, KEY, "diffs")
    work = tmp_path_factory.mktemp("diffs")
    git("init", "-q", "-b", "main", str(work))
    (work / "app.txt").write_text(numbered("line", 40))
    (work / "ws.txt").write_text("alpha beta\n")
    (work / "old.txt").write_text(numbered("old", 20))
    (work / "base.c").write_text(numbered("int x", 20))
    (work / "gone.txt").write_text("bye\n")
    (work / "latin.txt").write_bytes("caf\u00e9\n".encode("latin-1"))
    (work / "logo.bin").write_bytes(bytes(range(256)) * 4)
    root = commit_all(work, "root")

    git("checkout", "-q", "-b", "feature", cwd=work)
    (work / "feature.txt").write_text("only on feature\n")
    feature = commit_all(work, "feature work")
    git("checkout", "-q", "main", cwd=work)

    lines = numbered("line", 40).splitlines(keepends=True)
    lines[2] = "line three changed\n"
    lines[34] = "line thirty-five changed\n"
    (work / "app.txt").write_text("".join(lines))
    (work / "ws.txt").write_text("alpha   beta\n")
    git("mv", "old.txt", "new.txt", cwd=work)
    (work / "new.txt").write_text(numbered("old", 20).replace("old 10\n", "old ten\n"))
    (work / "copy.c").write_text(numbered("int x", 20))
    (work / "base.c").write_text(numbered("int x", 20) + "int y;\n")
    (work / "gone.txt").unlink()
    (work / "added.txt").write_text("hello\nworld\n")
    (work / "latin.txt").write_bytes("na\u00efve \u00e9t\u00e9\n".encode("latin-1"))
    (work / "logo.bin").write_bytes(bytes(range(255, -1, -1)) * 4)
    main = commit_all(work, "every kind of change")

    git("checkout", "-q", "-b", "big", cwd=work)
    (work / "huge.txt").write_text(numbered("generated", HUGE_LINES))
    big = commit_all(work, "huge")
    git("checkout", "-q", "main", cwd=work)

    git("checkout", "-q", "-b", "names", cwd=work)
    for name in AWKWARD:
        target = work / os.fsdecode(name)
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(b"x\n")
    git("mv", "app.txt", "renamed app.txt", cwd=work)
    (work / "long.txt").write_text("short\n" + "\u00e9" * 5_000 + "\n")
    names = commit_all(work, "awkward names")
    git("checkout", "-q", "main", cwd=work)

    git("checkout", "-q", "-b", "merged", cwd=work)
    git("merge", "-q", "--no-ff", "-m", "merge feature", "feature", cwd=work)
    merged = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    git("checkout", "-q", "main", cwd=work)

    url = cred_url(server, f"/scm/{KEY}/diffs.git", *ADMIN)
    git("push", "-q", url, "main", "feature", "big", "names", "merged", cwd=work)
    return Repo(root, main, feature, big, names, merged, work)


def by_path(body: dict) -> dict[str, dict]:
    out = {}
    for d in body["diffs"]:
        side = d.get("destination") or d.get("source")
        out[side["toString"]] = d
    return out


def lines_of(d: dict) -> list[tuple[str, int, int, str]]:
    return [(s["type"], x["source"], x["destination"], x["line"])
            for h in d["hunks"] for s in h["segments"] for x in s["lines"]]


def error_of(r: httpx.Response) -> str:
    return r.json()["errors"][0]["exceptionName"].rsplit(".", 1)[-1]


# ---- commits/{id}/diff -------------------------------------------------------------------------------


def test_commit_diff_every_kind_of_change(admin, repo: Repo) -> None:
    r = admin.get(f"{R}/commits/{repo.main}/diff")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["fromHash", "toHash", "contextLines", "whitespace", "diffs", "truncated"]
    assert (body["fromHash"], body["toHash"], body["contextLines"], body["whitespace"], body["truncated"]) == (
        repo.root, repo.main, 10, "SHOW", False)
    files = by_path(body)
    assert set(files) == {"app.txt", "ws.txt", "new.txt", "copy.c", "base.c", "gone.txt", "added.txt",
                          "latin.txt", "logo.bin"}

    app = files["app.txt"]
    assert app["source"] == app["destination"] == {
        "components": ["app.txt"], "parent": "", "name": "app.txt", "extension": "txt", "toString": "app.txt"}
    assert app["truncated"] is False and "binary" not in app
    assert [(h["sourceLine"], h["sourceSpan"], h["destinationLine"], h["destinationSpan"]) for h in app["hunks"]] == [
        (1, 13, 1, 13), (25, 16, 25, 16)]  # 10 lines of context by default
    hunk = app["hunks"][1]
    assert hunk["context"] == "line 24"  # git's function context: the line before the hunk
    changed = [x for x in lines_of(app) if x[0] != "CONTEXT"]
    assert changed == [("REMOVED", 3, 3, "line 3"), ("ADDED", 4, 3, "line three changed"),
                       ("REMOVED", 35, 35, "line 35"), ("ADDED", 36, 35, "line thirty-five changed")]
    assert all(set(s) == {"type", "lines", "truncated"} for h in app["hunks"] for s in h["segments"])
    assert all(set(x) == {"source", "destination", "line", "truncated"}
               for h in app["hunks"] for s in h["segments"] for x in s["lines"])

    renamed = files["new.txt"]
    assert renamed["source"]["toString"] == "old.txt" and renamed["destination"]["toString"] == "new.txt"
    assert [x for x in lines_of(renamed) if x[0] != "CONTEXT"] == [
        ("REMOVED", 10, 10, "old 10"), ("ADDED", 11, 10, "old ten")]
    copied = files["copy.c"]
    assert copied["source"]["toString"] == "base.c" and copied["hunks"] == []
    assert "source" not in files["added.txt"] and files["added.txt"]["destination"]["toString"] == "added.txt"
    assert lines_of(files["added.txt"]) == [("ADDED", 1, 1, "hello"), ("ADDED", 1, 2, "world")]
    assert "destination" not in files["gone.txt"] and lines_of(files["gone.txt"]) == [("REMOVED", 1, 1, "bye")]
    assert files["logo.bin"]["binary"] is True and files["logo.bin"]["hunks"] == []
    latin = lines_of(files["latin.txt"])
    assert latin == [("REMOVED", 1, 1, "caf\ufffd"), ("ADDED", 2, 1, "na\ufffdve \ufffdt\ufffd")]


def test_awkward_names(admin, repo: Repo) -> None:
    files = by_path(admin.get(f"{R}/commits/{repo.names}/diff").json())
    assert set(files) == {"caf\ufffd latin.txt", "caf\u00e9 utf8.txt", 'quote "me".txt', "tab\there.txt",
                          "a b/c d.txt", "-dash.txt", "renamed app.txt", "long.txt"}
    assert files["renamed app.txt"]["source"]["toString"] == "app.txt"
    assert files["a b/c d.txt"]["destination"] == {"components": ["a b", "c d.txt"], "parent": "a b",
                                                   "name": "c d.txt", "extension": "txt", "toString": "a b/c d.txt"}
    (d,) = admin.get(f"{R}/commits/{repo.names}/diff/caf\u00e9 utf8.txt").json()["diffs"]
    assert d["destination"]["name"] == "caf\u00e9 utf8.txt"
    (d,) = admin.get(f"{R}/commits/{repo.names}/diff/a b/c d.txt").json()["diffs"]
    assert lines_of(d) == [("ADDED", 1, 1, "x")]
    assert admin.get(f"{R}/commits/{repo.names}/diff/caf%FF").json()["diffs"] == []


def test_long_lines_are_cut(admin, repo: Repo) -> None:
    (d,) = admin.get(f"{R}/commits/{repo.names}/diff/long.txt").json()["diffs"]
    short, long = d["hunks"][0]["segments"][0]["lines"]
    assert (short["line"], short["truncated"]) == ("short", False)
    assert (long["line"], long["truncated"]) == ("\u00e9" * 2_000, True)
    assert d["truncated"] is False  # no line was left out


def test_merge_commit_is_diffed_against_its_first_parent(admin, repo: Repo) -> None:
    body = admin.get(f"{R}/commits/{repo.merged}/diff").json()
    assert body["fromHash"] == repo.main and [d["destination"]["toString"] for d in body["diffs"]] == ["feature.txt"]
    stats = admin.get(f"{R}/commits/{repo.merged}/diff-stats-summary").json()
    assert stats == {"filesChanged": 1, "totalInsertions": 1, "totalDeletions": 0}


def test_empty_repository(admin) -> None:
    create_repo(admin, KEY, "empty")
    e = f"{API}/projects/{KEY}/repos/empty"
    body = admin.get(f"{e}/compare/diff").json()
    assert body["diffs"] == [] and body["truncated"] is False
    assert admin.get(f"{e}/compare/diff-stats-summary").json() == {
        "filesChanged": 0, "totalInsertions": 0, "totalDeletions": 0}
    for url in (f"{e}/commits/main/diff", f"{e}/diff?until=main", f"{e}/patch?until=main",
                f"{e}/commits/main/diff-stats-summary", f"{e}/compare/diff?from=main"):
        r = admin.get(url)
        assert r.status_code == 404 and error_of(r) == "NoSuchCommitException", url


def test_context_lines(admin, repo: Repo) -> None:
    def hunks(**params: object) -> list[dict]:
        r = admin.get(f"{R}/commits/{repo.main}/diff/app.txt", params=params)
        assert r.status_code == 200, r.text
        (d,) = r.json()["diffs"]
        return d["hunks"]

    three = hunks(contextLines=3)
    assert [(h["sourceLine"], h["sourceSpan"]) for h in three] == [(1, 6), (32, 7)]
    assert [s["type"] for s in three[1]["segments"]] == ["CONTEXT", "REMOVED", "ADDED", "CONTEXT"]
    zero = hunks(contextLines=0)
    assert all(s["type"] != "CONTEXT" for h in zero for s in h["segments"]) and len(zero) == 2
    assert len(hunks()) == len(hunks(contextLines=-1)) == len(hunks(contextLines=10)) == 2
    (joined,) = hunks(contextLines=20)
    assert (joined["sourceLine"], joined["sourceSpan"]) == (1, 40)
    assert admin.get(f"{R}/commits/{repo.main}/diff/app.txt", params={"contextLines": 3}).json()["contextLines"] == 3


def test_whitespace(admin, repo: Repo) -> None:
    shown = admin.get(f"{R}/commits/{repo.main}/diff", params={"whitespace": "show"}).json()
    assert "ws.txt" in by_path(shown)
    ignored = admin.get(f"{R}/commits/{repo.main}/diff", params={"whitespace": "ignore-all"}).json()
    assert ignored["whitespace"] == "IGNORE_ALL" and "ws.txt" not in by_path(ignored) and "app.txt" in by_path(ignored)
    # Bitbucket's DiffWhitespace.fromString falls back to SHOW for anything else
    bogus = admin.get(f"{R}/commits/{repo.main}/diff", params={"whitespace": "bogus"})
    assert bogus.status_code == 200 and bogus.json()["whitespace"] == "SHOW" and "ws.txt" in by_path(bogus.json())


def test_path_filter_and_src_path(admin, repo: Repo) -> None:
    plain = admin.get(f"{R}/commits/{repo.main}/diff/new.txt").json()
    (d,) = plain["diffs"]
    assert "source" not in d and d["destination"]["toString"] == "new.txt"  # git sees no rename without srcPath
    for params in ({"srcPath": "old.txt"}, {"autoSrcPath": "true"}):
        (d,) = admin.get(f"{R}/commits/{repo.main}/diff/new.txt", params=params).json()["diffs"]
        assert d["source"]["toString"] == "old.txt" and d["destination"]["toString"] == "new.txt", params
    assert admin.get(f"{R}/commits/{repo.main}/diff/nothing/here.txt").json()["diffs"] == []
    (d,) = admin.get(f"{R}/commits/{repo.main}/diff/gone.txt").json()["diffs"]
    assert "destination" not in d


def test_root_commit_and_since(admin, repo: Repo) -> None:
    body = admin.get(f"{R}/commits/{repo.root}/diff").json()
    assert "fromHash" not in body and body["toHash"] == repo.root
    assert all("source" not in d for d in body["diffs"]) and len(body["diffs"]) == 7
    since = admin.get(f"{R}/commits/{repo.main}/diff/app.txt", params={"since": repo.main}).json()
    assert since["fromHash"] == repo.main and since["diffs"] == []


def test_text_plain(admin, repo: Repo) -> None:
    r = admin.get(f"{R}/commits/{repo.main}/diff/app.txt", headers={"Accept": "text/plain"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("diff --git a/app.txt b/app.txt\n") and "+line three changed\n" in r.text
    ws = admin.get(f"{R}/commits/{repo.main}/diff", params={"whitespace": "ignore-all"},
                   headers={"Accept": "text/plain"}).text
    assert "a/app.txt" in ws and "ws.txt" not in ws
    both = admin.get(f"{R}/commits/{repo.main}/diff/app.txt", headers={"Accept": "text/plain, application/json"})
    assert both.headers["content-type"].startswith("application/json")


def test_huge_diff_is_truncated_quickly(admin, repo: Repo) -> None:
    started = time.monotonic()
    with admin.stream("GET", f"{R}/commits/{repo.big}/diff") as r:
        raw = r.read()
    elapsed = time.monotonic() - started
    assert r.status_code == 200
    assert len(raw) < 3_000_000, len(raw)
    body = r.json()
    assert body["truncated"] is True
    (d,) = body["diffs"]
    assert d["truncated"] is True and d["hunks"][-1]["truncated"] is True
    assert d["hunks"][-1]["segments"][-1]["truncated"] is True
    assert sum(len(s["lines"]) for h in d["hunks"] for s in h["segments"]) == 10_000
    assert elapsed < 10, elapsed
    # the raw text is streamed whole
    with admin.stream("GET", f"{R}/diff/huge.txt", params={"until": repo.big},
                      headers={"Accept": "text/plain"}) as r:
        count = sum(chunk.count(b"\n+generated") for chunk in r.iter_bytes())
    assert count == HUGE_LINES


def test_commit_diff_bad_input(admin, repo: Repo) -> None:
    r = admin.get(f"{R}/commits/{'0' * 40}/diff")
    assert r.status_code == 404 and error_of(r) == "NoSuchCommitException"
    r = admin.get(f"{R}/commits/{repo.main}/diff", params={"since": "nope"})
    assert r.status_code == 404 and error_of(r) == "NoSuchCommitException"
    assert admin.get(f"{R}/commits/HEAD~1/diff").status_code == 404
    assert admin.get(f"{API}/projects/{KEY}/repos/nope/commits/{repo.main}/diff").status_code == 404
    for path in ("-x", "a/%2E%2E/app.txt", "%2E%2E/etc/passwd", "%2E/app.txt", "a%00b"):
        r = admin.get(f"{R}/commits/{repo.main}/diff/{path}")
        assert r.status_code == 400, (path, r.text)
    for src in ("-x", "/etc/passwd", "a/../b", "x\x01"):
        r = admin.get(f"{R}/commits/{repo.main}/diff/new.txt", params={"srcPath": src})
        assert r.status_code == 400, (src, r.text)
    for bad in ("abc", "1.5", "ten"):
        r = admin.get(f"{R}/commits/{repo.main}/diff", params={"contextLines": bad})
        assert r.status_code == 400 and r.json()["errors"][0]["context"] == "contextLines"
    # a glob is a literal path, never a pattern
    assert admin.get(f"{R}/commits/{repo.main}/diff/*.txt").json()["diffs"] == []


def test_permissions(server: LiveServer, repo: Repo) -> None:
    create_user(server, "stranger")
    with server.client(auth=None) as anon:
        assert anon.get(f"{R}/commits/{repo.main}/diff").status_code == 401
    with server.client(auth=("stranger", "user-Secret-1")) as stranger:
        for url in (f"{R}/commits/{repo.main}/diff", f"{R}/diff?until={repo.main}", f"{R}/compare/diff",
                    f"{R}/patch?until={repo.main}", f"{R}/commits/{repo.main}/diff-stats-summary/app.txt"):
            assert stranger.get(url).status_code == 401, url


# ---- diff?since=&until= ------------------------------------------------------------------------------


def test_raw_diff(admin, repo: Repo) -> None:
    body = admin.get(f"{R}/diff/app.txt", params={"since": repo.root, "until": repo.main}).json()
    assert (body["fromHash"], body["toHash"]) == (repo.root, repo.main)
    assert [d["destination"]["toString"] for d in body["diffs"]] == ["app.txt"]
    whole = admin.get(f"{R}/diff", params={"until": "main"}).json()  # a branch name; since: its parent
    assert whole["fromHash"] == repo.root and len(whole["diffs"]) == 9
    text = admin.get(f"{R}/diff/app.txt", params={"until": repo.main, "contextLines": 0},
                     headers={"Accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain")
    assert "@@ -3 +3 @@ line 2\n-line 3\n+line three changed\n@@ -35 +35 @@" in text.text
    r = admin.get(f"{R}/diff/app.txt")
    assert r.status_code == 400 and r.json()["errors"][0]["context"] == "until"
    r = admin.get(f"{R}/diff", params={"until": "nope"})
    assert r.status_code == 404 and error_of(r) == "NoSuchCommitException"
    assert admin.get(f"{R}/diff/%2E%2E", params={"until": repo.main}).status_code == 400


# ---- compare/diff ------------------------------------------------------------------------------------


def test_compare_diff(admin, repo: Repo) -> None:
    body = admin.get(f"{R}/compare/diff", params={"from": "feature", "to": "main"}).json()
    assert (body["fromHash"], body["toHash"]) == (repo.root, repo.feature)  # from the merge base
    assert [d["destination"]["toString"] for d in body["diffs"]] == ["feature.txt"]
    back = admin.get(f"{R}/compare/diff", params={"from": "refs/heads/main", "to": repo.feature[:12]}).json()
    assert "feature.txt" not in by_path(back) and "app.txt" in by_path(back)
    # both ends default to the default branch: nothing to show
    assert admin.get(f"{R}/compare/diff").json()["diffs"] == []
    one = admin.get(f"{R}/compare/diff/app.txt", params={"from": "main", "to": "feature", "contextLines": 1}).json()
    assert [len(d["hunks"]) for d in one["diffs"]] == [2]
    assert admin.get(f"{R}/compare/diff/nothing", params={"from": "main", "to": "feature"}).json()["diffs"] == []
    ignored = admin.get(f"{R}/compare/diff", params={"from": "main", "to": "feature", "whitespace": "ignore-all"})
    assert "ws.txt" not in by_path(ignored.json())
    text = admin.get(f"{R}/compare/diff", params={"from": "feature", "to": "main"}, headers={"Accept": "text/plain"})
    assert text.text.startswith("diff --git a/feature.txt b/feature.txt\nnew file mode")
    r = admin.get(f"{R}/compare/diff", params={"from": "nope", "to": "main"})
    assert r.status_code == 404 and error_of(r) == "NoSuchCommitException"
    r = admin.get(f"{R}/compare/diff", params={"from": "main", "to": "-nope"})
    assert r.status_code == 404
    assert admin.get(f"{R}/compare/diff/-x", params={"from": "main"}).status_code == 400
    assert admin.get(f"{R}/compare/diffx", params={"from": "main"}).status_code == 404
    assert admin.get(f"{R}/compare/diff", params={"fromRepo": "NOPE/nope"}).status_code == 404
    assert admin.get(f"{R}/compare/diff", params={"fromRepo": "999999"}).status_code == 404


def test_compare_diff_from_a_fork(server: LiveServer, admin, repo: Repo) -> None:
    r = admin.post(R, json={"name": "diffs-fork", "project": {"key": KEY}})
    assert r.status_code == 201, r.text
    fork_id = r.json()["id"]
    git("checkout", "-q", "-b", "forked", repo.main, cwd=repo.work)
    (repo.work / "fork.txt").write_text("from the fork\n")
    forked = commit_all(repo.work, "fork work")
    git("checkout", "-q", "main", cwd=repo.work)
    git("push", "-q", cred_url(server, f"/scm/{KEY}/diffs-fork.git", *ADMIN), "forked", cwd=repo.work)
    for from_repo in (f"{KEY}/diffs-fork", str(fork_id)):
        body = admin.get(f"{R}/compare/diff", params={"from": "forked", "to": "main", "fromRepo": from_repo}).json()
        assert (body["fromHash"], body["toHash"]) == (repo.main, forked)
        assert [d["destination"]["toString"] for d in body["diffs"]] == ["fork.txt"]
    stats = admin.get(f"{R}/compare/diff-stats-summary",
                      params={"from": "forked", "to": "main", "fromRepo": f"{KEY}/diffs-fork"}).json()
    assert stats == {"filesChanged": 1, "totalInsertions": 1, "totalDeletions": 0}
    # the branch lives only in the fork
    assert admin.get(f"{R}/compare/diff", params={"from": "forked", "to": "main"}).status_code == 404


def test_atlassian_get_diff(server: LiveServer, repo: Repo) -> None:
    bb = Bitbucket(url=server.url, username=ADMIN[0], password=ADMIN[1])
    diffs = bb.get_diff(KEY, "diffs", "app.txt", "main", repo.root)
    assert [d["destination"]["toString"] for d in diffs] == ["app.txt"]
    assert diffs[0]["hunks"][0]["segments"][0]["type"] == "CONTEXT"


# ---- stats summaries and patches ---------------------------------------------------------------------


def test_diff_stats_summary(admin, repo: Repo) -> None:
    r = admin.get(f"{R}/commits/{repo.main}/diff-stats-summary")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    # app 2/2, ws 1/1, new.txt 1/1, copy.c 0/0, base.c 1/0, gone 0/1, added 2/0, latin 1/1, logo binary
    assert r.json() == {"filesChanged": 9, "totalInsertions": 8, "totalDeletions": 6}
    one = admin.get(f"{R}/commits/{repo.main}/diff-stats-summary/app.txt").json()
    assert one == {"filesChanged": 1, "totalInsertions": 2, "totalDeletions": 2}
    renamed = admin.get(f"{R}/commits/{repo.main}/diff-stats-summary/new.txt", params={"srcPath": "old.txt"}).json()
    assert renamed == {"filesChanged": 1, "totalInsertions": 1, "totalDeletions": 1}
    ws = admin.get(f"{R}/commits/{repo.main}/diff-stats-summary", params={"whitespace": "ignore-all"}).json()
    assert ws["filesChanged"] == 8
    assert admin.get(f"{R}/commits/nope/diff-stats-summary").status_code == 404
    assert admin.get(f"{R}/commits/{repo.main}/diff-stats-summary/%2E%2E/x").status_code == 400
    compare = admin.get(f"{R}/compare/diff-stats-summary", params={"from": "feature", "to": "main"}).json()
    assert compare == {"filesChanged": 1, "totalInsertions": 1, "totalDeletions": 0}
    assert admin.get(f"{R}/compare/diff-stats-summary/app.txt",
                     params={"from": "feature", "to": "main"}).json()["filesChanged"] == 0


def test_patch(admin, repo: Repo) -> None:
    r = admin.get(f"{R}/patch", params={"until": repo.main})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith(f"From {repo.main} ") and "Subject: [PATCH] every kind of change" in r.text
    assert r.text.count("\nFrom ") == 0 and "diff --git a/app.txt b/app.txt" in r.text
    assert r.headers.get("cache-control", "").startswith("private")
    series = admin.get(f"{R}/patch", params={"since": repo.root, "until": "big"}).text
    assert "Subject: [PATCH 1/2] every kind of change" in series and "Subject: [PATCH 2/2] huge" in series
    everything = admin.get(f"{R}/patch", params={"until": "main", "since": repo.main, "allAncestors": "true"}).text
    assert "[PATCH 1/2] root" in everything and "[PATCH 2/2] every kind of change" in everything
    assert "cache-control" not in admin.get(f"{R}/patch", params={"until": "main"}).headers
    r = admin.get(f"{R}/patch")
    assert r.status_code == 400 and r.json()["errors"][0]["context"] == "until"
    for params in ({"until": "nope"}, {"until": repo.main, "since": "nope"}, {"until": "-x"}):
        r = admin.get(f"{R}/patch", params=params)
        assert r.status_code == 404 and error_of(r) == "NoSuchCommitException", params


def git_children(server: LiveServer, verb: str) -> list[int]:
    """Running `git <verb>` processes the server started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == server.proc.pid and verb.encode() in args:
            found.append(int(entry.name))
    return found


def test_client_leaving_stops_git(server: LiveServer, admin, repo: Repo) -> None:
    git("checkout", "-q", "-b", "giant", repo.root, cwd=repo.work)
    (repo.work / "giant.txt").write_text(numbered("giant line of generated text", 600_000))
    commit_all(repo.work, "giant")
    git("checkout", "-q", "main", cwd=repo.work)
    git("push", "-q", cred_url(server, f"/scm/{KEY}/diffs.git", *ADMIN), "giant", cwd=repo.work)
    # a small receive buffer, so the kernel cannot absorb the whole answer while the client waits
    transport = httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)])
    for url, params, verb in ((f"{R}/diff", {"until": "giant"}, "diff-tree"),
                              (f"{R}/patch", {"until": "giant"}, "format-patch")):
        with server.client(transport=transport) as client, client.stream(
                "GET", url, params=params, headers={"Accept": "text/plain"}) as r:
            assert r.status_code == 200
            chunks = r.iter_raw()  # kept: dropping the iterator would close the response already
            next(chunks)
            time.sleep(0.5)
            assert git_children(server, verb), "git should still be waiting to write while the client waits"
        deadline = time.monotonic() + 10
        while git_children(server, verb) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not git_children(server, verb), verb
