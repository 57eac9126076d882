"""`GET {R}/archive` (getArchive): the tree of a commit as zip (default), tar, tar.gz or tgz, streamed
from `git archive`, optionally limited to some paths (`path`, repeatable) and placed under `prefix`.

The download name follows the spec: without `at`, `<slug>-<default branch>@<commit>.<format>`; for a
branch or tag, `<slug>-<short name, / as ->@<commit>.<format>`; for anything else `<slug>-<at>.<format>`
(`<commit>` abbreviated to 11 characters); `filename` overrides it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from culm.api.bitbucket.browse import R, content_target, resolve_at
from culm.api.bitbucket.raw import content_disposition
from culm.api.bitbucket.render_git import display_id, short_id
from culm.api.bitbucket.repo_access import readable
from culm.api.bitbucket.streaming import GitStream
from culm.api.deps import db, principal
from culm.core.errors import ValidationError
from culm.domain.permissions.service import Principal
from culm.git import archive as git_archive
from culm.git.revisions import lookup_ref, open_repo
from culm.git.storage import repo_dir

router = APIRouter()

MEDIA = {"zip": "application/octet-stream", "tar": "application/x-tar", "tar.gz": "application/octet-stream",
         "tgz": "application/octet-stream"}


def _default_name(slug: str, at: str | None, default_branch: str, ref: str | None, commit: str, fmt: str) -> str:
    if not at:
        return f"{slug}-{display_id(default_branch).replace('/', '-')}@{short_id(commit)}.{fmt}"
    if ref is not None:
        return f"{slug}-{display_id(ref).replace('/', '-')}@{short_id(commit)}.{fmt}"
    return f"{slug}-{at}.{fmt}"


@router.get(R + "/archive")
def get_archive(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
                who: Principal = Depends(principal)) -> Any:
    repo = readable(session, who, projectKey, repositorySlug)
    params = request.query_params
    fmt = git_archive.check_format(params.get("format"))
    prefix = git_archive.check_prefix(params.get("prefix"))
    at = params.get("at") or None
    git = open_repo(repo.id)
    commit, _ = resolve_at(git, repo, at)
    raw_paths: list[bytes] = []
    for wanted in params.getlist("path"):
        if not wanted.strip("/"):
            continue  # the root: the whole tree
        _, _, node = content_target(git, repo, at, wanted)
        raw_paths.append(node.raw_path)
    ref = lookup_ref(git, at) if at else None
    filename = params.get("filename") or _default_name(repo.slug, at, repo.default_branch,
                                                       ref.name if ref is not None else None, str(commit.id), fmt)
    if "\x00" in filename:
        raise ValidationError("The filename is not valid.", context="filename")
    chunks = git_archive.stream(repo_dir(repo.id), str(commit.id), fmt, prefix, raw_paths)
    headers = {"Content-Disposition": content_disposition("attachment", filename)}
    return GitStream(chunks, media_type=MEDIA[fmt], headers=headers)
