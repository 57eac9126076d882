"""Chart helpers: the PNG is well formed at the asked size (bars drawn), date windows are Bamboo's."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime

import pytest

from culm.domain.bamboo import charts
from culm.domain.bamboo.service import Invalid


def _pixels(body: bytes) -> tuple[int, int, bytes]:
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", body[16:24])
    idat_len = struct.unpack(">I", body[33:37])[0]
    assert body[37:41] == b"IDAT"
    return width, height, zlib.decompress(body[41:41 + idat_len])


@pytest.mark.parametrize("values", [[], [0.0], [1.0, 5.0, 2.5], [3.0] * 500])
def test_png(values: list[float]) -> None:
    width, height, raw = _pixels(charts.png(values, 120, 80))
    assert (width, height) == (120, 80) and len(raw) == 80 * (1 + 120 * 3)
    has_bar = b"\x3b\x73\xaf" in raw
    assert has_bar == any(v > 0 for v in values)


def test_png_size_clamped() -> None:
    width, height, _ = _pixels(charts.png([1.0], 5, 100000))
    assert (width, height) == (charts.MIN_SIZE, charts.MAX_SIZE)


def test_window() -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert charts.window(None, None, None, now) == (None, None)
    since, until = charts.window("LAST_7_DAYS", None, None, now)
    assert until is None and since == int(datetime(2026, 3, 3, 12, tzinfo=UTC).timestamp() * 1000)
    start, end = charts.window("RANGE", "01/03/2026", "02/03/2026", now)
    assert end - start == 2 * 86_400_000  # type: ignore[operator]
    for bad in (("SOMETIME", None, None), ("RANGE", "x", "01/01/2026"), ("RANGE", "02/03/2026", "01/03/2026")):
        with pytest.raises(Invalid):
            charts.window(*bad, now)
    with pytest.raises(Invalid):
        charts.check_report("nope")
