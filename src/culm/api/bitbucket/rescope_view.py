"""The Bitbucket JSON the rescoping consumer writes into activities and events, outside any request:
links use the configured base URL (`CULM_BASE_URL`), else this node's own address."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from culm.api.bitbucket.pull_requests_render import PullRequestView
from culm.api.bitbucket.render_git import People, commits_json
from culm.core.config import background_base_url
from culm.core.db import session_scope
from culm.domain.automerge import service as automerge
from culm.domain.pullrequests import rescope
from culm.git.revisions import CommitInfo


class BackgroundView(PullRequestView):
    def commits(self, commits: list[CommitInfo]) -> list[dict[str, Any]]:
        return commits_json(commits, People(self.session, self.base))


def view_for(session: Session) -> BackgroundView:
    return BackgroundView(session, background_base_url())


def run_pending() -> int:
    """Handle every pending `repo:refs_changed` event for the pull requests, then try the auto-merge
    requests those events (or build statuses, reviews) made due (the worker's job)."""
    return rescope.run_once(session_scope, view_for) + automerge.run_due(session_scope, view_for)
