"""The SQL visibility conditions agree with `Principal.project_level` / `repo_level` for every
combination of grant source, level and caller (user, group member, token, anonymous, unlicensed)."""

from __future__ import annotations

import itertools

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from culm.domain.models import (
    AccessToken,
    Base,
    GlobalPermission,
    Group,
    GroupMember,
    Project,
    ProjectPermission,
    RepoPermission,
    Repository,
    User,
)
from culm.domain.permissions import levels as L
from culm.domain.permissions import visibility
from culm.domain.permissions.service import Principal


def _world(session: Session) -> list[Principal]:
    users = [User(name=n, name_lower=n, slug=n, display_name=n) for n in ("u", "member", "unlicensed", "boss")]
    session.add_all(users)
    group = Group(name="g", name_lower="g")
    lic = Group(name="lic", name_lower="lic")
    session.add_all([group, lic])
    session.flush()
    u, member, unlicensed, boss = users
    session.add_all([GroupMember(group_id=group.id, user_id=member.id), GroupMember(group_id=lic.id, user_id=u.id),
                     GroupMember(group_id=lic.id, user_id=member.id),
                     GlobalPermission(group_id=lic.id, permission="LICENSED_USER"),
                     GlobalPermission(user_id=boss.id, permission="ADMIN")])
    # One project per (project grant, default permission, public) combination, each with repos per repo grant.
    combos = itertools.product([None, "PROJECT_READ", "PROJECT_ADMIN", "G:PROJECT_WRITE"], [None, "PROJECT_WRITE"],
                               [False, True])
    for n, (pgrant, default, public) in enumerate(combos):
        p = Project(key=f"P{n}", key_upper=f"P{n}", name=f"p{n}", name_lower=f"p{n}", public=public,
                    default_permission=default)
        session.add(p)
        session.flush()
        if pgrant and pgrant.startswith("G:"):
            session.add(ProjectPermission(project_id=p.id, group_id=group.id, permission=pgrant[2:]))
        elif pgrant:
            session.add(ProjectPermission(project_id=p.id, user_id=u.id, permission=pgrant))
        for i, (rgrant, rpublic) in enumerate(itertools.product([None, *L.REPO], [False, True])):
            r = Repository(project_id=p.id, slug=f"r{i}", name=f"r{i}", name_lower=f"r{i}", public=rpublic,
                           hierarchy_id=f"h{n}{i}")
            session.add(r)
            session.flush()
            if rgrant:
                session.add(RepoPermission(repository_id=r.id, user_id=u.id, permission=rgrant))
    personal = Project(key="~u", key_upper="~U", name="u", name_lower="~personal~u", type="PERSONAL",
                       owner_id=u.id)
    session.add(personal)
    session.flush()
    session.add(Repository(project_id=personal.id, slug="mine", name="mine", name_lower="mine", hierarchy_id="m"))
    token = AccessToken(id=1, name="t", secret_hash="x", scope="PROJECT", user_id=u.id, project_id=personal.id - 1,
                        permissions="PROJECT_READ REPO_WRITE")
    session.add(token)
    session.flush()
    return [Principal(), Principal(user=u), Principal(user=member), Principal(user=unlicensed),
            Principal(user=boss), Principal(user=u, token=token)]


def test_sql_visibility_matches_python_rules() -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for who in _world(session):
            projects = list(session.scalars(select(Project)))
            repos = list(session.scalars(select(Repository)))
            for level in (L.READ, L.WRITE, L.ADMIN):
                sql_projects = set(session.scalars(
                    select(Project.id).where(visibility.project_condition(session, who, level))))
                want = {p.id for p in projects
                        if who.project_level(session, p) >= level or (level == L.READ and p.public)}
                assert sql_projects == want, (who, level)
                sql_repos = set(session.scalars(select(Repository.id).join(Project, Project.id == Repository.project_id)
                                                .where(visibility.repo_condition(session, who, level))))
                assert sql_repos == {r.id for r in repos if who.repo_level(session, r) >= level}, (who, level)
            viewable = set(session.scalars(select(Project.id).where(visibility.project_view_condition(session, who))))
            assert viewable == {p.id for p in projects if who.can_view_project(session, p)}, who
