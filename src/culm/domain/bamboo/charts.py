"""Build reports for `/chart`: per-period values of a plan's builds (duration, success rate, count), and a
small PNG bar chart of them written with zlib only (no imaging library needed)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.domain.bamboo.models import BambooResult
from culm.domain.bamboo.service import Invalid

PREFIX = "com.atlassian.bamboo.plugin.system.reports:"
REPORTS = {
    PREFIX + "averageDuration": "Build duration",
    PREFIX + "buildSuccessRate": "Build activity: percentage of successful builds",
    PREFIX + "numberOfBuilds": "Number of builds",
    PREFIX + "numberOfFailures": "Number of failed builds",
}
PERIODS = ("AUTO", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR")
DATE_FILTERS = {"ALL": None, "LAST_7_DAYS": 7, "LAST_14_DAYS": 14, "LAST_30_DAYS": 30, "LAST_90_DAYS": 90,
                "LAST_YEAR": 365, "RANGE": None}
MAX_SIZE = 2000
MIN_SIZE = 40


@dataclass(frozen=True)
class Point:
    label: str
    value: float


def check_report(key: str | None) -> str:
    if not key or key not in REPORTS:
        raise Invalid(f"Unknown report '{key}'. Known reports: {', '.join(REPORTS)}")
    return key


def _period_start(when: datetime, period: str) -> datetime:
    if period == "HOUR":
        return when.replace(minute=0, second=0, microsecond=0)
    day = when.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "WEEK":
        return day - timedelta(days=day.weekday())
    if period == "MONTH":
        return day.replace(day=1)
    if period == "QUARTER":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if period == "YEAR":
        return day.replace(month=1, day=1)
    return day


def _parse_date(value: str | None, what: str) -> datetime:
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value or "", fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise Invalid(f"Invalid {what} '{value}': use dd/MM/yyyy")


def window(date_filter: str | None, date_from: str | None, date_to: str | None,
           now: datetime) -> tuple[int | None, int | None]:
    """(from, to) in epoch ms for a Bamboo `dateFilter` (None bounds are open)."""
    name = (date_filter or "ALL").upper()
    if name not in DATE_FILTERS:
        raise Invalid(f"Invalid dateFilter '{date_filter}': one of {', '.join(DATE_FILTERS)}")
    if name == "RANGE":
        start, end = _parse_date(date_from, "dateFrom"), _parse_date(date_to, "dateTo") + timedelta(days=1)
        if end <= start:
            raise Invalid("dateTo must not be before dateFrom")
        return int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    days = DATE_FILTERS[name]
    return (int((now - timedelta(days=days)).timestamp() * 1000) if days else None), None


def points(session: Session, plan_ids: list[int], report: str, period: str, since: int | None,
           until: int | None) -> list[Point]:
    """One point per period with finished builds, oldest first."""
    period = (period or "AUTO").upper()
    if period not in PERIODS:
        raise Invalid(f"Invalid groupByPeriod '{period}': one of {', '.join(PERIODS)}")
    query = select(BambooResult).where(BambooResult.plan_id.in_(plan_ids), BambooResult.life_cycle == "Finished",
                                       BambooResult.completed_date.is_not(None))
    if since is not None:
        query = query.where(BambooResult.completed_date >= since)
    if until is not None:
        query = query.where(BambooResult.completed_date < until)
    results = list(session.scalars(query.order_by(BambooResult.completed_date)))
    if period == "AUTO":
        span = (results[-1].completed_date - results[0].completed_date) if results else 0  # type: ignore[operator]
        period = "HOUR" if span < 2 * 86400_000 else "DAY" if span < 60 * 86400_000 else "WEEK"
    groups: dict[datetime, list[BambooResult]] = {}
    for result in results:
        when = datetime.fromtimestamp((result.completed_date or 0) / 1000, UTC)
        groups.setdefault(_period_start(when, period), []).append(result)
    out = []
    for start, group in sorted(groups.items()):
        label = start.strftime("%Y-%m-%d %H:00" if period == "HOUR" else "%Y-%m-%d")
        if report.endswith("averageDuration"):
            durations = [(r.completed_date or 0) - (r.started_date or r.queued_date) for r in group]
            value = sum(durations) / len(durations) / 1000.0
        elif report.endswith("buildSuccessRate"):
            value = 100.0 * sum(r.state == "Successful" for r in group) / len(group)
        elif report.endswith("numberOfFailures"):
            value = float(sum(r.state == "Failed" for r in group))
        else:
            value = float(len(group))
        out.append(Point(label, round(value, 3)))
    return out


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(values: list[float], width: int, height: int) -> bytes:
    """A bar chart: white background, grey axes, one blue bar per value scaled to the largest. More values than
    pixel columns are merged (largest of each run). Rows are copied from a running template, so the cost is
    one copy per row plus one edit per bar whatever the size."""
    width, height = max(MIN_SIZE, min(width, MAX_SIZE)), max(MIN_SIZE, min(height, MAX_SIZE))
    white, axis, bar = b"\xff\xff\xff", b"\x80\x80\x80", b"\x3b\x73\xaf"
    margin = 10
    usable = width - 2 * margin - 2
    if len(values) > usable:
        step = -(-len(values) // usable)
        values = [max(values[i:i + step]) for i in range(0, len(values), step)]
    blank = bytearray(white * width)
    rows: list[bytes | bytearray] = [blank] * height
    base = height - margin
    current = bytearray(blank)
    current[margin * 3:margin * 3 + 3] = axis
    bars: list[tuple[int, int, int]] = []
    top = max(values) if values else 0
    if top > 0:
        slot = usable / len(values)
        for i, value in enumerate(values):
            x0 = margin + 2 + int(i * slot + slot * 0.1)
            x1 = max(x0 + 1, margin + 2 + int((i + 1) * slot - slot * 0.1))
            bars.append((int((base - margin - 1) * value / top), x0, x1))
            current[x0 * 3:x1 * 3] = bar * (x1 - x0)
    bars.sort()
    gone = 0
    for level in range(1, base - margin + 1):  # the row `level` pixels above the base line
        while gone < len(bars) and bars[gone][0] < level:
            _, x0, x1 = bars[gone]
            current[x0 * 3:x1 * 3] = white * (x1 - x0)
            gone += 1
        rows[base - level] = bytes(current)
    axis_row = bytearray(blank)
    axis_row[margin * 3:(width - margin) * 3] = axis * (width - 2 * margin)
    rows[base] = axis_row
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6))
            + _chunk(b"IEND", b""))
