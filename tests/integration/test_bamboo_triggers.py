"""Bamboo triggers driven by real `git push`: specs in a repository's default branch are imported and linked,
pushes queue builds of the pushed tip, new branches get plan branches and deleted ones lose them, invalid or
foreign specs change nothing (the error is kept), and the remote trigger builds only what changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bamboo_support import plan_results, server_fixture, wait_for
from bamboo_support import plan_row as bamboo_plan_row
from support import ADMIN, LiveServer, commit_file, cred_url, git, pushed_repo, server_db

B = "/bamboo/rest/api/latest"
J = {"Accept": "application/json"}

SPECS = """\
version: 2
plan:
  project-key: TRIG
  key: {key}
  name: {name}
stages:
  - Build:
    - Compile
Compile:
  tasks:
    - checkout
    - script:
        - echo building
branches:
  create: {create}
  delete:
    after-deleted-days: 0
{extra}"""


def specs(key: str, name: str = "Triggered", create: str = "for-new-branch", extra: str = "") -> str:
    return SPECS.format(key=key, name=name, create=create, extra=extra)


server = server_fixture({"CULM_LOCAL_AGENTS": "0"})


def push(server: LiveServer, work: Path, key: str, slug: str, *refspecs: str) -> None:
    git("push", "-q", cred_url(server, f"/scm/{key}/{slug}.git", *ADMIN), *refspecs, cwd=work)


def plan_row(server: LiveServer, key: str) -> Any:
    return bamboo_plan_row(server, "TRIG", key)


def results(server: LiveServer, plan_key: str) -> list[Any]:
    return plan_results(server, "TRIG", plan_key)


def branch_keys(server: LiveServer, master_id: int) -> list[str]:
    from culm.domain.bamboo.models import BambooPlan

    with server_db(server) as session:
        return list(session.scalars(select(BambooPlan.key).where(BambooPlan.master_id == master_id)))


def specs_error(server: LiveServer, repo_id: int) -> tuple[str, str | None] | None:
    from culm.domain.bamboo.trigger_models import BambooRepoSpecs

    with server_db(server) as session:
        row = session.get(BambooRepoSpecs, repo_id)
        return (row.revision, row.error) if row else None


def _build_files(server: LiveServer, result_id: int, plan_key: str) -> tuple[Path, Path]:
    """A log file and an artifact folder for a build's first job, where the agents would write them."""
    from culm.domain.bamboo.models import BambooArtifact, BambooJobResult, BambooResult

    with server_db(server) as session:
        job = session.scalar(select(BambooJobResult).where(BambooJobResult.result_id == result_id))
        number = session.get(BambooResult, result_id).number
        artifact = BambooArtifact(job_result_id=job.id, name="wings", shared=True, path="", size=1, file_count=1)
        session.add(artifact)
        session.flush()
        artifact.path = str(artifact.id)
        job_key = f"{plan_key}-{job.job_key}"
    log_file = server.home / "bamboo" / "logs" / job_key / f"{job_key}-{number}.log"
    artifact_dir = server.home / "bamboo" / "artifacts" / str(artifact.id)
    for path in (log_file.parent, artifact_dir):
        path.mkdir(parents=True)
    log_file.write_text("log\n")
    (artifact_dir / "wings.txt").write_text("wings\n")
    return log_file, artifact_dir


def repo_id(admin: httpx.Client, key: str, slug: str) -> int:
    return admin.get(f"/rest/api/latest/projects/{key}/repos/{slug}").json()["id"]


