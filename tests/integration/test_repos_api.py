"""Repositories API: create, get, update (rename, move), delete, fork, forks/related, recreate,
default branch, and the global `/repos` search with its filters, visibility and paging."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import USER_PASSWORD, LiveServer, create_repo, create_user, git, grant_project, grant_repo, server_db

API = "/rest/api/latest"


@pytest.fixture(scope="module")
def people(server: LiveServer) -> None:
    create_user(server, "reader", "writer", "forker", "outsider")


def disk(server: LiveServer, repo_id: int) -> Path:
    return server.home / "shared" / "data" / "repositories" / str(repo_id)


def seed_commit(server: LiveServer, repo_id: int, tmp: Path, branch: str = "main") -> str:
    """Put one commit on `branch` straight into the repository on disk (test set-up)."""
    work = tmp / f"work-{repo_id}-{branch}"
    git("init", "-q", "-b", branch, str(work))
    (work / "README.md").write_text(f"hello {repo_id}\n")
    git("add", "README.md", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    git("push", "-q", str(disk(server, repo_id)), f"{branch}:refs/heads/{branch}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def err(r) -> str:  # type: ignore[no-untyped-def]
    return r.json()["errors"][0]["exceptionName"]


def test_create_with_options_and_get(server: LiveServer, admin) -> None:
    repo = create_repo(admin, "OPT", "Opt Repo", description="d", forkable=False, public=True,
                       defaultBranch="develop")
    assert (repo["slug"], repo["forkable"], repo["public"], repo["description"]) == ("opt-repo", False, True, "d")
    assert repo["scmId"] == "git" and repo["statusMessage"] == "Available" and repo["archived"] is False
    clone = {c["name"]: c["href"] for c in repo["links"]["clone"]}
    assert clone["http"] == f"{server.url}/scm/opt/opt-repo.git"
    assert clone["ssh"] == "ssh://git@127.0.0.1:7999/opt/opt-repo.git"
    assert repo["links"]["self"][0]["href"] == f"{server.url}/projects/OPT/repos/opt-repo/browse"
    assert (disk(server, repo["id"]) / "HEAD").read_text().strip() == "ref: refs/heads/develop"
    got = admin.get(f"{API}/projects/OPT/repos/opt-repo").json()
    assert got == repo
    assert admin.post(f"{API}/projects/OPT/repos", json={"name": "x", "scmId": "hg"}).status_code == 400
    assert admin.post(f"{API}/projects/NOPE/repos", json={"name": "x"}).status_code == 404
    r = admin.get(f"{API}/projects/OPT/repos/missing")
    assert r.status_code == 404 and err(r).endswith("NoSuchRepositoryException")


def test_rename_move_and_bad_updates(server: LiveServer, admin, people) -> None:
    create_repo(admin, "MVA", "alpha")
    create_repo(admin, "MVA", "taken")
    create_repo(admin, "MVB", "other")
    r = admin.put(f"{API}/projects/MVA/repos/alpha", json={"name": "Alpha Two", "description": "new",
                                                           "forkable": False, "public": True})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["slug"], body["name"], body["description"], body["forkable"], body["public"]) == (
        "alpha-two", "Alpha Two", "new", False, True)
    assert admin.get(f"{API}/projects/MVA/repos/alpha").status_code == 404
    assert any(c["href"].endswith("/scm/mva/alpha-two.git") for c in body["links"]["clone"])

    # Rename clash, bad values, unknown target project: 4xx and nothing changes.
    assert admin.put(f"{API}/projects/MVA/repos/alpha-two", json={"name": "Taken"}).status_code == 409
    assert admin.put(f"{API}/projects/MVA/repos/alpha-two", json={"name": "-bad"}).status_code == 400
    assert admin.put(f"{API}/projects/MVA/repos/alpha-two", json={"forkable": "no"}).status_code == 400
    assert admin.put(f"{API}/projects/MVA/repos/alpha-two", json={"defaultBranch": "a..b"}).status_code == 400
    assert admin.put(f"{API}/projects/MVA/repos/alpha-two", json={"project": {"key": "NONE"}}).status_code == 404
    assert admin.put(f"{API}/projects/MVA/repos/alpha-two", json={"project": "MVB"}).status_code == 400
    r = admin.put(f"{API}/projects/MVA/repos/alpha-two", content=b"[", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert admin.put(f"{API}/projects/MVA/repos/ghost", json={"name": "x"}).status_code == 404
    assert admin.get(f"{API}/projects/MVA/repos/alpha-two").json()["description"] == "new"

    # Move to another project (same id, same files), and a clash in the target project.
    assert admin.put(f"{API}/projects/MVA/repos/taken", json={"name": "other", "project": {"key": "MVB"}}
                     ).status_code == 409
    r = admin.put(f"{API}/projects/MVA/repos/alpha-two", json={"project": {"key": "MVB"}})
    assert r.status_code == 201 and r.json()["project"]["key"] == "MVB" and r.json()["id"] == body["id"]
    assert disk(server, body["id"]).exists()
    assert admin.get(f"{API}/projects/MVB/repos/alpha-two").json()["id"] == body["id"]
    assert admin.get(f"{API}/projects/MVA/repos/alpha-two").status_code == 404

    # Moving needs admin on the target project too.
    grant_repo(server, "MVB", "other", "writer", "REPO_ADMIN")
    with server.client(auth=("writer", USER_PASSWORD)) as w:
        assert w.put(f"{API}/projects/MVB/repos/other", json={"description": "ok"}).status_code == 201
        r = w.put(f"{API}/projects/MVB/repos/other", json={"project": {"key": "MVA"}})
        assert r.status_code == 401 and err(r).endswith("AuthorisationException")


def test_read_user_is_refused_writes(server: LiveServer, admin, people) -> None:
    create_repo(admin, "RDO", "ro")
    grant_project(server, "RDO", "reader", "PROJECT_READ")
    with server.client(auth=("reader", USER_PASSWORD)) as reader:
        assert reader.get(f"{API}/projects/RDO/repos/ro").status_code == 200
        for call in (lambda: reader.put(f"{API}/projects/RDO/repos/ro", json={"name": "x"}),
                     lambda: reader.delete(f"{API}/projects/RDO/repos/ro"),
                     lambda: reader.post(f"{API}/projects/RDO/repos", json={"name": "new"}),
                     lambda: reader.put(f"{API}/projects/RDO/repos/ro/default-branch", json={"id": "x"}),
                     lambda: reader.post(f"{API}/projects/RDO/repos/ro", json={"project": {"key": "RDO"}})):
            r = call()
            assert r.status_code == 401 and err(r).endswith("AuthorisationException"), r.text
    with server.client(auth=("outsider", USER_PASSWORD)) as outsider:
        assert outsider.get(f"{API}/projects/RDO/repos/ro").status_code == 401
        assert outsider.get(f"{API}/projects/RDO/repos").status_code == 401
    assert admin.get(f"{API}/projects/RDO/repos/ro").json()["name"] == "ro"


def test_fork_shares_objects_and_survives_origin_deletion(server: LiveServer, admin, people, tmp_path: Path) -> None:
    origin = create_repo(admin, "FRK", "upstream")
    head = seed_commit(server, origin["id"], tmp_path)
    grant_project(server, "FRK", "forker", "PROJECT_READ")
    with server.client(auth=("forker", USER_PASSWORD)) as forker:
        r = forker.post(f"{API}/projects/FRK/repos/upstream", json={})
        assert r.status_code == 201, r.text
        fork = r.json()
        assert fork["project"]["key"] == "~forker" and fork["slug"] == "upstream"
        assert fork["origin"]["id"] == origin["id"] and fork["hierarchyId"] == origin["hierarchyId"]
        assert "origin" not in fork["origin"]
        alternates = disk(server, fork["id"]) / "objects" / "info" / "alternates"
        assert alternates.read_text().strip() == str(disk(server, origin["id"]) / "objects")
        assert git("--git-dir", str(disk(server, fork["id"])), "rev-parse", "refs/heads/main").stdout.strip() == head
        assert forker.get(f"{API}/users/forker/repos/upstream").json()["origin"]["slug"] == "upstream"
        # Clash in the target project is a 400 (spec); an SCM type or a project without key too.
        assert forker.post(f"{API}/projects/FRK/repos/upstream", json={}).status_code == 400
        assert forker.post(f"{API}/projects/FRK/repos/upstream", json={"name": "f2", "scmId": "git"}
                           ).status_code == 400
        assert forker.post(f"{API}/projects/FRK/repos/upstream", json={"project": {}}).status_code == 400
        assert forker.post(f"{API}/projects/FRK/repos/upstream", json={"project": {"key": "NOPE"}}
                           ).status_code == 404
        assert forker.post(f"{API}/projects/FRK/repos/nope", json={}).status_code == 404

    r = admin.post(f"{API}/projects/FRK/repos/upstream", json={"name": "Side", "project": {"key": "FRK"}})
    assert r.status_code == 201 and r.json()["project"]["key"] == "FRK" and r.json()["slug"] == "side"
    forks = admin.get(f"{API}/projects/FRK/repos/upstream/forks").json()
    assert sorted(f["slug"] for f in forks["values"]) == ["side", "upstream"]
    related = admin.get(f"{API}/projects/FRK/repos/side/related").json()
    assert sorted((x["project"]["key"], x["slug"]) for x in related["values"]) == [
        ("FRK", "upstream"), ("~forker", "upstream")]
    assert admin.get(f"{API}/projects/FRK/repos/side/related", params={"permission": "PROJECT_READ"}
                     ).status_code == 400
    with server.client(auth=("forker", USER_PASSWORD)) as forker:
        # Only the forks the caller can read.
        assert [f["slug"] for f in forker.get(f"{API}/projects/FRK/repos/upstream/forks").json()["values"]] == [
            "side", "upstream"]  # project READ covers FRK/side
        assert forker.get(f"{API}/projects/FRK/repos/upstream/related",
                          params={"permission": "REPO_ADMIN"}).json()["values"][0]["project"]["key"] == "~forker"

    # Not forkable -> 400; deleting the origin leaves forks whole.
    admin.put(f"{API}/projects/FRK/repos/side", json={"forkable": False})
    assert admin.post(f"{API}/projects/FRK/repos/side", json={"name": "again", "project": {"key": "FRK"}}
                      ).status_code == 400
    assert admin.delete(f"{API}/projects/FRK/repos/upstream").status_code == 202
    assert not disk(server, origin["id"]).exists()
    fork_dir = disk(server, fork["id"])
    assert not (fork_dir / "objects" / "info" / "alternates").exists()
    assert git("--git-dir", str(fork_dir), "fsck", "--no-dangling").returncode == 0
    assert git("--git-dir", str(fork_dir), "log", "--format=%H", "main").stdout.strip() == head
    assert "origin" not in admin.get(f"{API}/users/forker/repos/upstream").json()


def test_default_branch(server: LiveServer, admin, tmp_path: Path) -> None:
    repo = create_repo(admin, "DBR", "branches")
    base = f"{API}/projects/DBR/repos/branches"
    assert admin.get(f"{base}/default-branch").json() == {"id": "refs/heads/main", "displayId": "main",
                                                          "type": "BRANCH"}
    assert admin.get(f"{base}/branches/default").status_code == 204  # empty repository
    head = seed_commit(server, repo["id"], tmp_path, "trunk")
    assert admin.get(f"{base}/branches/default").status_code == 404  # main not pushed
    assert admin.put(f"{base}/default-branch", json={"id": "refs/heads/trunk"}).status_code == 204
    assert (disk(server, repo["id"]) / "HEAD").read_text().strip() == "ref: refs/heads/trunk"
    got = admin.get(f"{base}/branches/default").json()
    assert (got["id"], got["displayId"], got["latestCommit"], got["isDefault"]) == (
        "refs/heads/trunk", "trunk", head, True)
    assert admin.put(f"{base}/branches/default", json={"id": "dev"}).status_code == 204
    assert admin.get(f"{base}/default-branch").json()["id"] == "refs/heads/dev"
    for bad in ({"id": "--upload-pack=x"}, {"id": ""}, {}, {"id": "a b"}):
        assert admin.put(f"{base}/default-branch", json=bad).status_code == 400, bad
    assert (disk(server, repo["id"]) / "HEAD").read_text().strip() == "ref: refs/heads/dev"
    assert admin.put(f"{API}/projects/DBR/repos/zzz/default-branch", json={"id": "x"}).status_code == 404


def test_recreate(server: LiveServer, admin) -> None:
    import culm.domain.models  # noqa: F401  (every table known, so Repository's foreign keys resolve when run alone)
    from culm.domain.repos.models import Repository

    repo = create_repo(admin, "REC", "broken")
    base = f"{API}/projects/REC/repos/broken"
    assert admin.post(f"{base}/recreate").status_code == 400  # AVAILABLE: nothing to retry
    with server_db(server) as session:
        session.get(Repository, repo["id"]).state = "INITIALISATION_FAILED"  # type: ignore[attr-defined]
    assert admin.get(base).json()["state"] == "INITIALISATION_FAILED"
    r = admin.post(f"{base}/recreate")
    assert r.status_code == 200 and r.json()["state"] == "AVAILABLE"
    assert (disk(server, repo["id"]) / "HEAD").exists()
    assert admin.post(f"{API}/projects/REC/repos/none/recreate").status_code == 404


def test_global_search_filters_visibility_and_paging(server: LiveServer, admin, people) -> None:
    for i in range(4):
        create_repo(admin, "SRCH", f"find-{i}")
    create_repo(admin, "SRCHP", "find-pub", public=True)
    admin.put(f"{API}/projects/SRCH/repos/find-3", json={"archived": True})
    grant_repo(server, "SRCH", "find-0", "outsider", "REPO_WRITE")
    grant_repo(server, "SRCH", "find-1", "outsider", "REPO_READ")

    def slugs(client, **params) -> list[str]:  # type: ignore[no-untyped-def]
        r = client.get(f"{API}/repos", params={"name": "find", **params})
        assert r.status_code == 200, r.text
        return [x["slug"] for x in r.json()["values"]]

    assert slugs(admin) == ["find-0", "find-1", "find-2", "find-pub"]
    assert slugs(admin, archived="ARCHIVED") == ["find-3"]
    assert len(slugs(admin, archived="all")) == 5
    assert slugs(admin, visibility="public") == ["find-pub"]
    assert slugs(admin, visibility="private") == ["find-0", "find-1", "find-2"]
    assert slugs(admin, projectname="srchp") == ["find-pub"]
    assert slugs(admin, projectkey="srch") == ["find-0", "find-1", "find-2"]
    assert slugs(admin, state="AVAILABLE", name="find-2") == ["find-2"]
    page = admin.get(f"{API}/repos", params={"name": "find", "limit": 3}).json()
    assert page["size"] == 3 and page["isLastPage"] is False and page["nextPageStart"] == 3
    page = admin.get(f"{API}/repos", params={"name": "find", "limit": 3, "start": 3}).json()
    assert [x["slug"] for x in page["values"]] == ["find-pub"] and page["isLastPage"] is True
    with server.client(auth=("outsider", USER_PASSWORD)) as outsider:
        assert slugs(outsider) == ["find-0", "find-1", "find-pub"]
        assert slugs(outsider, permission="REPO_WRITE") == ["find-0"]
        assert slugs(outsider, permission="REPO_READ") == ["find-0", "find-1"]
    with server.client(auth=None) as anon:
        assert slugs(anon) == ["find-pub"]
        assert slugs(anon, permission="REPO_READ") == []
        assert anon.get(f"{API}/projects/SRCHP/repos/find-pub").status_code == 200
        assert anon.get(f"{API}/projects/SRCH/repos/find-0").status_code == 401
    for bad in ({"visibility": "secret"}, {"permission": "PROJECT_READ"}, {"state": "OFFLINE"},
                {"archived": "maybe"}, {"limit": "many"}):
        r = admin.get(f"{API}/repos", params=bad)
        assert r.status_code == 400 and r.json()["errors"][0]["message"], bad


def test_project_repo_list_is_paged_and_filtered(server: LiveServer, admin, people) -> None:
    for i in range(3):
        create_repo(admin, "PLST", f"r{i}")
    grant_repo(server, "PLST", "r1", "reader", "REPO_READ")
    page = admin.get(f"{API}/projects/PLST/repos", params={"limit": 2}).json()
    assert [x["slug"] for x in page["values"]] == ["r0", "r1"] and page["nextPageStart"] == 2
    with server.client(auth=("reader", USER_PASSWORD)) as reader:
        assert [x["slug"] for x in reader.get(f"{API}/projects/PLST/repos").json()["values"]] == ["r1"]
        assert reader.get(f"{API}/projects/PLST").status_code == 200  # PROJECT_VIEW through the repo
