"""Bamboo result formatting: durations, relative times, sizes, test summaries, key parsing."""

from __future__ import annotations

import pytest

from culm.api.bamboo import result_access as access
from culm.api.bamboo import results_render as rr


@pytest.mark.parametrize(("ms", "text"), [(0, "< 1 second"), (999, "< 1 second"), (1000, "1 second"),
                                          (59_000, "59 seconds"), (60_000, "1 minute"),
                                          (20_614_719, "343 minutes"), (7_200_000, "120 minutes")])
def test_duration_description(ms: int, text: str) -> None:
    assert rr.duration_description(ms) == text


def test_relative_and_pretty() -> None:
    now = 1_700_000_000_000
    assert rr.relative(now, now) == "just now"
    assert rr.relative(now - 30_000, now) == "< 1 minute ago"
    assert rr.relative(now - 3_600_000, now) == "1 hour ago"
    assert rr.relative(now - 4 * 86_400_000, now) == "4 days ago"
    assert rr.relative(None, now) is None
    assert rr.pretty(1_502_289_863_700) == "Wed, 9 Aug, 02:44 PM"
    assert rr.iso(1_502_289_863_700) == "2017-08-09T14:44:23.700+00:00"


def test_sizes_and_summaries() -> None:
    assert rr.pretty_size(1) == "1 byte" and rr.pretty_size(1024) == "1 KB" and rr.pretty_size(1536) == "1.5 KB"
    assert rr.test_summary(0, 0, 0) == "No tests found"
    assert rr.test_summary(3, 0, 1) == "3 passed"
    assert rr.test_summary(3, 1, 0) == "1 of 4 failed"


@pytest.mark.parametrize(("raw", "parts"), [
    ("MARS-ROCKET", ("MARS", "ROCKET", None, None)),
    ("MARS-ROCKET12-3", ("MARS", "ROCKET12", None, "3")),
    ("MARS-ROCKET-JOB1", ("MARS", "ROCKET", "JOB1", None)),
    ("MY_PROJ-ROCKET-JOB1-latest", ("MY_PROJ", "ROCKET", "JOB1", "latest")),
    ("MARS", None), ("mars-rocket", None), ("MARS-ROCKET-1-2", None), ("MARS-ROCKET-", None), ("../x", None),
])
def test_parse_key(raw: str, parts: tuple | None) -> None:
    key = access.parse_key(raw)
    assert (None if key is None else (key.project, key.plan, key.job, key.number)) == parts


def test_secret_names_are_masked() -> None:
    assert rr.is_secret("db.password") and rr.is_secret("API_TOKEN") and rr.is_secret("sshKey")
    assert not rr.is_secret("target")
