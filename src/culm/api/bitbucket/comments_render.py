"""Bitbucket JSON of comments (RestComment) with their reply threads and reactions.

`CommentView` extends the pull request view (events carry both) and loads a page's replies and
reactions in one query each (`preload`), so rendering a page costs a fixed number of queries.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from culm.api.bitbucket.pull_requests_render import PullRequestView
from culm.domain.comments import reactions
from culm.domain.comments import service as comments
from culm.domain.comments.models import Comment
from culm.domain.permissions.service import Principal
from culm.domain.repos.models import Repository


class CommentView(PullRequestView):
    def __init__(self, session: Session, base: str, who: Principal | None = None,
                 repo: Repository | None = None) -> None:
        super().__init__(session, base)
        self.who = who
        self.repo = repo
        self._replies: dict[int, list[Comment]] = {}
        self._reactions: dict[int, list[tuple[str, int]]] = {}
        self._loaded: set[int] = set()

    def preload(self, roots: list[Comment]) -> None:
        """Replies of `roots` and reactions of every comment in their threads."""
        fresh = [r for r in roots if r.id not in self._loaded]
        if not fresh:
            return
        found = comments.replies(self.session, fresh, comments.viewer_id(self.who))
        self._replies.update(found)
        ids = [r.id for r in fresh] + [c.id for rows in found.values() for c in rows]
        self._reactions.update(reactions.of_comments(self.session, ids))
        self._loaded.update(ids)

    def anchor(self, c: Comment) -> dict[str, Any] | None:
        if c.path is None:
            return None
        body: dict[str, Any] = {}
        if c.from_hash:
            body["fromHash"] = c.from_hash
        if c.to_hash:
            body["toHash"] = c.to_hash
        if c.line is not None:
            body.update({"line": c.line, "lineType": c.line_type, "fileType": c.file_type})
        # Bitbucket sends the paths as strings here (the 10.4 document calls them RestPath objects)
        body["path"] = c.path
        if c.src_path:
            body["srcPath"] = c.src_path
        body["diffType"] = c.diff_type
        body["orphaned"] = c.orphaned
        return body

    def _reactions_json(self, c: Comment) -> list[dict[str, Any]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for emoticon, user_id in self._reactions.get(c.id, []):
            user = self.user_by_id(user_id)
            if user is not None:
                grouped.setdefault(emoticon, []).append(self.user(user))
        return [{"emoticon": self.emoticon(name), "users": users} for name, users in grouped.items()]

    def emoticon(self, name: str) -> dict[str, Any]:
        return {"shortcut": name, "url": f"{self.base}/s/emoticons/{name}.png"}

    def comment(self, c: Comment) -> dict[str, Any]:
        if c.parent_id is None:
            self.preload([c])
        props: dict[str, Any] = {"repositoryId": c.repository_id}
        likes = self._reactions_json(c)
        if likes:
            props["reactions"] = likes
        body: dict[str, Any] = {"properties": props, "id": c.id, "version": c.version, "text": c.text}
        author = self.user_by_id(c.author_id)
        if author is not None:
            body["author"] = self.user(author)
        body.update({"createdDate": c.created_date, "updatedDate": c.updated_date})
        body["comments"] = [self.comment(r) for r in self._replies.get(c.id, [])]
        anchor = self.anchor(c)
        if anchor is not None:
            body["anchor"] = anchor
        body["threadResolved"] = c.thread_resolved
        if c.thread_resolved and c.thread_resolved_date is not None:
            body["threadResolvedDate"] = c.thread_resolved_date
            resolver = self.user_by_id(c.thread_resolver_id)
            if resolver is not None:
                body["threadResolver"] = self.user(resolver)
        body.update({"severity": c.severity, "state": c.state})
        if c.state == "PENDING":
            body["pending"] = True
        if c.state == "RESOLVED" and c.resolved_date is not None:
            body["resolvedDate"] = c.resolved_date
            resolver = self.user_by_id(c.resolver_id)
            if resolver is not None:
                body["resolver"] = self.user(resolver)
        if self.who is not None and self.repo is not None:
            editable = comments.can_edit(self.session, self.who, self.repo, c)
            body["permittedOperations"] = {
                "editable": editable,
                "transitionable": comments.can_transition(self.who),
                "deletable": editable and not self._replies.get(c.id),
            }
        return body

    def comments(self, rows: list[Comment]) -> list[dict[str, Any]]:
        self.preload([r for r in rows if r.parent_id is None])
        return [self.comment(r) for r in rows]
