"""Authentication: Basic and Bearer, the X-AUSERNAME header, failed-login throttling, the password cache."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor

import httpx

from support import USER_PASSWORD, LiveServer, create_user, live_server, server_db

A = "/rest/api/latest"
PROPS = A + "/application-properties"


def exception(r: httpx.Response) -> str:
    return r.json()["errors"][0]["exceptionName"]


def test_x_ausername_on_authenticated_responses(server: LiveServer, admin: httpx.Client) -> None:
    create_user(server, "hank")
    r = admin.get(PROPS)
    assert r.status_code == 200 and r.headers["x-ausername"] == "admin" and r.headers["x-auserid"]
    with server.client(auth=("hank", USER_PASSWORD)) as hank:
        r = hank.get(A + "/projects/NOPE")  # an error answer to an authenticated caller still names them
        assert r.status_code == 404 and r.headers["x-ausername"] == "hank"
    with server.client(auth=None) as anon:
        r = anon.get(PROPS)
        assert r.status_code == 200 and "x-ausername" not in r.headers and r.headers["x-arequestid"]


def test_malformed_credentials_are_401(server: LiveServer) -> None:
    for header in ("Bearer", "Bearer nonsense", "Bearer MTIzOmFiYw", "Basic !!!", "Basic " +
                   base64.b64encode(b"no-colon").decode(), "Digest abc", "Basic " +
                   base64.b64encode(b"admin:wrong").decode()):
        with server.client(auth=None, headers={"Authorization": header}) as c:
            r = c.get(PROPS)
            assert r.status_code == 401, header
            assert "x-ausername" not in r.headers
            assert r.headers["www-authenticate"].startswith("Basic")


def test_failures_are_counted_atomically(server: LiveServer) -> None:
    """Concurrent failures on one name all count (one upsert each, no lost updates)."""
    from culm.domain.users.models import LoginFailure

    create_user(server, "ivy")

    def attempt(_: int) -> int:
        with server.client(auth=("ivy", "wrong")) as c:
            return c.get(PROPS).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(attempt, range(16))) == {401}
    with server_db(server) as s:
        assert s.get(LoginFailure, "ivy").count == 16
    with server.client(auth=("ivy", USER_PASSWORD)) as c:
        assert c.get(PROPS).status_code == 200
    with server_db(server) as s:
        assert s.get(LoginFailure, "ivy") is None  # a success clears the count


def test_password_change_and_deactivation_bypass_no_cache(server: LiveServer) -> None:
    from culm.domain.users import service as users

    create_user(server, "jack")
    with server.client(auth=("jack", USER_PASSWORD)) as c:
        assert c.get(PROPS).status_code == 200
        assert c.get(PROPS).status_code == 200  # the cached verification
    with server_db(server) as s:
        users.set_password(s, users.require_user(s, "jack"), "new-Secret-2")
    with server.client(auth=("jack", USER_PASSWORD)) as c:
        assert c.get(PROPS).status_code == 401
    with server.client(auth=("jack", "new-Secret-2")) as c:
        assert c.get(PROPS).status_code == 200
        with server_db(server) as s:
            users.require_user(s, "jack").active = False
        assert c.get(PROPS).status_code == 401


def test_throttling_refuses_even_the_right_password() -> None:
    from culm.domain.users.models import LoginFailure

    with live_server(extra_env={"CULM_LOGIN_MAX_FAILURES": "3", "CULM_LOGIN_WINDOW_SECONDS": "3600"}) as srv:
        create_user(srv, "kate", "liam")
        with srv.client(auth=("kate", USER_PASSWORD)) as kate:
            token = kate.put("/rest/access-tokens/latest/users/kate",
                             json={"name": "t", "permissions": ["REPO_READ"]}).json()["token"]
        for _ in range(3):
            with srv.client(auth=("kate", "wrong")) as c:
                r = c.get(PROPS)
                assert r.status_code == 401 and "IncorrectPassword" in exception(r)
        for password in (USER_PASSWORD, token, "wrong"):
            with srv.client(auth=("kate", password)) as c:
                r = c.get(PROPS)
                assert r.status_code == 401 and "CaptchaRequired" in exception(r)
                assert "CAPTCHA" in r.json()["errors"][0]["message"]
        with srv.client(auth=None, headers={"Authorization": f"Bearer {token}"}) as c:
            assert c.get(PROPS).headers["x-ausername"] == "kate"  # Bearer tokens carry no name to lock
        with srv.client(auth=("liam", USER_PASSWORD)) as c:
            assert c.get(PROPS).status_code == 200  # other users are not affected
        with server_db(srv) as s:  # once the window has passed, the right password works again
            s.get(LoginFailure, "kate").window_start -= 3600 * 1000 + 1
        with srv.client(auth=("kate", USER_PASSWORD)) as c:
            assert c.get(PROPS).status_code == 200
