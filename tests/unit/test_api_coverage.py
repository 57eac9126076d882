"""tools/api_coverage.py: routes are matched to spec operations by shape, and counted per tag."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("api_coverage", REPO / "tools" / "api_coverage.py")
assert _spec and _spec.loader
cov = importlib.util.module_from_spec(_spec)
sys.modules["api_coverage"] = cov
_spec.loader.exec_module(cov)

FAKE_SPEC = {
    "openapi": "3.0.1",
    "paths": {
        "/api/latest/projects": {"get": {"operationId": "list", "tags": ["Project"]},
                                 "post": {"operationId": "create", "tags": ["Project"]}},
        "/api/latest/projects/{projectKey}": {"get": {"operationId": "get", "tags": ["Project"]},
                                              "parameters": []},
        "/api/latest/users/credentials": {"put": {"operationId": "creds", "tags": ["Deprecated", "Users"]}},
        "/api/latest/projects/{projectKey}/repos/{repositorySlug}/browse/{path}": {
            "get": {"operationId": "browse", "tags": ["Repository"]}},
        "/api/latest/projects/{projectKey}/repos/{repositorySlug}/compare/diff{path}": {
            "get": {"operationId": "diff"}},
        "/secrets/1.0/keys/rotate": {"post": {"operationId": "rotate", "tags": ["Security"]}},
        "/admin": {"get": {"operationId": "sshAdmin", "tags": ["Security"]}},
    },
}
PRODUCT = cov.Product("fake.json", "/rest", aliases=(("/admin", "/ssh/latest/admin"),))


def ops() -> list:
    return cov.spec_operations(FAKE_SPEC, PRODUCT)


def covered_ids(routes: list[tuple[str, str]]) -> set[str]:
    return {op.operation_id for op in cov.match(ops(), routes).covered}


def test_parameter_names_do_not_matter_only_the_shape() -> None:
    assert covered_ids([("GET", "/api/latest/projects/{key}")]) == {"get"}
    assert covered_ids([("GET", "/api/latest/projects/{projectKey:int}")]) == {"get"}


def test_a_parameter_does_not_cover_a_literal_segment_nor_the_reverse() -> None:
    assert covered_ids([("PUT", "/api/latest/users/{userSlug}")]) == set()
    assert covered_ids([("GET", "/api/latest/projects/KEY")]) == set()


def test_methods_must_match() -> None:
    assert covered_ids([("DELETE", "/api/latest/projects/{projectKey}")]) == set()
    assert covered_ids([("GET", "/api/latest/projects"), ("POST", "/api/latest/projects")]) == {"list", "create"}


def test_path_converter_matches_a_trailing_path_parameter() -> None:
    browse = "/api/latest/projects/{k}/repos/{s}/browse/{path:path}"
    assert covered_ids([("GET", browse)]) == {"browse"}
    assert covered_ids([("GET", "/api/latest/projects/{k}/repos/{s}/compare/diff{path:path}")]) == {"diff"}
    # A single-segment parameter is also the spec's `{path}` segment (shape match, not semantics).
    assert covered_ids([("GET", "/api/latest/projects/{k}/repos/{s}/browse/{p}")]) == {"browse"}
    # ...but a path converter elsewhere does not swallow literal segments.
    assert covered_ids([("GET", "/api/latest/{rest:path}")]) == set()


def test_version_1_0_and_latest_are_the_same() -> None:
    assert covered_ids([("POST", "/secrets/latest/keys/rotate")]) == {"rotate"}
    assert covered_ids([("GET", "/api/1.0/projects")]) == {"list"}
    assert cov.shape("/secrets/1.0/keys/rotate") == "/secrets/latest/keys/rotate"
    assert cov.shape("/api/latest/projects/{projectKey}/x{path}") == "/api/latest/projects/{}/x{}"


def test_alias_of_a_spec_path_without_module_prefix() -> None:
    assert covered_ids([("GET", "/ssh/latest/admin")]) == {"sshAdmin"}
    assert covered_ids([("GET", "/admin")]) == {"sshAdmin"}


def test_counts_per_tag_and_extra_routes() -> None:
    result = cov.match(ops(), [("GET", "/api/latest/projects"), ("GET", "/api/latest/projects/{k}"),
                               ("GET", "/api/latest/nothing")])
    tags = result.by_tag()
    assert tags["Project"] == (2, 3)
    assert tags["Users"] == (0, 1)  # "Deprecated" yields to the resource tag
    assert tags["(untagged)"] == (0, 1)
    assert sum(t for _, t in tags.values()) == len(ops()) == 8
    assert result.extra_routes == [("GET", "/api/latest/nothing")]
    out = cov.as_json(result, "/rest")
    assert (out["served"], out["total"]) == (2, 8)
    assert {"method": "POST", "path": "/rest/api/latest/projects", "operationId": "create",
            "tag": "Project"} in out["missing"]
    text = cov.report(result, "fake", "/rest", missing=True, extra=True)
    assert text.startswith("fake: 2/8 operations served (25.0%)")
    assert "POST   /rest/api/latest/projects  create" in text


def test_command_reports_the_real_app_against_the_real_spec() -> None:
    if not (cov.reference_dir() / cov.PRODUCTS["bitbucket"].spec_file).is_file():
        pytest.skip("reference spec not found (set CULM_REFERENCE_DIR)")
    run = subprocess.run([sys.executable, str(REPO / "tools" / "api_coverage.py"), "--json"],
                         capture_output=True, text=True, check=True)
    both = json.loads(run.stdout)
    assert set(both) == {"bitbucket", "bamboo"}
    out = both["bitbucket"]
    assert out["total"] == 572
    served = {(o["method"], o["path"]) for o in out["served_operations"]}
    assert ("GET", "/rest/api/latest/application-properties") in served
    assert ("POST", "/rest/api/latest/projects/{projectKey}/repos") in served


def test_command_says_when_the_reference_is_absent(tmp_path: Path) -> None:
    env = {**os.environ, "CULM_REFERENCE_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, str(REPO / "tools" / "api_coverage.py"), "--json"],
                         capture_output=True, text=True, check=True, env=env)
    out = json.loads(run.stdout)
    assert out["bitbucket"]["served"] is None and "not found" in out["bitbucket"]["error"]
    text = subprocess.run([sys.executable, str(REPO / "tools" / "api_coverage.py")],
                          capture_output=True, text=True, check=True, env=env).stdout
    assert "bitbucket: skipped: reference document" in text
