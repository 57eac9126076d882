"""Editing files through the REST API (`PUT .../browse/{path}`): commits built without a work tree,
moved only by compare-and-swap, recorded in the outbox, and Bitbucket's refusals."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from atlassian import Bitbucket

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
    refs_changed_events,
    server_db,
    validating_client,
)

KEY = "EDIT"
ZERO = "0" * 40
XSRF = {"X-Atlassian-Token": "no-check"}
ADMIN_EMAIL = "admin@example.com"


def browse(slug: str, path: str) -> str:
    return f"/rest/api/latest/projects/{KEY}/repos/{slug}/browse/{path}"


def put(client: httpx.Client, slug: str, path: str, headers: dict | None = None, **fields: object) -> httpx.Response:
    """A multipart edit; `content` goes as a file part, the other fields as plain fields (as curl -F)."""
    content = fields.pop("content", None)
    files = {"content": ("blob", content, "application/octet-stream")} if content is not None else None
    data = {k: v for k, v in fields.items() if v is not None}
    if files is None and not data:
        files = {"unused": ("x", b"")}
    return client.put(browse(slug, path), data=data, files=files, headers=XSRF if headers is None else headers)


def remote(server: LiveServer, slug: str) -> str:
    return cred_url(server, f"/scm/{KEY}/{slug}.git", *ADMIN)


def clone(server: LiveServer, slug: str, dest: Path, branch: str = "main") -> Path:
    git("clone", "-q", "-b", branch, remote(server, slug), str(dest))
    return dest


def head(server: LiveServer, slug: str, branch: str = "main") -> str:
    out = git("ls-remote", remote(server, slug), f"refs/heads/{branch}").stdout.split()
    return out[0] if out else ""


def error(r: httpx.Response) -> dict:
    return r.json()["errors"][0]


@pytest.fixture(scope="module", autouse=True)
def admin_email(server: LiveServer) -> None:
    from culm.domain.users import service as users

    with server_db(server) as session:
        users.require_user(session, "admin").email = ADMIN_EMAIL  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def seeded(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A repository with a README, a nested directory, an executable script; pushed with real git."""
    repo = create_repo(admin, KEY, "files")
    work = tmp_path_factory.mktemp("seed") / "work"
    git("init", "-q", "-b", "main", str(work))
    commit_file(work, "README.md", "hello\n")
    commit_file(work, "dir/sub/file.txt", "nested\n")
    (work / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (work / "run.sh").chmod(0o755)
    git("add", "run.sh", cwd=work)
    git("commit", "-q", "-m", "script", cwd=work)
    git("push", "-q", remote(server, "files"), "main", cwd=work)
    return repo


def test_create_file_is_one_commit_seen_by_a_fresh_clone(server: LiveServer, admin: httpx.Client, seeded: dict,
                                                         tmp_path: Path) -> None:
    before = head(server, "files")
    r = put(admin, "files", "docs/new/deep.txt", content=b"deep\n", branch="main", message="Add deep file")
    assert r.status_code == 200, r.text
    commit = r.json()
    assert commit["message"] == "Add deep file"
    assert [p["id"] for p in commit["parents"]] == [before]
    assert commit["author"]["name"] == "admin" and commit["author"]["emailAddress"] == ADMIN_EMAIL
    assert commit["committer"]["name"] == "admin"
    assert head(server, "files") == commit["id"]

    work = clone(server, "files", tmp_path / "c")
    assert (work / "docs/new/deep.txt").read_bytes() == b"deep\n"
    assert (work / "README.md").read_text() == "hello\n"  # the rest of the tree is untouched
    assert (work / "run.sh").stat().st_mode & 0o111
    log = git("log", "-1", "--format=%an|%ae|%cn|%ce|%s", cwd=work).stdout.strip()
    display = admin.get("/rest/api/latest/users/admin").json()["displayName"]
    assert log == f"{display}|{ADMIN_EMAIL}|{display}|{ADMIN_EMAIL}|Add deep file"
    assert git("fsck", "--strict", cwd=work).returncode == 0

    events = refs_changed_events(server, seeded["id"])
    last = events[-1]["changes"]
    assert [(c["refId"], c["type"], c["fromHash"], c["toHash"]) for c in last] == [
        ("refs/heads/main", "UPDATE", before, commit["id"])]


def test_update_needs_source_commit_and_keeps_the_file_mode(server: LiveServer, admin: httpx.Client, seeded: dict,
                                                            tmp_path: Path) -> None:
    start = head(server, "files")
    r = put(admin, "files", "run.sh", content=b"#!/bin/sh\necho bye\n", branch="main")
    assert r.status_code == 409
    assert error(r)["exceptionName"] == "com.atlassian.bitbucket.content.FileAlreadyExistsException"
    r = put(admin, "files", "run.sh", content=b"#!/bin/sh\necho bye\n", branch="refs/heads/main",
            sourceCommitId=start)
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "run.sh edited online with Bitbucket"  # the default message
    work = clone(server, "files", tmp_path / "c")
    assert (work / "run.sh").read_text() == "#!/bin/sh\necho bye\n"
    assert (work / "run.sh").stat().st_mode & 0o111

    # The same bytes again: nothing to commit.
    r = put(admin, "files", "run.sh", content=b"#!/bin/sh\necho bye\n", branch="main", sourceCommitId=r.json()["id"])
    assert r.status_code == 409
    assert error(r)["exceptionName"] == "com.atlassian.bitbucket.content.FileContentUnmodifiedException"
    assert error(r)["message"] == ("The content provided is the same as what already exists. "
                                   "No change was committed.")


def test_stale_source_commit_is_409_but_other_files_may_have_moved(server: LiveServer, admin: httpx.Client,
                                                                   seeded: dict) -> None:
    base = head(server, "files")
    r = put(admin, "files", "README.md", content=b"one\n", branch="main", sourceCommitId=base)
    assert r.status_code == 200
    # README changed since `base`: an edit made on `base` is out of date.
    r = put(admin, "files", "README.md", content=b"two\n", branch="main", sourceCommitId=base)
    assert r.status_code == 409
    assert error(r)["exceptionName"] == "com.atlassian.bitbucket.content.FileOutOfDateException"
    # dir/sub/file.txt did not change since `base`, although the branch moved: accepted, on top of the head.
    moved = head(server, "files")
    r = put(admin, "files", "dir/sub/file.txt", content=b"edited\n", branch="main", sourceCommitId=base[:12])
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["parents"]] == [moved]
    # A file created since `base` is out of date for an edit made on `base`... and a new file is fine.
    r = put(admin, "files", "dir/sub/file.txt", content=b"again\n", branch="main", sourceCommitId=base)
    assert r.status_code == 409
    r = put(admin, "files", "brand-new.txt", content=b"x", branch="main", sourceCommitId=base)
    assert r.status_code == 200
    r = put(admin, "files", "README.md", content=b"x", branch="main", sourceCommitId="0123456789" * 4)
    assert r.status_code == 404
    assert error(r)["exceptionName"] == "com.atlassian.bitbucket.commit.NoSuchCommitException"


