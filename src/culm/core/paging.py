"""Bitbucket paging: `start`/`limit` in, the standard envelope out, paged in the query (limit+1)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from culm.core.config import get_settings
from culm.core.errors import ValidationError

T = TypeVar("T")

DEFAULT_LIMIT = 25


@dataclass(frozen=True)
class PageRequest:
    start: int = 0
    limit: int = DEFAULT_LIMIT

    @classmethod
    def parse(cls, start: str | int | None, limit: str | int | None) -> PageRequest:
        def as_int(name: str, value: str | int | None, default: int) -> int:
            if value is None or value == "":
                return default
            try:
                return int(value)
            except (TypeError, ValueError):
                raise ValidationError(f"'{name}' must be an integer", context=name) from None

        s = as_int("start", start, 0)
        lim = as_int("limit", limit, DEFAULT_LIMIT)
        if s < 0:
            raise ValidationError("'start' must not be negative", context="start")
        if lim <= 0:
            lim = DEFAULT_LIMIT
        return cls(start=s, limit=min(lim, get_settings().page_max))


def page_envelope(values: Sequence[Any], req: PageRequest, is_last: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "size": len(values),
        "limit": req.limit,
        "isLastPage": is_last,
        "values": list(values),
        "start": req.start,
    }
    if not is_last:
        body["nextPageStart"] = req.start + len(values)
    return body


def page_query(
    session: Session, stmt: Select[Any], req: PageRequest, render: Callable[[Any], Any]
) -> dict[str, Any]:
    """Fetch one page plus one row to learn whether more follow; never loads the full list."""
    rows = list(session.scalars(stmt.offset(req.start).limit(req.limit + 1)))
    is_last = len(rows) <= req.limit
    return page_envelope([render(r) for r in rows[: req.limit]], req, is_last)


def page_list(items: Sequence[T], req: PageRequest, render: Callable[[T], Any]) -> dict[str, Any]:
    """Page a list that is already small and bounded (e.g. a fixed enumeration)."""
    chunk = items[req.start : req.start + req.limit + 1]
    is_last = len(chunk) <= req.limit
    return page_envelope([render(x) for x in chunk[: req.limit]], req, is_last)


def page_rows(
    session: Session, stmt: Select[Any], req: PageRequest, render: Callable[[Any], Any]
) -> dict[str, Any]:
    """`page_query` for statements selecting several entities per row (e.g. a user and its permission)."""
    rows = list(session.execute(stmt.offset(req.start).limit(req.limit + 1)))
    is_last = len(rows) <= req.limit
    return page_envelope([render(r) for r in rows[: req.limit]], req, is_last)
