"""Code Insights (`/rest/insights/latest/.../commits/{id}/reports[/{key}[/annotations[/{externalId}]]]`):
create, replace (creator only), get, list, delete (with its annotations) reports; add, replace, list, filter and
delete annotations; atlassian-python-api's code insights methods; every bad input answers a clean 4xx in
Bitbucket's shape and stores nothing."""

from __future__ import annotations

from dataclasses import dataclass

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
    pushed_repo,
)

KEY = "INS"
SLUG = "insighted"
UNKNOWN = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Repo:
    c1: str
    c2: str


@pytest.fixture(scope="module")
def repo(server: LiveServer, admin, tmp_path_factory: pytest.TempPathFactory) -> Repo:
    return Repo(*pushed_repo(server, admin, KEY, SLUG, tmp_path_factory.mktemp("ins"),
                             [("a.txt", "one\n"), ("src/b.py", "two\n")]))


@pytest.fixture(scope="module")
def reader(server: LiveServer, repo: Repo) -> httpx.Client:
    create_user(server, "insreader")
    grant_repo(server, KEY, SLUG, "insreader", "REPO_READ")
    with server.client(auth=("insreader", USER_PASSWORD)) as c:
        yield c


def C(commit: str) -> str:
    return f"/rest/insights/latest/projects/{KEY}/repos/{SLUG}/commits/{commit}"


def err(r: httpx.Response) -> tuple[int, str]:
    body = r.json()
    assert set(body) == {"errors"} and body["errors"][0]["message"], body
    return r.status_code, body["errors"][0]["exceptionName"].rsplit(".", 1)[-1]


FULL = {
    "title": "Sonar", "details": "Static analysis", "result": "FAIL", "reporter": "SonarQube",
    "link": "https://sonar.example.com/r/1", "logoUrl": "https://sonar.example.com/logo.png",
    "data": [
        {"title": "Safe", "type": "BOOLEAN", "value": False},
        {"title": "When", "type": "DATE", "value": 1_700_000_000_000},
        {"title": "Took", "type": "DURATION", "value": 1234},
        {"title": "Report", "type": "LINK", "value": {"linktext": "open", "href": "https://x.example.com/a"}},
        {"title": "Coverage", "type": "PERCENTAGE", "value": 85.5},
        {"title": "Bugs", "value": 3},
    ],
}


def test_report_lifecycle_and_client(server: LiveServer, admin, repo: Repo) -> None:
    r = admin.put(f"{C(repo.c1)}/reports/com.example.sonar", json=FULL)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["key"] == "com.example.sonar" and got["title"] == "Sonar" and got["result"] == "FAIL"
    assert got["data"] == FULL["data"] and got["reporter"] == "SonarQube" and isinstance(got["createdDate"], int)
    assert got["logoUrl"] == FULL["logoUrl"] and got["link"] == FULL["link"]
    assert admin.get(f"{C(repo.c1)}/reports/com.example.sonar").json() == got
    # replacement by PUT keeps the key, replaces every field
    r = admin.put(f"{C(repo.c1)}/reports/com.example.sonar", json={"title": "Sonar 2", "data": []})
    assert r.status_code == 200
    again = admin.get(f"{C(repo.c1)}/reports/com.example.sonar").json()
    assert again["title"] == "Sonar 2" and again["data"] == [] and "result" not in again and "details" not in again
    # atlassian-python-api (1.0 paths)
    bb = Bitbucket(server.url, username=ADMIN[0], password=ADMIN[1])
    made = bb.create_code_insights_report(KEY, SLUG, repo.c1, "lint", "Lint", result="PASS",
                                          data=[{"title": "Warnings", "type": "NUMBER", "value": 0}])
    assert made["key"] == "lint" and made["result"] == "PASS"
    assert bb.get_code_insights_report(KEY, SLUG, repo.c1, "lint")["title"] == "Lint"
    bb.add_code_insights_annotations_to_report(KEY, SLUG, repo.c1, "lint", [
        {"message": "unused import", "severity": "LOW", "path": "a.txt", "line": 1, "type": "CODE_SMELL"}])
    anns = admin.get(f"{C(repo.c1)}/reports/lint/annotations").json()["annotations"]
    assert anns == [{"reportKey": "lint", "message": "unused import", "severity": "LOW", "path": "a.txt",
                     "line": 1, "type": "CODE_SMELL"}]
    page = admin.get(f"{C(repo.c1)}/reports").json()
    assert {v["key"] for v in page["values"]} == {"lint", "com.example.sonar"} and page["isLastPage"] is True
    p1 = admin.get(f"{C(repo.c1)}/reports?limit=1").json()
    assert p1["size"] == 1 and p1["isLastPage"] is False and p1["nextPageStart"] == 1
    # deleting the report deletes its annotations
    bb.delete_code_insights_report(KEY, SLUG, repo.c1, "lint")
    assert err(admin.get(f"{C(repo.c1)}/reports/lint")) == (404, "NoSuchReportException")
    assert admin.get(f"{C(repo.c1)}/annotations").json()["annotations"] == []
    bb.create_code_insights_report(KEY, SLUG, repo.c1, "lint", "Lint again")
    assert admin.get(f"{C(repo.c1)}/reports/lint/annotations").json()["annotations"] == []
    # reports are per commit
    assert admin.get(f"{C(repo.c2)}/reports").json()["values"] == []
    assert admin.get(f"{C(repo.c1.upper())}/reports/lint").status_code == 200