@pytest.fixture(scope="module")
def linked(server: LiveServer, admin: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Repository PUSHY with specs for TRIG-PUSH on main, pushed once."""
    work = tmp_path_factory.mktemp("pushy")
    commits = pushed_repo(server, admin, "TRG", "pushy", work,
                          [("README.md", "hello\n"), ("bamboo-specs/bamboo.yml", specs("PUSH"))])
    return {"work": work, "tip": commits[-1], "repo_id": repo_id(admin, "TRG", "pushy")}


def test_specs_on_default_branch_are_imported_linked_and_built(server: LiveServer, admin: httpx.Client,
                                                               linked: dict[str, Any]) -> None:
    built = wait_for(lambda: results(server, "PUSH"), "the first build of TRIG-PUSH")
    assert len(built) == 1
    first = built[0]
    assert first.life_cycle == "Queued" and first.reason == "CodeChanged"
    assert first.revision == linked["tip"] and first.branch == "main"
    assert first.repository_id == linked["repo_id"]
    assert plan_row(server, "PUSH").repository_id == linked["repo_id"]
    plan = admin.get(B + "/plan/TRIG-PUSH", headers=J).json()
    assert plan["name"].endswith("Triggered") and plan["type"] == "chain"
    assert specs_error(server, linked["repo_id"]) == (linked["tip"], None)


def test_push_to_default_branch_builds_the_new_tip(server: LiveServer, linked: dict[str, Any]) -> None:
    wait_for(lambda: results(server, "PUSH"), "the first build")
    tip = commit_file(linked["work"], "src/a.txt", "a\n")
    push(server, linked["work"], "TRG", "pushy", "main")
    built = wait_for(lambda: [r for r in results(server, "PUSH") if r.revision == tip], "a build of the new tip")
    assert built[0].reason == "CodeChanged" and built[0].branch == "main" and built[0].life_cycle == "Queued"
    assert [r.revision for r in results(server, "PUSH")][-1] == tip


def test_new_branch_gets_a_plan_branch_and_deleting_it_removes_it(server: LiveServer,
                                                                  linked: dict[str, Any]) -> None:
    from culm.domain.bamboo.models import BambooPlan

    work = linked["work"]
    wait_for(lambda: results(server, "PUSH"), "the first build")
    git("checkout", "-q", "-b", "feature/wings", cwd=work)
    tip = commit_file(work, "wings.txt", "wings\n")
    try:
        push(server, work, "TRG", "pushy", "feature/wings")
    finally:
        git("checkout", "-q", "main", cwd=work)
    master = plan_row(server, "PUSH")

    def branch_plan() -> Any:
        with server_db(server) as session:
            return session.scalar(select(BambooPlan).where(BambooPlan.master_id == master.id,
                                                           BambooPlan.branch_name == "feature/wings"))

    branch = wait_for(branch_plan, "the plan branch")
    assert branch.key.startswith("PUSH") and branch.key != "PUSH" and branch.repository_id == linked["repo_id"]
    assert branch.project_id == master.project_id and branch.spec["stages"] == master.spec["stages"]
    built = wait_for(lambda: results(server, branch.key), "a build of the plan branch")
    assert built[0].revision == tip and built[0].branch == "feature/wings" and built[0].number == 1
    assert built[0].life_cycle == "Queued" and built[0].reason == "CodeChanged"
    master_builds = len(results(server, "PUSH"))
    log_file, artifact_dir = _build_files(server, built[0].id, f"TRIG-{branch.key}")
    push(server, work, "TRG", "pushy", ":feature/wings")
    wait_for(lambda: branch_plan() is None, "the plan branch to go")
    assert results(server, branch.key) == []
    assert not log_file.parent.exists() and not artifact_dir.exists()
    assert len(results(server, "PUSH")) == master_builds


def test_invalid_specs_change_nothing_and_keep_the_error(server: LiveServer, linked: dict[str, Any]) -> None:
    work = linked["work"]
    wait_for(lambda: results(server, "PUSH"), "the first build")
    before = plan_row(server, "PUSH")
    bad = specs("PUSH", name="Renamed").replace("    - checkout\n", "    - checkout\n    - teleport\n")
    bad_tip = commit_file(work, "bamboo-specs/bamboo.yml", bad)
    push(server, work, "TRG", "pushy", "main")
    recorded = wait_for(lambda: (e := specs_error(server, linked["repo_id"])) and e[0] == bad_tip and e,
                        "the specs error")
    assert recorded[1] is not None and "line 12: unknown task 'teleport'" in recorded[1]
    after = plan_row(server, "PUSH")
    assert after.name == before.name == "Triggered" and after.spec == before.spec
    good_tip = commit_file(work, "bamboo-specs/bamboo.yml", specs("PUSH", name="Renamed"))
    push(server, work, "TRG", "pushy", "main")
    wait_for(lambda: specs_error(server, linked["repo_id"]) == (good_tip, None), "the fixed specs")
    assert plan_row(server, "PUSH").name == "Renamed"


def test_unchanged_specs_are_not_reimported_and_disabled_plans_do_not_build(
        server: LiveServer, admin: httpx.Client, linked: dict[str, Any]) -> None:
    work = linked["work"]
    wait_for(lambda: results(server, "PUSH"), "the first build")
    assert admin.delete(B + "/plan/TRIG-PUSH/enable").status_code == 204
    tip = commit_file(work, "README.md", "changed\n")
    push(server, work, "TRG", "pushy", "main")
    wait_for(lambda: (e := specs_error(server, linked["repo_id"])) and e[0] == tip, "the push to be scanned")
    assert plan_row(server, "PUSH").enabled is False  # the specs say enabled, but they did not change
    assert tip not in [r.revision for r in results(server, "PUSH")]
    assert admin.post(B + "/plan/TRIG-PUSH/enable").status_code == 204


def test_specs_of_a_plan_linked_elsewhere_are_not_taken_over(server: LiveServer, admin: httpx.Client,
                                                             linked: dict[str, Any],
                                                             tmp_path: Path) -> None:
    wait_for(lambda: results(server, "PUSH"), "the first build")
    before = plan_row(server, "PUSH")
    pushed_repo(server, admin, "TRG", "thief", tmp_path / "thief",
                [("bamboo-specs/bamboo.yaml", specs("PUSH", name="Stolen"))])
    thief = repo_id(admin, "TRG", "thief")
    error = wait_for(lambda: (e := specs_error(server, thief)) and e[1], "the takeover refusal")
    assert "TRIG-PUSH is linked to another repository" in error
    after = plan_row(server, "PUSH")
    assert after.repository_id == linked["repo_id"] and after.name == before.name != "Stolen"


def test_cron_only_plan_does_not_build_on_push_but_the_remote_trigger_builds_changes(
        server: LiveServer, admin: httpx.Client, tmp_path: Path) -> None:
    work = tmp_path / "remote"
    commits = pushed_repo(server, admin, "TRG", "remote", work,
                          [("bamboo-specs/bamboo.yml", specs("REMOTE", extra="triggers: []\n"))])
    rid = repo_id(admin, "TRG", "remote")
    wait_for(lambda: specs_error(server, rid), "the specs import")
    assert plan_row(server, "REMOTE").repository_id == rid
    assert results(server, "REMOTE") == []  # `triggers: []`: pushes do not build
    url = "/bamboo/rest/triggers/latest/remote/changeDetection"
    r = admin.post(url, params={"planKey": "TRIG-REMOTE"})
    assert r.status_code == 204, r.text
    built = results(server, "REMOTE")
    assert [(b.revision, b.reason, b.branch, b.life_cycle) for b in built] == [
        (commits[-1], "CodeChanged", "main", "Queued")]
    assert admin.post(url.replace("latest", "1.0"), params={"planKey": "TRIG-REMOTE"}).status_code == 204
    assert len(results(server, "REMOTE")) == 1  # nothing changed since the last build
    tip = commit_file(work, "more.txt", "more\n")
    push(server, work, "TRG", "remote", "main")
    r = admin.get("/bamboo/updateAndBuild.action", params={"buildKey": "TRIG-REMOTE"})
    assert r.status_code == 200 and b"TRIG-REMOTE-2" in r.content
    assert [b.revision for b in results(server, "REMOTE")] == [commits[-1], tip]
    r = admin.post("/bamboo/updateAndBuild.action", params={"buildKey": "TRIG-REMOTE"})
    assert r.status_code == 200 and len(results(server, "REMOTE")) == 2
    # A new branch gets its plan branch (the spec creates them) but no build until detection runs for it.
    git("checkout", "-q", "-b", "side", cwd=work)
    side = commit_file(work, "side.txt", "side\n")
    try:
        push(server, work, "TRG", "remote", "side")
    finally:
        git("checkout", "-q", "main", cwd=work)
    master = plan_row(server, "REMOTE")
    branch_key = wait_for(lambda: branch_keys(server, master.id), "the plan branch")[0]
    assert results(server, branch_key) == []
    assert admin.post(url, params={"planKey": "TRIG-REMOTE", "skipBranches": "true"}).status_code == 204
    assert results(server, branch_key) == [] and len(results(server, "REMOTE")) == 2
    assert admin.post(url, params={"planKey": f"TRIG-{branch_key}"}).status_code == 204
    assert [(b.revision, b.branch) for b in results(server, branch_key)] == [(side, "side")]
    assert len(results(server, "REMOTE")) == 2
    # Disabled plans are not built.
    assert admin.delete(B + "/plan/TRIG-REMOTE/enable").status_code == 204
    r = admin.post(url, params={"planKey": "TRIG-REMOTE"})
    assert r.status_code == 403 and r.json()["errors"] == ["Building has been disabled."]


def test_remote_trigger_bad_requests(server: LiveServer, admin: httpx.Client) -> None:
    url = "/bamboo/rest/triggers/latest/remote/changeDetection"
    r = admin.post(url, params={"planKey": "TRIG-NOPE"})
    assert r.status_code == 404 and r.json() == {"errors": ["Plan TRIG-NOPE not found"], "fieldErrors": {}}
    for bad in ("trig-push", "TRIG", "TRIG-PUSH-1", "-x"):
        r = admin.post(url, params={"planKey": bad})
        assert r.status_code == 400 and r.json()["errors"] == [f"Invalid plan key '{bad}'."], bad
    r = admin.post(url)
    assert r.status_code == 400 and r.json()["errors"] == ["Plan key not specified."]
    r = admin.get("/bamboo/updateAndBuild.action", params={"buildKey": "NOPE-NOPE"})
    assert r.status_code == 404 and r.json()["errors"] == ["Plan NOPE-NOPE not found"]
    with httpx.Client(base_url=server.url) as anonymous:
        r = anonymous.post(url, params={"planKey": "TRIG-PUSH"})
        assert r.status_code == 401 and r.json()["errors"]
        assert anonymous.get("/bamboo/updateAndBuild.action", params={"buildKey": "TRIG-PUSH"}).status_code == 401
    with httpx.Client(base_url=server.url, auth=("admin", "wrong-password")) as wrong:
        assert wrong.post(url, params={"planKey": "TRIG-PUSH"}).status_code == 401


def test_plan_branches_for_pull_requests_only(server: LiveServer, admin: httpx.Client, tmp_path: Path) -> None:
    from culm.domain.bamboo.models import BambooPlan

    work = tmp_path / "prs"
    pushed_repo(server, admin, "TRG", "prs", work,
                [("bamboo-specs/bamboo.yml", specs("PRS", create="for-pull-request"))])
    wait_for(lambda: results(server, "PRS"), "the first build of TRIG-PRS")
    master = plan_row(server, "PRS")
    git("checkout", "-q", "-b", "topic", cwd=work)
    tip = commit_file(work, "topic.txt", "topic\n")
    plain_tip = None
    try:
        push(server, work, "TRG", "prs", "topic")
        git("checkout", "-q", "-b", "plain", "main", cwd=work)
        plain_tip = commit_file(work, "plain.txt", "plain\n")
        push(server, work, "TRG", "prs", "plain")
    finally:
        git("checkout", "-q", "main", cwd=work)
    assert plain_tip is not None

    def branch_plans() -> list[tuple[str | None, str]]:
        with server_db(server) as session:
            rows = session.scalars(select(BambooPlan).where(BambooPlan.master_id == master.id))
            return [(p.branch_name, p.key) for p in rows]

    # Both pushes handled (the consumer's offset passed them), neither created a plan branch.
    from culm.domain.events.models import ConsumerOffset, Event

    def handled() -> bool:
        with server_db(server) as session:
            last = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
            return session.get(ConsumerOffset, "bamboo").last_event_id >= last

    wait_for(handled, "the pushes to be handled")
    assert branch_plans() == []
    r = admin.post("/rest/api/latest/projects/TRG/repos/prs/pull-requests", json={
        "title": "Topic", "fromRef": {"id": "refs/heads/topic"}, "toRef": {"id": "refs/heads/main"}})
    assert r.status_code == 201, r.text
    (name, key), = wait_for(branch_plans, "the pull request's plan branch")
    assert name == "topic"
    built = wait_for(lambda: results(server, key), "a build of the pull request's branch")
    assert [(b.revision, b.branch) for b in built] == [(tip, "topic")]
