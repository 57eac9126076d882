"""tests/spec_check.py: responses are validated against the reference spec's schemas."""

from __future__ import annotations

import pytest

import spec_check
from spec_check import SpecChecker, SpecMismatch, check_response, to_json_schema

A = "/rest/api/latest"


@pytest.fixture(scope="module")
def bitbucket() -> SpecChecker:
    try:
        return spec_check.checker("bitbucket")
    except FileNotFoundError:
        pytest.skip("reference spec not found (set CULM_REFERENCE_DIR)")


def project(**over: object) -> dict:
    body = {"key": "PRJ", "id": 1, "name": "Project", "public": False, "type": "NORMAL",
            "links": {"self": [{"href": "http://h/projects/PRJ"}]}}
    return {**body, **over}


def test_a_valid_project_passes(bitbucket: SpecChecker) -> None:
    assert bitbucket.problems("GET", A + "/projects/PRJ", 200, project(), True) == []
    check_response("GET", A + "/projects/PRJ", 200, b'{"key": "PRJ", "id": 1, "type": "PERSONAL"}')


def test_an_invalid_project_fails_with_a_readable_message(bitbucket: SpecChecker) -> None:
    problems = bitbucket.problems("GET", A + "/projects/PRJ", 200, project(id="1", type="TEAM"), True)
    assert problems == ["$.id: '1' is not of type 'integer'",
                        "$.type: 'TEAM' is not one of ['NORMAL', 'PERSONAL']"]
    with pytest.raises(SpecMismatch) as info:
        check_response("GET", "/rest/api/1.0/projects/PRJ", 200, b'{"public": "yes"}')
    text = str(info.value)
    assert "getProject (GET /api/latest/projects/{projectKey})" in text
    assert "$.public: 'yes' is not of type 'boolean'" in text and 'body: {"public": "yes"}' in text


def test_refs_resolve_into_components_also_when_nested(bitbucket: SpecChecker) -> None:
    repo = {"slug": "r", "id": 1, "name": "r", "scmId": "git", "state": "AVAILABLE", "project": project(id=None)}
    page = {"size": 1, "limit": 25, "start": 0, "isLastPage": True, "values": [repo]}
    assert bitbucket.problems("GET", A + "/projects/PRJ/repos", 200, page, True) == [
        "$.values[0].project.id: None is not of type 'integer'"]
    # A page's nextPageStart is absent on the last page, never null.
    page.update(nextPageStart=None, values=[])
    assert bitbucket.problems("GET", A + "/projects/PRJ/repos", 200, page, True) == [
        "$.nextPageStart: None is not of type 'integer'"]
    repo["state"] = "GONE"
    problems = bitbucket.problems("GET", A + "/projects/PRJ/repos/r", 200, repo, True)
    assert any(p.startswith("$.state: 'GONE' is not one of") for p in problems)


def test_error_bodies_are_checked_and_a_null_context_is_exempt(bitbucket: SpecChecker) -> None:
    ok = {"errors": [{"context": None, "message": "Project X does not exist.", "exceptionName": "x.NoSuch"}]}
    assert bitbucket.problems("GET", A + "/projects/X", 404, ok, True) == []
    bad = {"errors": [{"context": None, "message": None, "exceptionName": 5}]}
    assert bitbucket.problems("GET", A + "/projects/X", 404, bad, True) == [
        "$.errors[0].exceptionName: 5 is not of type 'string'", "$.errors[0].message: None is not of type 'string'"]
    # Statuses the operation does not list, and unknown routes, still owe Bitbucket's error body.
    assert bitbucket.problems("GET", A + "/application-properties", 401, {"errors": "no"}, True) == [
        "$.errors: 'no' is not of type 'array'"]
    assert bitbucket.problems("GET", A + "/no-such-thing", 404, {"errors": [{"message": 1}]}, True) == [
        "$.errors[0].message: 1 is not of type 'string'"]


def test_success_statuses_must_be_documented(bitbucket: SpecChecker) -> None:
    assert bitbucket.problems("POST", A + "/projects", 200, project(), True) == [
        "status 200 is not a documented response (documented: 201, 400, 401, 409)"]
    assert bitbucket.problems("DELETE", A + "/projects/P/repos/r", 202, None, False) == []
    assert bitbucket.problems("DELETE", A + "/projects/P/repos/r", 204, None, False) == []


def test_operation_lookup(bitbucket: SpecChecker) -> None:
    def found(method: str, path: str) -> str | None:
        op = bitbucket.find(method, path)
        return op.path if op else None

    assert found("PUT", A + "/users/credentials") == "/api/latest/users/credentials"  # literal beats {userSlug}
    assert found("GET", A + "/users/credentials") == "/api/latest/users/{userSlug}"
    assert found("GET", A + "/projects/P/repos/r/browse/src/a.py") == \
        "/api/latest/projects/{projectKey}/repos/{repositorySlug}/browse/{path}"
    assert found("GET", A + "/projects/P/repos/r/browse") == \
        "/api/latest/projects/{projectKey}/repos/{repositorySlug}/browse"
    assert found("GET", "/rest/build-status/1.0/commits/abc") == "/build-status/latest/commits/{commitId}"
    assert found("GET", "/rest/ssh/latest/admin") == "/admin"
    assert found("GET", A + "/projects/P/no-such/thing") is None
    assert found("GET", "/scm/p/r.git/info/refs") is None