def test_annotations_add_replace_filter_delete(admin, repo: Repo) -> None:
    c = C(repo.c2)
    assert admin.put(f"{c}/reports/sec", json={"title": "Security"}).status_code == 200
    assert admin.put(f"{c}/reports/style", json={"title": "Style"}).status_code == 200
    sec = [
        {"externalId": "s1", "message": "SQL injection", "severity": "HIGH", "type": "VULNERABILITY",
         "path": "src/b.py", "line": 1, "link": "https://sec.example.com/s1"},
        {"externalId": "s2", "message": "weak hash", "severity": "MEDIUM", "type": "VULNERABILITY",
         "path": "src/b.py"},
        {"message": "overall", "severity": "LOW"},
    ]
    assert admin.post(f"{c}/reports/sec/annotations", json={"annotations": sec}).status_code == 204
    style = [{"externalId": "x1", "message": "long line", "severity": "LOW", "type": "CODE_SMELL", "path": "a.txt"}]
    assert admin.post(f"{c}/reports/style/annotations", json={"annotations": style}).status_code == 204
    every = admin.get(f"{c}/annotations").json()["annotations"]
    assert [(a["reportKey"], a["message"]) for a in every] == [
        ("sec", "SQL injection"), ("sec", "weak hash"), ("sec", "overall"), ("style", "long line")]
    assert every[2] == {"reportKey": "sec", "message": "overall", "severity": "LOW", "line": 0}

    def msgs(query: str) -> list[str]:
        r = admin.get(f"{c}/annotations?{query}")
        assert r.status_code == 200, r.text
        return [a["message"] for a in r.json()["annotations"]]

    assert msgs("key=style") == ["long line"]
    assert msgs("key=style&key=sec") == ["SQL injection", "weak hash", "overall", "long line"]
    assert msgs("severity=HIGH&severity=LOW") == ["SQL injection", "overall", "long line"]
    assert msgs("type=CODE_SMELL") == ["long line"]
    assert msgs("path=src/b.py") == ["SQL injection", "weak hash"]
    assert msgs("externalId=s2&externalId=x1") == ["weak hash", "long line"]
    assert msgs("key=sec&path=src/b.py&severity=MEDIUM") == ["weak hash"]
    assert msgs("key=nothing") == []
    # PUT by external id replaces, or creates
    r = admin.put(f"{c}/reports/sec/annotations/s1", json={"message": "fixed text", "severity": "LOW", "line": 7})
    assert r.status_code == 204
    r = admin.put(f"{c}/reports/sec/annotations/s9", json={"message": "new one", "severity": "HIGH"})
    assert r.status_code == 204
    got = {a.get("externalId"): a for a in admin.get(f"{c}/reports/sec/annotations").json()["annotations"]}
    assert got["s1"] == {"reportKey": "sec", "externalId": "s1", "message": "fixed text", "severity": "LOW",
                         "line": 7}
    assert got["s9"]["message"] == "new one" and set(got) == {"s1", "s2", None, "s9"}
    # delete by external ids, then all
    assert admin.delete(f"{c}/reports/sec/annotations?externalId=s1&externalId=s9").status_code == 204
    assert [a.get("externalId") for a in admin.get(f"{c}/reports/sec/annotations").json()["annotations"]] == [
        "s2", None]
    assert admin.delete(f"{c}/reports/sec/annotations").status_code == 204
    assert admin.get(f"{c}/reports/sec/annotations").json()["annotations"] == []
    assert msgs("") == ["long line"]


