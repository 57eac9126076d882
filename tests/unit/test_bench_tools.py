"""The benchmark's own tools: the repository generator, the median, the RSS sampler, the CGI body reader."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import cgi_peer  # noqa: E402
import gen_repo  # noqa: E402
import measure  # noqa: E402

TINY = gen_repo.Spec(commits=25, files=30, text_median=400, binary_median=2_000, binary_rate=0.3, seed=7)


def test_generator_makes_a_valid_repository_with_the_requested_commits(tmp_path: Path) -> None:
    repo = gen_repo.build(TINY, tmp_path / "tiny.git")
    st = gen_repo.stats(repo)
    assert st.commits == 25
    assert st.refs == 1  # main only: tags start at commit 100
    assert st.objects > 25 and st.pack_bytes > 0
    fsck = subprocess.run(["git", "fsck", "--strict", "--no-progress"], cwd=repo, capture_output=True, text=True,
                          env=gen_repo.git_env())
    assert fsck.returncode == 0, fsck.stderr
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", "main"], cwd=repo, capture_output=True,
                           text=True, check=True).stdout.split()
    assert len(files) >= 20
    # No half-built repository is left beside the result.
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.git"]


def test_generator_is_deterministic_and_tags_releases(tmp_path: Path) -> None:
    spec = gen_repo.Spec(commits=201, files=10, text_median=150, binary_median=500, seed=3)
    a = gen_repo.build(spec, tmp_path / "a.git", repack=False)
    b = gen_repo.build(spec, tmp_path / "b.git", repack=False)

    def refs(repo: Path) -> str:
        return subprocess.run(["git", "show-ref"], cwd=repo, capture_output=True, text=True, check=True).stdout

    assert refs(a) == refs(b)
    assert "refs/tags/v1.0" in refs(a) and "refs/tags/v2.0" in refs(a)
    assert gen_repo.stats(a).commits == 201


def test_ensure_caches_by_spec(tmp_path: Path) -> None:
    first = gen_repo.ensure(TINY, tmp_path)
    mtime = first.stat().st_mtime_ns
    assert gen_repo.ensure(TINY, tmp_path) == first
    assert first.stat().st_mtime_ns == mtime
    assert TINY.key != gen_repo.Spec(**{**TINY.__dict__, "commits": 26}).key


def test_median() -> None:
    assert measure.median([3.0, 1.0, 2.0]) == 2.0
    assert measure.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert measure.median([7]) == 7.0
    with pytest.raises(ValueError):
        measure.median([])


def test_tree_rss_sums_the_process_tree() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(40 << 20); time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and child.pid not in measure.tree_pids([os.getpid()]):
            time.sleep(0.05)
        assert child.pid in measure.tree_pids([os.getpid()])
        assert os.getpid() in measure.tree_pids([os.getpid()])
        while time.monotonic() < deadline and measure.tree_rss([child.pid]) < 40 << 20:
            time.sleep(0.05)
        own = measure.tree_rss([child.pid])
        assert own >= 40 << 20
        assert measure.tree_rss([os.getpid()]) > own
    finally:
        child.kill()
        child.wait()
    assert measure.tree_pids([child.pid]) == set()
    assert measure.tree_rss([child.pid]) == 0


def test_peak_sampler_keeps_the_peak() -> None:
    values = iter([5, 9, 2] + [1] * 10_000)
    with measure.PeakSampler(lambda: next(values), interval=0.001) as sampler:
        time.sleep(0.05)
    assert sampler.peak == 9
    assert sampler.samples >= 3


def test_cgi_peer_reads_chunked_and_sized_bodies() -> None:
    class Sink(io.BytesIO):
        def close(self) -> None:  # keep the value readable after the reader closes the CGI's stdin
            self.closed_by_reader = True

    chunked = io.BytesIO(b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: y\r\n\r\nNEXT")
    out = Sink()
    cgi_peer._copy_body(chunked, out, None)
    assert out.getvalue() == b"hello, world" and out.closed_by_reader
    assert chunked.read() == b"NEXT"  # stops at the end of the body, not of the connection
    sized = Sink()
    cgi_peer._copy_body(io.BytesIO(b"abcdefgh"), sized, 5)
    assert sized.getvalue() == b"abcde"


def test_figures_summary_and_table() -> None:
    import clone_push

    culm = clone_push.Figures("culm", "culm serve", idle_rss=80 * measure.MIB, push_walls=[4.0],
                              push_peaks=[100 * measure.MIB], clone_walls=[3.0, 1.0, 2.0],
                              clone_peaks=[90 * measure.MIB, 120 * measure.MIB], ls_remote_walls=[0.5])
    s = culm.summary()
    assert s["clone_wall_s"] == 2.0 and s["clone_peak_rss_mib"] == 120.0 and s["push_wall_s"] == 4.0
    assert s["clone_peak_above_idle_mib"] == 40.0 and s["idle_rss_mib"] == 80.0
    failed = clone_push.Figures("peer", "nginx", idle_rss=10 * measure.MIB, error="push: refused").summary()
    assert failed["push_wall_s"] is None and failed["clone_wall_s"] is None
    result = {"repository": {"commits": 5, "refs": 1, "objects": 20, "pack_mib": 0.1},
              "runs": {"clone": 3, "push": 1},
              "servers": {"culm": {**s, "kind": "culm serve", "error": None},
                          "peer": {**failed, "kind": "nginx", "error": "push: refused"}},
              "ratios": {"idle_rss_mib": 8.0}}
    text = clone_push.table(result)
    assert "FAILED push: refused" in text
    assert any(line.startswith("idle RSS") and line.split()[-1] == "8.00" for line in text.splitlines())
    assert any(line.startswith("clone wall") and line.split()[-2:] == ["-", "-"] for line in text.splitlines())
