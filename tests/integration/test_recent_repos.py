"""`/profile/recent/repos`: repositories the caller read (REST or git fetch), most recent first."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import (
    USER_PASSWORD,
    LiveServer,
    create_repo,
    create_user,
    cred_url,
    git,
    grant_repo,
    validating_client,
)

RECENT = "/rest/api/latest/profile/recent/repos"
REPOS = "/rest/api/latest/projects/REC/repos"


@pytest.fixture(scope="module")
def setup(server: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    for name in ("alpha", "beta", "gamma", "delta", "hidden"):
        create_repo(admin, "REC", name)
    create_user(server, "recent", "other")
    for slug in ("alpha", "gamma", "delta"):
        grant_repo(server, "REC", slug, "recent", "REPO_READ")
    grant_repo(server, "REC", "beta", "recent", "REPO_WRITE")
    grant_repo(server, "REC", "alpha", "other", "REPO_READ")


def _slugs(body: dict) -> list[str]:
    return [r["slug"] for r in body["values"]]


def test_rest_reads_are_listed_most_recent_first(server: LiveServer, setup: None) -> None:
    with validating_client(server, auth=("recent", USER_PASSWORD)) as c:
        assert c.get(RECENT).json()["values"] == []
        for slug in ("alpha", "beta", "alpha"):
            assert c.get(f"{REPOS}/{slug}").status_code == 200
        # Refused and unknown repositories are not recorded.
        assert c.get(f"{REPOS}/hidden").status_code == 401
        assert c.get(f"{REPOS}/nope").status_code == 404
        body = c.get(RECENT).json()
        assert _slugs(body) == ["alpha", "beta"]
        assert body["isLastPage"] is True
        assert body["values"][0]["project"]["key"] == "REC"
        # The permission filter keeps only repositories the caller may write.
        assert _slugs(c.get(RECENT, params={"permission": "REPO_WRITE"}).json()) == ["beta"]
        assert _slugs(c.get(RECENT, params={"permission": "REPO_ADMIN"}).json()) == []
        # Paging happens in the query.
        first = c.get(RECENT, params={"limit": 1}).json()
        assert _slugs(first) == ["alpha"] and first["isLastPage"] is False and first["nextPageStart"] == 1
        second = c.get(RECENT, params={"limit": 1, "start": 1}).json()
        assert _slugs(second) == ["beta"] and second["isLastPage"] is True
    # Each user has their own list.
    with validating_client(server, auth=("other", USER_PASSWORD)) as c:
        assert c.get(RECENT).json()["values"] == []


def test_git_clone_and_fetch_are_recorded(server: LiveServer, setup: None, tmp_path: Path) -> None:
    work = tmp_path / "gamma"
    git("clone", "-q", cred_url(server, "/scm/rec/gamma.git", "recent", USER_PASSWORD), str(work))
    with validating_client(server, auth=("recent", USER_PASSWORD)) as c:
        assert _slugs(c.get(RECENT).json())[0] == "gamma"
        assert c.get(f"{REPOS}/alpha").status_code == 200
        assert _slugs(c.get(RECENT).json())[0] == "alpha"
        git("fetch", "-q", "origin", cwd=work)
        assert _slugs(c.get(RECENT).json())[:2] == ["gamma", "alpha"]
        # A denied clone leaves no trace.
        denied = git("clone", "-q", cred_url(server, "/scm/rec/hidden.git", "recent", USER_PASSWORD),
                     str(tmp_path / "hidden"), check=False)
        assert denied.returncode != 0
        assert "hidden" not in _slugs(c.get(RECENT).json())


def test_deleted_repository_leaves_the_list(server: LiveServer, admin, setup: None) -> None:  # type: ignore[no-untyped-def]
    with validating_client(server, auth=("recent", USER_PASSWORD)) as c:
        assert c.get(f"{REPOS}/delta").status_code == 200
        assert _slugs(c.get(RECENT).json())[0] == "delta"
        assert admin.delete(f"{REPOS}/delta").status_code == 202
        assert "delta" not in _slugs(c.get(RECENT).json())


def test_bad_permission_and_anonymous(server: LiveServer, setup: None) -> None:
    with validating_client(server, auth=("recent", USER_PASSWORD)) as c:
        for bad in ("BOGUS", "PROJECT_READ", "ADMIN"):
            r = c.get(RECENT, params={"permission": bad})
            assert r.status_code == 400
            assert r.json()["errors"][0]["context"] == "permission"
        assert c.get(RECENT, params={"limit": "x"}).status_code == 400
    with validating_client(server, auth=None) as anon:
        # Public repositories read anonymously are not remembered; the resource needs a user (spec: 401).
        r = anon.get(RECENT)
        assert r.status_code == 401
        assert r.json()["errors"][0]["exceptionName"].endswith("AuthenticationRequiredException")
