"""The merge engine (culm.git.merge): every strategy's history shape, conflicts, forks, and merges racing
pushes and other merges (culm.domain.merging.service.merge_into). Real repositories made with git."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pygit2
import pytest

from culm.git import merge as engine
from culm.git.merge_message import MessageContext, merge_message, squash_message
from support import ADMIN, LiveServer, commit_file, create_repo, cred_url, git, server_db

MERGER = ("Merging User", "merger@example.com")
WHEN = 1_700_000_000_000


def _repo(tmp: Path) -> Path:
    git("init", "-q", "-b", "main", str(tmp))
    commit_file(tmp, "base.txt", "one\ntwo\nthree\n", "base")
    return tmp


def _as(name: str, email: str) -> dict[str, str]:
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}


def _commit_as(work: Path, name: str, text: str, who: tuple[str, str], message: str) -> str:
    (work / name).write_text(text)
    git("add", "--", name, cwd=work)
    git("commit", "-q", "-m", message, cwd=work, env=_as(*who))
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def _rev(work: Path, rev: str) -> str:
    return git("rev-parse", rev, cwd=work).stdout.strip()


@pytest.fixture
def diverged(tmp_path: Path) -> tuple[Path, str, str]:
    """main and feature both moved on from base, touching different files (a clean merge)."""
    work = _repo(tmp_path / "d")
    git("checkout", "-q", "-b", "feature", cwd=work)
    _commit_as(work, "f1.txt", "f1\n", ("Alice", "alice@example.com"), "feature one")
    source = _commit_as(work, "f2.txt", "f2\n", ("Bob", "bob@example.com"), "feature two")
    git("checkout", "-q", "main", cwd=work)
    target = commit_file(work, "m.txt", "m\n", "main moves")
    return work, source, target


@pytest.fixture
def ahead(tmp_path: Path) -> tuple[Path, str, str]:
    """feature is ahead of main (fast-forward possible)."""
    work = _repo(tmp_path / "a")
    target = _rev(work, "HEAD")
    git("checkout", "-q", "-b", "feature", cwd=work)
    _commit_as(work, "f1.txt", "f1\n", ("Alice", "alice@example.com"), "feature one")
    source = _commit_as(work, "f2.txt", "f2\n", ("Bob", "bob@example.com"), "feature two")
    return work, source, target


def _refs(work: Path) -> str:
    return git("for-each-ref", cwd=work).stdout


def _files(repo: pygit2.Repository, oid: str) -> dict[str, bytes]:
    tree = repo[oid].peel(pygit2.Commit).tree
    return {e.name: repo[e.id].data for e in tree}


@pytest.mark.parametrize("strategy", engine.STRATEGIES)
def test_every_strategy_on_diverged_or_ahead(strategy: str, diverged, ahead) -> None:  # type: ignore[no-untyped-def]
    for work, source, target in (diverged, ahead):
        repo = pygit2.Repository(str(work))
        refs_before = _refs(work)
        ff = target == _rev(work, f"{source}~2")
        check = engine.plan(repo, source, target, strategy)
        assert check.fast_forward_possible is ff
        if strategy in ("ff-only", "squash-ff-only") and not ff:
            assert not check.can_merge and not check.conflicted and check.outcome == "CLEAN"
            with pytest.raises(engine.MergeRefused):
                engine.merge(repo, source, target, strategy, "msg", MERGER, WHEN)
            continue
        assert check.can_merge and check.outcome == "CLEAN" and check.conflicts == []
        result = engine.merge(repo, source, target, strategy, "Merge it", MERGER, WHEN)
        assert _refs(work) == refs_before  # nothing moved a ref
        new = repo[result.new_target_oid].peel(pygit2.Commit)
        files = _files(repo, result.new_target_oid)
        assert {"base.txt", "f1.txt", "f2.txt"} <= set(files)
        assert ("m.txt" in files) is (not ff)
        assert repo.descendant_of(new.id, pygit2.Oid(hex=target))
        if strategy in ("ff", "ff-only") and ff:
            assert result.new_target_oid == source and result.merge_commit_oid is None
        elif strategy in ("no-ff", "ff"):
            assert [str(p) for p in new.parent_ids] == [target, source]
            assert result.merge_commit_oid == result.new_target_oid
            assert (new.author.name, new.author.email, new.committer.email) == (*MERGER, MERGER[1])
            assert new.author.time == WHEN // 1000 and new.message == "Merge it"
        elif strategy.startswith("rebase-"):
            rebased = repo[result.rebased_oid]
            chain = [rebased, rebased.parents[0]]
            assert [c.author.name for c in chain] == ["Bob", "Alice"]
            assert [c.message.strip() for c in chain] == ["feature two", "feature one"]
            assert str(chain[1].parent_ids[0]) == target
            if ff:
                assert result.rebased_oid == source  # already on the target: nothing rewritten
            else:
                assert {c.committer.email for c in chain} == {MERGER[1]}
            if strategy == "rebase-ff-only":
                assert result.new_target_oid == result.rebased_oid and result.merge_commit_oid is None
            else:
                assert [str(p) for p in new.parent_ids] == [target, result.rebased_oid]
                assert new.tree_id == rebased.tree_id
        else:  # squash
            assert [str(p) for p in new.parent_ids] == [target]
            assert new.author.email == MERGER[1] and new.message == "Merge it"


def test_nothing_to_merge(ahead) -> None:  # type: ignore[no-untyped-def]
    work, source, target = ahead
    repo = pygit2.Repository(str(work))
    for strategy in engine.STRATEGIES:
        check = engine.plan(repo, target, source, strategy)  # source behind target
        assert not check.can_merge and not check.conflicted
        assert not engine.plan(repo, source, source, strategy).can_merge


def test_unknown_strategy(ahead) -> None:  # type: ignore[no-untyped-def]
    work, source, target = ahead
    with pytest.raises(engine.UnknownStrategy):
        engine.plan(pygit2.Repository(str(work)), source, target, "octopus")


def _conflict_case(tmp: Path, kind: str) -> tuple[Path, str, str, list[str]]:
    work = _repo(tmp)
    if kind == "binary":
        (work / "img.bin").write_bytes(bytes(range(256)) * 4)
        git("add", "img.bin", cwd=work)
        git("commit", "-q", "-m", "binary", cwd=work)
    git("checkout", "-q", "-b", "feature", cwd=work)
    if kind == "content":
        commit_file(work, "base.txt", "one\nTWO-feature\nthree\n")
    elif kind == "delete-modify":
        git("rm", "-q", "base.txt", cwd=work)
        git("commit", "-q", "-m", "delete", cwd=work)
    elif kind == "rename":
        git("mv", "base.txt", "feature-name.txt", cwd=work)
        git("commit", "-q", "-m", "rename one way", cwd=work)
    elif kind == "binary":
        (work / "img.bin").write_bytes(b"\0feature" * 100)
        git("commit", "-q", "-am", "binary feature", cwd=work)
    source = _rev(work, "HEAD")
    git("checkout", "-q", "main", cwd=work)
    if kind in ("content", "delete-modify"):
        commit_file(work, "base.txt", "one\nTWO-main\nthree\n")
        expected = ["base.txt"]
    elif kind == "rename":
        git("mv", "base.txt", "main-name.txt", cwd=work)
        git("commit", "-q", "-m", "rename the other way", cwd=work)
        expected = ["base.txt", "feature-name.txt", "main-name.txt"]
    else:
        (work / "img.bin").write_bytes(b"\0main" * 100)
        git("commit", "-q", "-am", "binary main", cwd=work)
        expected = ["img.bin"]
    return work, source, _rev(work, "HEAD"), expected


@pytest.mark.parametrize("kind", ["content", "delete-modify", "rename", "binary"])
def test_conflicts_listed_and_nothing_written(kind: str, tmp_path: Path) -> None:
    work, source, target, expected = _conflict_case(tmp_path / "r", kind)
    repo = pygit2.Repository(str(work))
    refs_before = _refs(work)
    for strategy in ("no-ff", "ff", "rebase-no-ff", "rebase-ff-only", "squash"):
        check = engine.plan(repo, source, target, strategy)
        assert (check.can_merge, check.conflicted, check.outcome) == (False, True, "CONFLICTED"), strategy
        assert check.conflicts == expected, (strategy, check.conflicts)
        with pytest.raises(engine.MergeRefused) as refused:
            engine.merge(repo, source, target, strategy, "m", MERGER, WHEN)
        assert refused.value.check.conflicted
    assert _refs(work) == refs_before


def test_binary_files_merge_cleanly(tmp_path: Path) -> None:
    work = _repo(tmp_path / "r")
    git("checkout", "-q", "-b", "feature", cwd=work)
    blob = bytes(range(256)) * 64
    (work / "data.bin").write_bytes(blob)
    git("add", "data.bin", cwd=work)
    git("commit", "-q", "-m", "binary", cwd=work)
    source = _rev(work, "HEAD")
    git("checkout", "-q", "main", cwd=work)
    target = commit_file(work, "m.txt", "m\n")
    repo = pygit2.Repository(str(work))
    for strategy in ("no-ff", "rebase-ff-only", "squash"):
        result = engine.merge(repo, source, target, strategy, "m", MERGER, WHEN)
        assert _files(repo, result.new_target_oid)["data.bin"] == blob


def test_rebase_keeps_messages_and_names_byte_for_byte(tmp_path: Path) -> None:
    """A commit written in Latin-1 (with its encoding header) and an author with a non-ASCII name are
    replayed unchanged."""
    work = _repo(tmp_path / "r")
    git("checkout", "-q", "-b", "feature", cwd=work)
    (work / "l.txt").write_text("l\n")
    git("add", "l.txt", cwd=work)
    subprocess.run(["git", "-c", "i18n.commitEncoding=ISO-8859-1", "commit", "-q", "-F", "-"], cwd=work,
                   check=True, input="caf\xe9 cr\xe8me\n".encode("latin-1"),
                   env={**os.environ, **_as("Zoë Ñandú", "z@example.com")})
    source = _rev(work, "HEAD")
    git("checkout", "-q", "main", cwd=work)
    target = commit_file(work, "m.txt", "m\n")
    repo = pygit2.Repository(str(work))
    rebased = repo[engine.merge(repo, source, target, "rebase-ff-only", "m", MERGER, WHEN).new_target_oid]
    original = repo[source]
    assert rebased.raw_message == original.raw_message == "caf\xe9 cr\xe8me\n".encode("latin-1")
    assert rebased.message_encoding == "ISO-8859-1"
    assert rebased.author.raw_name == original.author.raw_name and rebased.author.time == original.author.time


def test_rebase_drops_merge_commits_and_empty_commits(tmp_path: Path) -> None:
    work = _repo(tmp_path / "r")
    git("checkout", "-q", "-b", "feature", cwd=work)
    commit_file(work, "a.txt", "a\n", "add a")
    git("checkout", "-q", "-b", "side", "main", cwd=work)
    commit_file(work, "b.txt", "b\n", "add b")
    git("checkout", "-q", "feature", cwd=work)
    git("merge", "-q", "--no-ff", "-m", "merge side", "side", cwd=work)
    source = _rev(work, "HEAD")
    git("checkout", "-q", "main", cwd=work)
    commit_file(work, "a.txt", "a\n", "same change on main")  # makes 'add a' empty when replayed
    target = _rev(work, "HEAD")
    repo = pygit2.Repository(str(work))
    result = engine.merge(repo, source, target, "rebase-ff-only", "m", MERGER, WHEN)
    tip = repo[result.new_target_oid]
    assert tip.message.strip() == "add b" and str(tip.parent_ids[0]) == target
    assert set(_files(repo, result.new_target_oid)) == {"base.txt", "a.txt", "b.txt"}


def test_changes_already_on_the_target(tmp_path: Path) -> None:
    """The source's change was cherry-picked onto the target: rebasing or squashing leaves nothing to add."""
    work = _repo(tmp_path / "r")
    git("checkout", "-q", "-b", "feature", cwd=work)
    source = commit_file(work, "a.txt", "a\n", "add a")
    git("checkout", "-q", "main", cwd=work)
    commit_file(work, "m.txt", "m\n")
    git("cherry-pick", source, cwd=work)
    target = _rev(work, "HEAD")
    repo = pygit2.Repository(str(work))
    for strategy in ("rebase-no-ff", "rebase-ff-only", "squash"):
        check = engine.plan(repo, source, target, strategy)
        assert not check.can_merge and not check.conflicted and "no changes" in (check.reason or ""), strategy
        with pytest.raises(engine.MergeRefused):
            engine.merge(repo, source, target, strategy, "m", MERGER, WHEN)
    assert engine.plan(repo, source, target, "no-ff").can_merge  # a merge commit still joins the histories


