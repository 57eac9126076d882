"""Commit history: getCommits (until/since/path/merges/followRenames/ignoreMissing/withCounts, paging),
getCommit, getChanges (renames, copies, mode changes, binary files, merges, root commits), getChanges_1
and getMergeBase, on repositories made with real git and pushed over HTTP; atlassian-python-api too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from atlassian import Bitbucket

from support import ADMIN, LiveServer, create_repo, create_user, cred_url, git

KEY = "HIST"
API = "/rest/api/latest"
R = f"{API}/projects/{KEY}/repos/history"


class Work:
    """A work tree whose commits get increasing, distinct dates (deterministic `git log` order)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = 1_700_000_000
        git("init", "-q", "-b", "main", str(path))

    def write(self, name: str, data: bytes | str, mode: int | None = None) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        if mode is not None:
            os.chmod(target, mode)

    def commit(self, message: bytes | str, *paths: str) -> str:
        self.clock += 60
        date = f"@{self.clock} +0000"
        env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        git("add", "-A", "--", *(paths or ["."]), cwd=self.path)
        msg = self.path.parent / f"msg-{self.clock}"
        msg.write_bytes(message.encode() if isinstance(message, str) else message)
        git("commit", "-q", "--allow-empty", "-F", str(msg), cwd=self.path, env=env)
        return self.head()

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.path).stdout.strip()

    def run(self, *args: str) -> str:
        self.clock += 60
        date = f"@{self.clock} +0000"
        env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        return git(*args, cwd=self.path, env=env).stdout


