"""Bitbucket's ref matchers (`RestRefMatcher`): which refs a merge check or default-reviewer condition
applies to. Shared by required builds and default reviewers, so it knows nothing of either.

Types: `ANY_REF` (every ref), `BRANCH` (one branch, exact), `PATTERN` (Bitbucket's ant-style branch
permission patterns: `?` one character, `*` any run within a path segment, `**` any number of segments; a
trailing `/` implies `**`; the pattern need only match a whole-segment suffix of the fully qualified ref),
and the branching-model ones `MODEL_BRANCH` (`development`/`production`) and `MODEL_CATEGORY`
(`FEATURE`/`BUGFIX`/`HOTFIX`/`RELEASE`), evaluated against Bitbucket's default branching model: the
development branch is the repository's default branch, production is unset, categories are the default
prefixes `feature/`, `bugfix/`, `hotfix/`, `release/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from culm.core.errors import ValidationError

ANY_REF_ID = "ANY_REF_MATCHER_ID"
TYPE_NAMES = {
    "ANY_REF": "Any branch",
    "BRANCH": "Branch",
    "PATTERN": "Pattern",
    "MODEL_BRANCH": "Branching model branch",
    "MODEL_CATEGORY": "Branching model category",
}
MODEL_BRANCHES = {"development": "Development", "production": "Production"}
MODEL_CATEGORIES = {"FEATURE": "feature/", "BUGFIX": "bugfix/", "HOTFIX": "hotfix/", "RELEASE": "release/"}
CATEGORY_NAMES = {"FEATURE": "Feature", "BUGFIX": "Bugfix", "HOTFIX": "Hotfix", "RELEASE": "Release"}
MAX_ID = 1024
HEADS = "refs/heads/"


def full_branch(name: str) -> str:
    """`x` → `refs/heads/x`; a fully qualified id is kept."""
    return name if name.startswith("refs/") else HEADS + name


@dataclass(frozen=True)
class RefMatcher:
    type: str
    id: str

    def matches(self, ref: str | None, default_branch: str | None = None) -> bool:
        return matches(self.type, self.id, ref, default_branch)

    def to_json(self) -> dict[str, Any]:
        return matcher_json(self.type, self.id)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Ant-style pattern → regex anchored at a segment boundary of the ref and at its end."""
    return _compile(pattern)


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("/"):
        pattern += "**"
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    body = "".join(out)
    if body.endswith("/.*"):  # `foo/**` also matches `foo` itself
        body = body[:-3] + "(?:/.*)?"
    return re.compile(r"(?:^|.*/)" + body + r"\Z", re.DOTALL)


def pattern_matches(pattern: str, ref: str) -> bool:
    """Whether Bitbucket's branch-permission pattern `pattern` matches the fully qualified `ref`."""
    return _pattern_regex(pattern).match(ref) is not None


def matches(kind: str, matcher_id: str, ref: str | None, default_branch: str | None = None) -> bool:
    """Whether a matcher of type `kind` and id `matcher_id` applies to the fully qualified `ref`."""
    if kind == "ANY_REF":
        return True
    if not ref:
        return False
    if kind == "BRANCH":
        return ref == matcher_id
    if kind == "PATTERN":
        return pattern_matches(matcher_id, ref)
    if kind == "MODEL_BRANCH":
        return matcher_id == "development" and default_branch is not None and ref == default_branch
    if kind == "MODEL_CATEGORY":
        prefix = MODEL_CATEGORIES.get(matcher_id)
        return prefix is not None and ref.startswith(HEADS + prefix) and len(ref) > len(HEADS + prefix)
    return False


def display_id(kind: str, matcher_id: str) -> str:
    if kind == "BRANCH" and matcher_id.startswith(HEADS):
        return matcher_id[len(HEADS):]
    if kind == "MODEL_BRANCH":
        return MODEL_BRANCHES.get(matcher_id, matcher_id)
    if kind == "MODEL_CATEGORY":
        return CATEGORY_NAMES.get(matcher_id, matcher_id)
    return matcher_id


def matcher_json(kind: str, matcher_id: str) -> dict[str, Any]:
    """RestRefMatcher as Bitbucket renders it."""
    return {"id": matcher_id, "displayId": display_id(kind, matcher_id),
            "type": {"id": kind, "name": TYPE_NAMES[kind]}}


def parse(raw: object, context: str) -> RefMatcher:
    """A `{id, type: {id}}` matcher from a request body, normalised (branch ids become `refs/heads/…`);
    400 for a missing or unknown type, or an id that type cannot use."""
    if not isinstance(raw, dict):
        raise ValidationError(f"{context} is required.", context=context)
    kind_raw = raw.get("type")
    kind = kind_raw.get("id") if isinstance(kind_raw, dict) else kind_raw
    if not isinstance(kind, str) or not kind:
        raise ValidationError(f"{context}.type.id is required.", context=f"{context}.type")
    kind = kind.upper()
    if kind not in TYPE_NAMES:
        raise ValidationError(f"'{kind_raw.get('id') if isinstance(kind_raw, dict) else kind_raw}' is not a "
                              f"valid ref matcher type. Valid types are {', '.join(TYPE_NAMES)}.",
                              context=f"{context}.type")
    mid = raw.get("id")
    if kind == "ANY_REF":
        return RefMatcher(kind, ANY_REF_ID)
    if not isinstance(mid, str) or not mid.strip():
        raise ValidationError(f"{context}.id is required.", context=f"{context}.id")
    if len(mid) > MAX_ID or "\x00" in mid:
        raise ValidationError(f"{context}.id must be at most {MAX_ID} characters.", context=f"{context}.id")
    if kind == "BRANCH":
        if not mid.startswith("refs/"):
            mid = HEADS + mid
        if not mid.startswith(HEADS) or mid == HEADS:
            raise ValidationError(f"'{mid}' is not a valid branch.", context=f"{context}.id")
    elif kind == "MODEL_BRANCH":
        if mid not in MODEL_BRANCHES:
            raise ValidationError(f"'{mid}' is not a branching model branch; use development or production.",
                                  context=f"{context}.id")
    elif kind == "MODEL_CATEGORY":
        mid = mid.upper()
        if mid not in MODEL_CATEGORIES:
            raise ValidationError(f"'{mid}' is not a branching model category; use "
                                  f"{', '.join(MODEL_CATEGORIES)}.", context=f"{context}.id")
    return RefMatcher(kind, mid)
