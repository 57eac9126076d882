"""Bitbucket JSON shapes of git objects: commits (RestCommit), people, refs (RestBranch, RestTag).

Authors whose e-mail address belongs to a culm user are rendered as that user (RestApplicationUser),
as Bitbucket does; other authors as `{name, emailAddress}`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from culm.api.bitbucket.render import user_json
from culm.domain.users.models import User
from culm.git.revisions import CommitInfo, Person

BRANCH_PREFIX = "refs/heads/"
TAG_PREFIX = "refs/tags/"


def display_id(ref: str) -> str:
    """`refs/heads/x` and `refs/tags/x` → `x`; other names as they are."""
    for prefix in (BRANCH_PREFIX, TAG_PREFIX):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def short_id(oid: str) -> str:
    return oid[:11]


class People:
    """Maps commit authors to culm users by e-mail, one query per page of commits."""

    def __init__(self, session: Session | None, base: str) -> None:
        self.session = session
        self.base = base
        self._users: dict[str, User | None] = {}

    def preload(self, emails: Iterable[str]) -> None:
        wanted = {e.lower() for e in emails if e} - set(self._users)
        if not wanted or self.session is None:
            return
        rows = self.session.scalars(select(User).where(func.lower(User.email).in_(wanted),
                                                       User.deleted.is_(False)))
        found = {u.email.lower(): u for u in rows if u.email}
        for email in wanted:
            self._users[email] = found.get(email)

    def json(self, person: Person) -> dict[str, Any]:
        key = person.email.lower()
        if key not in self._users:
            self.preload([person.email])
        user = self._users.get(key)
        if user is not None:
            return user_json(user, self.base)
        return {"name": person.name, "emailAddress": person.email}


def commit_json(c: CommitInfo, people: People) -> dict[str, Any]:
    """RestCommit; timestamps in epoch milliseconds."""
    return {
        "id": c.id,
        "displayId": short_id(c.id),
        "author": people.json(c.author),
        "authorTimestamp": c.author_ms,
        "committer": people.json(c.committer),
        "committerTimestamp": c.committer_ms,
        "message": c.message,
        "parents": [{"id": p, "displayId": short_id(p)} for p in c.parents],
    }


def commits_json(commits: list[CommitInfo], people: People) -> list[dict[str, Any]]:
    people.preload([c.author.email for c in commits] + [c.committer.email for c in commits])
    return [commit_json(c, people) for c in commits]


def minimal_commit_json(oid: str) -> dict[str, Any]:
    return {"id": oid, "displayId": short_id(oid)}


def branch_json(ref: str, commit: str, is_default: bool) -> dict[str, Any]:
    """RestBranch as real servers send it: `isDefault` (the spec's Java name is `default`)."""
    return {"id": ref, "displayId": display_id(ref), "type": "BRANCH", "latestCommit": commit,
            "latestChangeset": commit, "isDefault": is_default}


def tag_json(ref: str, commit: str, tag_object: str | None) -> dict[str, Any]:
    """RestTag: `hash` is the annotated tag object's id, null for a lightweight tag."""
    return {"id": ref, "displayId": display_id(ref), "type": "TAG", "latestCommit": commit,
            "latestChangeset": commit, "hash": tag_object}


def path_json(path: str) -> dict[str, Any]:
    """RestPath: `{components, parent, name, extension?, toString}` for a slash-separated path."""
    components = [c for c in path.split("/") if c]
    name = components[-1] if components else ""
    body: dict[str, Any] = {"components": components, "parent": "/".join(components[:-1]), "name": name}
    stem, dot, ext = name.rpartition(".")
    if dot and stem:
        body["extension"] = ext
    body["toString"] = "/".join(components)
    return body
