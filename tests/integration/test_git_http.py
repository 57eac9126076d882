"""Git over smart HTTP with the real git program: clone, fetch, push, authentication and permissions."""

from __future__ import annotations

import base64
import gzip
import os
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
    refs_changed_events,
    server_db,
)

KEY = "GH"


@pytest.fixture(scope="module")
def setup(server: LiveServer, admin) -> dict:  # type: ignore[no-untyped-def]
    create_user(server, "reader", "writer", "outsider")
    repos = {name: create_repo(admin, KEY, name) for name in ("main", "perm", "many")}
    repos["public"] = create_repo(admin, KEY, "open", public=True)
    grant_repo(server, KEY, "perm", "reader", "REPO_READ")
    grant_repo(server, KEY, "perm", "writer", "REPO_WRITE")
    return repos


def url(server: LiveServer, path: str, user: str | None = None, password: str = USER_PASSWORD) -> str:
    if user is None:
        return f"{server.url}{path}"
    return cred_url(server, path, user, password)


def admin_url(server: LiveServer, path: str) -> str:
    return cred_url(server, path, *ADMIN)


@pytest.mark.parametrize("version", ["0", "2"])
def test_clone_empty_push_first_commit_then_fetch(server: LiveServer, admin, tmp_path: Path, version: str) -> None:
    create_repo(admin, KEY, f"empty-v{version}")
    remote = admin_url(server, f"/scm/{KEY.lower()}/empty-v{version}.git")
    proto = ["-c", f"protocol.version={version}"]
    work = tmp_path / "work"
    r = git(*proto, "clone", remote, str(work))
    assert "empty repository" in r.stderr
    sha = commit_file(work, "README.md", "hello\n", "first")
    git(*proto, "push", "origin", "HEAD:refs/heads/main", cwd=work)
    other = tmp_path / "other"
    git(*proto, "clone", remote, str(other))
    assert git("rev-parse", "HEAD", cwd=other).stdout.strip() == sha
    assert (other / "README.md").read_text() == "hello\n"
    sha2 = commit_file(work, "a.txt", "a\n")
    git(*proto, "push", "origin", "HEAD:main", cwd=work)
    git(*proto, "fetch", "origin", cwd=other)
    assert git("rev-parse", "origin/main", cwd=other).stdout.strip() == sha2
    # Key case, the `.git` suffix and the capability list (v2) all work.
    ls = git(*proto, "ls-remote", admin_url(server, f"/scm/{KEY}/empty-v{version}"), "refs/heads/main")
    assert ls.stdout.split()[0] == sha2


def test_push_of_many_commits(server: LiveServer, setup: dict, tmp_path: Path) -> None:
    work = tmp_path / "many"
    git("init", "-q", "-b", "main", str(work))
    lines = []
    for i in range(300):
        lines += ["commit refs/heads/main", f"committer T <t@example.com> {1700000000 + i} +0000",
                  "data 5", f"c{i:03d}", f"M 644 inline f{i % 7}.txt", f"data {len(str(i))}", str(i)]
    big = base64.b64encode(os.urandom(2_400_000)).decode()  # > http.postBuffer: a chunked request body
    lines += ["commit refs/heads/main", "committer T <t@example.com> 1800000000 +0000", "data 3", "big",
              "M 644 inline big.txt", f"data {len(big)}", big]
    git("fast-import", "--quiet", cwd=work, input=("\n".join(lines) + "\n").encode())
    head = git("rev-parse", "main", cwd=work).stdout.strip()
    git("push", admin_url(server, f"/scm/{KEY}/many.git"), "main", cwd=work)
    ls = git("ls-remote", admin_url(server, f"/scm/{KEY}/many.git"), "refs/heads/main").stdout
    assert ls.split()[0] == head
    clone = tmp_path / "clone"
    git("clone", "-q", admin_url(server, f"/scm/{KEY}/many.git"), str(clone))
    assert git("rev-list", "--count", "HEAD", cwd=clone).stdout.strip() == "301"
    assert (clone / "big.txt").read_text() == big
    events = refs_changed_events(server, setup["many"]["id"])
    assert [c["toHash"] for e in events for c in e["changes"]] == [head]


