"""Shared set-up for the pull request tests: a repository with pushed branches, a fork, and users."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from atlassian import Bitbucket

from support import ADMIN, USER_PASSWORD, LiveServer, commit_file, create_repo, cred_url, git, server_db

API = "/rest/api/latest"


def bitbucket(server: LiveServer, user: str = ADMIN[0], password: str | None = None) -> Bitbucket:
    session = requests.Session()
    session.trust_env = False
    pw = password or (ADMIN[1] if user == ADMIN[0] else USER_PASSWORD)
    return Bitbucket(url=server.url, username=user, password=pw, session=session)


def push_repo(server: LiveServer, admin, work: Path, key: str, slug: str, branches: list[str]) -> dict:
    """A repository whose `main` has one commit and each branch one more commit of its own."""
    repo = create_repo(admin, key, slug)
    url = cred_url(server, f"/scm/{key}/{slug}.git", *ADMIN)
    git("init", "-q", "-b", "main", str(work))
    commits = {"main": commit_file(work, "README.md", "hello\n")}
    git("push", "-q", url, "main", cwd=work)
    for name in branches:
        git("checkout", "-q", "-b", name, "main", cwd=work)
        commits[name] = commit_file(work, f"{name.replace('/', '_')}.txt", name + "\n")
        git("push", "-q", url, name, cwd=work)
    git("checkout", "-q", "main", cwd=work)
    return {"repo": repo, "commits": commits, "url": url}


def pr_state(server: LiveServer) -> dict:
    """Every pull request row, participant, activity, watcher and pr:* event: to prove a refusal changed nothing."""
    from sqlalchemy import select

    from culm.domain.events.models import Event
    from culm.domain.pullrequests.models import Activity, Participant, PullRequest, Watcher

    with server_db(server) as s:
        return {
            "prs": [(p.id, p.version, p.state, p.title, p.description, p.to_ref, p.draft)
                    for p in s.scalars(select(PullRequest).order_by(PullRequest.id))],
            "participants": [(p.pull_request_id, p.user_id, p.role, p.status)
                             for p in s.scalars(select(Participant).order_by(Participant.id))],
            "activities": s.scalars(select(Activity.id).order_by(Activity.id)).all(),
            "watchers": [(w.pull_request_id, w.user_id) for w in s.scalars(select(Watcher))],
            "events": s.scalars(select(Event.id).where(Event.kind.like("pr:%")).order_by(Event.id)).all(),
        }


def pr_events(server: LiveServer, kind: str | None = None) -> list[dict]:
    from sqlalchemy import select

    from culm.domain.events.models import Event

    with server_db(server) as s:
        stmt = select(Event).where(Event.kind.like("pr:%")).order_by(Event.id)
        if kind:
            stmt = stmt.where(Event.kind == kind)
        return [{"kind": e.kind, "repository_id": e.repository_id, "actor_id": e.actor_id, **json.loads(e.payload)}
                for e in s.scalars(stmt)]


def error(r, status: int, name: str) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    err = r.json()["errors"][0]
    assert err["exceptionName"].endswith(name), err
    return err
