"""Ref matchers as default reviewer conditions use them: `culm.domain.refmatch` (shared with required
builds) with this context's conventions: a BRANCH matcher id and the default branch may be short names
(`x`) or fully qualified (`refs/heads/x`)."""

from __future__ import annotations

from culm.domain import refmatch
from culm.domain.refmatch import ANY_REF_ID, CATEGORY_NAMES, HEADS, MODEL_BRANCHES, TYPE_NAMES, full_branch

CATEGORY_PREFIXES = refmatch.MODEL_CATEGORIES

__all__ = ["ANY_REF_ID", "CATEGORY_NAMES", "CATEGORY_PREFIXES", "HEADS", "MODEL_BRANCHES", "TYPE_NAMES",
           "display", "full_branch", "matches"]


def display(matcher_type: str, matcher_id: str) -> str:
    """The matcher's displayId, as Bitbucket renders it."""
    return refmatch.display_id(matcher_type, matcher_id)


def matches(matcher_type: str, matcher_id: str, ref: str, default_branch: str | None) -> bool:
    """Whether `ref` (fully qualified) is matched; unknown kinds match nothing."""
    if matcher_type == "BRANCH":
        matcher_id = full_branch(matcher_id)
    return refmatch.matches(matcher_type, matcher_id, ref, full_branch(default_branch) if default_branch else None)