def _seed(server: LiveServer, slug: str, tmp_path: Path) -> str:
    """The repository's `main`, pushed with one commit if it has none yet."""
    existing = git("ls-remote", admin_url(server, f"/scm/{KEY}/{slug}.git"), "refs/heads/main").stdout.split()
    if existing:
        return existing[0]
    work = tmp_path / f"seed-{slug}"
    git("init", "-q", "-b", "main", str(work))
    sha = commit_file(work, "f.txt", "seed\n")
    git("push", "-q", admin_url(server, f"/scm/{KEY}/{slug}.git"), "main", cwd=work)
    return sha


def test_anonymous_access_public_and_private(server: LiveServer, setup: dict, tmp_path: Path) -> None:
    sha = _seed(server, "open", tmp_path)
    _seed(server, "main", tmp_path)
    clone = tmp_path / "anon"
    git("clone", "-q", url(server, f"/scm/{KEY}/open.git"), str(clone))
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == sha
    # Anonymous pushes to a public repository are asked for credentials.
    commit_file(clone, "x.txt", "x")
    r = git("push", "origin", "HEAD:main", cwd=clone, check=False)
    assert r.returncode != 0
    r = git("clone", url(server, f"/scm/{KEY}/main.git"), str(tmp_path / "nope"), check=False)
    assert r.returncode != 0 and not (tmp_path / "nope").exists()
    with httpx.Client() as c:
        resp = c.get(f"{server.url}/scm/{KEY}/main.git/info/refs", params={"service": "git-upload-pack"})
        assert resp.status_code == 401
        assert resp.headers["www-authenticate"] == 'Basic realm="Bitbucket"'
        resp = c.get(f"{server.url}/scm/{KEY}/open.git/info/refs", params={"service": "git-upload-pack"})
        assert resp.status_code == 200 and "x-ausername" not in resp.headers
        assert resp.headers["content-type"] == "application/x-git-upload-pack-advertisement"
        assert resp.content.startswith(b"001e# service=git-upload-pack\n0000")
        resp = c.get(f"{server.url}/scm/{KEY}/open.git/info/refs", params={"service": "git-receive-pack"})
        assert resp.status_code == 401 and "www-authenticate" in resp.headers


