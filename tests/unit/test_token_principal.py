"""How access tokens narrow a Principal, on a real (SQLite) database built from the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from culm.core.db import make_engine
from culm.core.errors import ValidationError
from culm.domain import models  # noqa: F401  (every table)
from culm.domain.base import Base
from culm.domain.bootstrap import ensure_defaults
from culm.domain.permissions import levels as L
from culm.domain.permissions.models import GlobalPermission, ProjectPermission, RepoPermission
from culm.domain.permissions.service import Principal
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.domain.tokens import service as tokens
from culm.domain.users import service as users


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as s:
        ensure_defaults(s, "admin-pw")
        yield s
    engine.dispose()


def project(s: Session, key: str, public: bool = False) -> Project:
    p = Project(key=key, key_upper=key, name=key, name_lower=key.lower(), public=public)
    s.add(p)
    s.flush()
    return p


def repo(s: Session, p: Project, slug: str, public: bool = False) -> Repository:
    r = Repository(project_id=p.id, slug=slug, name=slug, name_lower=slug, hierarchy_id=slug, public=public)
    s.add(r)
    s.flush()
    return r


@pytest.fixture
def world(session: Session) -> dict:
    alice = users.create_user(session, "alice", "pw")
    p1, p2 = project(session, "P1"), project(session, "P2")
    r1, r2 = repo(session, p1, "r1"), repo(session, p1, "r2")
    r3, pub = repo(session, p2, "r3"), repo(session, p2, "pub", public=True)
    session.add(ProjectPermission(project_id=p1.id, user_id=alice.id, permission="PROJECT_ADMIN"))
    session.add(RepoPermission(repository_id=r3.id, user_id=alice.id, permission="REPO_READ"))
    session.flush()
    return {"alice": alice, "p1": p1, "p2": p2, "r1": r1, "r2": r2, "r3": r3, "pub": pub}


def user_token(s: Session, w: dict, perms: list[str]) -> Principal:
    token, _ = tokens.create(s, tokens.USER, {"name": "t", "permissions": perms}, owner=w["alice"])
    return Principal(user=w["alice"], token=token)


def test_user_token_is_the_minimum_of_owner_and_token(session: Session, world: dict) -> None:
    w = world
    plain = Principal(user=w["alice"])
    assert plain.project_level(session, w["p1"]) == L.ADMIN and plain.repo_level(session, w["r1"]) == L.ADMIN
    read = user_token(session, w, ["REPO_READ"])
    assert read.repo_level(session, w["r1"]) == L.READ
    assert read.project_level(session, w["p1"]) == L.NONE  # no project permission on the token
    assert read.can_view_project(session, w["p1"])
    assert read.repo_level(session, w["r3"]) == L.READ  # the owner's own grant, within the token's cap
    write = user_token(session, w, ["PROJECT_WRITE"])
    assert write.project_level(session, w["p1"]) == L.WRITE and write.repo_level(session, w["r2"]) == L.WRITE
    strong = user_token(session, w, ["PROJECT_ADMIN"])
    assert strong.project_level(session, w["p2"]) == L.NONE  # a token never adds rights
    assert strong.repo_level(session, w["r3"]) == L.READ
    assert strong.effective_global(session) == L.G_LICENSED


def test_admins_tokens_are_not_admin(session: Session, world: dict) -> None:
    admin = users.require_user(session, "admin")
    token, _ = tokens.create(session, tokens.USER, {"name": "t", "permissions": ["REPO_READ"]}, owner=admin)
    who = Principal(user=admin, token=token)
    assert who.global_level(session) == L.G_SYS_ADMIN
    assert who.effective_global(session) == L.G_LICENSED
    assert who.repo_level(session, world["r3"]) == L.READ and who.project_level(session, world["p2"]) == L.NONE


def test_project_token_bot_has_exactly_the_tokens_rights(session: Session, world: dict) -> None:
    w = world
    token, _ = tokens.create(session, tokens.PROJECT, {"name": "bot", "permissions": ["PROJECT_READ"]},
                             project=w["p1"])
    bot = tokens.token_user(session, token)
    assert bot.type == "SERVICE" and bot.name == f"bot-{token.id}" and bot.password_hash is None
    assert users.user_group_ids(session, bot.id) == []  # not in stash-users: no licence
    # Even a direct grant to the bot elsewhere does not count: the token alone decides.
    session.add(ProjectPermission(project_id=w["p2"].id, user_id=bot.id, permission="PROJECT_ADMIN"))
    session.add(GlobalPermission(user_id=bot.id, permission="SYS_ADMIN"))
    session.flush()
    who = Principal(user=bot, token=token)
    assert who.project_level(session, w["p1"]) == L.READ
    assert who.repo_level(session, w["r1"]) == L.READ and who.repo_level(session, w["r2"]) == L.READ
    assert who.project_level(session, w["p2"]) == L.NONE and who.repo_level(session, w["r3"]) == L.NONE
    assert who.repo_level(session, w["pub"]) == L.READ  # public is public for everyone
    assert who.global_level(session) == L.NONE and who.effective_global(session) == L.NONE
    tokens.update(session, token, {"permissions": ["PROJECT_WRITE"], "name": "renamed"})
    assert who.repo_level(session, w["r1"]) == L.WRITE and who.project_level(session, w["p1"]) == L.WRITE
    assert bot.display_name == "renamed"
    tokens.delete(session, token)
    assert bot.active is False and bot.deleted is True


def test_repository_token_bot_is_limited_to_its_repository(session: Session, world: dict) -> None:
    w = world
    token, _ = tokens.create(session, tokens.REPOSITORY, {"name": "r", "permissions": ["REPO_WRITE"]},
                             repo=w["r1"])
    who = Principal(user=tokens.token_user(session, token), token=token)
    assert who.repo_level(session, w["r1"]) == L.WRITE
    assert who.repo_level(session, w["r2"]) == L.NONE
    assert who.project_level(session, w["p1"]) == L.NONE
    assert who.can_view_project(session, w["p1"])  # through its repository
    p3 = project(session, "P3")
    repo(session, p3, "r4")
    assert not who.can_view_project(session, p3)


def test_permission_normalisation() -> None:
    assert tokens.normalise_permissions(["PROJECT_WRITE", "REPO_READ"], "USER") == ["PROJECT_WRITE", "REPO_WRITE"]
    assert tokens.normalise_permissions(["REPO_READ", "REPO_ADMIN"], "PROJECT") == ["REPO_ADMIN"]
    assert tokens.normalise_permissions(["REPO_WRITE"], "REPOSITORY") == ["REPO_WRITE"]
    for perms, scope in ((["PROJECT_READ"], "REPOSITORY"), (["ADMIN"], "USER"), (["LICENSED_USER"], "PROJECT"),
                         (["nope"], "USER"), ([], "USER"), (None, "USER"), ([1], "USER")):
        with pytest.raises(ValidationError):
            tokens.normalise_permissions(perms, scope)
