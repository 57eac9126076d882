"""The shared JSON shapes of api/bitbucket/render.py match the spec's schemas, including their empty states."""

from __future__ import annotations

import pytest

import spec_check
from culm.api.bitbucket.render import detailed_user_json, project_json, repo_json, user_json
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.domain.users.models import User

BASE = "http://bitbucket.example.com:7990"


@pytest.fixture(scope="module")
def bitbucket() -> spec_check.SpecChecker:
    try:
        return spec_check.checker("bitbucket")
    except FileNotFoundError:
        pytest.skip("reference spec not found (set CULM_REFERENCE_DIR)")


def user(**over: object) -> User:
    fields = {"id": 3, "name": "jane", "slug": "jane", "display_name": "Jane", "email": "jane@example.com",
              "active": True, "type": "NORMAL", "directory": "Bitbucket Internal Directory",
              "last_authentication": 1_700_000_000_000, "created_date": 1_600_000_000_000}
    return User(**{**fields, **over})


def project(**over: object) -> Project:
    fields = {"id": 1, "key": "PRJ", "name": "Project", "description": None, "public": False, "type": "NORMAL",
              "owner_id": None}
    return Project(**{**fields, **over})


def repo(**over: object) -> Repository:
    fields = {"id": 7, "project_id": 1, "slug": "r", "name": "R", "description": None, "forkable": True,
              "public": False, "archived": False, "state": "AVAILABLE", "origin_id": None, "hierarchy_id": "abc"}
    return Repository(**{**fields, **over})


@pytest.mark.parametrize("over", [{}, {"email": None}, {"type": "SERVICE", "active": False}])
def test_users(bitbucket: spec_check.SpecChecker, over: dict) -> None:
    assert bitbucket.component_problems("RestApplicationUser", user_json(user(**over), BASE)) == []


@pytest.mark.parametrize("over", [{}, {"email": None, "last_authentication": None}])
def test_detailed_users(bitbucket: spec_check.SpecChecker, over: dict) -> None:
    assert bitbucket.component_problems("RestDetailedUser", detailed_user_json(user(**over), BASE)) == []


def test_user_without_email_omits_the_field() -> None:
    assert "emailAddress" not in user_json(user(email=None), BASE)
    assert "lastAuthenticationTimestamp" not in detailed_user_json(user(last_authentication=None), BASE)


@pytest.mark.parametrize("over", [{}, {"description": "d", "public": True}])
def test_projects(bitbucket: spec_check.SpecChecker, over: dict) -> None:
    assert bitbucket.component_problems("RestProject", project_json(project(**over), BASE)) == []


def test_personal_project_and_its_repository(bitbucket: spec_check.SpecChecker) -> None:
    owner = user(email=None)
    personal = project(key="~jane", type="PERSONAL", owner_id=None)
    body = project_json(personal, BASE, owner)
    assert bitbucket.component_problems("RestProject", body) == []
    assert bitbucket.component_problems("RestApplicationUser", body["owner"]) == []


@pytest.mark.parametrize("over", [{}, {"description": "d", "archived": True, "public": True, "forkable": False}])
def test_repositories(bitbucket: spec_check.SpecChecker, over: dict) -> None:
    body = repo_json(None, repo(**over), BASE, project=project())  # type: ignore[arg-type]
    assert bitbucket.component_problems("RestRepository", body) == []
