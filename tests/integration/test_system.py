"""The server starts as an operator starts it and speaks Bitbucket's conventions."""

from __future__ import annotations

from support import ADMIN, LiveServer, validating_client


def test_application_properties_on_both_versions(server: LiveServer) -> None:
    with validating_client(server) as c:
        for version in ("latest", "1.0"):
            r = c.get(f"/rest/api/{version}/application-properties")
            assert r.status_code == 200
            body = r.json()
            assert body["displayName"] == "Bitbucket"
            assert body["version"].startswith("10.")
            assert r.headers["x-ausername"] == ADMIN[0]


def test_trailing_slash_is_ignored(server: LiveServer) -> None:
    with validating_client(server) as c:
        assert c.get("/rest/api/latest/application-properties/").status_code == 200


def test_wrong_password_is_401_with_challenge_and_error_body(server: LiveServer) -> None:
    with validating_client(server, auth=("admin", "wrong")) as c:
        r = c.get("/rest/api/latest/application-properties")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    assert r.headers["content-type"] == "application/json;charset=UTF-8"
    err = r.json()["errors"][0]
    assert err["exceptionName"].endswith("IncorrectPasswordAuthenticationException")
    assert "x-ausername" not in r.headers


def test_unknown_route_is_404_in_error_shape(server: LiveServer) -> None:
    with validating_client(server) as c:
        r = c.get("/rest/api/latest/no-such-thing")
    assert r.status_code == 404
    assert set(r.json()["errors"][0]) == {"context", "message", "exceptionName"}


def test_malformed_basic_header_is_401(server: LiveServer) -> None:
    with validating_client(server, auth=None) as c:
        r = c.get("/rest/api/latest/application-properties", headers={"Authorization": "Basic !!!"})
    assert r.status_code == 401
    with validating_client(server, auth=None) as c:
        r = c.get("/rest/api/latest/application-properties", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_form_writes_need_the_xsrf_header(server: LiveServer) -> None:
    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
    with validating_client(server) as c:
        r = c.post("/rest/api/latest/projects", data={"key": "X"}, headers=browser)
        assert r.status_code == 403
        assert r.json()["errors"][0]["message"] == "XSRF check failed"
        # With the header the request reaches the resource (which then judges the body itself).
        r = c.post("/rest/api/latest/projects", data={"key": "X"},
                   headers={**browser, "X-Atlassian-Token": "no-check"})
        assert r.status_code != 403
        # Clients that are not browsers (curl, httpx, atlassian-python-api) are not checked, as in Bitbucket.
        assert c.post("/rest/api/latest/projects", data={"key": "X"}).status_code != 403
        # JSON bodies need no header; reads are never blocked.
        assert c.get("/rest/api/latest/application-properties",
                     headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 200
