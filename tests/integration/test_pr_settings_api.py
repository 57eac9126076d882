"""Pull request merge settings: repository / project / server merge strategies with inheritance, the
repository's merge checks, validation and permissions."""

from __future__ import annotations

import pytest

from culm.domain.merging import settings as S
from culm.domain.repos.models import Repository
from support import USER_PASSWORD, create_repo, create_user, grant_project, grant_repo, server_db, validating_client

A = "/rest/api/latest"
RS = f"{A}/projects/PRS/repos/one/settings/pull-requests"
PS = f"{A}/projects/PRS/settings/pull-requests/git"
GS = f"{A}/admin/pull-requests/git"


def config(default: str, *enabled: str, **extra: object) -> dict:
    return {"defaultStrategy": {"id": default}, "strategies": [{"id": s} for s in enabled], **extra}


def enabled_of(merge_config: dict) -> list[str]:
    return [s["id"] for s in merge_config["strategies"] if s["enabled"]]


@pytest.fixture(scope="module")
def setup(server, admin):  # type: ignore[no-untyped-def]
    create_repo(admin, "PRS", "one")
    create_repo(admin, "PRS", "two")
    create_user(server, "radmin", "padmin", "reader")
    grant_repo(server, "PRS", "one", "radmin", "REPO_ADMIN")
    grant_project(server, "PRS", "padmin", "PROJECT_ADMIN")
    grant_repo(server, "PRS", "one", "reader", "REPO_READ")
    return server


def test_built_in_defaults(setup, admin) -> None:  # type: ignore[no-untyped-def]
    r = admin.get(RS)
    assert r.status_code == 200, r.text
    body = r.json()
    mc = body["mergeConfig"]
    assert mc["type"] == "DEFAULT" and mc["defaultStrategy"]["id"] == "no-ff"
    assert [s["id"] for s in mc["strategies"]] == list(S.STRATEGY_IDS)
    assert enabled_of(mc) == ["no-ff"]
    assert mc["defaultStrategy"] == {"id": "no-ff", "name": "Merge commit", "description": "Always create a merge "
                                     "commit", "flag": "--no-ff", "enabled": True, "links": {}}
    assert body["requiredAllApprovers"] is False and body["requiredAllTasksComplete"] is False
    assert body["requiredApprovers"] == {"count": "0", "enabled": False}
    assert body["requiredSuccessfulBuilds"] == {"count": "0", "enabled": False}
    assert admin.get(PS).json()["mergeConfig"]["type"] == "DEFAULT"
    assert admin.get(GS).json()["type"] == "DEFAULT"


def test_inheritance(setup, admin) -> None:  # type: ignore[no-untyped-def]
    r = admin.post(GS, json={"mergeConfig": config("squash", "squash", "no-ff", "ff")})
    assert r.status_code == 200, r.text
    assert (r.json()["type"], r.json()["defaultStrategy"]["id"], enabled_of(r.json())) == \
        ("SCM", "squash", ["no-ff", "ff", "squash"])
    assert admin.get(RS).json()["mergeConfig"]["type"] == "SCM"
    assert admin.get(PS).json()["mergeConfig"]["defaultStrategy"]["id"] == "squash"

    r = admin.post(PS, json={"mergeConfig": config("ff", "ff", "rebase-ff-only", commitSummaries=5)})
    assert r.status_code == 200, r.text
    assert r.json()["mergeConfig"]["type"] == "PROJECT" and r.json()["mergeConfig"]["commitSummaries"] == 5
    for slug in ("one", "two"):
        mc = admin.get(f"{A}/projects/PRS/repos/{slug}/settings/pull-requests").json()["mergeConfig"]
        assert (mc["type"], mc["defaultStrategy"]["id"], enabled_of(mc)) == ("PROJECT", "ff", ["ff", "rebase-ff-only"])

    r = admin.post(RS, json={"mergeConfig": config("rebase-no-ff", "rebase-no-ff"), "requiredApprovers": 2})
    assert r.status_code == 200, r.text
    assert r.json()["mergeConfig"]["type"] == "REPOSITORY" and r.json()["requiredApprovers"] == \
        {"count": "2", "enabled": True}
    assert admin.get(f"{A}/projects/PRS/repos/two/settings/pull-requests").json()["mergeConfig"]["type"] == "PROJECT"
    with server_db(setup) as session:
        repo = session.query(Repository).filter_by(slug="one").one()  # type: ignore[attr-defined]
        effective = S.effective(session, repo)  # type: ignore[arg-type]
    assert effective.merge_config.default_strategy == "rebase-no-ff" and effective.required_approvers == 2

    # an empty mergeConfig (or null) goes back to inheriting, level by level
    assert admin.post(RS, json={"mergeConfig": {}}).json()["mergeConfig"]["type"] == "PROJECT"
    assert admin.get(RS).json()["requiredApprovers"]["count"] == "2"  # merge checks untouched
    assert admin.post(PS, json={"mergeConfig": {}}).json()["mergeConfig"]["type"] == "SCM"
    assert admin.post(GS, json={"mergeConfig": None}).json()["type"] == "DEFAULT"
    assert admin.get(RS).json()["mergeConfig"]["type"] == "DEFAULT"


