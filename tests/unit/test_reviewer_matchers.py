"""Ref matchers of default reviewer conditions: Bitbucket's documented pattern examples, branches, the
default branching model."""

from __future__ import annotations

import pytest

from culm.domain.reviewers.matchers import display, matches

MAIN = "refs/heads/main"


@pytest.mark.parametrize(("pattern", "ref", "want"), [
    ("*", "refs/heads/anything", True),
    ("PROJECT-*", "refs/heads/PROJECT-1234", True),
    ("PROJECT-*", "refs/heads/stable/PROJECT-new", True),
    ("PROJECT-*", "refs/tags/PROJECT-1.1", True),
    ("PROJECT-*", "refs/heads/XPROJECT-1", False),
    ("?.?", "refs/heads/1.1", True),
    ("?.?", "refs/heads/stable/2.X", True),
    ("?.?", "refs/heads/11.1", False),
    ("tags/", "refs/tags/project-1.1.0", True),
    ("tags/", "refs/heads/stable/tags/some_branch", True),
    ("tags/**", "refs/tags/x", True),
    ("heads/**/master", "refs/heads/master", True),
    ("heads/**/master", "refs/heads/stable/master", True),
    ("heads/**/master", "refs/heads/xmaster", False),
    ("main", MAIN, True),
    ("main", "refs/heads/domain", False),
    ("feature/*", "refs/heads/feature/a", True),
    ("feature/*", "refs/heads/feature/a/b", False),
    ("feature/**", "refs/heads/feature/a/b", True),
    ("**/x", "refs/heads/ax", False),
    ("**/x", "refs/heads/a/x", True),
    ("refs/heads/main", MAIN, True),
    ("a.b", "refs/heads/aXb", False),
    ("[ab]", "refs/heads/a", False),
    ("", MAIN, False),
])
def test_patterns(pattern: str, ref: str, want: bool) -> None:
    assert matches("PATTERN", pattern, ref, MAIN) is want


def test_branch_any_and_unknown() -> None:
    assert matches("BRANCH", "main", MAIN, None)
    assert matches("BRANCH", MAIN, MAIN, None)
    assert not matches("BRANCH", "main", "refs/heads/main2", None)
    assert not matches("BRANCH", "feature/x", "refs/heads/x", None)
    assert matches("ANY_REF", "ANY_REF_MATCHER_ID", "refs/tags/v1", None)
    assert not matches("NOPE", "main", MAIN, MAIN)


def test_branching_model() -> None:
    assert matches("MODEL_BRANCH", "development", MAIN, MAIN)
    assert matches("MODEL_BRANCH", "development", "refs/heads/develop", "refs/heads/develop")
    assert matches("MODEL_BRANCH", "development", "refs/heads/develop", "develop")
    assert not matches("MODEL_BRANCH", "development", MAIN, "refs/heads/develop")
    assert not matches("MODEL_BRANCH", "production", MAIN, MAIN)  # no production branch by default
    assert matches("MODEL_CATEGORY", "FEATURE", "refs/heads/feature/login", MAIN)
    assert matches("MODEL_CATEGORY", "BUGFIX", "refs/heads/bugfix/a/b", MAIN)
    assert matches("MODEL_CATEGORY", "HOTFIX", "refs/heads/hotfix/x", MAIN)
    assert matches("MODEL_CATEGORY", "RELEASE", "refs/heads/release/1.0", MAIN)
    assert not matches("MODEL_CATEGORY", "FEATURE", "refs/heads/feature/", MAIN)
    assert not matches("MODEL_CATEGORY", "FEATURE", "refs/heads/bugfix/x", MAIN)
    assert not matches("MODEL_CATEGORY", "FEATURE", "refs/tags/feature/x", MAIN)
    assert not matches("MODEL_CATEGORY", "OTHER", "refs/heads/other/x", MAIN)


def test_display_ids() -> None:
    assert display("BRANCH", MAIN) == "main"
    assert display("MODEL_BRANCH", "development") == "Development"
    assert display("MODEL_CATEGORY", "FEATURE") == "Feature"
    assert display("PATTERN", "feature/*") == "feature/*"