BAD_REPORTS = [
    {},
    {"title": ""},
    {"title": 5},
    {"title": "x" * 451},
    {"title": "t", "details": "d" * 2001},
    {"title": "t", "reporter": "r" * 451},
    {"title": "t", "result": "OK"},
    {"title": "t", "result": "pass"},
    {"title": "t", "link": "ftp://example.com/x"},
    {"title": "t", "logoUrl": "not a url"},
    {"title": "t", "data": {"title": "a", "value": 1}},
    {"title": "t", "data": [{"title": f"d{i}", "value": i} for i in range(7)]},
    {"title": "t", "data": [{"title": "a", "type": "BOOLEAN", "value": "yes"}]},
    {"title": "t", "data": [{"title": "a", "type": "NUMBER", "value": "3"}]},
    {"title": "t", "data": [{"title": "a", "type": "NUMBER", "value": True}]},
    {"title": "t", "data": [{"title": "a", "type": "DATE", "value": "2024-01-01"}]},
    {"title": "t", "data": [{"title": "a", "type": "DURATION", "value": None}]},
    {"title": "t", "data": [{"title": "a", "type": "PERCENTAGE", "value": 101}]},
    {"title": "t", "data": [{"title": "a", "type": "TEXT", "value": 3}]},
    {"title": "t", "data": [{"title": "a", "type": "LINK", "value": "https://x.example.com"}]},
    {"title": "t", "data": [{"title": "a", "type": "LINK", "value": {"linktext": "x", "href": "javascript:x"}}]},
    {"title": "t", "data": [{"title": "a", "type": "COLOR", "value": 1}]},
    {"title": "t", "data": [{"title": "a", "value": [1, 2]}]},
    {"title": "t", "data": [{"title": "a", "value": {"k": 1}}]},
    {"title": "t", "data": [{"value": 1}]},
    {"title": "t", "data": ["x"]},
    {"title": "t\x00"},
]


@pytest.mark.parametrize("body", BAD_REPORTS)
def test_bad_reports_store_nothing(admin, repo: Repo, body: dict) -> None:
    r = admin.put(f"{C(repo.c2)}/reports/bad-report", json=body)
    assert err(r) == (400, "ArgumentValidationException"), body
    assert err(admin.get(f"{C(repo.c2)}/reports/bad-report"))[0] == 404


def test_bad_keys_commits_and_bodies(admin, repo: Repo) -> None:
    ok = {"title": "t"}
    for key in ["k" * 51, "bad key", "bad~key", "%C3%A9t%C3%A9"]:
        assert err(admin.put(f"{C(repo.c2)}/reports/{key}", json=ok)) == (400, "ArgumentValidationException"), key
    assert admin.put(f"{C(repo.c2)}/reports/{'k' * 50}", json=ok).status_code == 200
    assert admin.delete(f"{C(repo.c2)}/reports/{'k' * 50}").status_code == 204
    # the commit: a full hash (400), and it must exist in the repository (404)
    for cid in ["abc123", "main", "-x", "g" * 40]:
        assert err(admin.put(f"{C(cid)}/reports/k", json=ok)) == (400, "ArgumentValidationException"), cid
        assert err(admin.get(f"{C(cid)}/reports"))[0] == 400
    assert err(admin.put(f"{C(UNKNOWN)}/reports/k", json=ok)) == (404, "NoSuchCommitException")
    assert err(admin.get(f"{C(UNKNOWN)}/reports")) == (404, "NoSuchCommitException")
    assert err(admin.get(f"{C(UNKNOWN)}/annotations")) == (404, "NoSuchCommitException")
    # unknown project / repository / report
    other = f"/rest/insights/latest/projects/NOPE/repos/{SLUG}/commits/{repo.c1}/reports"
    assert err(admin.get(other))[0] == 404
    assert err(admin.get(f"{C(repo.c1)}/reports/missing")) == (404, "NoSuchReportException")
    assert err(admin.delete(f"{C(repo.c1)}/reports/missing")) == (404, "NoSuchReportException")
    assert err(admin.get(f"{C(repo.c1)}/reports/missing/annotations"))[0] == 404
    assert err(admin.post(f"{C(repo.c1)}/reports/missing/annotations",
                          json={"annotations": [{"message": "m", "severity": "LOW"}]}))[0] == 404
    assert err(admin.put(f"{C(repo.c1)}/reports/missing/annotations/e",
                         json={"message": "m", "severity": "LOW"}))[0] == 404
    # bodies that are not JSON objects, bad paging
    r = admin.put(f"{C(repo.c2)}/reports/k", content=b"[1]", headers={"content-type": "application/json"})
    assert err(r)[0] == 400
    r = admin.put(f"{C(repo.c2)}/reports/k", content=b"{oops", headers={"content-type": "application/json"})
    assert err(r)[0] == 400
    assert err(admin.get(f"{C(repo.c2)}/reports?limit=abc"))[0] == 400
    assert err(admin.get(f"{C(repo.c2)}/reports?start=-1"))[0] == 400
    assert err(admin.get(f"{C(repo.c2)}/reports/k"))[0] == 404