@pytest.fixture(scope="module")
def h(server: LiveServer, admin, tmp_path_factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """main: c1 (root) → c2 → c3 (rename) → c4 (copy) → c5 (chmod) → m1 → merge ← f1 (feature)
    → c7 (non-UTF-8 name and message); tag v1 at c2."""
    create_user(server, "author")  # author@example.com: commits render as this user
    create_repo(admin, KEY, "history")
    w = Work(tmp_path_factory.mktemp("hist") / "w")
    ids: dict[str, str] = {}
    w.write("README.md", "hello\n")
    w.write("src/a.txt", "".join(f"line {i}\n" for i in range(40)))
    w.write("bin.dat", bytes(range(256)) * 4)
    w.write("script.sh", "#!/bin/sh\necho hi\n", 0o644)
    ids["c1"] = w.commit("first commit")
    w.write("src/a.txt", "".join(f"line {i}\n" for i in range(41)))
    ids["c2"] = w.commit("second: grow a.txt")
    w.run("mv", "src/a.txt", "src/b.txt")
    ids["c3"] = w.commit("rename a to b")
    original = (w.path / "src/b.txt").read_bytes()
    w.write("src/c.txt", original)
    w.write("src/b.txt", original + b"extra\n")
    ids["c4"] = w.commit("copy b to c, change b")
    os.chmod(w.path / "script.sh", 0o755)
    ids["c5"] = w.commit("make script executable")
    w.run("checkout", "-q", "-b", "feature")
    w.write("feature.txt", "feature\n")
    ids["f1"] = w.commit("feature work")
    w.run("checkout", "-q", "main")
    w.write("README.md", "hello again\n")
    ids["m1"] = w.commit("main work")
    w.run("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    ids["merge"] = w.head()
    w.write("caf\xe9.txt".encode("latin-1").decode("utf-8", "surrogateescape"), b"latin\n")
    w.run("config", "i18n.commitEncoding", "ISO-8859-1")  # keep the Latin-1 bytes as they are
    ids["c7"] = w.commit(b"caf\xe9 latin-1 message\n")
    w.run("tag", "v1", ids["c2"])
    url = cred_url(server, f"/scm/{KEY}/history.git", *ADMIN)
    w.run("push", "-q", url, "main", "feature", "v1")
    return ids


def page(admin, resource: str = "/commits", **params):  # type: ignore[no-untyped-def]
    r = admin.get(R + resource, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def ids_of(body: dict) -> list[str]:
    return [c["id"] for c in body["values"]]


def err(r) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    return r.status_code, r.json()["errors"][0]["exceptionName"].rsplit(".", 1)[-1]


ORDER = ["c7", "merge", "m1", "f1", "c5", "c4", "c3", "c2", "c1"]


def test_commits_default_branch_newest_first(admin, h) -> None:  # type: ignore[no-untyped-def]
    body = page(admin)
    assert ids_of(body) == [h[k] for k in ORDER]
    assert body["isLastPage"] is True and body["start"] == 0 and body["size"] == 9
    first = body["values"][0]
    assert first["displayId"] == h["c7"][:11]
    assert first["message"].startswith("caf") and first["message"].endswith(" latin-1 message")
    assert first["author"]["name"] == "author" and first["author"]["slug"] == "author"  # mapped to the user
    assert first["committer"] == {"name": "Test Committer", "emailAddress": "committer@example.com"}
    assert first["authorTimestamp"] == first["committerTimestamp"] and first["authorTimestamp"] % 1000 == 0
    merge = body["values"][1]
    assert [p["id"] for p in merge["parents"]] == [h["m1"], h["f1"]]


def test_commits_paging(admin, h) -> None:  # type: ignore[no-untyped-def]
    p1 = page(admin, limit=4)
    assert ids_of(p1) == [h[k] for k in ORDER[:4]] and p1["nextPageStart"] == 4 and not p1["isLastPage"]
    p2 = page(admin, limit=4, start=4)
    assert ids_of(p2) == [h[k] for k in ORDER[4:8]] and p2["nextPageStart"] == 8
    p3 = page(admin, limit=4, start=8)
    assert ids_of(p3) == [h["c1"]] and p3["isLastPage"] and "nextPageStart" not in p3
    assert page(admin, start=100)["values"] == []


def test_until_since(admin, h) -> None:  # type: ignore[no-untyped-def]
    assert ids_of(page(admin, until="feature")) == [h[k] for k in ("f1", "c5", "c4", "c3", "c2", "c1")]
    assert ids_of(page(admin, until="refs/tags/v1")) == [h["c2"], h["c1"]]
    assert ids_of(page(admin, until=h["c3"][:8])) == [h["c3"], h["c2"], h["c1"]]
    assert ids_of(page(admin, until="main", since="feature")) == [h[k] for k in ("c7", "merge", "m1")]
    assert ids_of(page(admin, since=h["c4"], until=h["c5"])) == [h["c5"]]


def test_merges_filter(admin, h) -> None:  # type: ignore[no-untyped-def]
    assert ids_of(page(admin, merges="only")) == [h["merge"]]
    assert h["merge"] not in ids_of(page(admin, merges="exclude"))
    assert len(page(admin, merges="INCLUDE")["values"]) == 9
    r = admin.get(R + "/commits", params={"merges": "bogus"})
    assert err(r) == (400, "ArgumentValidationException")


def test_path_filter_and_follow_renames(admin, h) -> None:  # type: ignore[no-untyped-def]
    assert ids_of(page(admin, path="src/b.txt")) == [h["c4"], h["c3"]]
    assert ids_of(page(admin, path="/src/b.txt", followRenames="true")) == [h[k] for k in ("c4", "c3", "c2", "c1")]
    assert ids_of(page(admin, path="src")) == [h[k] for k in ("c4", "c3", "c2", "c1")]
    assert ids_of(page(admin, path="script.sh")) == [h["c5"], h["c1"]]
    assert page(admin, path="nope/missing")["values"] == []
    assert ids_of(page(admin, path=":(glob)*")) == []  # pathspec magic is literal text
    assert ids_of(page(admin, path="-x")) == []  # a path, never an option
    for bad in ("../etc/passwd", "src/../..", "a/./b"):
        r = admin.get(R + "/commits", params={"path": bad})
        assert err(r) == (400, "ArgumentValidationException"), bad


def test_with_counts(admin, h) -> None:  # type: ignore[no-untyped-def]
    body = page(admin, withCounts="true", limit=2)
    assert body["totalCount"] == 9 and body["authorCount"] == 1 and body["size"] == 2
    assert "totalCount" not in page(admin, limit=2)
    assert page(admin, withCounts="true", path="src")["totalCount"] == 4


def test_missing_refs(admin, h) -> None:  # type: ignore[no-untyped-def]
    for params in ({"until": "nope"}, {"since": "nope"}, {"until": "HEAD~1"}, {"until": "-x"},
                   {"until": "main^"}, {"since": "@{1}"}, {"until": "0" * 40}):
        r = admin.get(R + "/commits", params=params)
        assert err(r) == (404, "NoSuchCommitException"), params
    r = admin.get(R + "/commits", params={"until": "nope"})
    assert r.json()["errors"][0]["message"] == "Commit 'nope' does not exist in repository 'history'."
    assert page(admin, until="nope", ignoreMissing="true")["values"] == []
    assert len(page(admin, since="nope", ignoreMissing="true")["values"]) == 9  # as git's --ignore-missing
    assert page(admin, until="nope", ignoreMissing="true", withCounts="true")["totalCount"] == 0


def test_bad_paging(admin, h) -> None:  # type: ignore[no-untyped-def]
    for params in ({"limit": "x"}, {"start": "-1"}, {"start": "1.5"}):
        r = admin.get(R + "/commits", params=params)
        assert r.status_code == 400, params
    assert page(admin, limit=0)["limit"] == 25


def test_missing_repository(admin, h) -> None:  # type: ignore[no-untyped-def]
    r = admin.get(f"{API}/projects/{KEY}/repos/nope/commits")
    assert r.status_code == 404
    r = admin.get(f"{API}/projects/NOPE/repos/history/commits/{h['c1']}")
    assert r.status_code == 404


def test_anonymous_refused(server: LiveServer, h) -> None:
    with server.client(auth=None) as anon:
        assert anon.get(R + "/commits").status_code == 401


def test_empty_repository(admin, h) -> None:  # type: ignore[no-untyped-def]
    create_repo(admin, KEY, "empty")
    body = admin.get(f"{API}/projects/{KEY}/repos/empty/commits", params={"withCounts": "true"}).json()
    assert body["values"] == [] and body["isLastPage"] is True and body["totalCount"] == 0
    r = admin.get(f"{API}/projects/{KEY}/repos/empty/commits", params={"until": "main"})
    assert err(r) == (404, "NoSuchCommitException")
    r = admin.get(f"{API}/projects/{KEY}/repos/empty/commits/{'a' * 40}")
    assert err(r) == (404, "NoSuchCommitException")


# -- getCommit ----------------------------------------------------------------------------------------
def test_get_commit(admin, h) -> None:  # type: ignore[no-untyped-def]
    c = page(admin, f"/commits/{h['c3']}")
    assert c["id"] == h["c3"] and c["message"] == "rename a to b"
    assert c["parents"] == [{"id": h["c2"], "displayId": h["c2"][:11]}]
    assert page(admin, f"/commits/{h['c3'][:12]}")["id"] == h["c3"]
    # `path`: the first commit at or before the given one that changed the path
    assert page(admin, f"/commits/{h['c7']}", path="script.sh")["id"] == h["c5"]
    r = admin.get(R + f"/commits/{h['c1']}", params={"path": "feature.txt"})
    assert err(r) == (404, "NoSuchCommitException")
    for bad in ("nope", "HEAD~1", "-x", "f" * 40):
        r = admin.get(R + f"/commits/{bad}")
        assert err(r) == (404, "NoSuchCommitException"), bad
    r = admin.get(R + f"/commits/{h['c1']}", params={"path": "../x"})
    assert err(r) == (400, "ArgumentValidationException")


# -- getChanges -----------------------------------------------------------------------------------------
def by_path(body: dict) -> dict[str, dict]:
    return {c["path"]["toString"]: c for c in body["values"]}


def test_changes_root_commit_all_added(admin, h) -> None:  # type: ignore[no-untyped-def]
    body = page(admin, f"/commits/{h['c1']}/changes")
    changes = by_path(body)
    assert set(changes) == {"README.md", "bin.dat", "script.sh", "src/a.txt"}
    assert body["toHash"] == h["c1"] and body["fromHash"] is None
    a = changes["src/a.txt"]
    assert a["type"] == "ADD" and a["nodeType"] == "FILE" and a["properties"] == {"gitChangeType": "ADD"}
    assert a["fromContentId"] == "0" * 40 and len(a["contentId"]) == 40 and a["executable"] is False
    assert a["path"] == {"components": ["src", "a.txt"], "parent": "src", "name": "a.txt", "extension": "txt",
                         "toString": "src/a.txt"}
    assert a["links"]["self"][0]["href"].endswith(f"/projects/{KEY}/repos/history/browse/src/a.txt?at={h['c1']}")
    assert a["percentUnchanged"] == -1 and "srcExecutable" not in a


def test_changes_modify_rename_copy_mode(admin, h) -> None:  # type: ignore[no-untyped-def]
    mod = page(admin, f"/commits/{h['c2']}/changes")["values"]
    assert [(c["type"], c["path"]["toString"]) for c in mod] == [("MODIFY", "src/a.txt")]
    assert mod[0]["srcExecutable"] is False and mod[0]["fromContentId"] != mod[0]["contentId"]
    move = page(admin, f"/commits/{h['c3']}/changes")["values"]
    assert len(move) == 1
    assert move[0]["type"] == "MOVE" and move[0]["properties"]["gitChangeType"] == "RENAME"
    assert move[0]["srcPath"]["toString"] == "src/a.txt" and move[0]["path"]["toString"] == "src/b.txt"
    assert move[0]["percentUnchanged"] == 100 and move[0]["contentId"] == move[0]["fromContentId"]
    copy = by_path(page(admin, f"/commits/{h['c4']}/changes"))
    assert copy["src/c.txt"]["type"] == "COPY" and copy["src/c.txt"]["srcPath"]["toString"] == "src/b.txt"
    assert copy["src/b.txt"]["type"] == "MODIFY"
    chmod = page(admin, f"/commits/{h['c5']}/changes")["values"]
    assert len(chmod) == 1 and chmod[0]["type"] == "MODIFY"
    assert chmod[0]["executable"] is True and chmod[0]["srcExecutable"] is False
    assert chmod[0]["contentId"] == chmod[0]["fromContentId"]


def test_changes_merge_first_parent_and_since(admin, h) -> None:  # type: ignore[no-untyped-def]
    merge = page(admin, f"/commits/{h['merge']}/changes")
    assert [c["path"]["toString"] for c in merge["values"]] == ["feature.txt"]
    assert merge["fromHash"] == h["m1"]
    since = page(admin, f"/commits/{h['merge']}/changes", since=h["c4"])
    assert {c["path"]["toString"] for c in since["values"]} == {"README.md", "feature.txt", "script.sh"}
    r = admin.get(R + f"/commits/{h['merge']}/changes", params={"since": "nope"})
    assert err(r) == (404, "NoSuchCommitException")


def test_changes_non_utf8_name(admin, h) -> None:  # type: ignore[no-untyped-def]
    values = page(admin, f"/commits/{h['c7']}/changes")["values"]
    assert values[0]["path"]["toString"] == "caf\ufffd.txt" and values[0]["type"] == "ADD"


def test_changes_paging(admin, h) -> None:  # type: ignore[no-untyped-def]
    first = page(admin, f"/commits/{h['c1']}/changes", limit=3)
    assert first["size"] == 3 and first["nextPageStart"] == 3 and not first["isLastPage"]
    rest = page(admin, f"/commits/{h['c1']}/changes", limit=3, start=3)
    assert rest["size"] == 1 and rest["isLastPage"]
    names = [c["path"]["toString"] for c in first["values"] + rest["values"]]
    assert sorted(names) == names and len(set(names)) == 4


def test_changes_between(admin, h) -> None:  # type: ignore[no-untyped-def]
    body = page(admin, "/changes", until=h["c3"], since=h["c1"])
    assert [(c["type"], c["path"]["toString"]) for c in body["values"]] == [("MOVE", "src/b.txt")]
    assert body["fromHash"] == h["c1"] and body["toHash"] == h["c3"]
    assert [c["type"] for c in page(admin, "/changes", until="v1")["values"]] == ["MODIFY"]
    r = admin.get(R + "/changes")
    assert err(r) == (400, "ArgumentValidationException")
    for params in ({"until": "nope"}, {"until": "main", "since": "HEAD~1"}):
        assert err(admin.get(R + "/changes", params=params)) == (404, "NoSuchCommitException")


def test_merge_base(admin, h) -> None:  # type: ignore[no-untyped-def]
    body = page(admin, f"/commits/{h['f1']}/merge-base", otherCommitId=h["m1"])
    assert body["id"] == h["c5"] and body["author"]["name"] == "author"
    assert page(admin, f"/commits/{h['c7']}/merge-base", otherCommitId=h["f1"])["id"] == h["f1"]
    r = admin.get(R + f"/commits/{h['f1']}/merge-base")
    assert err(r) == (400, "ArgumentValidationException")
    r = admin.get(R + f"/commits/{h['f1']}/merge-base", params={"otherCommitId": "nope"})
    assert err(r) == (404, "NoSuchCommitException")


def test_merge_base_unrelated_is_204(server: LiveServer, admin, h, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = Work(tmp_path / "orphan")
    w.write("other.txt", "x\n")
    orphan = w.commit("unrelated root")
    w.run("push", "-q", cred_url(server, f"/scm/{KEY}/history.git", *ADMIN), "main:refs/heads/orphan")
    r = admin.get(R + f"/commits/{orphan}/merge-base", params={"otherCommitId": h["c1"]})
    assert r.status_code == 204


# -- atlassian-python-api --------------------------------------------------------------------------
def test_atlassian_client(server: LiveServer, h) -> None:
    bb = Bitbucket(url=f"http://127.0.0.1:{server.port}", username=ADMIN[0], password=ADMIN[1])
    commits = list(bb.get_commits(KEY, "history", hash_newest="main", limit=3))
    assert [c["id"] for c in commits] == [h[k] for k in ORDER]
    older = list(bb.get_commits(KEY, "history", hash_oldest=h["c4"], hash_newest=h["c5"]))
    assert [c["id"] for c in older] == [h["c5"]]
    info = bb.get_commit_info(KEY, "history", h["c2"])
    assert info["id"] == h["c2"] and info["message"] == "second: grow a.txt"
    changes = bb.get_commit_changes(KEY, "history", commit_id=h["c3"])["values"]
    assert [c["type"] for c in changes] == ["MOVE"]
    changelog = list(bb.get_changelog(KEY, "history", "main", "feature", limit=2))
    assert [c["id"] for c in changelog] == [h["c7"], h["merge"], h["m1"]]
    assert list(bb.get_changelog(KEY, "history", "feature", "main")) == []


# -- long histories and wide commits: pages deep in, read with bounded work ---------------------
@pytest.fixture(scope="module")
def big(server: LiveServer, admin, tmp_path_factory) -> list[str]:  # type: ignore[no-untyped-def]
    """3000 linear commits (git fast-import), the last one adding 2000 files; returns ids newest first."""
    create_repo(admin, KEY, "big")
    work = tmp_path_factory.mktemp("big") / "w"
    git("init", "-q", "-b", "main", str(work))
    chunks = []
    for n in range(1, 3001):
        msg = f"commit {n}".encode()
        chunks.append(b"commit refs/heads/main\nmark :%d\ncommitter C <c@example.com> %d +0000\ndata %d\n%s\n"
                      % (n, 1_600_000_000 + n, len(msg), msg))
        if n > 1:
            chunks.append(b"from :%d\n" % (n - 1))
        if n < 3000:
            body = b"%d\n" % n
            chunks.append(b"M 100644 inline f.txt\ndata %d\n%s\n" % (len(body), body))
        else:
            for i in range(2000):
                chunks.append(b"M 100644 inline wide/%04d.txt\ndata 2\n%d\n" % (i, i % 10))
    git("fast-import", "--quiet", cwd=work, input=b"".join(chunks))
    git("push", "-q", cred_url(server, f"/scm/{KEY}/big.git", *ADMIN), "main", cwd=work)
    return git("rev-list", "main", cwd=work).stdout.split()


def test_deep_page(admin, big) -> None:  # type: ignore[no-untyped-def]
    body = admin.get(f"{API}/projects/{KEY}/repos/big/commits", params={"start": 2900, "limit": 50}).json()
    assert [c["id"] for c in body["values"]] == big[2900:2950] and body["nextPageStart"] == 2950
    body = admin.get(f"{API}/projects/{KEY}/repos/big/commits", params={"start": 2990, "limit": 50}).json()
    assert [c["id"] for c in body["values"]] == big[2990:] and body["isLastPage"]
    body = admin.get(f"{API}/projects/{KEY}/repos/big/commits",
                     params={"path": "f.txt", "start": 100, "limit": 3}).json()
    assert [c["id"] for c in body["values"]] == big[101:104]
    body = admin.get(f"{API}/projects/{KEY}/repos/big/commits", params={"withCounts": "true", "limit": 1}).json()
    assert body["totalCount"] == 3000 and body["authorCount"] == 1


def test_wide_commit_changes_paged(admin, big) -> None:  # type: ignore[no-untyped-def]
    url = f"{API}/projects/{KEY}/repos/big/commits/{big[0]}/changes"
    body = admin.get(url, params={"start": 1990, "limit": 5}).json()
    assert [c["path"]["toString"] for c in body["values"]] == [f"wide/{i:04d}.txt" for i in range(1990, 1995)]
    assert body["nextPageStart"] == 1995
    body = admin.get(url, params={"start": 1995, "limit": 5}).json()
    assert body["size"] == 5 and body["isLastPage"]
    assert admin.get(url).json()["size"] == 25
