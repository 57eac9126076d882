"""Required-builds merge check conditions: create/list/update/delete (REPO_ADMIN; list REPO_READ), matcher
validation, and the domain evaluation `unmet_required_builds` with BRANCH, PATTERN, ANY_REF and exempt
matchers against real build statuses posted over HTTP."""

from __future__ import annotations

from dataclasses import dataclass

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
    server_db,
)

KEY = "RB"
SLUG = "guarded"
RB = f"/rest/required-builds/latest/projects/{KEY}/repos/{SLUG}"
RB_1 = f"/rest/required-builds/1.0/projects/{KEY}/repos/{SLUG}"
R = f"/rest/api/latest/projects/{KEY}/repos/{SLUG}"


@dataclass
class Repo:
    c1: str


@pytest.fixture(scope="module")
def repo(server: LiveServer, admin, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    create_repo(admin, KEY, SLUG)
    work = tmp_path_factory.mktemp("guarded")
    git("init", "-q", "-b", "main", str(work))
    c1 = commit_file(work, "a.txt", "one\n")
    git("push", "-q", cred_url(server, f"/scm/{KEY}/{SLUG}.git", *ADMIN), "main", cwd=work)
    return Repo(c1)


@pytest.fixture(scope="module")
def reader(server: LiveServer, repo: Repo) -> httpx.Client:
    create_user(server, "reader")
    grant_repo(server, KEY, SLUG, "reader", "REPO_WRITE")
    with server.client(auth=("reader", USER_PASSWORD)) as c:
        yield c


def err(r: httpx.Response) -> tuple[int, str]:
    body = r.json()
    assert set(body) == {"errors"} and body["errors"][0]["message"], body
    return r.status_code, body["errors"][0]["exceptionName"].rsplit(".", 1)[-1]


def matcher(kind: str, mid: str | None = None) -> dict:
    return {"type": {"id": kind}, **({"id": mid} if mid is not None else {})}


def unmet(server: LiveServer, target: str, commit: str, source: str | None = None) -> list[str]:
    from culm.domain.builds.required import unmet_required_builds
    from culm.domain.repos import service as repos

    with server_db(server) as session:
        _, repo = repos.require(session, KEY, SLUG)  # type: ignore[arg-type]
        return unmet_required_builds(session, repo, target, commit, source_ref=source)  # type: ignore[arg-type]


def test_crud_and_shapes(admin, reader, repo: Repo) -> None:
    assert admin.get(f"{RB}/conditions").json()["values"] == []
    made = admin.post(f"{RB}/condition", json={"buildParentKeys": ["ci", "lint", "ci"],
                                               "refMatcher": matcher("BRANCH", "main")})
    assert made.status_code == 200
    body = made.json()
    assert body["buildParentKeys"] == ["ci", "lint"]
    assert body["refMatcher"] == {"id": "refs/heads/main", "displayId": "main",
                                  "type": {"id": "BRANCH", "name": "Branch"}}
    assert body["requiredForPullRequest"] is True and body["requiredForMergeQueue"] is True
    assert "exemptRefMatcher" not in body
    cid = body["id"]
    second = admin.post(f"{RB_1}/condition", json={
        "buildParentKeys": ["e2e"], "refMatcher": matcher("PATTERN", "release/*"),
        "exemptRefMatcher": matcher("ANY_REF"), "requiredForMergeQueue": False}).json()
    assert second["exemptRefMatcher"]["id"] == "ANY_REF_MATCHER_ID" and second["requiredForMergeQueue"] is False
    page = reader.get(f"{RB}/conditions").json()  # REPO_READ lists
    assert [c["id"] for c in page["values"]] == [cid, second["id"]] and page["isLastPage"] is True
    p1 = admin.get(f"{RB}/conditions?limit=1").json()
    assert p1["isLastPage"] is False and p1["nextPageStart"] == 1
    updated = admin.put(f"{RB}/condition/{cid}", json={"buildParentKeys": ["ci"],
                                                       "refMatcher": matcher("PATTERN", "main"),
                                                       "requiredForPullRequest": False})
    assert updated.status_code == 200
    assert updated.json()["refMatcher"]["type"]["id"] == "PATTERN" and updated.json()["requiredForPullRequest"] is False
    # REPO_WRITE is not enough to configure
    assert err(reader.post(f"{RB}/condition", json={"buildParentKeys": ["x"], "refMatcher": matcher("ANY_REF")})) \
        == (401, "AuthorisationException")
    assert err(reader.put(f"{RB}/condition/{cid}", json={"buildParentKeys": ["x"],
                                                         "refMatcher": matcher("ANY_REF")}))[0] == 401
    assert err(reader.delete(f"{RB}/condition/{cid}"))[0] == 401
    assert admin.delete(f"{RB}/condition/{cid}").status_code == 204
    assert admin.delete(f"{RB}/condition/{cid}").status_code == 204  # "or was never present"
    assert err(admin.put(f"{RB}/condition/{cid}", json={"buildParentKeys": ["x"],
                                                        "refMatcher": matcher("ANY_REF")}))[0] == 404
    assert admin.delete(f"{RB}/condition/{second['id']}").status_code == 204
    assert admin.get(f"{RB}/conditions").json()["values"] == []


@pytest.mark.parametrize("body", [
    {},
    {"refMatcher": {"id": "main", "type": {"id": "BRANCH"}}},
    {"buildParentKeys": [], "refMatcher": {"id": "main", "type": {"id": "BRANCH"}}},
    {"buildParentKeys": "ci", "refMatcher": {"id": "main", "type": {"id": "BRANCH"}}},
    {"buildParentKeys": [""], "refMatcher": {"id": "main", "type": {"id": "BRANCH"}}},
    {"buildParentKeys": [3], "refMatcher": {"id": "main", "type": {"id": "BRANCH"}}},
    {"buildParentKeys": ["k"] * 0 + [f"k{i}" for i in range(101)], "refMatcher": {"type": {"id": "ANY_REF"}}},
    {"buildParentKeys": ["ci"]},
    {"buildParentKeys": ["ci"], "refMatcher": {"id": "main"}},
    {"buildParentKeys": ["ci"], "refMatcher": {"id": "main", "type": {"id": "SOMETIMES"}}},
    {"buildParentKeys": ["ci"], "refMatcher": {"type": {"id": "PATTERN"}}},
    {"buildParentKeys": ["ci"], "refMatcher": {"id": "refs/tags/v1", "type": {"id": "BRANCH"}}},
    {"buildParentKeys": ["ci"], "refMatcher": {"id": "qa", "type": {"id": "MODEL_BRANCH"}}},
    {"buildParentKeys": ["ci"], "refMatcher": {"type": {"id": "ANY_REF"}}, "exemptRefMatcher": {"id": "x"}},
    {"buildParentKeys": ["ci"], "refMatcher": {"type": {"id": "ANY_REF"}}, "requiredForPullRequest": "maybe"},
])
def test_bad_conditions_store_nothing(admin, repo: Repo, body: dict) -> None:
    assert err(admin.post(f"{RB}/condition", json=body)) == (400, "ArgumentValidationException")
    assert admin.get(f"{RB}/conditions").json()["values"] == []


def test_unknown_repo_and_anonymous(server: LiveServer, admin, repo: Repo) -> None:
    other = f"/rest/required-builds/latest/projects/{KEY}/repos/missing"
    assert err(admin.get(f"{other}/conditions")) == (404, "NoSuchRepositoryException")
    assert err(admin.post(f"{other}/condition", json={"buildParentKeys": ["x"], "refMatcher": matcher("ANY_REF")})) \
        == (404, "NoSuchRepositoryException")
    assert admin.put(f"{RB}/condition/abc", json={}).status_code == 400
    with server.client(auth=None) as anon:
        assert anon.get(f"{RB}/conditions").status_code == 401


def test_unmet_required_builds(server: LiveServer, admin, repo: Repo) -> None:
    c = repo.c1
    made = [
        admin.post(f"{RB}/condition", json={"buildParentKeys": ["ci", "lint"],
                                            "refMatcher": matcher("BRANCH", "refs/heads/main")}).json(),
        admin.post(f"{RB}/condition", json={"buildParentKeys": ["e2e"], "refMatcher": matcher("PATTERN", "release/*"),
                                            "exemptRefMatcher": matcher("PATTERN", "hotfix/**")}).json(),
        admin.post(f"{RB}/condition", json={"buildParentKeys": ["sec"], "refMatcher": matcher("ANY_REF"),
                                            "requiredForPullRequest": False}).json(),
    ]
    assert unmet(server, "refs/heads/main", c) == ["ci", "lint"]
    assert unmet(server, "refs/heads/release/1.0", c) == ["e2e"]
    assert unmet(server, "refs/heads/release/1.0", c, source="refs/heads/hotfix/x") == []
    assert unmet(server, "refs/heads/develop", c) == []
    builds = f"{R}/commits/{c}/builds"

    def post(key: str, state: str, parent: str | None = None, when: int = 0) -> None:
        body = {"key": key, "state": state, "url": "https://ci/x", "lastUpdated": 1_700_000_000_000 + when}
        if parent:
            body["parent"] = parent
        assert admin.post(builds, json=body).status_code == 204

    post("ci-linux", "SUCCESSFUL", parent="ci", when=1)
    assert unmet(server, "refs/heads/main", c) == ["lint"]
    post("ci-windows", "FAILED", parent="ci", when=2)  # the latest build of parent `ci` failed
    assert unmet(server, "refs/heads/main", c) == ["ci", "lint"]
    post("ci-windows", "SUCCESSFUL", parent="ci", when=3)
    post("lint", "INPROGRESS", when=4)  # no parent: the key is the parent
    assert unmet(server, "refs/heads/main", c) == ["lint"]
    # a legacy (commit-only) status counts too
    assert admin.post(f"/rest/build-status/latest/commits/{c}",
                      json={"key": "lint", "state": "SUCCESSFUL", "url": "https://ci/l"}).status_code == 204
    assert unmet(server, "refs/heads/main", c) == []
    assert unmet(server, "refs/heads/main", "f" * 40) == ["ci", "lint"]
    for row in made:
        assert admin.delete(f"{RB}/condition/{row['id']}").status_code == 204
    assert unmet(server, "refs/heads/main", "f" * 40) == []
