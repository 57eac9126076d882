"""Rules shared by branch and tag operations: names clients may create, `orderBy`, `filterText`,
`boostMatches`, and paging a list of refs that git produced in one process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from culm.core.errors import Conflict, ValidationError
from culm.core.paging import PageRequest
from culm.git import refwrite

T = TypeVar("T")

ORDERS = ("ALPHABETICAL", "MODIFICATION")


class InvalidStartPoint(ValidationError):
    """The plugin APIs (branch-utils, git) answer 400 for a start point that names no commit."""


class RefNameConflict(Conflict):
    """A ref `a` cannot exist beside `a/b` (git stores refs as files): Bitbucket answers 409."""

    exception_name = "com.atlassian.bitbucket.repository.DuplicateRefException"


def by_modification(order_by: str | None, default: str = "MODIFICATION") -> bool:
    """`orderBy` as Bitbucket parses it (any case); an unknown value is a 400."""
    value = (order_by or "").strip().upper() or default
    if value not in ORDERS:
        raise ValidationError(f"Invalid orderBy '{order_by}'; valid values are ALPHABETICAL and MODIFICATION.",
                              context="orderBy")
    return value == "MODIFICATION"


def full_ref(name: object, prefix: str, kind: str) -> str:
    """The full ref a client names for a new branch or tag (`x` or `refs/heads/x`), refusing what git or
    Bitbucket would not accept: empty, option-like, NUL, `..`, spaces, control characters, `HEAD`."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"A {kind} name is required.", context="name")
    short = name[len(prefix):] if name.startswith(prefix) else name
    ref = prefix + short
    if short.startswith("-") or short == "HEAD" or not refwrite.valid_ref_name(ref):
        raise ValidationError(f"'{name}' is an invalid {kind} name.", context="name")
    return ref


def lookup_ref(name: object, prefix: str) -> str | None:
    """The full ref an existing branch or tag is named by (short or full name), or None when the name
    cannot be a ref at all (so it cannot exist)."""
    if not isinstance(name, str) or not name:
        return None
    ref = name if name.startswith(prefix) else prefix + name
    if name.startswith("-") or not refwrite.valid_ref_name(ref):
        return None
    return ref


def filtered(items: Sequence[T], name: Callable[[T], str], filter_text: str | None, boost: bool) -> list[T]:
    """`filterText`: case-insensitive substring of the short name. `boostMatches`: the exact match
    first, then names starting with the text, then the rest, each group in the requested order."""
    text = (filter_text or "").lower()
    if not text:
        return list(items)
    matching = [i for i in items if text in name(i).lower()]
    if not boost:
        return matching
    exact = [i for i in matching if name(i).lower() == text]
    prefix = [i for i in matching if name(i).lower() != text and name(i).lower().startswith(text)]
    rest = [i for i in matching if not name(i).lower().startswith(text)]
    return exact + prefix + rest


def page_of(items: Sequence[T], req: PageRequest) -> tuple[list[T], bool]:
    """One page of a list, and whether it is the last."""
    chunk = list(items[req.start: req.start + req.limit + 1])
    return chunk[: req.limit], len(chunk) <= req.limit


def as_bool(value: object, field: str) -> bool:
    """Boolean body fields as clients send them: JSON booleans, or "true"/"false" strings (some scripts
    send `"dryRun": "false"`); absent or null is false."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValidationError(f"'{field}' must be true or false.", context=field)