def test_source_branch_creates_the_branch(server: LiveServer, admin: httpx.Client, seeded: dict,
                                          tmp_path: Path) -> None:
    main = head(server, "files")
    r = put(admin, "files", "feature.txt", content=b"f\n", branch="feature/edit", sourceBranch="main",
            message="On a new branch")
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["parents"]] == [main]
    assert head(server, "files", "feature/edit") == r.json()["id"]
    assert head(server, "files") == main  # the source branch did not move
    work = clone(server, "files", tmp_path / "c", "feature/edit")
    assert (work / "feature.txt").read_text() == "f\n"
    change = refs_changed_events(server, seeded["id"])[-1]["changes"][0]
    assert (change["refId"], change["type"], change["fromHash"]) == ("refs/heads/feature/edit", "ADD", ZERO)

    r = put(admin, "files", "x.txt", content=b"x", branch="nope")
    assert r.status_code == 404
    assert error(r)["exceptionName"] == "com.atlassian.bitbucket.repository.NoSuchBranchException"
    r = put(admin, "files", "x.txt", content=b"x", branch="other", sourceBranch="missing")
    assert r.status_code == 404


def test_empty_repository_first_commit_creates_the_branch(server: LiveServer, admin: httpx.Client,
                                                          tmp_path: Path) -> None:
    repo = create_repo(admin, KEY, "empty")
    r = put(admin, "empty", "a/b/README.md", content=b"# first\n", branch="main", message="Initial")
    assert r.status_code == 200, r.text
    assert r.json()["parents"] == []
    work = clone(server, "empty", tmp_path / "c")
    assert (work / "a/b/README.md").read_text() == "# first\n"
    assert admin.get(f"/rest/api/latest/projects/{KEY}/repos/empty/branches/default").status_code == 200
    change = refs_changed_events(server, repo["id"])[-1]["changes"][0]
    assert (change["refId"], change["type"], change["fromHash"]) == ("refs/heads/main", "ADD", ZERO)


