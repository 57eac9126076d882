"""Ref matchers: Bitbucket's branch-permission pattern examples, exact branches, any ref, branching model."""

from __future__ import annotations

import pytest

from culm.core.errors import ValidationError
from culm.domain import refmatch
from culm.domain.refmatch import pattern_matches


@pytest.mark.parametrize(("pattern", "ref", "expected"), [
    ("*", "refs/heads/main", True),
    ("*", "refs/heads/feature/x", True),
    ("PROJECT-*", "refs/heads/PROJECT-1234", True),
    ("PROJECT-*", "refs/heads/stable/PROJECT-new", True),
    ("PROJECT-*", "refs/tags/PROJECT-1.1", True),
    ("PROJECT-*", "refs/heads/MYPROJECT-1", False),
    ("?.?", "refs/heads/1.1", True),
    ("?.?", "refs/heads/stable/2.X", True),
    ("?.?", "refs/heads/1.10", False),
    ("tags/", "refs/tags/project-1.1.0", True),
    ("tags/", "refs/heads/stable/tags/some_branch", True),
    ("tags/**", "refs/tags/v1", True),
    ("tags/", "refs/heads/tagsx/y", False),
    ("heads/**/master", "refs/heads/master", True),
    ("heads/**/master", "refs/heads/stable/master", True),
    ("heads/**/master", "refs/heads/stable/notmaster", False),
    ("release/*", "refs/heads/release/1.0", True),
    ("release/*", "refs/heads/release/1.0/hotfix", False),
    ("main", "refs/heads/main", True),
    ("main", "refs/heads/domain", False),
    ("refs/heads/main", "refs/heads/main", True),
    ("a.b", "refs/heads/axb", False),
    ("feature[1]", "refs/heads/feature[1]", True),
])
def test_patterns(pattern: str, ref: str, expected: bool) -> None:
    assert pattern_matches(pattern, ref) is expected


def test_kinds() -> None:
    assert refmatch.matches("ANY_REF", refmatch.ANY_REF_ID, "refs/heads/x")
    assert refmatch.matches("BRANCH", "refs/heads/main", "refs/heads/main")
    assert not refmatch.matches("BRANCH", "refs/heads/main", "refs/heads/main2")
    assert refmatch.matches("MODEL_BRANCH", "development", "refs/heads/main", "refs/heads/main")
    assert not refmatch.matches("MODEL_BRANCH", "production", "refs/heads/main", "refs/heads/main")
    assert refmatch.matches("MODEL_CATEGORY", "FEATURE", "refs/heads/feature/x")
    assert not refmatch.matches("MODEL_CATEGORY", "FEATURE", "refs/heads/bugfix/x")
    assert not refmatch.matches("BOGUS", "x", "refs/heads/x")


def test_parse_normalises_and_refuses() -> None:
    m = refmatch.parse({"id": "main", "type": {"id": "BRANCH"}}, "refMatcher")
    assert m == refmatch.RefMatcher("BRANCH", "refs/heads/main")
    assert m.to_json() == {"id": "refs/heads/main", "displayId": "main", "type": {"id": "BRANCH", "name": "Branch"}}
    assert refmatch.parse({"type": {"id": "any_ref"}}, "m").id == refmatch.ANY_REF_ID
    for bad in (None, {}, {"id": "x"}, {"id": "x", "type": {"id": "NOPE"}}, {"id": "", "type": {"id": "PATTERN"}},
                {"id": "refs/tags/v1", "type": {"id": "BRANCH"}}, {"id": "qa", "type": {"id": "MODEL_BRANCH"}},
                {"id": "x", "type": {"id": "MODEL_CATEGORY"}}, {"id": 5, "type": {"id": "PATTERN"}}):
        with pytest.raises(ValidationError):
            refmatch.parse(bad, "refMatcher")
