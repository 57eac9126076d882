"""A plan's favicon: a 16x16 PNG disc coloured by its latest build (green passed, red failed, blue building
or queued, grey never built), written with zlib only as the charts are."""

from __future__ import annotations

import struct
import zlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.domain.bamboo.charts import _chunk
from culm.domain.bamboo.models import BambooPlan, BambooResult

SIZE = 16
COLOURS = {"successful": (0x14, 0x89, 0x2C), "failed": (0xD0, 0x44, 0x37), "building": (0x35, 0x72, 0xB0),
           "unknown": (0x99, 0x99, 0x99)}


def state(session: Session, plan: BambooPlan) -> str:
    """successful, failed, building (queued or running) or unknown (never built, or stopped unbuilt)."""
    latest = session.scalar(select(BambooResult).where(BambooResult.plan_id == plan.id)
                            .order_by(BambooResult.number.desc()).limit(1))
    if latest is None:
        return "unknown"
    if latest.life_cycle in ("Pending", "Queued", "InProgress"):
        return "building"
    return {"Successful": "successful", "Failed": "failed"}.get(latest.state, "unknown")


def png(kind: str) -> bytes:
    red, green, blue = COLOURS.get(kind, COLOURS["unknown"])
    centre, radius = (SIZE - 1) / 2, SIZE / 2 - 0.5
    rows = []
    for y in range(SIZE):
        row = bytearray(b"\x00")
        for x in range(SIZE):
            inside = (x - centre) ** 2 + (y - centre) ** 2 <= radius ** 2
            row += bytes((red, green, blue, 255)) if inside else b"\x00\x00\x00\x00"
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + _chunk(b"IEND", b""))
