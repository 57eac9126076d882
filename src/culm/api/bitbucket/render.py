"""Bitbucket JSON shapes of the core entities (user, group, project, repository)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from culm.api.urls import SSH_PORT, host_of
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.domain.users.models import Group, User


def links_self(href: str) -> dict[str, Any]:
    return {"self": [{"href": href}]}


def user_json(user: User, base: str) -> dict[str, Any]:
    """RestApplicationUser. Keys without a value are left out (Bitbucket omits them; null breaks schemas)."""
    body: dict[str, Any] = {"name": user.name}
    if user.email:
        body["emailAddress"] = user.email
    body.update({
        "active": user.active,
        "displayName": user.display_name,
        "id": user.id,
        "slug": user.slug,
        "type": user.type,
        "links": links_self(f"{base}/users/{user.slug}"),
    })
    return body


def detailed_user_json(user: User, base: str) -> dict[str, Any]:
    """RestDetailedUser: the user plus directory facts for administrators."""
    body = user_json(user, base)
    body.update(
        {
            "directoryName": user.directory,
            "deletable": True,
            "mutableDetails": True,
            "mutableGroups": True,
            "createdTimestamp": user.created_date,
        }
    )
    if user.last_authentication is not None:
        body["lastAuthenticationTimestamp"] = user.last_authentication
    return body


def group_json(group: Group) -> dict[str, Any]:
    """RestDetailedGroup."""
    return {"name": group.name, "deletable": True}


def project_json(project: Project, base: str, owner: User | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": project.key,
        "id": project.id,
        "name": project.name,
        "public": project.public,
        "type": project.type,
    }
    if project.description is not None:
        body["description"] = project.description
    if project.type == "PERSONAL" and owner is not None:
        body["owner"] = user_json(owner, base)
        body["links"] = links_self(f"{base}/users/{owner.slug}")
    else:
        body["links"] = links_self(f"{base}/projects/{project.key}")
    return body


def clone_path(project: Project, repo: Repository) -> str:
    """`prj/slug.git` with the key lower-cased, as real servers emit it; personal keys keep `~`."""
    return f"{project.key.lower()}/{repo.slug}.git"


def repo_json(
    session: Session, repo: Repository, base: str, *, with_origin: bool = True, project: Project | None = None
) -> dict[str, Any]:
    project = project or session.get(Project, repo.project_id)
    assert project is not None
    owner = session.get(User, project.owner_id) if project.owner_id else None
    if project.type == "PERSONAL" and owner is not None:
        self_href = f"{base}/users/{owner.slug}/repos/{repo.slug}/browse"
    else:
        self_href = f"{base}/projects/{project.key}/repos/{repo.slug}/browse"
    path = clone_path(project, repo)
    body: dict[str, Any] = {
        "slug": repo.slug,
        "id": repo.id,
        "name": repo.name,
        "hierarchyId": repo.hierarchy_id,
        "scmId": "git",
        "state": repo.state,
        "statusMessage": "Available" if repo.state == "AVAILABLE" else repo.state.replace("_", " ").title(),
        "forkable": repo.forkable,
        "project": project_json(project, base, owner),
        "public": repo.public,
        "archived": repo.archived,
        "links": {
            "clone": [
                {"href": f"ssh://git@{host_of(base)}:{SSH_PORT}/{path}", "name": "ssh"},
                {"href": f"{base}/scm/{path}", "name": "http"},
            ],
            "self": [{"href": self_href}],
        },
    }
    if repo.description is not None:
        body["description"] = repo.description
    if with_origin and repo.origin_id is not None:
        origin = session.get(Repository, repo.origin_id)
        if origin is not None:
            body["origin"] = repo_json(session, origin, base, with_origin=False)
    return body
