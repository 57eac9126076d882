"""Bitbucket JSON of pull requests (RestPullRequest), their participants, refs and activities.

`PullRequestView` caches users and repositories for one request, so a page of pull requests costs
one query per distinct user/repository, not one per field.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.api.bitbucket.render import repo_json, user_json
from culm.domain.mergechecks import checks
from culm.domain.projects.models import Project
from culm.domain.pullrequests import activities, queries
from culm.domain.pullrequests.models import Activity, Participant, PullRequest
from culm.domain.repos.models import Repository
from culm.domain.users.models import User


def display_ref(ref: str) -> str:
    return ref.removeprefix("refs/heads/").removeprefix("refs/tags/")


class PullRequestView:
    def __init__(self, session: Session, base: str) -> None:
        self.session = session
        self.base = base
        self._users: dict[int, User | None] = {}
        self._repos: dict[int, dict[str, Any]] = {}
        self._counts: dict[int, dict[str, int]] = {}

    # -- building blocks ------------------------------------------------------------------------
    def user(self, user: User) -> dict[str, Any]:
        return user_json(user, self.base)

    def user_by_id(self, user_id: int | None) -> User | None:
        if user_id is None:
            return None
        if user_id not in self._users:
            self._users[user_id] = self.session.get(User, user_id)
        return self._users[user_id]

    def repository(self, repository_id: int) -> dict[str, Any]:
        if repository_id not in self._repos:
            repo = self.session.get(Repository, repository_id)
            assert repo is not None
            self._repos[repository_id] = repo_json(self.session, repo, self.base)
        return self._repos[repository_id]

    def ref(self, repository_id: int, ref: str, commit: str) -> dict[str, Any]:
        return {"id": ref, "displayId": display_ref(ref), "latestCommit": commit,
                "type": "TAG" if ref.startswith("refs/tags/") else "BRANCH",
                "repository": self.repository(repository_id)}

    def participant(self, p: Participant) -> dict[str, Any]:
        user = self.user_by_id(p.user_id)
        body: dict[str, Any] = {"user": self.user(user) if user else {}}
        if p.last_reviewed_commit:
            body["lastReviewedCommit"] = p.last_reviewed_commit
        body.update({"role": p.role, "approved": p.status == "APPROVED", "status": p.status})
        return body

    def link(self, pr: PullRequest) -> str:
        repo = self.repository(pr.repository_id)
        project = repo["project"]
        if project.get("type") == "PERSONAL" and "owner" in project:
            prefix = f"{self.base}/users/{project['owner']['slug']}"
        else:
            prefix = f"{self.base}/projects/{project['key']}"
        return f"{prefix}/repos/{repo['slug']}/pull-requests/{pr.local_id}"

    # -- entities -------------------------------------------------------------------------------
    def pull_request(self, pr: PullRequest, *, with_properties: bool = True) -> dict[str, Any]:
        rows = list(self.session.scalars(queries.participants_statement(pr)))
        author = next((p for p in rows if p.role == "AUTHOR"), None)
        body: dict[str, Any] = {
            "id": pr.local_id,
            "version": pr.version,
            "title": pr.title,
        }
        if pr.description:
            body["description"] = pr.description
        body.update({
            "state": pr.state,
            "open": pr.state == "OPEN",
            "closed": pr.state != "OPEN",
            "draft": pr.draft,
            "createdDate": pr.created_date,
            "updatedDate": pr.updated_date,
        })
        if pr.closed_date is not None:
            body["closedDate"] = pr.closed_date
        body.update({
            "fromRef": self.ref(pr.from_repository_id, pr.from_ref, pr.from_commit),
            "toRef": self.ref(pr.repository_id, pr.to_ref, pr.to_commit),
            "locked": pr.locked,
        })
        if author is not None:
            body["author"] = self.participant(author)
        body["reviewers"] = [self.participant(p) for p in rows if p.role == "REVIEWER"]
        body["participants"] = [self.participant(p) for p in rows if p.role == "PARTICIPANT"]
        if with_properties:
            counts = self.comment_counts(pr)
            props: dict[str, Any] = {"resolvedTaskCount": counts["resolvedTaskCount"],
                                     "commentCount": counts["commentCount"], "openTaskCount": counts["openTaskCount"]}
            if pr.merge_commit:
                props["mergeCommit"] = {"id": pr.merge_commit, "displayId": pr.merge_commit[:11]}
            body["properties"] = props
        body["links"] = {"self": [{"href": self.link(pr)}]}
        if with_properties:
            merge_result = checks.merge_result(self.session, pr)  # the last merge check's outcome, listed first
            if merge_result is not None:
                body["properties"] = {"mergeResult": merge_result, **body["properties"]}
        return body

    def comment_counts(self, pr: PullRequest) -> dict[str, int]:
        """Comment and task counts. The first pull request asked for loads the counts of every pull
        request of the session (a page is loaded before it is rendered): one query per page."""
        if pr.id not in self._counts:
            from culm.domain.comments.service import pr_counts

            loaded = {o.id for o in self.session.identity_map.values()
                      if isinstance(o, PullRequest) and o.id is not None} - self._counts.keys()
            self._counts.update(pr_counts(self.session, sorted(loaded | {pr.id})))
        return self._counts[pr.id]

    def activity(self, row: Activity) -> dict[str, Any]:
        """RestPullRequestActivity: id, createdDate, user, action, plus the action's own fields."""
        user = self.user_by_id(row.user_id)
        body: dict[str, Any] = {"id": row.id, "createdDate": row.created_date}
        if user is not None:
            body["user"] = self.user(user)
        body["action"] = row.action
        extra = activities.detail(row)
        for key in ("addedReviewers", "removedReviewers"):
            if key in extra:
                body[key] = [self.user(u) for u in self._users_in(extra[key])]
        for key, value in extra.items():
            if key not in ("addedReviewers", "removedReviewers"):
                body[key] = value
        return body

    def _users_in(self, ids: list[int]) -> list[User]:
        if not ids:
            return []
        return list(self.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id)))


def project_key(session: Session, repo: Repository) -> str:
    project = session.get(Project, repo.project_id)
    return project.key if project else ""
