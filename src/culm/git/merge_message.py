"""The commit messages Bitbucket Data Center (7.0+) writes when it merges a pull request.

Merge commit (template title `Pull request #${id}: ${title}`, body `Merge in ${toProjectKey}/${toRepoSlug}
from ${crossRepoProjectRepo}${fromRefName} to ${toRefName}`), followed by a summary of the merged commits:

    Pull request #7: Add the parser

    Merge in PROJ/repo from feature/parser to master

    * commit '3f2c…':
      Parse the header
      Start the parser

Squash commits list the squashed commits as `git merge --squash` does ("Squashed commit of the
following:" then each commit with its id, author and date, message indented).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pygit2

DEFAULT_SUMMARIES = 20


@dataclass(frozen=True)
class MessageContext:
    pull_request_id: int
    title: str
    to_project_key: str
    to_repo_slug: str
    from_ref: str  # display id, e.g. feature/x
    to_ref: str
    cross_repo: str = ""  # "PROJ/repo:" when the source is another repository
    template: tuple[str, str] | None = None  # (title, body) from the merge settings; None: Bitbucket's default
    description: str = ""


DEFAULT_TEMPLATE = ("Pull request #${id}: ${title}",
                    "Merge in ${toProjectKey}/${toRepoSlug} from ${crossRepoProjectRepo}${fromRefName} to ${toRefName}")
_VARIABLE = re.compile(r"\$\{([A-Za-z]+)\}")


def _fill(text: str, ctx: MessageContext) -> str:
    """Replace the template's `${name}` variables; unknown names stay as written."""
    values = {"id": str(ctx.pull_request_id), "title": ctx.title, "description": ctx.description,
              "toProjectKey": ctx.to_project_key, "toRepoSlug": ctx.to_repo_slug,
              "crossRepoProjectRepo": ctx.cross_repo, "fromRefName": ctx.from_ref, "toRefName": ctx.to_ref}
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _incoming(repo: pygit2.Repository, source_oid: str, target_oid: str, limit: int) -> list[pygit2.Commit]:
    walker = repo.walk(source_oid, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
    walker.hide(target_oid)
    out: list[pygit2.Commit] = []
    for commit in walker:
        if len(out) >= limit:
            break
        out.append(commit)
    return out


def _subject(commit: pygit2.Commit) -> str:
    return commit.raw_message.decode("utf-8", "replace").strip().split("\n", 1)[0]


def header(ctx: MessageContext) -> str:
    """Title, blank line, body (the body and its blank line left out when it is empty)."""
    title, body = ctx.template or DEFAULT_TEMPLATE
    title, body = _fill(title, ctx).strip(), _fill(body, ctx).strip()
    return f"{title}\n\n{body}" if body else title


def merge_message(repo: pygit2.Repository, source_oid: str, target_oid: str, ctx: MessageContext,
                  summaries: int = DEFAULT_SUMMARIES) -> str:
    """The merge commit message, with up to `summaries` incoming commit subjects (newest first)."""
    text = header(ctx)
    commits = _incoming(repo, source_oid, target_oid, summaries) if summaries > 0 else []
    if commits:
        lines = "\n".join(f"  {_subject(c)}" for c in commits)
        text += f"\n\n* commit '{source_oid}':\n{lines}"
    return text


def squash_message(repo: pygit2.Repository, source_oid: str, target_oid: str, ctx: MessageContext,
                   summaries: int = DEFAULT_SUMMARIES) -> str:
    """The squash commit message: the header, then the squashed commits as `git merge --squash` lists them."""
    parts = [header(ctx), "Squashed commit of the following:"]
    for commit in _incoming(repo, source_oid, target_oid, max(summaries, 0)):
        when = dt.datetime.fromtimestamp(commit.author.time, dt.timezone(dt.timedelta(minutes=commit.author.offset)))
        body = "\n".join(f"    {line}" if line else "" for line in
                         commit.raw_message.decode("utf-8", "replace").rstrip("\n").split("\n"))
        name = commit.author.raw_name.decode("utf-8", "replace")
        email = commit.author.raw_email.decode("utf-8", "replace")
        parts.append(f"commit {commit.id}\nAuthor: {name} <{email}>\n"
                     f"Date:   {when.strftime('%a %b %d %H:%M:%S %Y %z')}\n\n{body}")
    return "\n\n".join(parts)
