"""The CI queue benchmark: percentiles, the report, memory readings, and a tiny run against a real culm."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import ci_queue  # noqa: E402


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert ci_queue.pct(values, 50) == pytest.approx(50.5)
    assert ci_queue.pct(values, 95) == pytest.approx(95.05)
    assert ci_queue.pct([7.0], 95) == 7.0
    assert ci_queue.pct([], 50) is None


def test_memory_of_this_process() -> None:
    me = {os.getpid()}
    rss = ci_queue.vm_rss(me)
    assert ci_queue.vm_hwm(me) >= rss > 1024 * 1024  # the high-water mark, read after
    assert ci_queue.vm_hwm({2 ** 22 + 1}) == 0  # no such process: nothing, no error


def test_report_ratios_and_failures() -> None:
    culm = ci_queue.Figures("culm", "culm serve", trigger_ms=[10.0, 12.0], runs_ms=[50.0, 60.0],
                            reported_ms=[15.0, 20.0], done_ms=[100.0, 110.0], batch=4, batch_wall_s=[2.0, 1.0, 3.0],
                            batch_reported_s=[1.5], queueing_s=[0.5], idle_rss=100 * 2 ** 20, peak_rss=150 * 2 ** 20)
    bb = ci_queue.Figures("buildbot", "Buildbot", trigger_ms=[20.0], runs_ms=[250.0], reported_ms=[0.0, 1000.0],
                          done_ms=[400.0], batch=4, batch_wall_s=[8.0], batch_reported_s=[0.0], failed_builds=1)
    result = {"runs": {"builds": 2, "warmups": 0, "queue": 4, "rounds": 3, "slots": 2},
              "machine": {"cpus": 2, "python": "3.11", "load_before": [1.0], "load_after": [1.0]},
              "systems": {"culm": ci_queue.summary(culm), "buildbot": ci_queue.summary(bb)}}
    s = result["systems"]
    assert s["culm"]["batch_wall_s"] == 2.0 and s["culm"]["builds_per_min"] == 120.0  # median of the rounds
    assert s["buildbot"]["builds_per_min"] == 30.0
    assert s["buildbot"]["builds_per_min_reported"] is None  # whole seconds: a batch within one second
    text = ci_queue.report(result)
    rows = {line[:46].strip(): line[46:].split() for line in text.splitlines() if len(line) > 46}
    assert rows["trigger -> command runs, p50 (ms)"] == ["55.00", "250", "0.22"]
    assert rows["throughput (builds/min)"] == ["120", "30.00", "4.00"]
    assert rows["queued -> started as recorded, p95 (ms)*"][2] == "-"  # Buildbot's whole seconds: no ratio
    assert rows["peak RSS, VmHWM (MiB)"] == ["150", "-", "-"]
    assert "[1 builds not successful]" in text
    json.dumps(result)


def test_buildbot_programs_are_looked_for_where_told(tmp_path: Path) -> None:
    assert ci_queue.find_buildbot(tmp_path) is None
    for name in ("buildbot", "buildbot-worker"):
        (tmp_path / name).touch()
    assert ci_queue.find_buildbot(tmp_path) == tmp_path


def test_tiny_run_against_a_real_culm(capsys: pytest.CaptureFixture[str]) -> None:
    """Two latency builds and a batch of three on culm's local agents (on PostgreSQL when the tests run there)."""
    pg = os.environ.get("CULM_TEST_DATABASE", "")
    rc = ci_queue.main(["--only", "culm", "--builds", "2", "--queue", "3", "--rounds", "1", "--warmups", "0",
                        "--culm-src", str(ROOT / "src"), "--json", *(["--postgres", pg] if pg.startswith("postgres")
                                                                     else [])])
    out = json.loads(capsys.readouterr().out)
    culm = out["systems"]["culm"]
    assert rc == 0, culm["error"]
    assert culm["error"] is None and culm["failed_builds"] == 0
    assert len(culm["samples"]["runs_ms"]) == 2 and len(culm["samples"]["reported_ms"]) == 2
    assert culm["batch"] == 3 and culm["builds_per_min"] > 0
    assert culm["peak_rss_mib"] >= culm["idle_rss_mib"] > 0
    assert ("PostgreSQL" if pg.startswith("postgres") else "SQLite") in culm["kind"]


def test_bad_options_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        ci_queue.main(["--builds", "0"])
    with pytest.raises(SystemExit):
        ci_queue.main(["--culm-src", "/nonexistent"])
    assert "must be at least 1" in capsys.readouterr().err


@pytest.mark.skipif(ci_queue.find_buildbot(None) is None, reason="Buildbot is not installed (a benchmark peer only)")
def test_tiny_run_against_a_real_buildbot(capsys: pytest.CaptureFixture[str]) -> None:
    rc = ci_queue.main(["--only", "buildbot", "--builds", "2", "--queue", "3", "--rounds", "1", "--warmups", "0",
                        "--json"])
    bb = json.loads(capsys.readouterr().out)["systems"]["buildbot"]
    assert rc == 0, bb["error"]
    assert len(bb["samples"]["runs_ms"]) == 2 and bb["batch"] == 3 and bb["failed_builds"] == 0
    assert bb["peak_rss_mib"] > 0
