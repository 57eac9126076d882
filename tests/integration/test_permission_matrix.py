"""One permission matrix for git and REST: anonymous, no permission, reader, writer, repository admin."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import USER_PASSWORD, LiveServer, create_repo, create_user, cred_url, git, grant_repo, validating_client

PROJECT, SLUG = "MTX", "matrix"
ROLES = ["anonymous", "nobody", "reader", "writer", "repoadmin"]
# Expected outcome per role: (clone, push, REST read, REST admin)
EXPECTED = {
    "anonymous": (False, False, 401, 401),
    "nobody": (False, False, 401, 401),
    "reader": (True, False, 200, 401),
    "writer": (True, True, 200, 401),
    "repoadmin": (True, True, 200, 200),
}


@pytest.fixture(scope="module")
def seeded(server: LiveServer, admin, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    create_repo(admin, PROJECT, SLUG)
    create_user(server, "nobody", "reader", "writer", "repoadmin")
    grant_repo(server, PROJECT, SLUG, "reader", "REPO_READ")
    grant_repo(server, PROJECT, SLUG, "writer", "REPO_WRITE")
    grant_repo(server, PROJECT, SLUG, "repoadmin", "REPO_ADMIN")
    work = tmp_path_factory.mktemp("seed")
    git("init", "-q", "-b", "main", str(work))
    (work / "README").write_text("matrix\n")
    git("add", "README", cwd=work)
    git("commit", "-qm", "seed", cwd=work)
    url = cred_url(server, f"/scm/{PROJECT.lower()}/{SLUG}.git", "admin", "admin-Secret-1")
    git("push", "-q", url, "main", cwd=work)
    return work


def _url(server: LiveServer, role: str) -> str:
    path = f"/scm/{PROJECT.lower()}/{SLUG}.git"
    if role == "anonymous":
        return server.url + path
    return cred_url(server, path, role, USER_PASSWORD)


@pytest.mark.parametrize("role", ROLES)
def test_git_matrix(server: LiveServer, seeded: Path, role: str, tmp_path: Path) -> None:
    can_clone, can_push, _, _ = EXPECTED[role]
    clone = git("clone", "-q", _url(server, role), str(tmp_path / "c"), check=False)
    assert (clone.returncode == 0) is can_clone, clone.stderr
    if not can_clone:
        return
    work = tmp_path / "c"
    (work / f"{role}.txt").write_text(role)
    git("add", ".", cwd=work)
    git("commit", "-qm", f"by {role}", cwd=work)
    push = git("push", "-q", "origin", f"HEAD:refs/heads/{role}", cwd=work, check=False)
    assert (push.returncode == 0) is can_push, push.stderr
    remote = git("ls-remote", _url(server, "repoadmin"), f"refs/heads/{role}").stdout
    assert bool(remote.strip()) is can_push


@pytest.mark.parametrize("role", ROLES)
def test_rest_matrix(server: LiveServer, seeded: Path, role: str) -> None:
    _, _, read, admin_status = EXPECTED[role]
    auth = None if role == "anonymous" else (role, USER_PASSWORD)
    base = f"/rest/api/latest/projects/{PROJECT}/repos/{SLUG}"
    with validating_client(server, auth) as c:
        assert c.get(base).status_code == read
        r = c.get(base + "/permissions/users")
        assert r.status_code == admin_status, r.text
        r = c.put(base, json={"description": f"edited by {role}"})
        assert r.status_code == (201 if admin_status == 200 else admin_status), r.text  # update answers 201
        if admin_status != 200:
            assert r.json()["errors"][0]["exceptionName"].endswith("AuthorisationException") or role == "anonymous"
