"""The files of a build's changes, read with one git process (real git repositories)."""

from __future__ import annotations

from pathlib import Path

from culm.git.build_changes import files_by_commit
from support import commit_file, git


def _head(work: Path) -> str:
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def test_files_by_commit(tmp_path: Path) -> None:
    work = tmp_path / "w"
    git("init", "-q", "-b", "main", str(work))
    root = commit_file(work, "a.txt", "1\n")
    odd = commit_file(work, "dir/new\nline \x01.txt", "2\n")
    git("commit", "-q", "--allow-empty", "-m", "empty", cwd=work)
    empty = _head(work)
    for i in range(5):
        (work / f"many{i}").write_text(str(i))
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "many", cwd=work)
    many = _head(work)
    git("checkout", "-q", "-b", "side", root, cwd=work)
    side = commit_file(work, "side.txt", "s\n")
    git("checkout", "-q", "main", cwd=work)
    git("merge", "-q", "--no-ff", "-m", "merge", "side", cwd=work)
    merge = _head(work)
    got = files_by_commit(work / ".git", [merge, many, empty, odd, root, side, "--output=/tmp/x", "HEAD"], 3)
    assert got == {merge: [], many: ["many0", "many1", "many2"], empty: [], odd: ["dir/new\nline \x01.txt"],
                   root: ["a.txt"], side: ["side.txt"]}
    assert files_by_commit(work / ".git", [], 3) == {}
