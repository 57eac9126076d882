"""Default reviewer conditions (`/rest/default-reviewers/latest/...`): atlassian-python-api's condition calls,
project conditions inherited by repositories, the reviewers a pull request between two refs gets (several
matcher kinds, only active users who can read the repository), bad input and permissions changing nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from atlassian import Bitbucket

from support import ADMIN, USER_PASSWORD, LiveServer, create_repo, create_user, grant_project, grant_repo, server_db

KEY = "DR"
SLUG = "rev"
D = "/rest/default-reviewers/latest/projects"
DP = f"{D}/{KEY}"
DR = f"{DP}/repos/{SLUG}"


@pytest.fixture(scope="module")
def env(server: LiveServer, admin: httpx.Client) -> dict[str, Any]:
    repo = create_repo(admin, KEY, SLUG)
    other = create_repo(admin, KEY, "other")
    create_user(server, "alice", "bob", "carol", "dave", "erin", "frank", "gina")
    for name in ("alice", "bob", "dave", "gina"):
        grant_repo(server, KEY, SLUG, name, "REPO_READ")
    grant_repo(server, KEY, SLUG, "erin", "REPO_ADMIN")
    grant_project(server, KEY, "frank", "PROJECT_ADMIN")
    users = {u["name"]: u["id"] for u in admin.get("/rest/api/latest/users", params={"limit": 100}).json()["values"]}
    return {"repo": repo, "other": other, "ids": users}


@pytest.fixture(scope="module")
def bb(server: LiveServer) -> Bitbucket:
    return Bitbucket(url=server.url, username=ADMIN[0], password=ADMIN[1])


def as_user(server: LiveServer, name: str) -> httpx.Client:
    return server.client(auth=(name, USER_PASSWORD))


def cond(source: tuple[str, str], target: tuple[str, str], reviewers: list[dict], required: Any = 0) -> dict:
    return {"sourceMatcher": {"id": source[1], "type": {"id": source[0]}},
            "targetMatcher": {"id": target[1], "type": {"id": target[0]}},
            "reviewers": reviewers, "requiredApprovals": required}


def reviewers_for(admin: httpx.Client, env: dict, source: str, target: str) -> list[str]:
    rid = env["repo"]["id"]
    r = admin.get(f"{DR}/reviewers", params={"sourceRepoId": rid, "targetRepoId": rid,
                                             "sourceRefId": source, "targetRefId": target})
    assert r.status_code == 200, r.text
    return [u["name"] for u in r.json()]


def test_repo_condition_lifecycle_with_atlassian_client(bb: Bitbucket, admin: httpx.Client, env: dict) -> None:
    ids = env["ids"]
    made = bb.create_repo_condition(KEY, SLUG, cond(("ANY_REF", "any"), ("BRANCH", "refs/heads/master"),
                                                    [{"id": ids["alice"]}, {"id": ids["bob"]}], "1"))
    assert made["scope"] == {"type": "REPOSITORY", "resourceId": env["repo"]["id"]}
    assert made["sourceRefMatcher"] == {"id": "ANY_REF_MATCHER_ID", "displayId": "ANY_REF_MATCHER_ID",
                                        "type": {"id": "ANY_REF", "name": "Any branch"}}
    assert made["targetRefMatcher"]["id"] == "refs/heads/master"
    assert made["targetRefMatcher"]["displayId"] == "master"
    assert made["targetRefMatcher"]["type"] == {"id": "BRANCH", "name": "Branch"}
    assert [u["name"] for u in made["reviewers"]] == ["alice", "bob"]
    assert made["requiredApprovals"] == 1
    assert made["reviewerGroups"] == []
    cid = made["id"]
    assert bb.get_repo_condition(KEY, SLUG, cid)["id"] == cid
    listed = admin.get(f"{DR}/conditions").json()
    assert [c["id"] for c in listed] == [cid]
    assert bb.get_repo_conditions(KEY, SLUG)[0]["id"] == cid

    updated = bb.update_repo_condition(KEY, SLUG, cond(("PATTERN", "feature/*"), ("BRANCH", "master"),
                                                       [{"id": ids["bob"]}], 1), cid)
    assert updated["id"] == cid
    assert updated["sourceRefMatcher"] == {"id": "feature/*", "displayId": "feature/*",
                                           "type": {"id": "PATTERN", "name": "Pattern"}}
    assert updated["targetRefMatcher"]["id"] == "refs/heads/master"
    assert [u["name"] for u in updated["reviewers"]] == ["bob"]
    assert reviewers_for(admin, env, "feature/a", "master") == ["bob"]
    assert reviewers_for(admin, env, "bugfix/a", "master") == []

    bb.delete_repo_condition(KEY, SLUG, cid)
    assert admin.get(f"{DR}/conditions").json() == []
    assert admin.delete(f"{DR}/condition/{cid}").status_code == 404


def test_project_conditions_are_inherited(bb: Bitbucket, admin: httpx.Client, env: dict, server: LiveServer) -> None:
    ids = env["ids"]
    p = bb.create_project_condition(KEY, cond(("ANY_REF", ""), ("MODEL_BRANCH", "development"),
                                              [{"id": ids["alice"]}], 1))
    assert p["scope"] == {"type": "PROJECT", "resourceId": p["scope"]["resourceId"]}
    assert p["targetRefMatcher"]["displayId"] == "Development"
    assert [c["id"] for c in bb.get_project_conditions(KEY)] == [p["id"]]
    r = admin.post(f"{DR}/condition", json=cond(("MODEL_CATEGORY", "FEATURE"), ("BRANCH", "main"),
                                                [{"name": "bob"}, {"id": ids["gina"]}], 2))
    assert r.status_code == 200, r.text
    rc = r.json()
    listed = admin.get(f"{DR}/conditions").json()
    assert [(c["id"], c["scope"]["type"]) for c in listed] == [(p["id"], "PROJECT"), (rc["id"], "REPOSITORY")]
    assert [c["id"] for c in bb.get_repo_repo_conditions(KEY, SLUG)] == [rc["id"]]
    # the other repository only sees the project's
    assert [c["id"] for c in admin.get(f"{DP}/repos/other/conditions").json()] == [p["id"]]
    # a project condition cannot be changed through a repository, nor a repository one through the project
    assert admin.delete(f"{DR}/condition/{p['id']}").status_code == 404
    assert admin.put(f"{DP}/condition/{rc['id']}", json=cond(("ANY_REF", ""), ("ANY_REF", ""),
                                                             [{"id": ids["bob"]}])).status_code == 404
    assert bb.get_project_condition(KEY, p["id"])["id"] == p["id"]

    # union over matching project + repository conditions, by name
    assert reviewers_for(admin, env, "refs/heads/feature/x", "refs/heads/main") == ["alice", "bob", "gina"]
    assert reviewers_for(admin, env, "hotfix/x", "main") == ["alice"]
    assert reviewers_for(admin, env, "feature/x", "develop") == []
    rid = env["repo"]["id"]
    assert [u["name"] for u in bb.get_required_reviewers_for_pull_request(
        KEY, SLUG, KEY, SLUG, "feature/y", "main")] == ["alice", "bob", "gina"]

    # inactive users and users who lost access drop out
    from culm.domain.permissions.models import RepoPermission
    from culm.domain.users.models import User
    with server_db(server) as session:
        session.get(User, ids["gina"]).active = False  # type: ignore[union-attr]
    assert reviewers_for(admin, env, "feature/x", "main") == ["alice", "bob"]
    with server_db(server) as session:
        session.get(User, ids["gina"]).active = True  # type: ignore[union-attr]
        for perm in session.query(RepoPermission).filter_by(user_id=ids["bob"]):
            session.delete(perm)
    assert reviewers_for(admin, env, "feature/x", "main") == ["alice", "gina"]
    grant_repo(server, KEY, SLUG, "bob", "REPO_READ")

    # the other repository (default branch main too) only gets the project's reviewers
    oid = env["other"]["id"]
    other_params = {"sourceRepoId": oid, "targetRepoId": oid, "sourceRefId": "feature/x", "targetRefId": "main"}
    assert admin.get(f"{DP}/repos/other/reviewers", params=other_params).json() == []  # alice cannot read it
    grant_repo(server, KEY, "other", "alice", "REPO_READ")
    r = admin.get(f"{DP}/repos/other/reviewers", params=other_params)
    assert [u["name"] for u in r.json()] == ["alice"]
    # bad reviewers queries
    for params in ({}, {"sourceRepoId": rid, "targetRepoId": rid, "sourceRefId": "a"},
                   {"sourceRepoId": "x", "targetRepoId": rid, "sourceRefId": "a", "targetRefId": "b"},
                   {"sourceRepoId": rid, "targetRepoId": oid, "sourceRefId": "a", "targetRefId": "b"},
                   {"sourceRepoId": 99999, "targetRepoId": rid, "sourceRefId": "a", "targetRefId": "b"}):
        assert admin.get(f"{DR}/reviewers", params=params).status_code == 400, params
    assert admin.get(f"{D}/NOPE/repos/{SLUG}/reviewers").status_code == 404

    for c in (p["id"],):
        assert admin.delete(f"{DP}/condition/{c}").status_code == 204
    assert admin.delete(f"{DR}/condition/{rc['id']}").status_code == 204


BAD_BODIES = [
    ({"targetMatcher": {"id": "main", "type": {"id": "BRANCH"}}, "reviewers": [{"id": "ALICE"}]}, "sourceMatcher"),
    (cond(("NOPE", "x"), ("BRANCH", "main"), [{"id": "ALICE"}]), "sourceMatcher"),
    (cond(("BRANCH", "main"), ("BRANCH", ""), [{"id": "ALICE"}]), "targetMatcher"),
    (cond(("BRANCH", "a..b"), ("BRANCH", "main"), [{"id": "ALICE"}]), "sourceMatcher"),
    (cond(("BRANCH", "refs/tags/v1"), ("BRANCH", "main"), [{"id": "ALICE"}]), "sourceMatcher"),
    (cond(("MODEL_BRANCH", "staging"), ("BRANCH", "main"), [{"id": "ALICE"}]), "sourceMatcher"),
    (cond(("MODEL_CATEGORY", "CHORE"), ("BRANCH", "main"), [{"id": "ALICE"}]), "sourceMatcher"),
    (cond(("PATTERN", "a\u0000b"), ("BRANCH", "main"), [{"id": "ALICE"}]), "sourceMatcher"),
    (cond(("ANY_REF", ""), ("ANY_REF", ""), [{"id": "ALICE"}], 2), "requiredApprovals"),
    (cond(("ANY_REF", ""), ("ANY_REF", ""), [{"id": "ALICE"}], -1), "requiredApprovals"),
    (cond(("ANY_REF", ""), ("ANY_REF", ""), [{"id": "ALICE"}], "many"), "requiredApprovals"),
    (cond(("ANY_REF", ""), ("ANY_REF", ""), [{"id": "ALICE"}], True), "requiredApprovals"),
    (cond(("ANY_REF", ""), ("ANY_REF", ""), []), "reviewers"),
    (cond(("ANY_REF", ""), ("ANY_REF", ""), [{"id": 987654}]), "reviewers"),
    (cond(("ANY_REF", ""), ("ANY_REF", ""), [{"id": 99999999999999999999}]), "reviewers"),
    (cond(("ANY_REF", ""), ("ANY_REF", ""), [{"id": "ALICE"}], 2**40), "requiredApprovals"),
    (cond(("ANY_REF", ""), ("ANY_REF", ""), [{"name": "nobody"}]), "reviewers"),
    (cond(("ANY_REF", ""), ("ANY_REF", ""), [{"id": "CAROL"}]), "reviewers"),  # cannot read the repository
    (cond(("ANY_REF", ""), ("ANY_REF", ""), "alice"), "reviewers"),
    ({**cond(("ANY_REF", ""), ("ANY_REF", ""), [{"id": "ALICE"}]), "reviewerGroups": [{"id": 2**40}]},
     "reviewerGroups"),
    ({**cond(("ANY_REF", ""), ("ANY_REF", ""), [{"id": "ALICE"}]), "reviewerGroups": "g"}, "reviewerGroups"),
    (cond(("ANY_REF", ""), ("ANY_REF", ""), ["alice"]), "reviewers"),
    ({**cond(("ANY_REF", ""), ("ANY_REF", ""), [{"id": "ALICE"}]), "reviewerGroups": [{"id": 424242}]},
     "reviewerGroups"),
]


def _fill(body: Any, ids: dict[str, int]) -> Any:
    if isinstance(body, dict):
        return {k: _fill(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, ids) for v in body]
    return ids[body.lower()] if isinstance(body, str) and body.isupper() and body.lower() in ids else body


@pytest.mark.parametrize(("body", "context"), BAD_BODIES)
def test_bad_bodies_change_nothing(admin: httpx.Client, env: dict, body: dict, context: str) -> None:
    body = _fill(body, env["ids"])
    existing = admin.post(f"{DR}/condition", json=cond(("ANY_REF", ""), ("BRANCH", "main"),
                                                       [{"id": env["ids"]["alice"]}]))
    assert existing.status_code == 200
    before = admin.get(f"{DR}/conditions").json()
    for method, url in (("POST", f"{DR}/condition"), ("PUT", f"{DR}/condition/{existing.json()['id']}")):
        r = admin.request(method, url, json=body)
        assert r.status_code == 400, (method, r.text)
        err = r.json()["errors"][0]
        assert err["context"] == context and err["exceptionName"].endswith("ArgumentValidationException")
    assert admin.get(f"{DR}/conditions").json() == before
    assert admin.delete(f"{DR}/condition/{existing.json()['id']}").status_code == 204


def test_malformed_json_unknown_ids_and_permissions(server: LiveServer, admin: httpx.Client, env: dict) -> None:
    ids = env["ids"]
    good = cond(("ANY_REF", ""), ("BRANCH", "main"), [{"id": ids["alice"]}])
    r = admin.post(f"{DR}/condition", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = admin.post(f"{DR}/condition", content=b"[1]", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert admin.get(f"{DR}/conditions").json() == []
    for cid in ("999999", "abc", "-1", "99999999999999999999", "2147483648"):
        assert admin.put(f"{DR}/condition/{cid}", json=good).status_code == 404
        assert admin.delete(f"{DR}/condition/{cid}").status_code == 404
        assert admin.delete(f"{DP}/condition/{cid}").status_code == 404
    assert admin.post(f"{D}/NOPE/condition", json=good).status_code == 404
    assert admin.post(f"{DP}/repos/nope/condition", json=good).status_code == 404
    assert admin.get(f"{DP}/repos/nope/conditions").status_code == 404

    # read-only users and anonymous callers may not change anything; REPO_ADMIN / PROJECT_ADMIN may
    with as_user(server, "bob") as bob, server.client(auth=None) as anon:
        assert bob.get(f"{DR}/conditions").status_code == 200
        assert bob.post(f"{DR}/condition", json=good).status_code == 401
        assert bob.post(f"{DP}/condition", json=good).status_code == 401
        assert anon.post(f"{DR}/condition", json=good).status_code == 401
        assert anon.get(f"{DR}/conditions").status_code == 401
    with as_user(server, "carol") as carol:
        assert carol.get(f"{DR}/conditions").status_code == 401
    with as_user(server, "erin") as erin:
        r = erin.post(f"{DR}/condition", json=good)
        assert r.status_code == 200, r.text
        cid = r.json()["id"]
        assert erin.post(f"{DP}/condition", json=good).status_code == 401
        with as_user(server, "bob") as bob:
            assert bob.put(f"{DR}/condition/{cid}", json=good).status_code == 401
            assert bob.delete(f"{DR}/condition/{cid}").status_code == 401
        assert erin.delete(f"{DR}/condition/{cid}").status_code == 204
    with as_user(server, "frank") as frank:
        r = frank.post(f"{DP}/condition", json=good)
        assert r.status_code == 200, r.text
        assert frank.delete(f"{DP}/condition/{r.json()['id']}").status_code == 204
    assert admin.get(f"{DR}/conditions").json() == []


def test_deleting_a_repository_drops_its_conditions_and_groups(admin: httpx.Client, env: dict) -> None:
    create_repo(admin, KEY, "gone")
    base = f"{DP}/repos/gone"
    r = admin.post(f"{base}/condition", json=cond(("ANY_REF", ""), ("ANY_REF", ""), [{"id": env["ids"]["frank"]}]))
    assert r.status_code == 200, r.text
    groups = f"/rest/api/latest/projects/{KEY}/repos/gone/settings/reviewer-groups"
    assert admin.post(groups, json={"name": "g", "users": [{"name": "frank"}]}).status_code == 201
    assert admin.delete(f"/rest/api/latest/projects/{KEY}/repos/gone").status_code == 202
    assert admin.get(f"{base}/conditions").status_code == 404
    create_repo(admin, KEY, "gone")
    assert admin.get(f"{base}/conditions").json() == []
    assert admin.get(groups).json()["values"] == []


def test_domain_functions_for_pull_requests(server: LiveServer, admin: httpx.Client, env: dict) -> None:
    """`default_reviewers` / `required_approvals`: what pull request creation and the merge check use."""
    from culm.domain.repos.models import Repository
    from culm.domain.reviewers.service import default_reviewers, required_approvals

    ids = env["ids"]
    a = admin.post(f"{DR}/condition", json=cond(("PATTERN", "release/**"), ("BRANCH", "main"),
                                                 [{"id": ids["alice"]}, {"id": ids["bob"]}], 2)).json()
    b = admin.post(f"{DP}/condition", json=cond(("ANY_REF", ""), ("PATTERN", "main"),
                                                 [{"id": ids["bob"]}, {"id": ids["carol"]}], 1)).json()
    with server_db(server) as session:
        repo = session.get(Repository, env["repo"]["id"])
        assert repo is not None
        reqs = required_approvals(session, repo, "refs/heads/release/1/2", "refs/heads/main")
        got = {r.condition_id: ([u.name for u in r.users], r.required) for r in reqs}
        # carol cannot read the repository: she is left out, and the requirement shrinks with her
        assert got == {a["id"]: (["alice", "bob"], 2), b["id"]: (["bob"], 1)}
        assert [u.name for u in default_reviewers(session, repo, "release/1/2", "main")] == ["alice", "bob"]
        assert [u.name for u in default_reviewers(session, repo, "topic", "main")] == ["bob"]
        assert required_approvals(session, repo, "topic", "develop") == []
    assert admin.delete(f"{DR}/condition/{a['id']}").status_code == 204
    assert admin.delete(f"{DP}/condition/{b['id']}").status_code == 204
