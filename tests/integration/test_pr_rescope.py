"""Rescoping pull requests from the outbox: pushes (and server ref writes) to a pull request's source or
target update it, record RESCOPED with the commits gained and lost, decline it when its branch goes, and
mark it MERGED when its target came to contain its source. The consumer runs once per event even with
several runners at once, and a failure mid-way replays cleanly. Default reviewers join new pull requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pr_support import API, pr_events, push_repo

from support import (
    ADMIN,
    USER_PASSWORD,
    LiveServer,
    commit_file,
    create_user,
    cred_url,
    database_url,
    git,
    grant_repo,
    live_server,
    server_db,
    server_home,
    validating_client,
)

KEY = "RSC"
SLUG = "app"
R = f"{API}/projects/{KEY}/repos/{SLUG}"
BRANCHES = ["feature/a", "feature/t", "feature/del", "feature/rest", "feature/m"]


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    """The worker polls only every 10 minutes here: everything below happens because the push (or the
    server's ref write) woke it on commit."""
    with live_server({"CULM_RESCOPE_INTERVAL": "600"}) as s:
        yield s


@pytest.fixture(scope="module")
def world(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    create_user(server, "alice", "bob", "dora")
    work = tmp_path_factory.mktemp("w") / "work"
    data = push_repo(server, admin, work, KEY, SLUG, BRANCHES)
    grant_repo(server, KEY, SLUG, "alice", "REPO_WRITE")
    grant_repo(server, KEY, SLUG, "bob", "REPO_READ")
    data["work"] = work
    data["prs"] = {}
    for name in BRANCHES:
        r = admin.post(f"{R}/pull-requests", json={"title": name, "fromRef": {"id": name}, "toRef": {"id": "main"},
                                                    "reviewers": [{"user": {"name": "bob"}}]})
        assert r.status_code == 201, r.text
        data["prs"][name] = r.json()["id"]
    return data


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll until `check()` is truthy (the worker runs right after the push commits)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the rescoping worker")
        time.sleep(0.1)


def get_pr(admin: httpx.Client, pr_id: int, repo: str = R) -> dict:
    r = admin.get(f"{repo}/pull-requests/{pr_id}")
    assert r.status_code == 200, r.text
    return r.json()


def activities(admin: httpx.Client, pr_id: int) -> list[dict]:
    r = admin.get(f"{R}/pull-requests/{pr_id}/activities", params={"limit": 100})
    assert r.status_code == 200, r.text
    return r.json()["values"]


def offset(server: LiveServer) -> int:
    from culm.domain.events.models import ConsumerOffset

    with server_db(server) as s:
        row = s.get(ConsumerOffset, "pull-requests")
        return row.last_event_id if row else 0


def test_push_to_source_rescopes(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    work, pr_id = world["work"], world["prs"]["feature/a"]
    git("checkout", "-q", "feature/a", cwd=work)
    first = commit_file(work, "a2.txt", "more\n")
    second = commit_file(work, "a3.txt", "even more\n")
    git("push", "-q", world["url"], "feature/a", cwd=work)
    pr = wait_for(lambda: (p := get_pr(admin, pr_id))["fromRef"]["latestCommit"] == second and p)
    assert pr["version"] == 1 and pr["state"] == "OPEN"
    assert pr["toRef"]["latestCommit"] == world["commits"]["main"]
    act = activities(admin, pr_id)[0]
    assert act["action"] == "RESCOPED" and act["user"]["name"] == ADMIN[0]
    assert act["fromHash"] == second and act["previousFromHash"] == world["commits"]["feature/a"]
    assert act["toHash"] == act["previousToHash"] == world["commits"]["main"]
    assert [c["id"] for c in act["added"]["commits"]] == [second, first] and act["added"]["total"] == 2
    assert act["added"]["commits"][0]["message"] == "change a3.txt" and act["removed"] == {"commits": [], "total": 0}
    updated = [e for e in pr_events(server, "pr:from_ref_updated") if e["pullRequest"]["id"] == pr_id]
    assert len(updated) == 1 and updated[0]["previousFromHash"] == world["commits"]["feature/a"]
    assert updated[0]["pullRequest"]["fromRef"]["latestCommit"] == second and updated[0]["actor"]["name"] == "admin"
    assert updated[0]["eventKey"] == "pr:from_ref_updated"
    # The consumer moved past the push's event.
    from culm.domain.events.models import Event

    with server_db(server) as s:
        from sqlalchemy import func, select

        last = s.scalar(select(func.max(Event.id)).where(Event.kind == "repo:refs_changed"))
    wait_for(lambda: offset(server) >= last)
    world["a_tips"] = (first, second)


def test_stale_version_after_rescope_is_refused(admin: httpx.Client, world: dict) -> None:
    pr_id = world["prs"]["feature/a"]
    r = admin.put(f"{R}/pull-requests/{pr_id}", json={"version": 0, "title": "stale"})
    assert r.status_code == 409 and r.json()["errors"][0]["exceptionName"].endswith("PullRequestOutOfDateException")


def test_force_push_removes_commits(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    work, pr_id = world["work"], world["prs"]["feature/a"]
    first, second = world["a_tips"]
    git("reset", "-q", "--hard", first, cwd=work)
    other = commit_file(work, "a4.txt", "instead\n")
    git("push", "-q", "--force", world["url"], "feature/a", cwd=work)
    pr = wait_for(lambda: (p := get_pr(admin, pr_id))["fromRef"]["latestCommit"] == other and p)
    assert pr["version"] == 2
    act = activities(admin, pr_id)[0]
    assert act["action"] == "RESCOPED" and act["previousFromHash"] == second
    assert [c["id"] for c in act["added"]["commits"]] == [other] and act["added"]["total"] == 1
    assert [c["id"] for c in act["removed"]["commits"]] == [second] and act["removed"]["total"] == 1
    git("checkout", "-q", "main", cwd=work)


def test_push_to_target_rescopes_without_source_event(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    work, pr_id = world["work"], world["prs"]["feature/t"]
    before = len(pr_events(server, "pr:from_ref_updated"))
    git("checkout", "-q", "main", cwd=work)
    tip = commit_file(work, "main2.txt", "main moves\n")
    git("push", "-q", world["url"], "main", cwd=work)
    pr = wait_for(lambda: (p := get_pr(admin, pr_id))["toRef"]["latestCommit"] == tip and p)
    assert pr["state"] == "OPEN" and pr["fromRef"]["latestCommit"] == world["commits"]["feature/t"]
    assert pr["version"] == 0  # only a moved source changes what was reviewed
    act = activities(admin, pr_id)[0]
    assert act["action"] == "RESCOPED" and act["previousToHash"] == world["commits"]["main"] and act["toHash"] == tip
    assert act["fromHash"] == act["previousFromHash"] and act["added"]["total"] == act["removed"]["total"] == 0
    # No source moved: no pr:from_ref_updated (and never pr:to_ref_updated).
    wait_for(lambda: get_pr(admin, world["prs"]["feature/m"])["toRef"]["latestCommit"] == tip)
    assert len(pr_events(server, "pr:from_ref_updated")) == before and not pr_events(server, "pr:to_ref_updated")
    world["main"] = tip


def test_deleting_the_source_declines(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    pr_id = world["prs"]["feature/del"]
    git("push", "-q", world["url"], ":feature/del", cwd=world["work"])
    pr = wait_for(lambda: (p := get_pr(admin, pr_id))["state"] == "DECLINED" and p)
    assert pr["closed"] and "closedDate" in pr
    act = activities(admin, pr_id)[0]
    assert act["action"] == "DECLINED" and act["user"]["name"] == "admin"
    declined = [e for e in pr_events(server, "pr:declined") if e["pullRequest"]["id"] == pr_id]
    assert len(declined) == 1 and declined[0]["pullRequest"]["state"] == "DECLINED"


def test_deleting_the_target_declines(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    work = world["work"]
    for name, start in (("base", "main"), ("on-base", "base")):
        git("checkout", "-q", "-b", name, start, cwd=work)
        commit_file(work, f"{name}.txt", name + "\n")
        git("push", "-q", world["url"], name, cwd=work)
    git("checkout", "-q", "main", cwd=work)
    r = admin.post(f"{R}/pull-requests", json={"title": "on base", "fromRef": {"id": "on-base"},
                                                "toRef": {"id": "base"}})
    assert r.status_code == 201, r.text
    pr_id = r.json()["id"]
    # A tag pushed meanwhile touches no pull request.
    git("push", "-q", world["url"], "on-base:refs/tags/v-on-base", cwd=work)
    git("push", "-q", world["url"], ":base", cwd=work)
    pr = wait_for(lambda: (p := get_pr(admin, pr_id))["state"] == "DECLINED" and p)
    assert pr["version"] == 1 and [a["action"] for a in activities(admin, pr_id)] == ["DECLINED", "OPENED"]


def test_server_ref_write_triggers_rescope(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    """A branch deleted through the REST API (domain/refs/service.apply) declines its pull request."""
    pr_id = world["prs"]["feature/rest"]
    r = admin.request("DELETE", f"/rest/branch-utils/latest/projects/{KEY}/repos/{SLUG}/branches",
                      json={"name": "refs/heads/feature/rest"})
    assert r.status_code == 204, r.text
    wait_for(lambda: get_pr(admin, pr_id)["state"] == "DECLINED", timeout=10)


def test_merging_by_push_marks_merged(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    work, pr_id = world["work"], world["prs"]["feature/m"]
    git("checkout", "-q", "main", cwd=work)
    git("fetch", "-q", world["url"], "main", cwd=work)
    git("reset", "-q", "--hard", "FETCH_HEAD", cwd=work)
    git("merge", "-q", "--no-ff", "-m", "merge m", "feature/m", cwd=work)
    merged_tip = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    git("push", "-q", world["url"], "main", cwd=work)
    pr = wait_for(lambda: (p := get_pr(admin, pr_id))["state"] == "MERGED" and p)
    assert pr["toRef"]["latestCommit"] == merged_tip and pr["closed"] and pr["version"] >= 1
    assert activities(admin, pr_id)[0]["action"] == "MERGED"
    merged = [e for e in pr_events(server, "pr:merged") if e["pullRequest"]["id"] == pr_id]
    assert len(merged) == 1 and merged[0]["actor"]["name"] == "admin"
    # Other open pull requests on main were only rescoped.
    assert get_pr(admin, world["prs"]["feature/t"])["state"] == "OPEN"


def test_fork_source_push_rescopes_pull_request_in_origin(server: LiveServer, admin: httpx.Client, world: dict,
                                                          tmp_path: Path) -> None:
    with validating_client(server, auth=("alice", USER_PASSWORD)) as alice:
        assert alice.post(R, json={}).status_code == 201
        url = cred_url(server, "/scm/~alice/app.git", "alice", USER_PASSWORD)
        git("clone", "-q", url, str(tmp_path / "f"))
        git("checkout", "-q", "-b", "fix", cwd=tmp_path / "f")
        commit_file(tmp_path / "f", "fix.txt", "fix\n")
        git("push", "-q", "origin", "fix", cwd=tmp_path / "f")
        r = alice.post(f"{R}/pull-requests", json={"title": "From fork", "fromRef": {
            "id": "fix", "repository": {"slug": "app", "project": {"key": "~alice"}}}, "toRef": {"id": "main"}})
        assert r.status_code == 201, r.text
        pr_id = r.json()["id"]
        tip = commit_file(tmp_path / "f", "fix2.txt", "fix 2\n")
        git("push", "-q", "origin", "fix", cwd=tmp_path / "f")
        wait_for(lambda: get_pr(admin, pr_id)["fromRef"]["latestCommit"] == tip)
        act = activities(admin, pr_id)[0]
        assert act["action"] == "RESCOPED" and [c["id"] for c in act["added"]["commits"]] == [tip]
        assert act["user"]["name"] == "alice"


def test_default_reviewers_join_new_pull_requests(server: LiveServer, admin: httpx.Client, world: dict) -> None:
    dr = f"/rest/default-reviewers/latest/projects/{KEY}/repos/{SLUG}"
    grant_repo(server, KEY, SLUG, "dora", "REPO_READ")
    work = world["work"]
    for name in ("feature/f", "other"):
        git("checkout", "-q", "-b", name, "main", cwd=work)
        commit_file(work, f"{name.replace('/', '_')}.txt", name + "\n")
        git("push", "-q", world["url"], name, cwd=work)
    r = admin.post(f"{dr}/condition", json={
        "sourceMatcher": {"id": "refs/heads/feature/f", "type": {"id": "BRANCH"}},
        "targetMatcher": {"id": "refs/heads/main", "type": {"id": "BRANCH"}},
        "reviewers": [{"name": "alice"}, {"name": "dora"}, {"name": "bob"}], "requiredApprovals": 0})
    assert r.status_code == 200, r.text
    # alice opens it: she is a default reviewer but the author, so she is left out; bob is named too.
    with validating_client(server, auth=("alice", USER_PASSWORD)) as alice:
        r = alice.post(f"{R}/pull-requests", json={"title": "F", "fromRef": {"id": "feature/f"},
                                                    "toRef": {"id": "main"}})
        assert r.status_code == 201, r.text
        pr = r.json()
        assert sorted(x["user"]["name"] for x in pr["reviewers"]) == ["bob", "dora"]
        assert pr["author"]["user"]["name"] == "alice"
        # Default reviewers watch it like named ones.
        assert alice.get(f"{R}/pull-requests/{pr['id']}").json()["reviewers"] == pr["reviewers"]
    # Another pair of refs matches no condition: only the named reviewers.
    r = admin.post(f"{R}/pull-requests", json={"title": "O", "fromRef": {"id": "other"}, "toRef": {"id": "main"}})
    assert r.status_code == 201 and r.json()["reviewers"] == []


# -- the consumer itself, against a server whose worker is off ---------------------------------------

@pytest.fixture(scope="module")
def quiet() -> Iterator[LiveServer]:
    with live_server({"CULM_RESCOPE_WORKER": "false"}) as s:
        yield s


@contextmanager
def consumer_env(server: LiveServer) -> Iterator[dict]:
    """This process pointed at the quiet server's home (repositories) and database."""
    from sqlalchemy.orm import Session

    from culm.api.bitbucket.rescope_view import BackgroundView
    from culm.core.db import make_engine

    with server_home(server):
        engine = make_engine(database_url(server))

        @contextmanager
        def scope() -> Iterator[Session]:
            session = Session(engine, expire_on_commit=False)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

        try:
            yield {"scope": scope, "view": lambda s: BackgroundView(s, server.url)}
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def quiet_world(quiet: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    with validating_client(quiet) as admin:
        work = tmp_path_factory.mktemp("q") / "work"
        data = push_repo(quiet, admin, work, KEY, SLUG, ["one", "two"])
        data["work"] = work
        data["prs"] = {}
        for name in ("one", "two"):
            r = admin.post(f"{R}/pull-requests", json={"title": name, "fromRef": {"id": name}, "toRef": {"id": "main"}})
            assert r.status_code == 201, r.text
            data["prs"][name] = r.json()["id"]
    return data


def rescoped(server: LiveServer) -> list[tuple[int, str]]:
    from sqlalchemy import select

    from culm.domain.pullrequests.models import Activity

    with server_db(server) as s:
        return [(a.pull_request_id, a.action) for a in s.scalars(
            select(Activity).where(Activity.action != "OPENED").order_by(Activity.id))]


def pending(server: LiveServer) -> list[int]:
    from sqlalchemy import select

    from culm.domain.events.models import Event

    with server_db(server) as s:
        return list(s.scalars(select(Event.id).where(Event.kind == "repo:refs_changed",
                                                     Event.id > offset(server)).order_by(Event.id)))


def test_worker_off_leaves_events_pending(quiet: LiveServer, quiet_world: dict) -> None:
    work = quiet_world["work"]
    git("checkout", "-q", "one", cwd=work)
    quiet_world["one_tip"] = commit_file(work, "one2.txt", "1\n")
    git("push", "-q", quiet_world["url"], "one", cwd=work)
    time.sleep(0.5)
    assert pending(quiet) and rescoped(quiet) == []


def test_concurrent_runs_handle_each_event_once(quiet: LiveServer, quiet_world: dict) -> None:
    from culm.domain.pullrequests import rescope

    waiting = pending(quiet)
    with consumer_env(quiet) as env:
        barrier = threading.Barrier(3)
        counts: list[int] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                barrier.wait()
                counts.append(rescope.run_once(env["scope"], env["view"]))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert sum(counts) == len(waiting)
        assert offset(quiet) == waiting[-1] and pending(quiet) == []
        assert rescoped(quiet) == [(_db_id(quiet, quiet_world["prs"]["one"]), "RESCOPED")]
        # Nothing left: a further run handles nothing and changes nothing.
        assert rescope.run_once(env["scope"], env["view"]) == 0
        assert len(rescoped(quiet)) == 1


def _db_id(server: LiveServer, local_id: int) -> int:
    from sqlalchemy import select

    from culm.domain.pullrequests.models import PullRequest

    with server_db(server) as s:
        return s.scalar(select(PullRequest.id).where(PullRequest.local_id == local_id))


def test_failure_mid_run_replays_cleanly(quiet: LiveServer, quiet_world: dict) -> None:
    from culm.domain.pullrequests import rescope

    work = quiet_world["work"]
    git("checkout", "-q", "two", cwd=work)
    tip = commit_file(work, "two2.txt", "2\n")
    git("push", "-q", quiet_world["url"], "two", cwd=work)
    waiting = pending(quiet)
    before = rescoped(quiet)
    assert waiting

    def fail(_session: object, _pr: object) -> None:
        raise RuntimeError("re-anchoring failed")

    with consumer_env(quiet) as env:
        rescope.AFTER_RESCOPE.append(fail)
        try:
            with pytest.raises(RuntimeError):
                rescope.run_once(env["scope"], env["view"])
        finally:
            rescope.AFTER_RESCOPE.remove(fail)
        # Rolled back whole: no activity, no event, the offset unmoved, the pull request as it was.
        assert rescoped(quiet) == before and pending(quiet) == waiting
        with validating_client(quiet) as admin:
            pr = get_pr(admin, quiet_world["prs"]["two"])
            assert pr["version"] == 0 and pr["fromRef"]["latestCommit"] == quiet_world["commits"]["two"]
        seen: list[int] = []
        rescope.AFTER_RESCOPE.append(lambda _s, p: seen.append(p.local_id))
        try:
            assert rescope.run_once(env["scope"], env["view"]) == len(waiting)
        finally:
            rescope.AFTER_RESCOPE.pop()
        assert seen == [quiet_world["prs"]["two"]]
    with validating_client(quiet) as admin:
        pr = get_pr(admin, quiet_world["prs"]["two"])
        assert pr["version"] == 1 and pr["fromRef"]["latestCommit"] == tip
    assert rescoped(quiet)[len(before):] == [(_db_id(quiet, quiet_world["prs"]["two"]), "RESCOPED")]
    assert [e["previousFromHash"] for e in pr_events(quiet, "pr:from_ref_updated")][-1] == quiet_world["commits"]["two"]


def test_polling_picks_up_events_nobody_woke_it_for(tmp_path: Path) -> None:
    """An event recorded by another node (nothing wakes this one) is handled at the next poll."""
    import culm.domain.models  # noqa: F401 - every table, for the event's foreign keys
    from culm.domain.events import service as events
    from culm.domain.pushes.service import RefUpdate, change_json

    with live_server({"CULM_RESCOPE_INTERVAL": "0.5"}) as node, validating_client(node) as admin:
        data = push_repo(node, admin, tmp_path / "w", KEY, SLUG, ["p"])
        r = admin.post(f"{R}/pull-requests", json={"title": "p", "fromRef": {"id": "p"}, "toRef": {"id": "main"}})
        assert r.status_code == 201, r.text
        work = tmp_path / "w"
        git("checkout", "-q", "p", cwd=work)
        tip = commit_file(work, "p2.txt", "p2\n")
        bare = node.home / "shared" / "data" / "repositories" / str(data["repo"]["id"])
        git("fetch", "-q", str(work), "p", cwd=bare)
        git("update-ref", "refs/heads/p", tip, data["commits"]["p"], cwd=bare)
        with server_db(node) as s:
            events.record(s, "repo:refs_changed", {"changes": [change_json(RefUpdate(
                "refs/heads/p", data["commits"]["p"], tip))]}, repository_id=data["repo"]["id"])
        pr = wait_for(lambda: (p := get_pr(admin, 1))["fromRef"]["latestCommit"] == tip and p, timeout=10)
        assert pr["version"] == 1


def test_two_nodes_on_one_database_rescope_each_push_once(tmp_path: Path) -> None:
    """A cluster: two server processes share the home and the database, both workers polling hard.
    Pushes through either node rescope every pull request exactly once per push."""
    fast = {"CULM_RESCOPE_INTERVAL": "0.1"}
    names = ["n1", "n2", "n3", "n4"]
    with live_server(fast) as first:
        second = LiveServer(first.home, first.database_url, fast)
        try:
            with validating_client(first) as admin:
                work = tmp_path / "w"
                push_repo(first, admin, work, KEY, SLUG, names)
                for name in names:
                    r = admin.post(f"{R}/pull-requests", json={"title": name, "fromRef": {"id": name},
                                                                "toRef": {"id": "main"}})
                    assert r.status_code == 201, r.text
                tips: dict[str, str] = {}
                for round_ in range(3):
                    for i, name in enumerate(names):
                        node = (first, second)[(i + round_) % 2]
                        git("checkout", "-q", name, cwd=work)
                        tips[name] = commit_file(work, f"{name}-{round_}.txt", f"{round_}\n")
                        git("push", "-q", cred_url(node, f"/scm/{KEY}/{SLUG}.git", *ADMIN), name, cwd=work)
                for i, name in enumerate(names, start=1):
                    wait_for(lambda i=i, name=name: get_pr(admin, i)["fromRef"]["latestCommit"] == tips[name])
                time.sleep(1)  # let both workers settle; nothing more may happen
                for i in range(1, len(names) + 1):
                    acts = [a["action"] for a in activities(admin, i)]
                    pr = get_pr(admin, i)
                    # Each push is handled once; pushes that land before a run merge into one rescope.
                    assert acts.count("RESCOPED") == pr["version"] and 1 <= pr["version"] <= 3, acts
                    events = [e for e in pr_events(first, "pr:from_ref_updated") if e["pullRequest"]["id"] == i]
                    assert len(events) == pr["version"]
                    assert [e["pullRequest"]["version"] for e in events] == list(range(1, pr["version"] + 1))
        finally:
            second.stop()