def test_bytes_are_stored_exactly(server: LiveServer, admin: httpx.Client, seeded: dict, tmp_path: Path) -> None:
    latin1 = "caf\u00e9\r\nna\u00efve\r\n".encode("latin-1") + b"\x00\xff\xfe"
    r = put(admin, "files", "bin/latin1.dat", content=latin1, branch="main", message="Bytes: caf\u00e9")
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "Bytes: caf\u00e9"
    r = put(admin, "files", "empty.txt", content=b"", branch="main")
    assert r.status_code == 200, r.text
    # A plain (non-file) form field works too, as `curl -F content=text` sends it.
    r = admin.put(browse("files", "plain.txt"), data={"content": "plain text\n", "branch": "main"}, headers=XSRF)
    assert r.status_code == 200, r.text
    work = clone(server, "files", tmp_path / "c")
    assert (work / "bin/latin1.dat").read_bytes() == latin1
    assert (work / "empty.txt").read_bytes() == b""
    assert (work / "plain.txt").read_bytes() == b"plain text\n"


@pytest.mark.parametrize("path, fragment", [
    ("..%2Fescape.txt", "'..'"),
    ("a/%2E%2E/b.txt", "'..'"),
    ("a/%2E/b.txt", "'.'"),
    ("%2Fabsolute.txt", "relative"),
    ("-rf", "'-'"),
    ("dir", "directory"),
    ("dir/sub", "directory"),
    ("README.md/child.txt", "is a file"),
    ("a%00b", "NUL"),
    (".git/config", ".git"),
    ("a//b", "empty"),
])
def test_bad_paths_are_400(admin: httpx.Client, seeded: dict, path: str, fragment: str) -> None:
    r = put(admin, "files", path, content=b"x", branch="main")
    assert r.status_code == 400, (path, r.text)
    assert fragment in error(r)["message"]


def test_bad_requests(server: LiveServer, admin: httpx.Client, seeded: dict) -> None:
    r = admin.put(browse("files", "j.txt"), json={"content": "x", "branch": "main"})
    assert r.status_code == 415
    r = put(admin, "files", "j.txt", content=b"x")  # no branch
    assert r.status_code == 400 and error(r)["context"] == "branch"
    r = put(admin, "files", "j.txt", branch="main")  # no content
    assert r.status_code == 400 and error(r)["context"] == "content"
    for bad in ("-x", "a..b", "refs/tags/v1", "x\x01"):
        r = put(admin, "files", "j.txt", content=b"x", branch=bad)
        assert r.status_code == 400, (bad, r.text)
    r = put(admin, "files", "j.txt", content=b"x", branch="main", sourceBranch="-bad")
    assert r.status_code == 400
    from culm.domain.content.edit import MAX_CONTENT_BYTES

    r = put(admin, "files", "big.bin", content=b"x" * (MAX_CONTENT_BYTES + 1), branch="main")
    assert r.status_code == 400 and "limit" in error(r)["message"]
    r = put(admin, "missing-repo", "j.txt", content=b"x", branch="main")
    assert r.status_code == 404
    # From a browser, a form write without the XSRF header is refused before it reaches the resource.
    r = put(admin, "files", "j.txt", headers={"User-Agent": "Mozilla/5.0"}, content=b"x", branch="main")
    assert r.status_code == 403