BAD_ANNOTATIONS = [
    {"severity": "LOW"},
    {"message": "m"},
    {"message": "m", "severity": "CRITICAL"},
    {"message": "m", "severity": "low"},
    {"message": "m", "severity": "LOW", "type": "TYPO"},
    {"message": "m" * 2001, "severity": "LOW"},
    {"message": "m", "severity": "LOW", "line": -1},
    {"message": "m", "severity": "LOW", "line": "3"},
    {"message": "m", "severity": "LOW", "externalId": "e" * 451},
    {"message": "m", "severity": "LOW", "link": "mailto:a@b"},
    {"message": "m", "severity": "LOW", "path": "../etc/passwd"},
    {"message": "m", "severity": "LOW", "path": "/abs"},
    "text",
]


def test_bad_annotations_store_nothing(admin, repo: Repo) -> None:
    c = C(repo.c2)
    assert admin.put(f"{c}/reports/annot", json={"title": "Annotated"}).status_code == 200
    url = f"{c}/reports/annot/annotations"
    good = {"message": "fine", "severity": "LOW"}
    for bad in BAD_ANNOTATIONS:
        # one bad item refuses the whole request
        r = admin.post(url, json={"annotations": [good, bad]})
        assert err(r) == (400, "ArgumentValidationException"), bad
        if isinstance(bad, dict):
            assert err(admin.put(f"{url}/e1", json=bad)) == (400, "ArgumentValidationException"), bad
    for body in [{}, {"annotations": []}, {"annotations": "x"}]:
        assert err(admin.post(url, json=body)) == (400, "ArgumentValidationException"), body
    assert admin.get(url).json()["annotations"] == []
    # the limit: 1000 annotations per report, all or nothing
    assert err(admin.post(url, json={"annotations": [good] * 1001}))[0] == 400
    assert admin.post(url, json={"annotations": [good] * 999}).status_code == 204
    assert err(admin.post(url, json={"annotations": [good, good]}))[0] == 400
    assert len(admin.get(url).json()["annotations"]) == 999
    assert admin.put(f"{url}/last", json=good).status_code == 204
    assert err(admin.put(f"{url}/one-more", json=good))[0] == 400
    assert admin.put(f"{url}/last", json={"message": "replaced", "severity": "HIGH"}).status_code == 204
    assert len(admin.get(url).json()["annotations"]) == 1000
    # bad filters on the commit-wide list
    assert err(admin.get(f"{c}/annotations?severity=SEVERE")) == (400, "ArgumentValidationException")
    assert err(admin.get(f"{c}/annotations?type=TYPO")) == (400, "ArgumentValidationException")
    assert admin.delete(f"{c}/reports/annot").status_code == 204
    assert admin.get(f"{c}/annotations?key=annot").json()["annotations"] == []