def test_commit_message_template(setup, admin) -> None:  # type: ignore[no-untyped-def]
    template = {"title": "PR #${id}: ${title}", "body": "Merged ${fromRefName}"}
    r = admin.post(PS, json={"mergeConfig": config("no-ff", "no-ff", commitMessageTemplate=template)})
    assert r.status_code == 200, r.text
    assert r.json()["mergeConfig"]["commitMessageTemplate"] == template
    # left out: kept; {}: removed
    r = admin.post(PS, json={"mergeConfig": config("ff", "ff", "no-ff")})
    assert r.json()["mergeConfig"]["commitMessageTemplate"] == template
    assert admin.get(RS).json()["mergeConfig"]["commitMessageTemplate"] == template  # inherited with the config
    r = admin.post(PS, json={"mergeConfig": config("ff", "ff", commitMessageTemplate={})})
    assert "commitMessageTemplate" not in r.json()["mergeConfig"]
    r = admin.post(GS, json={"mergeConfig": config("no-ff", "no-ff", commitMessageTemplate=template)})
    assert r.json()["commitMessageTemplate"] == template
    assert admin.post(GS, json={"mergeConfig": config("squash", "squash")}).json()["commitMessageTemplate"] == template
    for bad in ({"title": "t"}, {"body": "b"}, {"title": "", "body": "b"}, {"title": 1, "body": "b"}, "x",
                {"title": "t\u0000", "body": "b"}):
        assert admin.post(GS, json={"mergeConfig": config("no-ff", "no-ff", commitMessageTemplate=bad)}
                          ).status_code == 400, bad
    assert admin.post(PS, json={"mergeConfig": {}}).status_code == 200
    assert admin.post(GS, json={"mergeConfig": {}}).json()["type"] == "DEFAULT"


def test_merge_checks_partial_update(setup, admin) -> None:  # type: ignore[no-untyped-def]
    r = admin.post(f"{A}/projects/PRS/repos/two/settings/pull-requests",
                   json={"requiredAllApprovers": True, "requiredSuccessfulBuilds": {"count": "3", "enabled": True}})
    assert r.status_code == 200, r.text
    r = admin.post(f"{A}/projects/PRS/repos/two/settings/pull-requests", json={"requiredAllTasksComplete": True,
                                                                                "requiredApprovers": {"count": 1}})
    body = r.json()
    assert (body["requiredAllApprovers"], body["requiredAllTasksComplete"]) == (True, True)
    assert body["requiredSuccessfulBuilds"] == {"count": "3", "enabled": True}
    assert body["requiredApprovers"] == {"count": "1", "enabled": True} and body["requiredApproversDeprecated"] == 1
    r = admin.post(f"{A}/projects/PRS/repos/two/settings/pull-requests",
                   json={"requiredSuccessfulBuilds": {"count": "3", "enabled": False}})
    assert r.json()["requiredSuccessfulBuilds"] == {"count": "0", "enabled": False}
    r = admin.post(f"{A}/projects/PRS/repos/two/settings/pull-requests",
                   json={S.APPROVERS_HOOK: {"enabled": True, "count": 4}, "requiredApproversDeprecated": 1})
    assert r.json()["requiredApprovers"] == {"count": "4", "enabled": True}  # the merge check's own key wins
    assert r.json()[S.APPROVERS_HOOK] == {"enabled": True, "count": 4}
    assert r.json()[S.BUILDS_HOOK] == {"enabled": False, "count": 0}


