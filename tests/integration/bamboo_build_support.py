"""Test support for Bamboo builds: a fake agent in the test process that claims and finishes jobs through the
real engine (culm.domain.bamboo.queue) on the live server's own database and home folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support import LiveServer, server_db, server_home


def _agent(session: Any) -> Any:
    from sqlalchemy import select

    from culm.domain.bamboo.models import BambooAgent

    agent = session.scalar(select(BambooAgent).where(BambooAgent.uuid == "fake-test-agent"))
    if agent is None:
        agent = BambooAgent(uuid="fake-test-agent", name="fake", type="REMOTE", enabled=True, capabilities={})
        session.add(agent)
        session.flush()
    return agent


def run_jobs(server: LiveServer, outcomes: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Claim every queued job and finish it: `outcomes[job_key]` may give successful (default True), log (text),
    tests (engine dicts), artifacts ({name: {relative path: bytes}}), shared (default True). Returns the job
    result keys run, in order."""
    import culm.domain.models  # noqa: F401  (every table known)
    from culm.domain.bamboo import queue, storage

    outcomes = outcomes or {}
    done: list[str] = []
    with server_home(server), server_db(server) as session:
        agent = _agent(session)
        while True:
            claimed = queue.claim(session, agent)
            if claimed is None:
                break
            spec = outcomes.get(claimed.job_key, {})
            log = spec.get("log", f"running {claimed.job_result_key}\nok\n")
            path = storage.log_path(claimed.job_result_key)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(log)
            queue.heartbeat(session, claimed.job_result_id, claimed.claim_token, len(log.encode()))
            arts = []
            for name, files in spec.get("artifacts", {}).items():
                row = queue.add_artifact(session, claimed.job_result_id, claimed.claim_token, name,
                                         spec.get("shared", True))
                root = storage.artifact_dir(row)
                for rel, data in files.items():
                    target = Path(root, rel)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                arts.append({"name": name, "shared": spec.get("shared", True), "artifact_id": row.id,
                             "size": sum(len(d) for d in files.values()), "fileCount": len(files)})
            queue.finish(session, claimed.job_result_id, claimed.claim_token,
                         successful=spec.get("successful", True), failure_reason=spec.get("failure"),
                         tests=spec.get("tests", []), artifacts=arts, result_variables={})
            session.commit()
            done.append(claimed.job_result_key)
    return done


def link_plan(server: LiveServer, project_key: str, plan_key: str, repo_project: str, slug: str) -> None:
    """Link a plan to a forge repository (what the specs scanner does), straight in the database."""
    import culm.domain.models  # noqa: F401
    from culm.domain.bamboo import service
    from culm.domain.repos import service as repos

    with server_db(server) as session:
        _, repo = repos.require(session, repo_project, slug)  # type: ignore[arg-type]
        _, plan = service.plan(session, f"{project_key}-{plan_key}")  # type: ignore[arg-type]
        plan.repository_id = repo.id


def claim_one(server: LiveServer) -> tuple[int, str, str] | None:
    """Claim one queued job and leave it running: (job result id, claim token, job result key)."""
    import culm.domain.models  # noqa: F401
    from culm.domain.bamboo import queue

    with server_home(server), server_db(server) as session:
        claimed = queue.claim(session, _agent(session))
        if claimed is None:
            return None
        return claimed.job_result_id, claimed.claim_token, claimed.job_result_key


def heartbeat(server: LiveServer, job_id: int, token: str) -> bool:
    """The engine's answer to a running job's heartbeat: True when the job must cancel."""
    from culm.domain.bamboo import queue

    with server_home(server), server_db(server) as session:
        return queue.heartbeat(session, job_id, token, 0)


def finish(server: LiveServer, job_id: int, token: str, successful: bool) -> None:
    from culm.domain.bamboo import queue

    with server_home(server), server_db(server) as session:
        queue.finish(session, job_id, token, successful=successful, failure_reason=None, tests=[], artifacts=[],
                     result_variables={})
