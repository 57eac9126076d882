"""Work a serving process does for builds: local agents (threads running the very loop of a remote agent against
the server's own loopback URL) and the reaper (requeues or fails jobs whose agent went silent, marks queued jobs
no agent can run)."""

from __future__ import annotations

import logging
import threading
import uuid as uuidlib

from culm.core.config import Settings
from culm.core.worker import PeriodicWorker

log = logging.getLogger("culm.agent")
LOCAL_CLAIM_WAIT = 1.0  # short polls: a shutting-down server must not wait for a long poll to end


class LocalAgents:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.workers: list[PeriodicWorker] = []
        self.agents: list[object] = []

    def start(self) -> None:
        from culm.agent import token
        from culm.agent.client import AgentRefused
        from culm.agent.executor import Agent
        # The loopback address of this very process (as push hooks use), not a public base URL behind a proxy.
        server = self.settings.effective_hook_url()
        secret = token.ensure()
        base = self.settings.home / "agents"
        for index in range(self.settings.local_agents):
            # Stable per home and port, so a restarted server keeps its agents' identities (and rows).
            ident = str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"culm-local-agent:{self.settings.home}:"
                                                             f"{self.settings.port}:{index}"))
            agent = Agent(server, secret, base / ident, name=f"Local agent {index + 1}", agent_type="LOCAL",
                          stop=self.stop_event, claim_wait=LOCAL_CLAIM_WAIT, uuid=ident)
            self.agents.append(agent)

            def run(agent: Agent = agent) -> bool:
                try:
                    agent.run()
                    return True
                except AgentRefused as exc:
                    log.error("culm local agent refused: %s", exc)
                    return False

            worker = PeriodicWorker(run, 5, name=f"culm-local-agent-{index + 1}", stop=self.stop_event,
                                    until_done=True, logger=log, failure="culm local agent crashed; restarting it")
            self.workers.append(worker)
            worker.start()

    def stop(self, timeout: float = 15.0) -> None:
        self.stop_event.set()
        for worker in self.workers:
            worker.stop(timeout)


class Reaper(PeriodicWorker):
    """Every few seconds: jobs of lost agents requeued or failed, blocked reasons refreshed (engine functions)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__(self.run_once, max(0.2, settings.reaper_interval), name="culm-bamboo-reaper",
                         immediately=False, logger=log, failure="bamboo reaper failed; retrying later")

    def run_once(self) -> None:
        from culm.core.db import session_scope
        from culm.domain.base import now_ms

        try:
            from culm.domain.bamboo import builds
        except ImportError:
            return
        reap = getattr(builds, "reap", None)
        refresh = getattr(builds, "refresh_blocked", None)
        if reap is not None:
            with session_scope() as session:
                reap(session, now_ms(), int(self.settings.agent_lost_seconds * 1000))
        if refresh is not None:
            with session_scope() as session:
                refresh(session)
