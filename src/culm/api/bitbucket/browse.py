"""Reading content: `GET {R}/browse[/{path}]` (getContent / getContent_1).

A directory answers `{path, revision, children: <page of entries>}`; a file answers a page of lines
`{lines: [{text}], start, size, isLastPage}` (no `nextPageStart`, as Bitbucket: BSERV-12725), with
`blame` for the page's lines when asked. `size=true` and `type=true` answer `{"size": N}` and
`{"type": ...}`, checked in that order; `blame` and `noContent` count when merely present, `size` and
`type` only as `=true` (spec text of getContent). Writing (`PUT {R}/browse/{path}`) lives in edit.py.

The helpers `content_target` and `resolve_at` are shared by files.py, raw.py and archive.py.
"""

from __future__ import annotations

from typing import Any

import pygit2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render_git import People, path_json, short_id
from culm.api.bitbucket.repo_access import readable
from culm.api.deps import db, principal
from culm.api.errors import JSON_UTF8
from culm.api.urls import base_url
from culm.core.errors import NoSuchPath, ValidationError
from culm.core.paging import DEFAULT_LIMIT, PageRequest, page_envelope
from culm.domain.permissions.service import Principal
from culm.domain.repos.models import Repository
from culm.git import blame as git_blame
from culm.git import blob as git_blob
from culm.git import tree as git_tree
from culm.git.revisions import open_repo, resolve_commit
from culm.git.storage import repo_dir

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}"

LINES_MAX = 5000  # Bitbucket's page.max.source.lines


def resolve_at(git: pygit2.Repository, repo: Repository, at: str | None) -> tuple[pygit2.Commit, str]:
    """The commit `at` names (the default branch when absent) and the revision as clients named it.
    An unknown `at`, or an empty repository's unborn default branch, is a 404 NoSuchCommitException."""
    revision = at if at else repo.default_branch
    return resolve_commit(git, revision, repo.name), revision


def content_target(git: pygit2.Repository, repo: Repository, at: str | None,
                   path: str | None) -> tuple[pygit2.Commit, str, git_tree.Node]:
    """Commit, revision label and node of a content request; Bitbucket's 404 for a missing path."""
    clean = git_tree.clean_path(path)
    commit, revision = resolve_at(git, repo, at)
    node = git_tree.find(commit, clean)
    if node is None:
        raise NoSuchPath(f'The path "{clean}" does not exist at revision "{revision}"', context="path")
    return commit, revision, node


def _explicit_true(request: Request, name: str) -> bool:
    """`size` and `type` count only as an explicit `=true` (`?size` alone is false)."""
    return request.query_params.get(name, "").strip().lower() == "true"


def _present(request: Request, name: str) -> bool:
    """`blame` and `noContent` count when present, unless `=false`."""
    return name in request.query_params and request.query_params.get(name, "").strip().lower() != "false"


def _lines_page(request: Request) -> PageRequest:
    """Paging for lines of a file: Bitbucket allows up to 5000 lines a page (clients ask for more)."""
    req = PageRequest.parse(request.query_params.get("start"), request.query_params.get("limit"))
    raw = request.query_params.get("limit")
    limit = int(raw) if raw not in (None, "") else DEFAULT_LIMIT
    return PageRequest(start=req.start, limit=min(limit if limit > 0 else DEFAULT_LIMIT, LINES_MAX))


def _child_json(child: git_tree.Child) -> dict[str, Any]:
    body: dict[str, Any] = {"path": path_json(child.name), "contentId": child.oid, "type": child.kind}
    if child.size is not None:
        body["size"] = child.size
    return body


def _blame_json(spans: list[git_blame.BlameSpan], people: People) -> list[dict[str, Any]]:
    people.preload([s.author.email for s in spans] + [s.committer.email for s in spans])
    return [{
        "author": people.json(s.author),
        "authorTimestamp": s.author_ms,
        "committer": people.json(s.committer),
        "committerTimestamp": s.committer_ms,
        "commitHash": s.commit,
        "displayCommitHash": short_id(s.commit),
        "commitId": s.commit,
        "displayCommitId": short_id(s.commit),
        "fileName": s.filename,
        "lineNumber": s.line_number,
        "spannedLines": s.spanned_lines,
    } for s in spans]


@router.get(R + "/browse")
@router.get(R + "/browse/{path:path}")
def get_content(projectKey: str, repositorySlug: str, request: Request, path: str = "",
                session: Session = Depends(db), who: Principal = Depends(principal)) -> Any:
    repo = readable(session, who, projectKey, repositorySlug)
    git = open_repo(repo.id)
    commit, revision, node = content_target(git, repo, request.query_params.get("at"), path)

    if _explicit_true(request, "size"):
        if node.kind != git_tree.FILE:
            raise ValidationError(f'The path "{node.path}" is not a file at revision "{revision}"', context="path")
        return {"size": git_tree.blob_size(git, node.oid)}
    if _explicit_true(request, "type"):
        return {"type": node.kind}

    if node.kind == git_tree.DIRECTORY:
        req = PageRequest.parse(request.query_params.get("start"), request.query_params.get("limit"))
        children, is_last = git_tree.list_dir(git, node.oid, req.start, req.limit)
        return {"path": path_json(node.path), "revision": revision,
                "children": page_envelope([_child_json(c) for c in children], req, is_last)}
    if node.kind == git_tree.SUBMODULE:
        raise ValidationError(f'The path "{node.path}" is a submodule at revision "{revision}"; it has no '
                              "content in this repository.", context="path")

    req = _lines_page(request)
    page = git_blob.read_lines(git, repo_dir(repo.id), node.oid, req.start, req.limit)
    if page.binary:
        return {"binary": True, "start": req.start, "size": 0, "isLastPage": True}
    want_blame = _present(request, "blame")
    blame: list[dict[str, Any]] | None = None
    if want_blame:
        spans = git_blame.blame(repo_dir(repo.id), str(commit.id), node.raw_path, req.start + 1, len(page.lines))
        blame = _blame_json(spans, People(session, base_url(request)))
        if _present(request, "noContent"):
            return JSONResponse(blame, media_type=JSON_UTF8)
    body: dict[str, Any] = {"lines": [{"text": line} for line in page.lines], "start": req.start,
                            "size": len(page.lines), "isLastPage": page.is_last}
    if blame is not None:
        body["blame"] = blame
    return body