def test_messages(diverged) -> None:  # type: ignore[no-untyped-def]
    work, source, target = diverged
    repo = pygit2.Repository(str(work))
    ctx = MessageContext(7, "Add features", "PROJ", "repo", "feature", "main")
    assert merge_message(repo, source, target, ctx) == (
        "Pull request #7: Add features\n\nMerge in PROJ/repo from feature to main\n\n"
        f"* commit '{source}':\n  feature two\n  feature one")
    assert merge_message(repo, source, target, ctx, summaries=0).endswith("from feature to main")
    fork = MessageContext(7, "T", "PROJ", "repo", "feature", "main", cross_repo="~BOB/fork:")
    assert "Merge in PROJ/repo from ~BOB/fork:feature to main" in merge_message(repo, source, target, fork)
    custom = MessageContext(7, "T", "PROJ", "repo", "feature", "main",
                            template=("${title} (#${id}) ${unknown}", "into ${toRefName}"))
    assert merge_message(repo, source, target, custom, summaries=1) == (
        f"T (#7) ${{unknown}}\n\ninto main\n\n* commit '{source}':\n  feature two")
    bodiless = MessageContext(7, "T", "PROJ", "repo", "feature", "main", template=("${title}", ""))
    assert merge_message(repo, source, target, bodiless, summaries=0) == "T"
    squash = squash_message(repo, source, target, ctx)
    assert squash.startswith("Pull request #7: Add features\n\nMerge in PROJ/repo from feature to main\n\n"
                             "Squashed commit of the following:\n\n"
                             f"commit {source}\nAuthor: Bob <bob@example.com>")
    assert "\n\n    feature one" in squash


