"""Background work of a serving process: one daemon thread per job that runs it every few seconds (and at once
when woken), and the hook that wakes such a thread when the transaction that made work for it commits.

Used by the pull request rescoping, the Bamboo triggers and scheduler, the Bamboo reaper and the local agents,
so that starting, waking, stopping and surviving a failing run are written once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)


class PeriodicWorker:
    """A daemon thread calling `run` every `interval` seconds until stopped; a run that raises is logged
    (`failure` is the message) and retried at the next round, so one bad event cannot kill the thread.

    The first run comes at once, or one `interval` after `start` when not `immediately`. With `wakeup`, the
    thread also runs whenever that event is set (see `wake_after_commit`). With `until_done`, the thread ends
    after a run that returned True (a worker that runs a loop of its own and is restarted when it fails).
    `stop` is the event that ends the thread; pass one to share it with the work itself."""

    def __init__(self, run: Callable[[], object], interval: float, *, name: str, failure: str,
                 wakeup: threading.Event | None = None, stop: threading.Event | None = None,
                 immediately: bool = True, until_done: bool = False, logger: logging.Logger | None = None) -> None:
        self._run = run
        self._interval = max(0.05, interval)  # never a busy loop, whatever is configured
        self._wakeup = wakeup
        self._stopping = stop if stop is not None else threading.Event()
        self._immediately = immediately
        self._until_done = until_done
        self._failure = failure
        self._log = logger or log
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._wakeup is not None:
            self._wakeup.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        if not self._immediately and self._stopping.wait(self._interval):
            return
        while not self._stopping.is_set():
            if self._wakeup is not None:
                self._wakeup.clear()
            try:
                if self._run() is True and self._until_done:
                    return
            except Exception:
                self._log.exception(self._failure)
            if self._wakeup is not None:
                self._wakeup.wait(self._interval)
            elif self._stopping.wait(self._interval):
                return


def wake_after_commit(session: Session, key: str, wake: Callable[[], None]) -> None:
    """Call `wake` once the session's transaction commits (cheap: nothing runs inline; `key` in `session.info`
    makes repeated calls in one transaction free). A rolled back transaction wakes nobody; a savepoint that
    is released or rolled back inside it changes nothing."""
    if session.info.get(key):
        return
    session.info[key] = True
    pending = [True]

    def _after_commit(s: Session) -> None:
        if pending and not s.in_nested_transaction():
            pending.clear()
            s.info.pop(key, None)
            wake()

    def _after_rollback(s: Session, previous: SessionTransaction) -> None:
        if pending and previous.parent is None:
            pending.clear()
            s.info.pop(key, None)

    sa_event.listen(session, "after_commit", _after_commit)
    sa_event.listen(session, "after_soft_rollback", _after_rollback)
