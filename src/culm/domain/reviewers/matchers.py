"""Ref matchers of default reviewer conditions (the same kinds branch permissions and required builds use).

`matches(matcher_type, matcher_id, ref, default_branch)` is the whole API: `ref` and `default_branch` are
fully qualified (`refs/heads/x`). Kinds:
- ANY_REF: every ref.
- BRANCH: one branch, by full id (`refs/heads/x`) or short name (`x`).
- PATTERN: Bitbucket's ant-style branch patterns: `?` one character and `*` any characters within a path
  segment, `**` zero or more segments, a trailing `/` means `/**`, and the pattern only has to match a
  suffix (whole segments) of the fully qualified ref, so `main` matches `refs/heads/main`.
- MODEL_BRANCH / MODEL_CATEGORY: Bitbucket's default branching model: development = the repository's
  default branch, no production branch; categories FEATURE, BUGFIX, HOTFIX, RELEASE with the prefixes
  `feature/`, `bugfix/`, `hotfix/`, `release/`.
"""

from __future__ import annotations

import re
from functools import lru_cache

HEADS = "refs/heads/"
ANY_REF_ID = "ANY_REF_MATCHER_ID"
TYPE_NAMES = {
    "ANY_REF": "Any branch",
    "BRANCH": "Branch",
    "PATTERN": "Pattern",
    "MODEL_BRANCH": "Branching model branch",
    "MODEL_CATEGORY": "Branching model category",
}
MODEL_BRANCHES = {"development": "Development", "production": "Production"}
CATEGORY_PREFIXES = {"FEATURE": "feature/", "BUGFIX": "bugfix/", "HOTFIX": "hotfix/", "RELEASE": "release/"}
CATEGORY_NAMES = {"FEATURE": "Feature", "BUGFIX": "Bugfix", "HOTFIX": "Hotfix", "RELEASE": "Release"}


def full_branch(name: str) -> str:
    """`x` → `refs/heads/x`; a fully qualified id is kept."""
    return name if name.startswith("refs/") else HEADS + name


def display(matcher_type: str, matcher_id: str) -> str:
    """The matcher's displayId, as Bitbucket renders it."""
    if matcher_type == "BRANCH":
        return matcher_id[len(HEADS):] if matcher_id.startswith(HEADS) else matcher_id
    if matcher_type == "MODEL_BRANCH":
        return MODEL_BRANCHES.get(matcher_id, matcher_id)
    if matcher_type == "MODEL_CATEGORY":
        return CATEGORY_NAMES.get(matcher_id, matcher_id)
    return matcher_id


@lru_cache(maxsize=512)
def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Compile an ant-style branch pattern into a regex anchored at a segment start and at the end."""
    if pattern.endswith("/"):
        pattern += "**"
    parts: list[str] = []
    segments = pattern.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "**":
            # zero or more whole segments; the separator that follows belongs to them
            parts.append(r"(?:[^/]+(?:/[^/]+)*)?" if last else r"(?:[^/]+/)*")
            continue
        out = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in seg)
        parts.append(out if last else out + "/")
    body = "".join(parts)
    if body.endswith("/"):  # `a/**` at the end leaves a dangling separator: make it optional with the rest
        body = body[:-1]
    body = body.replace("/(?:[^/]+(?:/[^/]+)*)?", "(?:/[^/]+)*")
    return re.compile(r"(?:^|/)" + body + "$")


def pattern_matches(pattern: str, ref: str) -> bool:
    return bool(pattern) and pattern_regex(pattern).search(ref) is not None


def matches(matcher_type: str, matcher_id: str, ref: str, default_branch: str | None) -> bool:
    """Whether `ref` (fully qualified) is matched; unknown kinds match nothing."""
    if matcher_type == "ANY_REF":
        return True
    if matcher_type == "BRANCH":
        return full_branch(matcher_id) == ref
    if matcher_type == "PATTERN":
        return pattern_matches(matcher_id, ref)
    if matcher_type == "MODEL_BRANCH":
        return matcher_id == "development" and default_branch is not None and ref == full_branch(default_branch)
    if matcher_type == "MODEL_CATEGORY":
        prefix = CATEGORY_PREFIXES.get(matcher_id)
        return prefix is not None and ref.startswith(HEADS + prefix) and len(ref) > len(HEADS + prefix)
    return False
