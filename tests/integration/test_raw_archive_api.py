"""Raw file bytes (`{R}/raw/{path}`) and archives (`{R}/archive`), streamed from git.

Archives are opened with zipfile / tarfile; raw bytes are compared with what was pushed, including a
5 MB file, a PNG, a name that is not UTF-8, and through atlassian-python-api (which sends a form
Content-Type on its GET).
"""

from __future__ import annotations

import io
import os
import tarfile
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from support import ADMIN, LiveServer, create_repo, cred_url, git

KEY = "RAW"
SLUG = "files"
REST = f"/rest/api/latest/projects/{KEY}/repos/{SLUG}"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
BLOB = bytes(range(256)) * 4
LATIN1_NAME = b"na\xefve.txt"
SHOWN_NAME = "na\ufffdve.txt"
BIG = b"".join(b"row %08d of the big file\n" % i for i in range(200_000))  # about 5.2 MB
SUB_COMMIT = "1234567890abcdef1234567890abcdef12345678"


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_repo(admin, KEY, SLUG)
    create_repo(admin, KEY, "empty")
    work = tmp_path_factory.mktemp("raw") / "work"
    git("init", "-q", "-b", "main", str(work))
    (work / "README.md").write_text("# Title\n\nfirst version\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    git("tag", "-a", "release/1.0", "-m", "release", cwd=work)
    first = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    (work / "README.md").write_text("# Title\n\nsecond version\n")
    (work / "src" / "lib").mkdir(parents=True)
    (work / "src" / "lib" / "code.py").write_text("def f():\n    return 1\n")
    (work / "src" / "app.html").write_text("<script>alert(1)</script>\n")
    (work / "logo.png").write_bytes(PNG)
    (work / "data.bin").write_bytes(BLOB)
    (work / "big.log").write_bytes(BIG)
    (work / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(work / "run.sh", 0o755)
    os.symlink("README.md", work / "link")
    with open(os.path.join(os.fsencode(work), LATIN1_NAME), "wb") as fh:
        fh.write(b"na\xefve\n")
    git("add", "-A", cwd=work)
    git("update-index", "--add", "--cacheinfo", f"160000,{SUB_COMMIT},sub", cwd=work)
    git("commit", "-q", "-m", "second", cwd=work)
    second = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    git("branch", "feature/two", cwd=work)
    git("push", "-q", cred_url(server, f"/scm/{KEY}/{SLUG}.git", *ADMIN), "main", "feature/two", "release/1.0",
        cwd=work)
    return {"first": first, "second": second, "work": work}


def _error(r: httpx.Response, status: int, exception: str) -> str:
    assert r.status_code == status, r.text
    err = r.json()["errors"][0]
    assert err["exceptionName"].endswith(exception), err
    return err["message"]


def _bitbucket(server: LiveServer):  # type: ignore[no-untyped-def]
    import requests
    from atlassian import Bitbucket

    session = requests.Session()
    session.trust_env = False
    return Bitbucket(url=server.url, username=ADMIN[0], password=ADMIN[1], session=session)


# -- raw ----------------------------------------------------------------------------------------------
def test_raw_text(admin: httpx.Client, world: dict) -> None:
    r = admin.get(f"{REST}/raw/README.md")
    assert r.status_code == 200
    assert r.content == b"# Title\n\nsecond version\n"
    assert r.headers["content-type"] == "text/plain;charset=UTF-8"
    assert r.headers["content-length"] == str(len(r.content))
    assert r.headers["content-disposition"] == 'inline; filename="README.md"'
    assert r.headers["x-content-type-options"] == "nosniff"
    old = admin.get(f"{REST}/raw/README.md", params={"at": "release/1.0"})
    assert old.content == b"# Title\n\nfirst version\n"
    assert admin.get(f"{REST}/raw/README.md", params={"at": world["first"]}).content == old.content
    assert admin.get(f"/rest/api/1.0/projects/{KEY}/repos/{SLUG}/raw/src/lib/code.py").text == \
        "def f():\n    return 1\n"


def test_raw_never_serves_html(admin: httpx.Client, world: dict) -> None:
    r = admin.get(f"{REST}/raw/src/app.html")
    assert r.headers["content-type"] == "text/plain;charset=UTF-8"
    assert r.headers["content-security-policy"] == "sandbox"


def test_raw_markup_renders_sanitised_html(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    r = admin.get(f"{REST}/raw/README.md", params={"markup": "true"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html;charset=UTF-8"
    assert r.text == "<h1>Title</h1>\n<p>second version</p>\n"
    assert admin.get(f"{REST}/raw/README.md", params={"markup": ""}).text == r.text  # present means true
    assert admin.get(f"{REST}/raw/README.md", params={"markup": "false"}).content == b"# Title\n\nsecond version\n"
    assert admin.get(f"{REST}/raw/README.md", params={"markup": "true", "includeHeadingId": "true"}).text \
        .startswith('<h1 id="markdown-header-title">')
    # Not Markdown: escaped text, so a repository's HTML never runs as a page of this site.
    page = admin.get(f"{REST}/raw/src/app.html", params={"markup": "true"})
    assert page.text == "<pre>&lt;script&gt;alert(1)&lt;/script&gt;\n</pre>"
    assert page.headers["content-security-policy"] == "sandbox"
    for path in ("data.bin", "big.log"):  # binary; larger than the rendering limit
        r = admin.get(f"{REST}/raw/{path}", params={"markup": "true"})
        assert r.status_code == 400 and r.json()["errors"][0]["context"] == "markup", path
    assert _bitbucket(server).get_content_of_file(KEY, SLUG, "README.md", markup=True) == \
        b"<h1>Title</h1>\n<p>second version</p>\n"


def test_raw_binary_and_image(admin: httpx.Client, world: dict) -> None:
    png = admin.get(f"{REST}/raw/logo.png")
    assert png.content == PNG and png.headers["content-type"] == "image/png"
    blob = admin.get(f"{REST}/raw/data.bin")
    assert blob.content == BLOB and blob.headers["content-type"] == "application/octet-stream"
    assert blob.headers["content-disposition"] == 'attachment; filename="data.bin"'


def test_raw_large_file_streams_in_chunks(server: LiveServer, world: dict) -> None:
    with server.client() as client, client.stream("GET", f"{REST}/raw/big.log") as r:
        assert r.status_code == 200
        assert int(r.headers["content-length"]) == len(BIG)
        chunks = list(r.iter_raw())
    assert b"".join(chunks) == BIG
    assert len(chunks) > 1


def test_raw_client_that_leaves_early_does_not_break_the_server(server: LiveServer, admin: httpx.Client,
                                                                world: dict) -> None:
    for _ in range(3):
        with server.client() as client, client.stream("GET", f"{REST}/raw/big.log") as r:
            first = next(r.iter_raw())
            assert first
        with server.client() as client, client.stream("GET", f"{REST}/archive", params={"format": "tar"}) as r:
            assert next(r.iter_raw())
    assert admin.get(f"{REST}/raw/README.md").status_code == 200
    deadline = time.monotonic() + 10
    while _git_processes(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _git_processes(server) == []  # the git processes of abandoned downloads ended


def _git_processes(server: LiveServer) -> list[str]:
    """`git cat-file` / `git archive` processes working in this server's home."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        mine = any(str(server.home).encode() in part for part in cmdline)
        if mine and (b"cat-file" in cmdline or b"archive" in cmdline):
            found.append(pid)
    return found


def test_raw_symlink_and_non_utf8_names(admin: httpx.Client, world: dict) -> None:
    assert admin.get(f"{REST}/raw/link").content == b"README.md"
    r = admin.get(f"{REST}/raw/{quote(SHOWN_NAME)}")
    assert r.status_code == 200 and r.content == b"na\xefve\n"
    assert "filename*=UTF-8''na%EF%BF%BDve.txt" in r.headers["content-disposition"]


def test_atlassian_get_content_of_file(server: LiveServer, world: dict) -> None:
    bb = _bitbucket(server)
    assert bb.get_content_of_file(KEY, SLUG, "README.md") == b"# Title\n\nsecond version\n"
    assert bb.get_content_of_file(KEY, SLUG, "README.md", at="refs/tags/release/1.0") == \
        b"# Title\n\nfirst version\n"
    assert bb.get_content_of_file(KEY, SLUG, "logo.png") == PNG


def test_raw_errors(admin: httpx.Client, world: dict) -> None:
    message = _error(admin.get(f"{REST}/raw/nope.txt"), 404, "content.NoSuchPathException")
    assert message == 'The path "nope.txt" does not exist at revision "refs/heads/main"'
    _error(admin.get(f"{REST}/raw/README.md", params={"at": "nope"}), 404, "NoSuchCommitException")
    _error(admin.get(f"{REST}/raw/src"), 400, "ArgumentValidationException")
    _error(admin.get(f"{REST}/raw/sub"), 400, "ArgumentValidationException")
    for bad in ("%2E%2E/README.md", "-x", "%2Fetc%2Fpasswd", "a%00b", "src//app.html"):
        _error(admin.get(f"{REST}/raw/{bad}"), 400, "ArgumentValidationException")
    _error(admin.get(f"/rest/api/latest/projects/{KEY}/repos/empty/raw/README.md"), 404, "NoSuchCommitException")
    with httpx.Client(base_url=str(admin.base_url), auth=None) as anon:
        assert anon.get(f"{REST}/raw/README.md").status_code == 401


# -- archive ------------------------------------------------------------------------------------------
def _filename(r: httpx.Response) -> str:
    value = r.headers["content-disposition"]
    assert value.startswith('attachment; filename="'), value
    return value.split('filename="', 1)[1].split('"', 1)[0]


ALL = {"README.md", "big.log", "data.bin", "link", "logo.png", "run.sh", "src/app.html", "src/lib/code.py",
       "na\udcefve.txt"}


def test_archive_zip_by_default(admin: httpx.Client, world: dict) -> None:
    r = admin.get(f"{REST}/archive")
    assert r.status_code == 200, r.text
    assert _filename(r) == f"{SLUG}-main@{world['second'][:11]}.zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = {n for n in z.namelist() if not n.endswith("/")}
        assert {n for n in names if n.isascii()} == {n for n in ALL if n.isascii()}
        assert z.read("README.md") == b"# Title\n\nsecond version\n"
        assert z.read("big.log") == BIG
        assert z.read("logo.png") == PNG


@pytest.mark.parametrize("fmt", ["tar", "tar.gz", "tgz"])
def test_archive_tar_formats(admin: httpx.Client, world: dict, fmt: str) -> None:
    r = admin.get(f"{REST}/archive", params={"format": fmt, "at": "feature/two"})
    assert r.status_code == 200, r.text
    assert _filename(r) == f"{SLUG}-feature-two@{world['second'][:11]}.{fmt}"
    with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:*") as t:
        members = {m.name: m for m in t.getmembers() if not m.isdir()}
        assert set(members) == ALL
        assert members["run.sh"].mode & 0o111
        assert members["link"].issym() and members["link"].linkname == "README.md"
        assert t.extractfile("src/lib/code.py").read() == b"def f():\n    return 1\n"  # type: ignore[union-attr]


def test_archive_paths_prefix_and_names(admin: httpx.Client, world: dict) -> None:
    r = admin.get(f"{REST}/archive?format=tar&path=src/lib&path=README.md&prefix=top/level")
    assert r.status_code == 200, r.text
    with tarfile.open(fileobj=io.BytesIO(r.content)) as t:
        files = {m.name for m in t.getmembers() if m.isfile()}
    assert files == {"top/level/README.md", "top/level/src/lib/code.py"}
    tagged = admin.get(f"{REST}/archive", params={"at": "refs/tags/release/1.0"})
    assert _filename(tagged) == f"{SLUG}-release-1.0@{world['first'][:11]}.zip"
    with zipfile.ZipFile(io.BytesIO(tagged.content)) as z:
        assert z.namelist() == ["README.md"]
    by_id = admin.get(f"{REST}/archive", params={"at": world["first"], "format": "tgz"})
    assert _filename(by_id) == f"{SLUG}-{world['first']}.tgz"
    named = admin.get(f"{REST}/archive", params={"filename": "mine.zip"})
    assert _filename(named) == "mine.zip"
    odd = admin.get(f"{REST}/archive", params={"filename": 'a"b\u00e9.zip'})
    assert odd.headers["content-disposition"] == "attachment; filename=\"a_b_.zip\"; filename*=UTF-8''a%22b%C3%A9.zip"


def test_atlassian_download_repo_archive(server: LiveServer, world: dict, tmp_path: Path) -> None:
    bb = _bitbucket(server)
    buf = io.BytesIO()
    bb.download_repo_archive(KEY, SLUG, buf, at="main", path="src", prefix="x", format="zip", chunk_size=65536)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        assert {n for n in z.namelist() if not n.endswith("/")} == {"x/src/app.html", "x/src/lib/code.py"}


@pytest.mark.parametrize("params, status, exception", [
    ({"format": "rar"}, 400, "ArgumentValidationException"),
    ({"format": ""}, 200, None),
    ({"prefix": "../up"}, 400, "ArgumentValidationException"),
    ({"prefix": "/abs"}, 400, "ArgumentValidationException"),
    ({"path": "../x"}, 400, "ArgumentValidationException"),
    ({"path": "-x"}, 400, "ArgumentValidationException"),
    ({"path": "nope"}, 404, "NoSuchPathException"),
    ({"at": "nope"}, 404, "NoSuchCommitException"),
    ({"at": "HEAD~1"}, 404, "NoSuchCommitException"),
])
def test_archive_bad_input(admin: httpx.Client, world: dict, params: dict, status: int, exception: str | None) -> None:
    r = admin.get(f"{REST}/archive", params=params)
    if exception is None:
        assert r.status_code == status
    else:
        _error(r, status, exception)


def test_archive_of_empty_repository_is_404(admin: httpx.Client, world: dict) -> None:
    _error(admin.get(f"/rest/api/latest/projects/{KEY}/repos/empty/archive"), 404, "NoSuchCommitException")


def test_public_repository_is_readable_anonymously(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    assert admin.put(REST, json={"public": True}).status_code in (200, 201)
    try:
        with server.client(auth=None) as anon:
            assert anon.get(f"{REST}/raw/README.md").content == b"# Title\n\nsecond version\n"
            archive = anon.get(f"{REST}/archive", params={"format": "tar", "path": "README.md"})
            assert archive.status_code == 200
            assert anon.get(f"{REST}/browse/src").json()["children"]["size"] == 2
            assert anon.get(f"{REST}/files/src").json()["values"] == ["app.html", "lib/code.py"]
    finally:
        assert admin.put(REST, json={"public": False}).status_code in (200, 201)


def test_personal_repository_paths(server: LiveServer, admin: httpx.Client, tmp_path: Path) -> None:
    created = admin.post("/rest/api/latest/projects/~admin/repos", json={"name": "mine"})
    assert created.status_code == 201, created.text
    work = tmp_path / "mine"
    git("init", "-q", "-b", "main", str(work))
    (work / "notes.txt").write_text("personal\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "notes", cwd=work)
    git("push", "-q", cred_url(server, "/scm/~admin/mine.git", *ADMIN), "main", cwd=work)
    base = "/rest/api/1.0/users/admin/repos/mine"
    assert admin.get(f"{base}/raw/notes.txt").content == b"personal\n"
    assert admin.get(f"{base}/browse/notes.txt").json()["lines"] == [{"text": "personal"}]
    assert admin.get(f"{base}/files").json()["values"] == ["notes.txt"]
    r = admin.get(f"{base}/archive")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith('attachment; filename="mine-main@')
