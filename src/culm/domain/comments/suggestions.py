"""Applying a suggestion (applySuggestion): a pull request comment whose text holds a fenced
```` ```suggestion ```` block, anchored on a line of the source side, replaces that line of the file on
the source branch with the block's content, as one new commit by the caller.

Every refusal raises before anything is written. The commit is built without a work tree
(`culm.git.commit_write`) and the source branch moves only through `refs.service.apply`
(compare-and-swap + outbox event); the rescoping consumer then moves the pull request. If the branch
moved between our read and our write, the checks are redone on its new head (a change to the same file
ends in 409, a change elsewhere is kept).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from culm.core.errors import (
    CommentOutOfDate,
    Conflict,
    IllegalPullRequestState,
    PullRequestOutOfDate,
    StaleRef,
    ValidationError,
)
from culm.domain.comments.models import Comment
from culm.domain.content.edit import identity, split_path
from culm.domain.pullrequests.models import PullRequest
from culm.domain.refs import service as refs
from culm.domain.repos.models import Repository
from culm.domain.users.models import User
from culm.git import commit_write
from culm.git.revisions import find_commit, open_repo

_PULL = "com.atlassian.bitbucket.pull."
ATTEMPTS = 5
# ```suggestion on its own line (trailing blanks allowed), up to a closing fence of at least as many backticks
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})[ \t]*suggestion[ \t]*\r?$", re.MULTILINE)


class SuggestionConflict(Conflict):
    """The suggestion cannot be applied to the source branch as it is now: it must be applied by hand."""

    exception_name = _PULL + "ApplySuggestionException"


def suggestions(text: str) -> list[str]:
    """The content of every ```suggestion block in `text`, in order (an unclosed block is not one)."""
    out: list[str] = []
    pos = 0
    while True:
        start = _FENCE.search(text, pos)
        if start is None:
            return out
        fence = start.group("fence")
        body_start = start.end() + 1
        close = re.compile("^" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*\r?$", re.MULTILINE)
        end = close.search(text, body_start) if body_start <= len(text) else None
        if end is None:
            return out
        out.append(text[body_start:end.start()])
        pos = end.end()


def _int(body: Mapping[str, Any], name: str, required: bool = True) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ValidationError(f"'{name}' is required.", context=name)
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationError(f"'{value}' is not a valid value for '{name}'.", context=name)
    try:
        return int(str(value))
    except ValueError:
        raise ValidationError(f"'{value}' is not a valid value for '{name}'.", context=name) from None


def _replace(data: bytes, line: int, replacement: str) -> bytes:
    """`data` with its 1-based `line` replaced by `replacement`'s lines, keeping the file's line ending."""
    lines = data.splitlines(keepends=True)
    if line < 1 or line > len(lines):
        raise SuggestionConflict(f"Line {line} no longer exists in the file; apply the suggestion manually.")
    old = lines[line - 1]
    ending = old[len(old.rstrip(b"\r\n")):]
    eol = ending or (b"\r\n" if lines[0].endswith(b"\r\n") else b"\n")
    new = [part.rstrip("\r").encode("utf-8") for part in replacement.split("\n")]
    if replacement == "" or replacement.endswith("\n"):
        new = new[:-1]  # an empty suggestion removes the line
    chunk = b"".join(part + eol for part in new)
    if not ending and chunk:  # the last line had no newline: neither does its replacement
        chunk = chunk[: -len(eol)]
    return b"".join(lines[: line - 1]) + chunk + b"".join(lines[line:])


def apply_suggestion(session: Session, pr: PullRequest, source_repo: Repository, user: User, comment: Comment,
                     body: Mapping[str, Any]) -> str:
    """Commit the comment's suggestion `suggestionIndex` to the source branch; returns the new commit id.
    The caller has checked write permission on `source_repo` and that `comment` belongs to `pr`."""
    comment_version = _int(body, "commentVersion")
    pr_version = _int(body, "pullRequestVersion")
    index = _int(body, "suggestionIndex")
    message = body.get("commitMessage")
    if message is not None and (not isinstance(message, str) or "\x00" in message):
        raise ValidationError("The commit message must be text without NUL characters.", context="commitMessage")
    if comment_version != comment.version:
        raise CommentOutOfDate("You are attempting to apply a suggestion from an out-of-date comment.")
    if pr_version != pr.version:
        raise PullRequestOutOfDate("You are attempting to modify a pull request based on out-of-date information.")
    if pr.state != "OPEN":
        raise IllegalPullRequestState(f"Suggestions cannot be applied while the pull request is {pr.state.lower()}.")
    found = suggestions(comment.text)
    if not found:
        raise ValidationError("The comment does not contain a suggestion.", context="suggestionIndex")
    assert index is not None
    if index < 0 or index >= len(found):
        raise ValidationError(f"The comment has no suggestion with index {index}.", context="suggestionIndex")
    if comment.state == "PENDING":
        raise SuggestionConflict("Suggestions cannot be applied from pending comments.")
    if comment.path is None or comment.line is None or comment.orphaned:
        raise SuggestionConflict("The comment is not anchored on a line of the pull request's diff.")
    if comment.file_type != "TO" or comment.line_type == "REMOVED":
        raise SuggestionConflict("Suggestions can only be applied to lines on the source side of the diff.")
    parts = split_path(comment.path)
    text = message if message and message.strip() else f"Apply suggestion from comment {comment.id}"
    if not text.endswith("\n"):
        text += "\n"
    for attempt in range(ATTEMPTS):
        git_repo = open_repo(source_repo.id)
        head = commit_write.branch_head(git_repo, pr.from_ref)
        base = find_commit(git_repo, head) if head else None
        anchored = find_commit(git_repo, comment.to_hash) if comment.to_hash else None
        if base is None or anchored is None:
            raise SuggestionConflict("The source branch of the pull request no longer exists.")
        now = commit_write.path_state(git_repo, base.tree, parts)
        then = commit_write.path_state(git_repo, anchored.tree, parts)
        if now.kind != "blob" or (now.kind, now.oid) != (then.kind, then.oid):
            raise SuggestionConflict(f"The file '{comment.path}' has changed on the source branch since the "
                                     "comment was made; apply the suggestion manually.")
        assert now.oid is not None
        data = git_repo[now.oid].data  # type: ignore[attr-defined]
        new_data = _replace(data, comment.line, found[index])
        if new_data == data:
            raise ValidationError("The suggestion does not change the file.", context="suggestionIndex")
        blob = commit_write.write_blob(source_repo.id, new_data)
        tree = commit_write.tree_with_file(source_repo.id, git_repo, base.tree, parts, blob,
                                           now.mode or commit_write.BLOB_MODE)
        new = commit_write.commit_tree(source_repo.id, tree, [str(base.id)], identity(user), text)
        try:
            refs.apply(session, source_repo, user.id, pr.from_ref, str(base.id), new, "apply suggestion")
        except StaleRef:
            if attempt == ATTEMPTS - 1:
                raise
            continue
        return new
    raise StaleRef("The source branch kept changing; reload it and try again.")  # pragma: no cover
