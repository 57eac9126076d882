"""Reading content: `{R}/browse[/{path}]` (directories, lines, blame, type, size) and `{R}/files`.

One repository is built once with the real git program and pushed over HTTP: nested directories, a PNG,
an executable, a symlink, a submodule (gitlink), a name that is not UTF-8, a 5 MB file, two authors (for
blame), a tag and a branch with a slash. Bad inputs get Bitbucket's 4xx bodies, never a 500.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from support import ADMIN, LiveServer, create_repo, cred_url, git

KEY = "BRW"
SLUG = "content"
REST = f"/rest/api/latest/projects/{KEY}/repos/{SLUG}"
LEGACY = f"/rest/api/1.0/projects/{KEY}/repos/{SLUG}"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
LATIN1_NAME = b"caf\xe9.txt"
SHOWN_NAME = "caf\ufffd.txt"
BIG_LINES = 400_000  # "line 0000000\n" is 13 bytes: about 5.2 MB
SUB_COMMIT = "1234567890abcdef1234567890abcdef12345678"


def _commit(work: Path, message: str, author: tuple[str, str] | None = None, gitlink: str | None = None) -> str:
    env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]} if author else None
    git("add", "-A", cwd=work)
    if gitlink:  # a submodule entry without a checkout (git add -A would drop it)
        git("update-index", "--add", "--cacheinfo", f"160000,{SUB_COMMIT},{gitlink}", cwd=work)
    git("commit", "-q", "-m", message, cwd=work, env=env)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_repo(admin, KEY, SLUG)
    create_repo(admin, KEY, "empty")
    work = tmp_path_factory.mktemp("browse") / "work"
    git("init", "-q", "-b", "main", str(work))
    (work / "README.md").write_text("hello\nworld\nthird\n")
    first = _commit(work, "first")
    git("tag", "v1", cwd=work)
    (work / "README.md").write_text("hello\nWORLD\nthird\n")
    (work / "src" / "pkg").mkdir(parents=True)
    (work / "src" / "main.py").write_text("print('main')\n")
    (work / "src" / "pkg" / "util.py").write_text("X = 1\n")
    (work / "src" / "pkg" / "deep.txt").write_text("deep\n")
    (work / "docs").mkdir()
    (work / "docs" / "guide.txt").write_text("guide\n")
    (work / "image.png").write_bytes(PNG)
    (work / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(work / "run.sh", 0o755)
    os.symlink("README.md", work / "link")
    with open(os.path.join(os.fsencode(work), LATIN1_NAME), "wb") as fh:
        fh.write(b"caf\xe9 au lait\n")
    (work / "crlf.txt").write_bytes(b"one\r\ntwo\r\nno newline at end")
    (work / "empty.txt").write_bytes(b"")
    (work / "big.txt").write_bytes(b"".join(b"line %07d\n" % i for i in range(BIG_LINES)))
    second = _commit(work, "second", author=("Other Person", "other@example.com"), gitlink="sub")
    git("branch", "feature/x", cwd=work)
    url = cred_url(server, f"/scm/{KEY}/{SLUG}.git", *ADMIN)
    git("push", "-q", url, "main", "feature/x", "v1", cwd=work)
    return {"first": first, "second": second, "work": work}


def _values(client: httpx.Client, url: str, limit: int = 3, **params: str) -> list:
    """Every value of a paged resource, walking nextPageStart."""
    out: list = []
    start = 0
    while True:
        r = client.get(url, params={**params, "start": start, "limit": limit})
        assert r.status_code == 200, r.text
        body = r.json()
        page = body.get("children", body)
        out += page["values"]
        if page["isLastPage"]:
            assert "nextPageStart" not in page
            return out
        start = page["nextPageStart"]


def _error(r: httpx.Response, status: int, exception: str) -> str:
    assert r.status_code == status, r.text
    err = r.json()["errors"][0]
    assert err["exceptionName"].endswith(exception), err
    return err["message"]


# -- directories --------------------------------------------------------------------------------------
def test_root_directory_lists_children_with_types_sizes_and_ids(admin: httpx.Client, world: dict) -> None:
    r = admin.get(f"{REST}/browse", params={"limit": 100})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["path"] == {"components": [], "parent": "", "name": "", "toString": ""}
    assert body["revision"] == "refs/heads/main"
    children = body["children"]
    assert children["isLastPage"] is True and children["start"] == 0
    by_name = {c["path"]["toString"]: c for c in children["values"]}
    assert set(by_name) == {"README.md", "big.txt", SHOWN_NAME, "crlf.txt", "docs", "empty.txt", "image.png",
                            "link", "run.sh", "src", "sub"}
    readme = by_name["README.md"]
    assert readme["type"] == "FILE" and readme["size"] == len("hello\nWORLD\nthird\n")
    assert readme["path"] == {"components": ["README.md"], "parent": "", "name": "README.md",
                              "extension": "md", "toString": "README.md"}
    assert readme["contentId"] == git("rev-parse", "HEAD:README.md", cwd=world["work"]).stdout.strip()
    assert by_name["src"]["type"] == "DIRECTORY" and "size" not in by_name["src"]
    assert by_name["sub"]["type"] == "SUBMODULE" and by_name["sub"]["contentId"] == SUB_COMMIT
    assert by_name["link"]["type"] == "FILE" and by_name["link"]["size"] == len("README.md")
    assert by_name["big.txt"]["size"] == BIG_LINES * 13
    assert by_name["image.png"]["size"] == len(PNG)


def test_directory_pages_cover_every_child_once(admin: httpx.Client, world: dict) -> None:
    r = admin.get(f"{REST}/browse", params={"limit": 4})
    page = r.json()["children"]
    assert page["size"] == 4 and page["limit"] == 4 and page["isLastPage"] is False and page["nextPageStart"] == 4
    paged = [c["path"]["toString"] for c in _values(admin, f"{REST}/browse", limit=4)]
    whole = admin.get(f"{REST}/browse", params={"limit": 100}).json()["children"]
    full = [c["path"]["toString"] for c in whole["values"]]
    assert paged == full and len(full) == 11
    beyond = admin.get(f"{REST}/browse", params={"start": 50}).json()["children"]
    assert beyond["values"] == [] and beyond["isLastPage"] is True


def test_subdirectory_children_are_relative_and_revision_is_at(admin: httpx.Client, world: dict) -> None:
    for base in (REST, LEGACY):
        r = admin.get(f"{base}/browse/src/pkg", params={"at": "feature/x"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["revision"] == "feature/x"
        assert body["path"]["toString"] == "src/pkg" and body["path"]["components"] == ["src", "pkg"]
        names = [c["path"]["toString"] for c in body["children"]["values"]]
        assert names == ["deep.txt", "util.py"]
        assert body["children"]["values"][0]["path"] == {"components": ["deep.txt"], "parent": "", "name": "deep.txt",
                                                         "extension": "txt", "toString": "deep.txt"}
    # a trailing slash names the same directory
    assert admin.get(f"{REST}/browse/src/").json()["path"]["toString"] == "src"


def test_type_and_size_answer_alone(admin: httpx.Client, world: dict) -> None:
    assert admin.get(f"{REST}/browse/src", params={"type": "true"}).json() == {"type": "DIRECTORY"}
    assert admin.get(f"{REST}/browse/README.md", params={"type": "true"}).json() == {"type": "FILE"}
    assert admin.get(f"{REST}/browse/sub", params={"type": "true"}).json() == {"type": "SUBMODULE"}
    assert admin.get(f"{REST}/browse/big.txt", params={"size": "true"}).json() == {"size": BIG_LINES * 13}
    # size before type; a bare ?size or ?type means false
    assert admin.get(f"{REST}/browse/README.md?size=true&type=true").json() == {"size": 18}
    assert "lines" in admin.get(f"{REST}/browse/README.md?size&type").json()
    _error(admin.get(f"{REST}/browse/src", params={"size": "true"}), 400, "ArgumentValidationException")


# -- files: lines, blame ----------------------------------------------------------------------------
def test_file_lines_page(admin: httpx.Client, world: dict) -> None:
    body = admin.get(f"{REST}/browse/README.md").json()
    assert body == {"lines": [{"text": "hello"}, {"text": "WORLD"}, {"text": "third"}], "start": 0, "size": 3,
                    "isLastPage": True}
    old = admin.get(f"{REST}/browse/README.md", params={"at": "v1"}).json()
    assert [x["text"] for x in old["lines"]] == ["hello", "world", "third"]
    by_id = admin.get(f"{REST}/browse/README.md", params={"at": world["first"][:12]}).json()
    assert by_id["lines"] == old["lines"]
    two = admin.get(f"{REST}/browse/README.md", params={"limit": 2}).json()
    assert two == {"lines": [{"text": "hello"}, {"text": "WORLD"}], "start": 0, "size": 2, "isLastPage": False}
    rest = admin.get(f"{REST}/browse/README.md", params={"limit": 2, "start": 2}).json()
    assert rest == {"lines": [{"text": "third"}], "start": 2, "size": 1, "isLastPage": True}
    crlf = admin.get(f"{REST}/browse/crlf.txt").json()
    assert [x["text"] for x in crlf["lines"]] == ["one", "two", "no newline at end"]
    assert admin.get(f"{REST}/browse/empty.txt").json() == {"lines": [], "start": 0, "size": 0, "isLastPage": True}
    script = admin.get(f"{REST}/browse/run.sh").json()
    assert script["lines"][0]["text"] == "#!/bin/sh"
    link = admin.get(f"{REST}/browse/link").json()
    assert link["lines"] == [{"text": "README.md"}]


def test_big_file_pages_its_lines(admin: httpx.Client, world: dict) -> None:
    began = time.monotonic()
    mid = admin.get(f"{REST}/browse/big.txt", params={"start": 300_000, "limit": 3}).json()
    assert [x["text"] for x in mid["lines"]] == ["line 0300000", "line 0300001", "line 0300002"]
    assert mid["isLastPage"] is False and "nextPageStart" not in mid
    tail = admin.get(f"{REST}/browse/big.txt", params={"start": BIG_LINES - 2, "limit": 5}).json()
    assert [x["text"] for x in tail["lines"]] == ["line 0399998", "line 0399999"] and tail["isLastPage"] is True
    assert time.monotonic() - began < 20
    many = admin.get(f"{REST}/browse/big.txt", params={"limit": 20000}).json()
    assert many["size"] == 5000 and many["isLastPage"] is False  # Bitbucket's page.max.source.lines


def test_binary_file_is_flagged(admin: httpx.Client, world: dict) -> None:
    body = admin.get(f"{REST}/browse/image.png").json()
    assert body["binary"] is True and "lines" not in body


def test_name_that_is_not_utf8_can_be_browsed_as_shown(admin: httpx.Client, world: dict) -> None:
    r = admin.get(f"{REST}/browse/{quote(SHOWN_NAME)}")
    assert r.status_code == 200, r.text
    assert r.json()["lines"] == [{"text": "caf\ufffd au lait"}]
    assert admin.get(f"{REST}/browse/{quote(SHOWN_NAME)}", params={"type": "true"}).json() == {"type": "FILE"}


def test_blame_spans_the_page(admin: httpx.Client, world: dict) -> None:
    body = admin.get(f"{REST}/browse/README.md", params={"blame": "true"}).json()
    assert [x["text"] for x in body["lines"]] == ["hello", "WORLD", "third"]
    spans = body["blame"]
    assert [(s["lineNumber"], s["spannedLines"], s["commitHash"]) for s in spans] == [
        (1, 1, world["first"]), (2, 1, world["second"]), (3, 1, world["first"])]
    second = spans[1]
    assert second["displayCommitHash"] == world["second"][:11]
    assert second["author"] == {"name": "Other Person", "emailAddress": "other@example.com"}
    assert second["fileName"] == "README.md"
    assert second["commitId"] == world["second"] and second["displayCommitId"] == world["second"][:11]
    assert isinstance(second["authorTimestamp"], int) and second["authorTimestamp"] > 10**12
    # a bare ?blame counts; with noContent only the blame comes back, for the page's lines
    only = admin.get(f"{REST}/browse/README.md?blame&noContent&start=1&limit=1")
    assert only.status_code == 200
    assert [(s["lineNumber"], s["commitHash"]) for s in only.json()] == [(2, world["second"])]
    # noContent without blame does nothing
    assert admin.get(f"{REST}/browse/README.md?noContent").json()["size"] == 3
    big = admin.get(f"{REST}/browse/big.txt", params={"blame": "true", "start": 10, "limit": 5}).json()
    assert big["blame"] == [dict(big["blame"][0], lineNumber=11, spannedLines=5)]


# -- /files --------------------------------------------------------------------------------------------
def test_files_lists_every_file_recursively_in_pages(admin: httpx.Client, world: dict) -> None:
    everything = _values(admin, f"{REST}/files", limit=4)
    assert everything == ["README.md", "big.txt", SHOWN_NAME, "crlf.txt", "docs/guide.txt", "empty.txt",
                          "image.png", "link", "run.sh", "src/main.py", "src/pkg/deep.txt", "src/pkg/util.py"]
    first = admin.get(f"{REST}/files", params={"limit": 4}).json()
    assert first["size"] == 4 and first["nextPageStart"] == 4 and first["isLastPage"] is False
    sub = admin.get(f"{REST}/files/src").json()
    assert sub["values"] == ["main.py", "pkg/deep.txt", "pkg/util.py"] and sub["isLastPage"] is True
    assert admin.get(f"{REST}/files", params={"at": "v1"}).json()["values"] == ["README.md"]
    _error(admin.get(f"{REST}/files/README.md"), 400, "ArgumentValidationException")
    _error(admin.get(f"{REST}/files/nope"), 404, "NoSuchPathException")


def test_atlassian_client_lists_files(server: LiveServer, world: dict) -> None:
    from atlassian import Bitbucket

    session = __import__("requests").Session()
    session.trust_env = False
    bb = Bitbucket(url=server.url, username=ADMIN[0], password=ADMIN[1], session=session)
    assert list(bb.get_file_list(KEY, SLUG, sub_folder="src", limit=2)) == ["main.py", "pkg/deep.txt",
                                                                            "pkg/util.py"]
    assert len(list(bb.get_file_list(KEY, SLUG, query="main"))) == 12


# -- bad input -------------------------------------------------------------------------------------------
# httpx removes literal dot segments, so they are sent percent-encoded (servers decode them).
@pytest.mark.parametrize("path", ["%2E%2E/README.md", "src/%2E%2E/README.md", "src/%2E/main.py", "-rf",
                                  "%2Fetc%2Fpasswd", "a%00b", "src//main.py", "%2E%2E"])
def test_bad_paths_are_400(admin: httpx.Client, world: dict, path: str) -> None:
    for resource in ("browse", "files"):
        r = admin.get(f"{REST}/{resource}/{path}")
        _error(r, 400, "ArgumentValidationException")


def test_unknown_path_and_revision_are_404(admin: httpx.Client, world: dict) -> None:
    message = _error(admin.get(f"{REST}/browse/missing.txt"), 404, "content.NoSuchPathException")
    assert message == 'The path "missing.txt" does not exist at revision "refs/heads/main"'
    message = _error(admin.get(f"{REST}/browse/src/nope", params={"at": "v1"}), 404, "NoSuchPathException")
    assert message == 'The path "src/nope" does not exist at revision "v1"'
    _error(admin.get(f"{REST}/browse/README.md/x"), 404, "NoSuchPathException")
    for at in ("no-such-branch", "0" * 40, "HEAD~1", "-x", "main^"):
        _error(admin.get(f"{REST}/browse", params={"at": at}), 404, "NoSuchCommitException")
        _error(admin.get(f"{REST}/files", params={"at": at}), 404, "NoSuchCommitException")
    _error(admin.get(f"/rest/api/latest/projects/{KEY}/repos/nope/browse"), 404, "NoSuchRepositoryException")


@pytest.mark.parametrize("params", [{"limit": "abc"}, {"start": "-1"}, {"start": "x"}])
def test_bad_paging_is_400(admin: httpx.Client, world: dict, params: dict) -> None:
    for url in (f"{REST}/browse", f"{REST}/browse/README.md", f"{REST}/files"):
        _error(admin.get(url, params=params), 400, "ArgumentValidationException")


def test_submodule_has_no_content(admin: httpx.Client, world: dict) -> None:
    _error(admin.get(f"{REST}/browse/sub"), 400, "ArgumentValidationException")


def test_empty_repository(admin: httpx.Client, world: dict) -> None:
    empty = f"/rest/api/latest/projects/{KEY}/repos/empty"
    for url in (f"{empty}/browse", f"{empty}/browse/x", f"{empty}/files"):
        _error(admin.get(url), 404, "NoSuchCommitException")


def test_permission_is_checked(server: LiveServer, world: dict) -> None:
    with server.client(auth=None) as anon:
        r = anon.get(f"{REST}/browse")
        assert r.status_code == 401


def test_wide_directory_costs_one_page(server: LiveServer, admin: httpx.Client, tmp_path: Path) -> None:
    """A 50,000-entry root is listed a page at a time without reading the blobs."""
    create_repo(admin, KEY, "wide")
    work = tmp_path / "wide"
    git("init", "-q", "-b", "main", str(work))
    blob = git("hash-object", "-w", "--stdin", cwd=work, input=b"same\n").stdout.strip()
    listing = "".join(f"100644 blob {blob}\tf{i:05d}.txt\n" for i in range(50_000))
    tree = git("mktree", cwd=work, input=listing.encode()).stdout.strip()
    commit = git("commit-tree", tree, "-m", "wide", cwd=work).stdout.strip()
    git("update-ref", "refs/heads/main", commit, cwd=work)
    git("push", "-q", cred_url(server, f"/scm/{KEY}/wide.git", *ADMIN), "main", cwd=work)
    url = f"/rest/api/latest/projects/{KEY}/repos/wide"
    began = time.monotonic()
    page = admin.get(f"{url}/browse", params={"start": 49_998, "limit": 5}).json()["children"]
    assert [c["path"]["name"] for c in page["values"]] == ["f49998.txt", "f49999.txt"] and page["isLastPage"]
    files = admin.get(f"{url}/files", params={"start": 10, "limit": 2}).json()
    assert files["values"] == ["f00010.txt", "f00011.txt"] and files["nextPageStart"] == 12
    assert time.monotonic() - began < 10


def test_odd_names_and_very_long_lines(server: LiveServer, admin: httpx.Client, tmp_path: Path) -> None:
    """Spaces, '#', '%' and non-UTF-8 bytes in directory names; a 200 KB line is cut, not a failure."""
    create_repo(admin, KEY, "odd")
    work = tmp_path / "odd"
    git("init", "-q", "-b", "main", str(work))
    weird_dir = os.path.join(os.fsencode(work), b"d\xfcr with space")
    os.makedirs(os.path.join(weird_dir, b"50% #1"))
    with open(os.path.join(weird_dir, b"50% #1", b"f.txt"), "wb") as fh:
        fh.write(b"x\n")
    (work / "min.js").write_bytes(b"a" * 200_000 + b"\nend\n")
    (work / "back\\slash.txt").write_text("b\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "odd", cwd=work)
    git("push", "-q", cred_url(server, f"/scm/{KEY}/odd.git", *ADMIN), "main", cwd=work)
    url = f"/rest/api/latest/projects/{KEY}/repos/odd"
    shown = "d\ufffdr with space/50% #1"
    listing = admin.get(f"{url}/browse/{quote(shown)}").json()
    assert listing["path"]["toString"] == shown
    assert [c["path"]["name"] for c in listing["children"]["values"]] == ["f.txt"]
    body = admin.get(f"{url}/browse/{quote(shown)}/f.txt", params={"blame": "true"}).json()
    assert body["lines"] == [{"text": "x"}] and body["blame"][0]["fileName"] == shown + "/f.txt"
    assert admin.get(f"{url}/files").json()["values"] == ["back\\slash.txt", shown + "/f.txt", "min.js"]
    backslash = quote("back\\slash.txt")
    assert admin.get(f"{url}/browse/{backslash}").json()["lines"] == [{"text": "b"}]
    assert admin.get(f"{url}/files/{quote(shown)}").json()["values"] == ["f.txt"]
    lines = admin.get(f"{url}/browse/min.js").json()["lines"]
    assert len(lines[0]["text"]) == 64 * 1024 and lines[1] == {"text": "end"}