def test_read_permission_cannot_push_write_can(server: LiveServer, setup: dict, tmp_path: Path) -> None:
    sha = _seed(server, "perm", tmp_path)
    work = tmp_path / "reader"
    git("clone", "-q", url(server, f"/scm/{KEY}/perm.git", "reader"), str(work))
    commit_file(work, "r.txt", "r")
    r = git("push", "origin", "HEAD:main", cwd=work, check=False)
    assert r.returncode != 0 and "not permitted to push" in r.stderr and "403" in r.stderr
    r = git("clone", url(server, f"/scm/{KEY}/perm.git", "outsider"), str(tmp_path / "o"), check=False)
    assert r.returncode != 0 and "403" in r.stderr
    git("remote", "set-url", "origin", url(server, f"/scm/{KEY}/perm.git", "writer"), cwd=work)
    r = git("push", "origin", "HEAD:main", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    assert git("ls-remote", admin_url(server, f"/scm/{KEY}/perm.git"), "main").stdout.split()[0] == head != sha
    events = refs_changed_events(server, setup["perm"]["id"])
    with server_db(server) as session:
        from culm.domain.users import service as users

        writer_id = users.require_user(session, "writer").id  # type: ignore[arg-type]
    assert events[-1]["actor_id"] == writer_id and events[-1]["changes"][0]["toHash"] == head
    with httpx.Client(auth=("writer", USER_PASSWORD)) as c:
        resp = c.get(f"{server.url}/scm/{KEY}/perm.git/info/refs", params={"service": "git-receive-pack"})
        assert resp.status_code == 200 and resp.headers["x-ausername"] == "writer"
    with httpx.Client(auth=("reader", USER_PASSWORD)) as c:
        resp = c.get(f"{server.url}/scm/{KEY}/perm.git/info/refs", params={"service": "git-receive-pack"})
        assert resp.status_code == 403 and "not permitted" in resp.text


def test_wrong_password_and_access_tokens(server: LiveServer, setup: dict, tmp_path: Path) -> None:
    _seed(server, "perm", tmp_path)
    r = git("clone", url(server, f"/scm/{KEY}/perm.git", "writer", "wrong-pw"), str(tmp_path / "w"), check=False)
    assert r.returncode != 0 and "Authentication failed" in r.stderr
    with httpx.Client(auth=("writer", "wrong-pw")) as c:
        resp = c.get(f"{server.url}/scm/{KEY}/perm.git/info/refs", params={"service": "git-upload-pack"})
        assert resp.status_code == 401 and "www-authenticate" in resp.headers
    from culm.core.security import new_token
    from culm.domain.tokens.models import AccessToken
    from culm.domain.users import service as users

    raw = {}
    with server_db(server) as session:
        writer = users.require_user(session, "writer")  # type: ignore[arg-type]
        for i, perms in ((900001, "REPO_WRITE"), (900002, "REPO_READ")):
            raw[perms], secret_hash = new_token(str(i))
            session.add(AccessToken(id=i, name=perms, secret_hash=secret_hash, scope="USER",  # type: ignore[attr-defined]
                                    user_id=writer.id, permissions=perms))
    # A personal token as the Basic password, and as a Bearer header.
    work = tmp_path / "tok"
    git("clone", "-q", url(server, f"/scm/{KEY}/perm.git", "writer", raw["REPO_WRITE"]), str(work))
    commit_file(work, "t.txt", "token push")
    git("push", "-q", "origin", "HEAD:refs/heads/from-token", cwd=work)
    bearer = ["-c", f"http.extraHeader=Authorization: Bearer {raw['REPO_READ']}"]
    ls = git(*bearer, "ls-remote", url(server, f"/scm/{KEY}/perm.git"), "refs/heads/from-token").stdout
    assert ls.split()[0] == git("rev-parse", "HEAD", cwd=work).stdout.strip()
    # A read-only token narrows the writer's rights: no push.
    commit_file(work, "t2.txt", "again")
    r = git(*bearer, "push", url(server, f"/scm/{KEY}/perm.git"), "HEAD:refs/heads/from-token", cwd=work,
            check=False)
    assert r.returncode != 0 and "403" in r.stderr


def _pkt(text: str) -> bytes:
    return f"{len(text) + 4:04x}".encode() + text.encode()


def test_gzip_request_body_and_protocol_v2(server: LiveServer, setup: dict, tmp_path: Path) -> None:
    sha = _seed(server, "main", tmp_path)
    body = _pkt("command=ls-refs\n") + b"0001" + _pkt("ref-prefix refs/heads/\n") + b"0000"
    headers = {"Content-Type": "application/x-git-upload-pack-request", "Git-Protocol": "version=2"}
    with server.client() as c:
        caps = c.get(f"/scm/{KEY}/main.git/info/refs", params={"service": "git-upload-pack"},
                     headers={"Git-Protocol": "version=2"})
        assert caps.status_code == 200 and caps.content.startswith(b"000eversion 2\n")
        assert caps.headers["x-ausername"] == "admin"
        plain = c.post(f"/scm/{KEY}/main.git/git-upload-pack", content=body, headers=headers)
        zipped = c.post(f"/scm/{KEY}/main.git/git-upload-pack", content=gzip.compress(body),
                        headers={**headers, "Content-Encoding": "gzip"})
        assert plain.status_code == zipped.status_code == 200
        assert plain.headers["content-type"] == "application/x-git-upload-pack-result"
        assert f"{sha} refs/heads/main".encode() in plain.content
        assert zipped.content == plain.content
        bad = c.post(f"/scm/{KEY}/main.git/git-upload-pack", content=body,
                     headers={**headers, "Content-Encoding": "br"})
        assert bad.status_code == 415


def test_bad_paths_and_services(server: LiveServer, setup: dict) -> None:
    q = {"service": "git-upload-pack"}
    with server.client() as c:
        assert c.get("/scm/NOPE/x.git/info/refs", params=q).status_code == 404
        assert c.get(f"/scm/{KEY}/nope.git/info/refs", params=q).status_code == 404
        assert c.get("/scm/~nobody/x.git/info/refs", params=q).status_code == 404
        assert c.get(f"/scm/{KEY}/main.git/info/refs", params={"service": "git-frobnicate"}).status_code == 403
        assert c.get(f"/scm/{KEY}/main.git/info/refs").status_code == 403
        assert c.get(f"/scm/{KEY}/main.git/HEAD").status_code == 404
        assert c.get(f"/scm/{KEY}/main.git/objects/info/packs").status_code == 404
        assert c.get(f"/scm/{KEY}/main.git/git-upload-pack").status_code == 405
        assert c.post(f"/scm/{KEY}/main.git/info/refs", params=q).status_code == 405
        r = c.post(f"/scm/{KEY}/main.git/git-upload-pack", content=b"0000",
                   headers={"Content-Type": "text/plain"})
        assert r.status_code == 415
        for raw in (f"/scm/{KEY}/..%2F..%2Fetc/info/refs", f"/scm/{KEY}/../main.git/info/refs",
                    "/scm/%2E%2E/main.git/info/refs", f"/scm/{KEY}/-main.git/info/refs"):
            assert c.get(raw, params=q).status_code == 404, raw
    with httpx.Client() as c:
        sock = c.build_request("GET", f"{server.url}/scm/{KEY}/x/../main.git/info/refs?service=git-upload-pack")
        assert c.send(sock).status_code in (401, 404)


def test_personal_repository_over_http(server: LiveServer, admin, tmp_path: Path) -> None:
    r = admin.post("/rest/api/latest/projects/~admin/repos", json={"name": "mine"})
    assert r.status_code == 201, r.text
    work = tmp_path / "p"
    git("init", "-q", "-b", "main", str(work))
    sha = commit_file(work, "p.txt", "personal")
    git("push", "-q", admin_url(server, "/scm/~admin/mine.git"), "main", cwd=work)
    assert git("ls-remote", admin_url(server, "/scm/~ADMIN/mine"), "main").stdout.split()[0] == sha


def test_delete_repository_after_pushes(server: LiveServer, admin, tmp_path: Path) -> None:
    repo = create_repo(admin, KEY, "doomed")
    _seed(server, "doomed", tmp_path)
    assert refs_changed_events(server, repo["id"])
    assert admin.delete(f"/rest/api/latest/projects/{KEY}/repos/doomed").status_code == 202
    assert admin.get(f"/rest/api/latest/projects/{KEY}/repos/doomed").status_code == 404
    r = git("ls-remote", admin_url(server, f"/scm/{KEY}/doomed.git"), check=False)
    assert r.returncode != 0 and "not found" in r.stderr


def test_anonymous_clone_of_a_public_project(server: LiveServer, admin, tmp_path: Path) -> None:
    r = admin.post("/rest/api/latest/projects", json={"key": "PUBP", "name": "Public project", "public": True})
    assert r.status_code == 201, r.text
    create_repo(admin, "PUBP", "inside")
    work = tmp_path / "w"
    git("init", "-q", "-b", "main", str(work))
    sha = commit_file(work, "p.txt", "public project")
    git("push", "-q", admin_url(server, "/scm/pubp/inside.git"), "main", cwd=work)
    clone = tmp_path / "anon"
    git("clone", "-q", url(server, "/scm/pubp/inside.git"), str(clone))
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == sha