def test_responses_outside_rest_and_empty_or_broken_bodies() -> None:
    check_response("GET", "/scm/p/r.git/info/refs", 200, b"\x00binary", "application/x-git")
    check_response("GET", "/rest/api/latest/no-such-thing", 404, b"", "application/json")
    with pytest.raises(SpecMismatch, match="not valid JSON"):
        check_response("GET", "/rest/api/latest/projects/P", 200, b"{oops", "application/json;charset=UTF-8")


FAKE = {
    "paths": {
        "/api/latest/things/{id}": {"get": {"operationId": "getThing", "responses": {"200": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}}},
    },
    "components": {"schemas": {
        "Thing": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"},
            "note": {"type": "string", "nullable": True},
            "kind": {"type": "string", "enum": ["A", "B"], "nullable": True},
            "parent": {"$ref": "#/components/schemas/Parent", "nullable": True},
            "strict": {"type": "integer"},
        }},
        "Parent": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }},
}


def test_nullable_admits_null_and_only_where_declared() -> None:
    fake = SpecChecker(FAKE)
    ok = {"name": "n", "note": None, "kind": None, "parent": None}
    assert fake.problems("GET", "/rest/api/1.0/things/7", 200, ok, True) == []
    assert fake.problems("GET", "/rest/api/latest/things/7", 200, {"name": "n", "parent": {"id": 1}}, True) == []
    assert fake.problems("GET", "/rest/api/latest/things/7", 200, {"strict": None, "kind": "C"}, True) == [
        "$: 'name' is a required property", "$.kind: 'C' is not one of ['A', 'B', None]",
        "$.strict: None is not of type 'integer'"]
    assert fake.problems("GET", "/rest/api/latest/things/7", 200, {"name": "n", "parent": {"id": "x"}}, True) == [
        "$.parent.id: 'x' is not of type 'integer'"]


def test_to_json_schema_conversion() -> None:
    assert to_json_schema({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert to_json_schema({"$ref": "#/x", "nullable": True}) == {"anyOf": [{"$ref": "#/x"}, {"type": "null"}]}
    # A boolean `required` is a parameter flag, not JSON Schema; a property *named* required is kept.
    assert to_json_schema({"type": "object", "required": True, "properties": {"required": {"type": "boolean"}}}) \
        == {"type": "object", "properties": {"required": {"type": "boolean"}}}
    assert to_json_schema({"nullable": False, "type": "integer"}) == {"nullable": False, "type": "integer"}


def test_bamboo_paths_and_json_suffix() -> None:
    assert spec_check.product_of("/bamboo/rest/api/latest/plan") == "bamboo"
    assert spec_check.product_of("/rest/api/latest/projects") == "bitbucket"
    assert spec_check.product_of("/projects/P") is None
    fake = SpecChecker(FAKE, prefix="/bamboo/rest", errors_schema=None, json_suffix=True)
    assert fake.find("GET", "/bamboo/rest/api/latest/things/7.json") is not None
    assert fake.problems("GET", "/bamboo/rest/api/latest/things/7.json", 200, {}, True) == [
        "$: 'name' is a required property"]
    assert fake.problems("GET", "/bamboo/rest/api/latest/nothing", 500, {"any": "thing"}, True) == []


def test_null_exemptions_are_scoped_to_their_operation(bitbucket: SpecChecker) -> None:
    tag = {"id": "refs/tags/v1", "displayId": "v1", "type": "TAG", "latestCommit": "a" * 40, "hash": None}
    assert bitbucket.problems("GET", A + "/projects/P/repos/r/tags/v1", 200, tag, True) == []
    page = {"size": 1, "limit": 25, "start": 0, "isLastPage": True, "values": [tag]}
    assert bitbucket.problems("GET", A + "/projects/P/repos/r/tags", 200, page, True) == []
    tag["latestCommit"] = None
    assert bitbucket.problems("GET", A + "/projects/P/repos/r/tags/v1", 200, tag, True) == [
        "$.latestCommit: None is not of type 'string'"]
    # Other nulls stay mismatches.
    assert bitbucket.problems("GET", A + "/application-properties", 200, {"version": None}, True) == [
        "$.version: None is not of type 'string'"]


def test_error_bodies_must_be_json_success_bodies_need_not(bitbucket: SpecChecker) -> None:
    with pytest.raises(SpecMismatch, match="the error body is not JSON"):
        check_response("GET", A + "/no-such-thing", 404, b"Not Found", "text/plain")
    with pytest.raises(SpecMismatch, match="the error body is not JSON"):
        check_response("GET", A + "/projects/P", 404, b"<html/>", "text/html")
    # The spec documents raw files as application/json; its success content types are not trusted.
    check_response("GET", A + "/projects/P/repos/r/raw/README.md", 200, b"# hello", "text/plain")
    check_response("DELETE", A + "/projects/P/repos/r", 202, b"", "")


def test_dates_may_be_epoch_milliseconds_but_not_anything(bitbucket: SpecChecker) -> None:
    token = {"id": "1", "name": "t", "createdDate": 1795606284346}
    assert bitbucket.component_problems("RestAccessToken", token) == []
    assert bitbucket.component_problems("RestAccessToken", {**token, "createdDate": [1]})
    assert bitbucket.component_problems("RestAccessToken", {**token, "name": 5})