def test_permissions_and_tokens(server: LiveServer, admin: httpx.Client, seeded: dict, tmp_path: Path) -> None:
    create_user(server, "reader", "writer")
    grant_repo(server, KEY, "files", "reader", "REPO_READ")
    grant_repo(server, KEY, "files", "writer", "REPO_WRITE")
    with validating_client(server, auth=("reader", USER_PASSWORD)) as c:
        r = put(c, "files", "w.txt", content=b"x", branch="main")
        assert r.status_code == 401
    with validating_client(server, auth=None) as c:
        assert put(c, "files", "w.txt", content=b"x", branch="main").status_code == 401
    with validating_client(server, auth=("writer", USER_PASSWORD)) as c:
        r = put(c, "files", "w.txt", content=b"by writer\n", branch="main")
        assert r.status_code == 200, r.text
        assert r.json()["author"]["name"] == "writer"
        assert r.json()["author"]["emailAddress"] == "writer@example.com"
    # A repository token has no user to author the commit: 403.
    r = admin.put(f"/rest/access-tokens/latest/projects/{KEY}/repos/files",
                  json={"name": "bot", "permissions": ["REPO_WRITE"]})
    assert r.status_code == 200, r.text
    bot = r.json()["token"]
    with validating_client(server, auth=None, headers={"Authorization": f"Bearer {bot}"}) as c:
        r = put(c, "files", "w2.txt", content=b"x", branch="main")
        assert r.status_code == 403, r.text

    # A user without an e-mail address still gets a well-formed identity.
    from culm.domain.users import service as users

    create_user(server, "nomail")
    grant_repo(server, KEY, "files", "nomail", "REPO_WRITE")
    with server_db(server) as session:
        users.require_user(session, "nomail").email = None  # type: ignore[attr-defined]
    with validating_client(server, auth=("nomail", USER_PASSWORD)) as c:
        r = put(c, "files", "nomail.txt", content=b"x", branch="main")
        assert r.status_code == 200, r.text
    work = clone(server, "files", tmp_path / "c")
    assert git("log", "-1", "--format=%an <%ae>", cwd=work).stdout.strip() == "Nomail <nomail@users.noreply.invalid>"


def test_atlassian_python_api_upload_and_update(server: LiveServer, seeded: dict, tmp_path: Path) -> None:
    bb = Bitbucket(server.url, username=ADMIN[0], password=ADMIN[1])
    # This client sends no XSRF header on its own: like Bitbucket, culm checks it only for browsers.
    made = bb.upload_file(KEY, "files", "from apa\n", "Uploaded by apa", "main", "apa/file.txt")
    assert made["message"] == "Uploaded by apa"
    updated = bb.update_file(KEY, "files", "changed by apa\n", "Updated by apa", "main", "apa/file.txt", made["id"])
    assert updated["parents"][0]["id"] == made["id"]
    work = clone(server, "files", tmp_path / "c")
    assert (work / "apa/file.txt").read_text() == "changed by apa\n"
    # A second update from the same (now stale) commit is refused.
    with pytest.raises(Exception) as failure:
        bb.update_file(KEY, "files", "lost?\n", "Stale", "main", "apa/file.txt", made["id"])
    assert "409" in str(failure.value) or "out of date" in str(failure.value).lower() or "changed" in str(
        failure.value)


