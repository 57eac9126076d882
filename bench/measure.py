"""Measuring helpers: the median, and the peak resident memory of a server's process tree.

The RSS of a tree is the sum of the resident set of every process under the given roots (the server and
whatever it forks: git upload-pack, pack-objects, hooks). Shared pages are counted once per process, as
`ps` and `top` do, so this overstates a forking server somewhat; the same rule applies to both servers.
psutil is used when installed, otherwise /proc is read directly (Linux).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

try:  # optional: the benchmark runs on the standard library alone
    import psutil  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the machine
    psutil = None

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MIB = 1024 * 1024


def median(values: Sequence[float]) -> float:
    """The median (the mean of the middle two for an even count); ValueError when empty."""
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


def _proc_parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def _proc_rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_pids(roots: Iterable[int]) -> set[int]:
    """The roots that are alive and all their descendants."""
    roots = set(roots)
    if psutil is not None:
        out: set[int] = set()
        for pid in roots:
            try:
                p = psutil.Process(pid)
                out.add(pid)
                out.update(c.pid for c in p.children(recursive=True))
            except psutil.Error:
                continue
        return out
    parents = _proc_parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    out = set()
    stack = [pid for pid in roots if pid in parents]
    while stack:
        pid = stack.pop()
        if pid not in out:
            out.add(pid)
            stack.extend(children.get(pid, ()))
    return out


def tree_rss(roots: Iterable[int]) -> int:
    """Bytes resident over the process trees under `roots` right now."""
    total = 0
    for pid in tree_pids(roots):
        if psutil is not None:
            try:
                total += psutil.Process(pid).memory_info().rss
            except psutil.Error:
                continue
        else:
            total += _proc_rss(pid)
    return total


class PeakSampler:
    """Samples a measure in a background thread and keeps the peak; use as a context manager.

    `measure` is usually `lambda: tree_rss(server_pids)`; the interval is short enough (20 ms by
    default) to catch a pack-objects child that lives for a second.
    """

    def __init__(self, measure: Callable[[], int], interval: float = 0.02) -> None:
        self.measure = measure
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        self.peak = max(self.peak, self.measure())
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def timed(fn: Callable[[], object]) -> float:
    """Wall-clock seconds `fn` takes."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
