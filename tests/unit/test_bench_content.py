"""The content benchmark's tools: the generator of long-history repositories, the git reads, the report."""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import content  # noqa: E402
import gen_content_repo as gen  # noqa: E402
from gen_repo import git_env  # noqa: E402

TINY = gen.Spec(commits=60, files=400, branches=120, big_diff_files=30, big_diff_lines=25, files_per_dir=20, seed=5)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True,
                          env=git_env()).stdout


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gen.ensure(TINY, tmp_path_factory.mktemp("cache"))


def test_counts_of_commits_files_and_branches(tiny: Path) -> None:
    c = gen.counts(tiny)
    assert (c.commits, c.files, c.branches) == (60, 400, 120)
    assert 4 <= c.root_entries <= 40  # a few folders and the usual root files
    assert git(tiny, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert int(git(tiny, "rev-list", "--count", "--all")) == 60  # branches point into main's history
    fsck = subprocess.run(["git", "fsck", "--strict", "--no-progress"], cwd=tiny, capture_output=True, text=True,
                          env=git_env())
    assert fsck.returncode == 0, fsck.stderr
    assert list(tiny.parent.iterdir()) == [tiny]  # nothing half-built left beside it


def test_branches_are_named_like_real_ones_and_spread_through_history(tiny: Path) -> None:
    refs = git(tiny, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/").splitlines()
    names = [r.split()[0] for r in refs]
    assert len(set(names)) == 120
    for prefix in ("feature/", "bugfix/", "hotfix/", "release/", "users/"):
        assert any(n.startswith(prefix) for n in names), prefix
    releases = [n for n in names if "release" in n]
    assert releases and all(n.startswith("release/") for n in releases)
    tips = {r.split()[1] for r in refs}
    assert len(tips) > 30  # not all on a few commits
    order = git(tiny, "rev-list", "main").split()
    positions = sorted(order.index(t) for t in tips)
    assert positions[0] < 10 and positions[-1] > 50


def test_large_diff_commit_is_recorded_and_exact(tiny: Path) -> None:
    meta = gen.meta(tiny)
    assert meta["commits"] == 60 and meta["big_diff_files"] == 30
    assert git(tiny, "rev-parse", f"{meta['big_diff_commit']}^").strip() == meta["big_diff_parent"]
    assert git(tiny, "log", "-1", "--format=%s", meta["big_diff_commit"]).strip() == "Reformat the code base"
    stat = git(tiny, "diff", "--shortstat", meta["big_diff_parent"], meta["big_diff_commit"]).strip()
    assert stat == "30 files changed, 750 insertions(+), 750 deletions(-)"
    folders = {p.rsplit("/", 1)[0] for p in git(tiny, "diff", "--name-only", meta["big_diff_parent"],
                                                  meta["big_diff_commit"]).split()}
    assert len(folders) > 5  # spread over the tree


def test_only_history_length_differs_and_generation_is_deterministic(tmp_path: Path, tiny: Path) -> None:
    short = gen.build(replace(TINY, commits=20), tmp_path / "short.git", repack=False)
    c = gen.counts(short)
    assert (c.commits, c.files, c.branches) == (20, 400, 120)
    assert gen.counts(tiny).root_entries == c.root_entries
    again = gen.build(TINY, tmp_path / "again.git", repack=False)
    assert git(again, "show-ref") == git(tiny, "show-ref")
    assert TINY.key.startswith("content-60-") and TINY.key != replace(TINY, branches=121).key


def test_git_reads_on_the_tiny_repository(tiny: Path) -> None:
    ops = {"big": content.operations(gen.meta(tiny))}
    out = content.measure(ops, {"big": tiny}, None, {"big": ""}, runs=2, warmup=1)["big"]
    items = {key: sides["git"].items for key, sides in out.items()}
    assert all(len(sides["git"].times) == 2 and sides["git"].status == "ok" for sides in out.values())
    assert items["commits_page_1"] == 25
    assert items["commits_page_deep"] == 0  # 60 commits hold no page 100
    assert items["browse_root"] == gen.counts(tiny).root_entries
    assert items["large_diff"] > 30 * 50
    releases = len([n for n in git(tiny, "for-each-ref", "--format=%(refname)", "refs/heads/").split()
                    if "release" in n])
    assert items["branches_alpha"] == items["branches_modified"] == min(25, releases)
    assert all(not sides["culm"].times for sides in out.values())  # no server given


def test_p90_and_report_marks_reads_not_served() -> None:
    assert content.p90([5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0]) == 9.0
    assert content.p90([2.0]) == 2.0
    with pytest.raises(ValueError):
        content.p90([])
    ok = content.Series(times=[0.010, 0.012, 0.011], bytes=900, items=25).summary()
    git_ok = content.Series(times=[0.002, 0.002, 0.003], items=25).summary()
    missing = content.Series(status="not served (404)").summary()
    result = {
        "sizes": {n: {"commits": c, "files": 50, "branches": 10, "big_diff_files": 5, "big_diff_lines": 25}
                  for n, c in (("small", 1000), ("big", 100_000))},
        "runs": 3, "warmup": 1, "server": "culm serve", "push": {"big": {"push_s": 1.0, "push_peak_rss_mib": 9.0}},
        "machine": {"cpus": 2, "load_before": [1.0, 1.0, 1.0], "load_after": [1.0, 1.0, 1.0]}, "errors": [],
        "labels": {"commits_page_1": "commits page 1", "browse_root": "browse root"},
        "reads": {n: {"commits_page_1": {"culm": ok, "git": git_ok}, "browse_root": {"culm": missing, "git": git_ok}}
                  for n in ("small", "big")},
    }
    result["ratios"] = content.ratios(result)
    assert result["ratios"]["commits_page_1"]["culm_big_over_small"] == 1.0
    assert result["ratios"]["commits_page_1"]["culm_over_git_big"] == 5.5
    assert result["ratios"]["browse_root"]["culm_over_git_big"] is None
    text = content.report(result)
    row = next(line for line in text.splitlines() if line.startswith("commits page 1"))
    assert row.split() == ["commits", "page", "1", "11.0", "2.0", "5.50", "11.0", "2.0", "5.50", "1.00", "1.00"]
    row = next(line for line in text.splitlines() if line.startswith("browse root"))
    assert row.split()[2:5] == ["n/s", "2.0", "-"]
    assert "browse_root at 100,000: culm not served (404)" in text
    assert "1k culm" in text and "100k culm" in text


def test_harness_end_to_end_on_a_tiny_pair(tmp_path: Path) -> None:
    """Push a tiny pair to a live culm and time every read once: each is served or reported as not served."""
    pair = (replace(TINY, commits=40), replace(TINY, commits=30))
    args = argparse.Namespace(small=False, runs=1, warmup=1, culm_src=None, git_only=False, keep=False,
                              no_push_peer=False)
    result = content.run(args, pair=pair, cache_dir=tmp_path)
    assert result["errors"] == [], result["errors"]
    assert set(result["push"]) == {"small", "big"}
    assert result["push"]["big"]["push_s"] > 0 and result["push"]["big"]["git_http_push_s"] > 0
    assert result["labels"]["commits_page_deep"] == "commits page 2"
    for name in ("small", "big"):
        reads = result["reads"][name]
        assert reads["floor"]["culm"]["status"] == "ok"
        for key, sides in reads.items():
            assert sides["git"]["status"] == "ok", (name, key, sides)
            assert sides["culm"]["status"] == "ok" or sides["culm"]["status"].startswith("not served"), (key, sides)
        if reads["commits_page_1"]["culm"]["status"] == "ok":
            assert reads["commits_page_1"]["culm"]["items"] == 25
        deep = reads["commits_page_deep"]
        assert deep["git"]["items"] == {"small": 5, "big": 15}[name]  # page 2 of 30 and of 40 commits
        if deep["culm"]["status"] == "ok":
            assert deep["culm"]["items"] == deep["git"]["items"]
    assert "floor (repository / rev-parse)" in content.report(result)
