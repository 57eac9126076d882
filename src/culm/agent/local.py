"""Work a serving process does for builds: local agents (threads running the very loop of a remote agent against
the server's own loopback URL) and the reaper (requeues or fails jobs whose agent went silent, marks queued jobs
no agent can run)."""

from __future__ import annotations

import logging
import threading
import uuid as uuidlib

from culm.core.config import Settings

log = logging.getLogger("culm.agent")
LOCAL_CLAIM_WAIT = 1.0  # short polls: a shutting-down server must not wait for a long poll to end


class LocalAgents:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
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

            def loop(agent: Agent = agent) -> None:
                while not self.stop_event.is_set():
                    try:
                        agent.run()
                        return
                    except AgentRefused as exc:
                        log.error("culm local agent refused: %s", exc)
                    except Exception:
                        log.exception("culm local agent crashed; restarting it")
                    self.stop_event.wait(5)

            thread = threading.Thread(target=loop, name=f"culm-local-agent-{index + 1}", daemon=True)
            self.threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)


class Reaper:
    """Every few seconds: jobs of lost agents requeued or failed, blocked reasons refreshed (engine functions)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="culm-bamboo-reaper", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)

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

    def _loop(self) -> None:
        while not self.stop_event.wait(max(0.2, self.settings.reaper_interval)):
            try:
                self.run_once()
            except Exception:
                log.exception("bamboo reaper failed; retrying later")
