"""last-modified: for each entry of a directory, the latest commit that gave it its current content,
through merges (including a merge that kept its own side) and reverts."""

from __future__ import annotations

import pytest

from support import ADMIN, LiveServer, create_repo, cred_url, git

KEY = "LMOD"
API = "/rest/api/latest"
R = f"{API}/projects/{KEY}/repos/lm"


@pytest.fixture(scope="module")
def lm(server: LiveServer, admin, tmp_path_factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """c1 (README, src/a, src/b, docs/x) → c2 (a) → c3 (README) → merge of side (s1: docs/x)
    → c4 (b = v2) → c5 (b back to v1) → c6 (a non-UTF-8 name) → merge -s ours of side2 (s2: README);
    tag old at c2."""
    create_repo(admin, KEY, "lm")
    work = tmp_path_factory.mktemp("lm") / "w"
    git("init", "-q", "-b", "main", str(work))
    clock = [1_700_000_000]

    def run(*args: str) -> str:
        clock[0] += 60
        env = {"GIT_AUTHOR_DATE": f"@{clock[0]} +0000", "GIT_COMMITTER_DATE": f"@{clock[0]} +0000"}
        return git(*args, cwd=work, env=env).stdout

    def commit(message: str, **files: str) -> str:
        for name, content in files.items():
            target = work / name.replace("__", "/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        run("add", "-A")
        run("commit", "-q", "-m", message)
        return run("rev-parse", "HEAD").strip()

    ids = {"c1": commit("c1", README="r1\n", src__a="a1\n", src__b="v1\n", docs__x="x1\n")}
    ids["c2"] = commit("c2", src__a="a2\n")
    run("checkout", "-q", "-b", "side")
    ids["s1"] = commit("s1", docs__x="x2\n")
    run("checkout", "-q", "main")
    ids["c3"] = commit("c3", README="r2\n")
    run("merge", "-q", "--no-ff", "-m", "merge side", "side")
    ids["m1"] = run("rev-parse", "HEAD").strip()
    ids["c4"] = commit("c4", src__b="v2\n")
    ids["c5"] = commit("c5", src__b="v1\n")
    (work / b"caf\xe9.txt".decode("utf-8", "surrogateescape")).write_bytes(b"latin-1 name\n")
    ids["c6"] = commit("c6 adds a file whose name is not UTF-8")
    run("checkout", "-q", "-b", "side2")
    ids["s2"] = commit("s2", README="side2\n")
    run("checkout", "-q", "main")
    run("merge", "-q", "-s", "ours", "-m", "merge side2 keeping ours", "side2")
    ids["m2"] = run("rev-parse", "HEAD").strip()
    run("tag", "old", ids["c2"])
    run("push", "-q", cred_url(server, f"/scm/{KEY}/lm.git", *ADMIN), "main", "side", "side2", "old")
    return ids


def get(admin, suffix: str = "", **params):  # type: ignore[no-untyped-def]
    r = admin.get(R + "/last-modified" + suffix, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return {name: commit["id"] for name, commit in body["files"].items()}, body.get("latestCommit", {}).get("id")


def err(r) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    return r.status_code, r.json()["errors"][0]["exceptionName"].rsplit(".", 1)[-1]


def test_root(admin, lm) -> None:  # type: ignore[no-untyped-def]
    files, latest = get(admin)
    assert files == {"README": lm["c3"], "caf\ufffd.txt": lm["c6"], "docs": lm["s1"], "src": lm["c5"]}
    assert list(files) == ["README", "caf\ufffd.txt", "docs", "src"]
    assert latest == lm["m2"]
    r = admin.get(R + "/last-modified")
    commit = r.json()["files"]["README"]
    assert commit["message"] == "c3" and commit["author"]["emailAddress"] == "author@example.com"


def test_subdirectory_and_revert(admin, lm) -> None:  # type: ignore[no-untyped-def]
    files, latest = get(admin, "/src")
    assert files == {"a": lm["c2"], "b": lm["c5"]} and latest == lm["c5"]
    assert get(admin, "/docs/") == ({"x": lm["s1"]}, lm["s1"])


def test_at(admin, lm) -> None:  # type: ignore[no-untyped-def]
    files, latest = get(admin, at="old")
    assert files == {"README": lm["c1"], "docs": lm["c1"], "src": lm["c2"]} and latest == lm["c2"]
    assert get(admin, "/src", at=lm["c4"]) == ({"a": lm["c2"], "b": lm["c4"]}, lm["c4"])
    assert get(admin, at="side2")[0]["README"] == lm["s2"]


def test_single_file(admin, lm) -> None:  # type: ignore[no-untyped-def]
    assert get(admin, "/src/a") == ({"a": lm["c2"]}, lm["c2"])


def test_bad_inputs(admin, lm) -> None:  # type: ignore[no-untyped-def]
    for at in ("nope", "main~1", "-x"):
        assert err(admin.get(R + "/last-modified", params={"at": at})) == (404, "NoSuchCommitException"), at
    assert err(admin.get(R + "/last-modified/missing")) == (404, "NoSuchPathException")
    assert err(admin.get(R + "/last-modified/src/a/deeper")) == (404, "NoSuchPathException")
    assert err(admin.get(R + "/last-modified/src/%2E%2E/x")) == (400, "ArgumentValidationException")
    assert admin.get(f"{API}/projects/{KEY}/repos/nope/last-modified").status_code == 404


def test_empty_repository(admin, lm) -> None:  # type: ignore[no-untyped-def]
    create_repo(admin, KEY, "blank")
    r = admin.get(f"{API}/projects/{KEY}/repos/blank/last-modified")
    assert err(r) == (400, "ArgumentValidationException")
    r = admin.get(f"{API}/projects/{KEY}/repos/blank/last-modified", params={"at": "main"})
    assert err(r) == (404, "NoSuchCommitException")