def test_concurrent_edits_lose_no_update(server: LiveServer, admin: httpx.Client, tmp_path: Path) -> None:
    repo = create_repo(admin, KEY, "race")
    r = put(admin, "race", "shared.txt", content=b"0\n", branch="main")
    base = r.json()["id"]
    results: dict[str, int] = {}
    lock = threading.Lock()

    def editor(n: int) -> None:
        with server.client(auth=ADMIN) as c:
            # Everybody edits their own file from the same base (all must land) and the shared file
            # from the same base (exactly one may land).
            own = put(c, "race", f"own-{n}.txt", content=f"{n}\n".encode(), branch="main", sourceCommitId=base)
            shared = put(c, "race", "shared.txt", content=f"{n}\n".encode(), branch="main", sourceCommitId=base)
            with lock:
                results[f"own-{n}"] = own.status_code
                results[f"shared-{n}"] = shared.status_code

    threads = [threading.Thread(target=editor, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[f"own-{n}"] == 200 for n in range(6)), results
    shared = [results[f"shared-{n}"] for n in range(6)]
    assert shared.count(200) == 1 and shared.count(409) == 5, results

    work = clone(server, "race", tmp_path / "c")
    for n in range(6):
        assert (work / f"own-{n}.txt").read_text() == f"{n}\n"
    # The history is linear and every change is in the outbox, each starting where the last ended.
    events = refs_changed_events(server, repo["id"])
    chain = [(c["fromHash"], c["toHash"]) for e in events for c in e["changes"]]
    assert len(chain) == 1 + 6 + 1
    for (_, prev_to), (next_from, _) in zip(chain, chain[1:], strict=False):
        assert prev_to == next_from
    assert chain[-1][1] == head(server, "race")
    assert git("rev-list", "--count", "HEAD", cwd=work).stdout.strip() == "8"


def test_unicode_paths_and_archived_repositories(server: LiveServer, admin: httpx.Client, seeded: dict,
                                                 tmp_path: Path) -> None:
    r = put(admin, "files", "d\u00e9j\u00e0/\u0444\u0430\u0439\u043b \u2603.txt", content=b"u\n", branch="main")
    assert r.status_code == 200, r.text
    work = clone(server, "files", tmp_path / "c")
    assert (work / "d\u00e9j\u00e0" / "\u0444\u0430\u0439\u043b \u2603.txt").read_bytes() == b"u\n"

    repo_url = f"/rest/api/latest/projects/{KEY}/repos/files"
    assert admin.put(repo_url, json={"archived": True}).status_code in (200, 201)
    try:
        r = put(admin, "files", "archived.txt", content=b"x", branch="main")
        assert r.status_code == 409, r.text
    finally:
        assert admin.put(repo_url, json={"archived": False}).status_code in (200, 201)


def test_chunked_upload_is_bounded(admin: httpx.Client, seeded: dict) -> None:
    from culm.domain.content.edit import MAX_CONTENT_BYTES

    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"branch\"\r\n\r\nmain\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"f\"\r\n\r\n").encode()

    def chunks():  # no Content-Length: the server must stop reading past its limit
        yield head
        block = b"x" * (1024 * 1024)
        for _ in range(MAX_CONTENT_BYTES // len(block) + 2):
            yield block
        yield f"\r\n--{boundary}--\r\n".encode()

    r = admin.put(browse("files", "huge.bin"), content=chunks(),
                  headers={**XSRF, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 400 and "limit" in error(r)["message"]

    def small():
        yield head
        yield b"chunked\n"
        yield f"\r\n--{boundary}--\r\n".encode()

    r = admin.put(browse("files", "chunked.txt"), content=small(),
                  headers={**XSRF, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 200, r.text


def test_other_entries_keep_raw_names_modes_and_ids(server: LiveServer, admin: httpx.Client,
                                                    tmp_path: Path) -> None:
    import os
    import subprocess

    create_repo(admin, KEY, "raw")
    work = tmp_path / "w"
    git("init", "-q", "-b", "main", str(work))
    odd = os.fsdecode(b"caf\xe9.txt")  # not UTF-8
    (work / odd).write_bytes(b"latin\n")
    (work / "link").symlink_to("caf\u00e9-target")
    commit_file(work, "sub/keep.txt", "keep\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "odd names", cwd=work)
    git("push", "-q", remote(server, "raw"), "main", cwd=work)

    def tree(cwd: Path, rev: str) -> bytes:
        return subprocess.run(["git", "ls-tree", "-r", "-z", rev], cwd=cwd, capture_output=True, check=True).stdout

    before = tree(work, "HEAD")
    r = put(admin, "raw", "sub/new.txt", content=b"n\n", branch="main")
    assert r.status_code == 200, r.text
    copy = clone(server, "raw", tmp_path / "c")
    after = tree(copy, "HEAD")
    assert set(before.split(b"\0")) < set(after.split(b"\0"))  # every old entry is byte-identical
    assert len(after.split(b"\0")) == len(before.split(b"\0")) + 1
    # Editing the symlink keeps it a symlink.
    r = put(admin, "raw", "link", content=b"elsewhere", branch="main", sourceCommitId=r.json()["id"])
    assert r.status_code == 200, r.text
    git("pull", "-q", cwd=copy)
    assert os.readlink(copy / "link") == "elsewhere"