def test_permissions(server: LiveServer, admin, reader: httpx.Client, repo: Repo) -> None:
    c = C(repo.c1)
    # REPO_READ may report (CI users only read the code)
    r = reader.put(f"{c}/reports/ci", json={"title": "CI"})
    assert r.status_code == 200
    one = {"annotations": [{"message": "m", "severity": "LOW", "externalId": "a"}]}
    assert reader.post(f"{c}/reports/ci/annotations", json=one).status_code == 204
    # only the creator replaces or annotates; the creator or a repository admin deletes
    assert err(admin.put(f"{c}/reports/ci", json={"title": "mine now"}))[0] == 401
    assert err(admin.post(f"{c}/reports/ci/annotations",
                          json={"annotations": [{"message": "m", "severity": "LOW"}]}))[0] == 401
    assert err(admin.put(f"{c}/reports/ci/annotations/a", json={"message": "m", "severity": "LOW"}))[0] == 401
    assert admin.get(f"{c}/reports/ci").json()["title"] == "CI"
    assert err(reader.delete(f"{c}/reports/com.example.sonar"))[0] == 401
    assert err(reader.delete(f"{c}/reports/com.example.sonar/annotations"))[0] == 401
    assert reader.get(f"{c}/reports/com.example.sonar").status_code == 200
    assert reader.delete(f"{c}/reports/ci/annotations?externalId=a").status_code == 204
    assert admin.delete(f"{c}/reports/ci").status_code == 204
    # anonymous and strangers: 401 (the repository is private), unknown users too
    with server.client(auth=None) as anon:
        assert err(anon.get(f"{c}/reports"))[0] == 401
        assert err(anon.put(f"{c}/reports/anon", json={"title": "x"}))[0] == 401
    create_user(server, "insstranger")
    with server.client(auth=("insstranger", USER_PASSWORD)) as s:
        assert err(s.get(f"{c}/annotations"))[0] == 401
        assert err(s.put(f"{c}/reports/s", json={"title": "x"}))[0] == 401
    assert err(admin.get(f"{c}/reports/anon"))[0] == 404


def test_public_repository_anonymous_reads_but_does_not_report(server: LiveServer, admin, repo: Repo) -> None:
    settings = f"/rest/api/latest/projects/{KEY}/repos/{SLUG}"
    c = C(repo.c2)
    assert admin.put(f"{c}/reports/pub", json={"title": "Public"}).status_code == 200
    assert admin.put(settings, json={"public": True}).status_code == 201
    try:
        with server.client(auth=None) as anon:
            assert anon.get(f"{c}/reports/pub").json()["title"] == "Public"
            assert anon.get(f"{c}/annotations").status_code == 200
            assert err(anon.put(f"{c}/reports/anon", json={"title": "x"})) == (401, "AuthenticationRequiredException")
            assert err(anon.delete(f"{c}/reports/pub"))[0] == 401
            assert err(anon.post(f"{c}/reports/pub/annotations",
                                 json={"annotations": [{"message": "m", "severity": "LOW"}]}))[0] == 401
    finally:
        assert admin.put(settings, json={"public": False}).status_code == 201
    assert admin.delete(f"{c}/reports/pub").status_code == 204


def test_deleting_the_repository_deletes_its_insights(server: LiveServer, admin, tmp_path) -> None:
    from sqlalchemy import func, select

    from culm.domain.insights.models import InsightAnnotation, InsightReport
    from support import server_db

    create_repo(admin, KEY, "doomed")
    git("init", "-q", "-b", "main", str(tmp_path))
    cid = commit_file(tmp_path, "f.txt", "x\n")
    git("push", "-q", cred_url(server, f"/scm/{KEY}/doomed.git", *ADMIN), "main", cwd=tmp_path)
    c = f"/rest/insights/latest/projects/{KEY}/repos/doomed/commits/{cid}"
    assert admin.put(f"{c}/reports/gone", json={"title": "Gone"}).status_code == 200
    assert admin.post(f"{c}/reports/gone/annotations",
                      json={"annotations": [{"message": "doomed note", "severity": "LOW"}]}).status_code == 204

    def counts() -> tuple[int, int]:
        with server_db(server) as s:
            return (s.scalar(select(func.count()).select_from(InsightReport).where(InsightReport.commit_id == cid)),
                    s.scalar(select(func.count()).select_from(InsightAnnotation)
                             .where(InsightAnnotation.message == "doomed note")))

    assert counts() == (1, 1)
    assert admin.delete(f"/rest/api/latest/projects/{KEY}/repos/doomed").status_code == 202
    assert counts() == (0, 0)