# ---- domain level: a live server's repositories, forks, and races ---------------------------------------

@pytest.fixture(scope="module")
def home(server: LiveServer):  # type: ignore[no-untyped-def]
    """Point this process's settings at the live server's home, so culm.git finds its repositories."""
    from culm.core.config import reset_settings

    saved = os.environ.get("CULM_HOME")
    os.environ["CULM_HOME"] = str(server.home)
    reset_settings()
    yield server
    if saved is None:
        os.environ.pop("CULM_HOME", None)
    else:
        os.environ["CULM_HOME"] = saved
    reset_settings()


def _push_repo(server: LiveServer, admin, tmp: Path, name: str) -> tuple[dict, Path, str]:  # type: ignore[no-untyped-def]
    repo = create_repo(admin, "MRG", name)
    url = cred_url(server, f"/scm/MRG/{repo['slug']}.git", *ADMIN)
    work = _repo(tmp)
    git("remote", "add", "origin", url, cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    return repo, work, url


def _merge_into(server: LiveServer, repo_id: int, source_repo_id: int, source: str, strategy: str = "no-ff",
                attempts: int = 5):  # type: ignore[no-untyped-def]
    from culm.domain.merging import service as merging
    from culm.domain.repos.models import Repository
    from culm.domain.users import service as users

    with server_db(server) as session:
        repo = session.get(Repository, repo_id)
        actor = users.require_user(session, "admin")  # type: ignore[arg-type]
    # A fresh session whose first statement is the ref update's lock (on SQLite a transaction holds the
    # database's write lock, which a push racing this merge needs before it can move the ref).
    with server_db(server) as session:
        return merging.merge_into(session, repo, actor, source_repo_id, source, "refs/heads/main", strategy,  # type: ignore[arg-type]
                                  "Merge", max_attempts=attempts)


def _history(work: Path, url: str) -> list[str]:
    git("fetch", "-q", url, "main", cwd=work)
    return git("rev-list", "FETCH_HEAD", cwd=work).stdout.split()


def test_merge_from_a_fork_into_its_origin(home: LiveServer, admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from culm.git import merge_objects

    origin, work, url = _push_repo(home, admin, tmp_path / "o", "origin")
    r = admin.post(f"/rest/api/latest/projects/MRG/repos/{origin['slug']}", json={"name": "fork1"})
    assert r.status_code == 201, r.text
    fork = r.json()
    fork_url = cred_url(home, f"/scm/{fork['project']['key']}/{fork['slug']}.git", *ADMIN)
    git("checkout", "-q", "-b", "feature", cwd=work)
    source = commit_file(work, "forked.txt", "from the fork\n")
    git("push", "-q", fork_url, "feature", cwd=work)
    assert not merge_objects.has_commit(origin["id"], source)
    outcome = _merge_into(home, origin["id"], fork["id"], source)
    assert source in _history(work, url) and outcome.merge_commit_oid in _history(work, url)
    assert merge_objects.leftover_refs(origin["id"]) == []
    # the reverse (origin into fork) needs no copy: the fork borrows the origin's objects
    git("checkout", "-q", "-b", "back", "main", cwd=work)
    back = commit_file(work, "origin-only.txt", "o\n")
    git("push", "-q", url, "back", cwd=work)
    assert merge_objects.has_commit(fork["id"], back)
    assert _merge_into(home, fork["id"], origin["id"], back, "ff").new_target_oid == back
    assert merge_objects.leftover_refs(fork["id"]) == []


def test_merge_races_a_push(home: LiveServer, admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A push lands on the target while merge_into computes: the CAS fails, the merge is redone on the
    new target, and both the pushed commit and the merge end up in the history."""
    from culm.git import merge as git_merge

    repo, work, url = _push_repo(home, admin, tmp_path / "p", "race-push")
    git("checkout", "-q", "-b", "feature", cwd=work)
    source = commit_file(work, "feature.txt", "f\n")
    git("push", "-q", url, "feature", cwd=work)
    other = tmp_path / "other"
    git("clone", "-q", url, str(other))
    pushed = commit_file(other, "pushed.txt", "p\n")

    real_merge = git_merge.merge
    calls = []

    def merge_then_push(*args, **kw):  # type: ignore[no-untyped-def]
        result = real_merge(*args, **kw)
        calls.append(result)
        if len(calls) == 1:  # the target moves after the first computation, before the swap
            t = threading.Thread(target=git, args=("push", "-q", "origin", "main"), kwargs={"cwd": other})
            t.start()
            t.join()
        return result

    git_merge.merge = merge_then_push  # the real engine, with a real push in between
    try:
        outcome = _merge_into(home, repo["id"], repo["id"], source)
    finally:
        git_merge.merge = real_merge
    assert outcome.attempts == 2
    history = _history(work, url)
    assert {pushed, source, outcome.new_target_oid} <= set(history)


def test_two_merges_at_once_both_land(home: LiveServer, admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, work, url = _push_repo(home, admin, tmp_path / "t", "race-merge")
    sources = []
    for name in ("one", "two", "three"):
        git("checkout", "-q", "-b", name, "main", cwd=work)
        sources.append(commit_file(work, f"{name}.txt", name))
        git("push", "-q", url, name, cwd=work)
    results: list[object] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(sources))

    def run(source: str) -> None:
        try:
            barrier.wait()
            results.append(_merge_into(home, repo["id"], repo["id"], source, "squash", attempts=10))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = _history(work, url)
    assert {r.new_target_oid for r in results} <= set(history)  # type: ignore[attr-defined]
    git("checkout", "-q", "--detach", "FETCH_HEAD", cwd=work)
    assert {"one.txt", "two.txt", "three.txt"} <= {p.name for p in work.iterdir()}


def test_merge_into_refusals_move_nothing(home: LiveServer, admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from culm.core.errors import NoSuchBranch, NoSuchCommit, ValidationError
    from culm.domain.merging import service as merging
    from culm.domain.repos.models import Repository
    from support import refs_changed_events

    repo, work, url = _push_repo(home, admin, tmp_path / "x", "refusals")
    other = create_repo(admin, "MRG", "unrelated")
    git("checkout", "-q", "-b", "feature", cwd=work)
    source = commit_file(work, "base.txt", "feature\n")
    git("push", "-q", url, "feature", cwd=work)
    git("checkout", "-q", "main", cwd=work)
    commit_file(work, "base.txt", "main\n")
    git("push", "-q", url, "main", cwd=work)
    main_before = _history(work, url)[0]
    events_before = len(refs_changed_events(home, repo["id"]))

    with server_db(home) as session:
        r = session.get(Repository, repo["id"])
        check = merging.check(session, r, repo["id"], source, "refs/heads/main", "no-ff")  # type: ignore[arg-type]
    assert check.conflicted and check.conflicts == ["base.txt"]
    with pytest.raises(merging.MergeConflicted) as conflicted:
        _merge_into(home, repo["id"], repo["id"], source)
    assert conflicted.value.status == 409 and conflicted.value.extra["conflicts"] == ["base.txt"]
    with pytest.raises(merging.MergeNotPossible):
        _merge_into(home, repo["id"], repo["id"], source, "ff-only")
    with pytest.raises(merging.MergeNotPossible):  # nothing to merge
        _merge_into(home, repo["id"], repo["id"], main_before)
    with pytest.raises(NoSuchCommit):
        _merge_into(home, repo["id"], repo["id"], "ab" * 20)
    for bad in ("HEAD", source[:12], source.upper(), "-" + source[1:]):
        with pytest.raises(ValidationError):
            _merge_into(home, repo["id"], repo["id"], bad)
    with pytest.raises(ValidationError):
        _merge_into(home, repo["id"], repo["id"], source, "octopus")
    with pytest.raises(ValidationError):
        _merge_into(home, repo["id"], other["id"], source)
    with server_db(home) as session, pytest.raises(NoSuchBranch):
        merging.check(session, session.get(Repository, repo["id"]), repo["id"], source,  # type: ignore[arg-type]
                      "refs/heads/nope", "no-ff")
    for target in ("refs/tags/v1", "refs/heads/a..b", "main"):
        with server_db(home) as session, pytest.raises(ValidationError):
            merging.check(session, session.get(Repository, repo["id"]), repo["id"], source,  # type: ignore[arg-type]
                          target, "no-ff")
    assert _history(work, url)[0] == main_before
    assert len(refs_changed_events(home, repo["id"])) == events_before


def test_merge_into_records_the_ref_change(home: LiveServer, admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from support import refs_changed_events

    repo, work, url = _push_repo(home, admin, tmp_path / "e", "events")
    old = _rev(work, "HEAD")
    git("checkout", "-q", "-b", "feature", cwd=work)
    commit_file(work, "a.txt", "a\n", "first")
    source = commit_file(work, "b.txt", "b\n", "second")
    git("push", "-q", url, "feature", cwd=work)
    outcome = _merge_into(home, repo["id"], repo["id"], source, "rebase-no-ff")
    assert outcome.attempts == 1 and outcome.old_target_oid == old and outcome.rebased_oid == source
    change = refs_changed_events(home, repo["id"])[-1]["changes"][0]
    assert (change["refId"], change["fromHash"], change["toHash"]) == ("refs/heads/main", old, outcome.new_target_oid)


def test_strategy_for(home: LiveServer, admin) -> None:  # type: ignore[no-untyped-def]
    from culm.core.errors import ValidationError
    from culm.domain.merging import settings
    from culm.domain.repos.models import Repository

    repo = create_repo(admin, "MRG", "strategies")
    with server_db(home) as session:
        r = session.get(Repository, repo["id"])
        assert settings.strategy_for(session, r, None) == "no-ff"  # type: ignore[arg-type]
        assert settings.strategy_for(session, r, "no-ff") == "no-ff"  # type: ignore[arg-type]
        for bad in ("squash", "octopus"):
            with pytest.raises(ValidationError):
                settings.strategy_for(session, r, bad)  # type: ignore[arg-type]