@pytest.mark.parametrize("body", [
    {"mergeConfig": config("octopus", "octopus")},  # unknown strategy
    {"mergeConfig": config("squash", "no-ff")},  # default not enabled
    {"mergeConfig": config("no-ff")},  # nothing enabled
    {"mergeConfig": {"strategies": [{"id": "no-ff"}]}},  # no default
    {"mergeConfig": {"defaultStrategy": {"id": "no-ff"}}},  # no strategies
    {"mergeConfig": {"defaultStrategy": "no-ff", "strategies": [{"id": "no-ff"}]}},
    {"mergeConfig": {"defaultStrategy": {"id": "no-ff"}, "strategies": ["no-ff"]}},
    {"mergeConfig": {"defaultStrategy": {"id": "no-ff"}, "strategies": [{"id": "no-ff", "enabled": False}]}},
    {"mergeConfig": config("no-ff", "no-ff", commitSummaries=-1)},
    {"mergeConfig": config("no-ff", "no-ff", commitSummaries="x")},
    {"mergeConfig": "no-ff"},
    {"mergeConfig": []},
    {"mergeConfig": config("-no-ff", "-no-ff")},
    {"mergeConfig": config("no-ff\u0000", "no-ff")},
    {},
])
def test_bad_merge_configs(setup, admin, body: dict) -> None:  # type: ignore[no-untyped-def]
    for url in (PS, GS):
        r = admin.post(url, json=body)
        assert r.status_code == 400, (url, body, r.text)
        assert r.json()["errors"][0]["exceptionName"].endswith("ArgumentValidationException")
    if body:
        assert admin.post(RS, json=body).status_code == 400
    assert admin.get(RS).json()["mergeConfig"]["type"] == "DEFAULT"  # nothing stored


@pytest.mark.parametrize("body", [
    {"requiredAllApprovers": "yes"}, {"requiredAllTasksComplete": 1}, {"requiredApprovers": -1},
    {"requiredApprovers": {"count": "many", "enabled": True}}, {"requiredSuccessfulBuilds": 1000},
    {"requiredApprovers": True}, {"requiredSuccessfulBuildsDeprecated": "x"},
])
def test_bad_merge_checks(setup, admin, body: dict) -> None:  # type: ignore[no-untyped-def]
    assert admin.post(RS, json=body).status_code == 400


def test_bad_requests(setup, admin) -> None:  # type: ignore[no-untyped-def]
    assert admin.get(f"{A}/admin/pull-requests/hg").status_code == 404
    assert admin.post(f"{A}/admin/pull-requests/hg", json={"mergeConfig": config("no-ff", "no-ff")}).status_code == 404
    assert admin.get(f"{A}/projects/PRS/settings/pull-requests/svn").status_code == 404
    assert admin.get(f"{A}/projects/NOPE/settings/pull-requests/git").status_code == 404
    assert admin.get(f"{A}/projects/PRS/repos/nope/settings/pull-requests").status_code == 404
    r = admin.post(RS, content=b"[1]", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert admin.post(RS, content=b"{not json", headers={"content-type": "application/json"}).status_code == 400


def test_permissions(setup) -> None:  # type: ignore[no-untyped-def]
    server = setup
    body = {"mergeConfig": config("ff", "ff")}
    with validating_client(server, ("reader", USER_PASSWORD)) as reader, \
            validating_client(server, ("radmin", USER_PASSWORD)) as radmin, \
            validating_client(server, ("padmin", USER_PASSWORD)) as padmin, \
            validating_client(server, None) as anonymous:
        assert reader.get(RS).status_code == 200
        assert reader.post(RS, json=body).status_code == 401
        assert reader.get(GS).status_code == 200
        assert reader.post(GS, json=body).status_code == 401
        assert anonymous.get(GS).status_code == 401
        assert anonymous.get(RS).status_code == 401
        assert radmin.post(RS, json=body).status_code == 200
        assert radmin.post(PS, json=body).status_code == 401
        assert padmin.post(PS, json=body).status_code == 200
        assert padmin.post(GS, json=body).status_code == 401
        assert padmin.post(f"{A}/projects/PRS/repos/two/settings/pull-requests", json=body).status_code == 200
        for url in (RS, PS, f"{A}/projects/PRS/repos/two/settings/pull-requests"):
            assert padmin.post(url, json={"mergeConfig": None}).status_code == 200
