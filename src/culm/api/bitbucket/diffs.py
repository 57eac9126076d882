"""Diffs: `{R}/commits/{commitId}/diff[/{path}]` (streamDiff), `{R}/diff[/{path}]` (streamRawDiff),
`{R}/compare/diff[/{path}]` (streamDiff_1), the diff stats summaries, and `{R}/patch` (streamPatch).

Every diff answers Bitbucket's JSON (`{fromHash, toHash, contextLines, whitespace, diffs: [...],
truncated}`) or, when the client prefers `text/plain` (the spec gives text a quality of 0.1, so JSON
wins unless text is asked for alone), git's unified diff. Both are streamed from git as it runs: the
JSON file by file within the bounds of `culm.git.diff`, the text in chunks.

Parameters as Bitbucket reads them: `contextLines` absent or negative means the default (10), a
non-number is a 400; `whitespace=ignore-all` ignores whitespace, any other value shows it
(`DiffWhitespace.fromString` falls back to SHOW); `withComments`, `avatarSize`, `avatarScheme`
and `filter` have no effect (culm has no commit comments yet).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pygit2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session

from culm.api.bitbucket import A
from culm.api.bitbucket.render_git import path_json
from culm.api.bitbucket.repo_access import readable, repo_at
from culm.api.bitbucket.streaming import GitStream
from culm.api.deps import db, flag, principal
from culm.core.errors import NoSuchRepository, NotFound, ValidationError
from culm.domain.permissions.service import Principal
from culm.domain.projects.models import Project
from culm.domain.repos.models import Repository
from culm.git import diff as gitdiff
from culm.git.revisions import find_commit, open_repo, resolve_commit
from culm.git.storage import repo_dir

router = APIRouter()
R = A + "/projects/{projectKey}/repos/{repositorySlug}"
JSON_TYPE = "application/json;charset=UTF-8"
TEXT_TYPE = "text/plain"


# ---- parameters --------------------------------------------------------------------------------------


def _param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value else None


def repo_path(value: str | None, what: str = "path") -> str | None:
    """A repository-relative path from a client: slashes trimmed; `..`, `.`, a leading `-`, an absolute
    query path, NUL and other control characters refused with a 400."""
    if value is None:
        return None
    if what != "path" and value.startswith("/"):
        raise ValidationError(f"The {what} must be relative to the repository root.", context=what)
    cleaned = value.strip("/")
    if not cleaned:
        return None
    parts = cleaned.split("/")
    if (cleaned.startswith("-") or any(p in ("", ".", "..") for p in parts)
            or any(ord(ch) < 0x20 or ch == "\x7f" for ch in cleaned)):
        raise ValidationError(f"The {what} '{value}' is not a valid path.", context=what)
    return cleaned


def context_lines(request: Request) -> int:
    raw = request.query_params.get("contextLines")
    if raw is None or raw.strip() == "":
        return gitdiff.DEFAULT_CONTEXT_LINES
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValidationError(f"contextLines must be a number, not '{raw}'.", context="contextLines") from None
    if value < 0:
        return gitdiff.DEFAULT_CONTEXT_LINES  # negative: the system default, as Bitbucket
    return min(value, 1_000_000)


def ignore_whitespace(request: Request) -> bool:
    value = (request.query_params.get("whitespace") or "").strip().lower().replace("_", "-")
    return value == "ignore-all"


def prefers_text(request: Request) -> bool:
    """Content negotiation with the spec's qualities: JSON 1.0, `text/plain` 0.1."""
    accept = request.headers.get("accept", "")
    best_json = best_text = 0.0
    if not accept.strip():
        return False
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media in ("application/json", "application/*", "*/*"):
            best_json = max(best_json, q)
        if media in ("text/plain", "text/*", "*/*"):
            best_text = max(best_text, q)
    return best_text * 0.1 > best_json


# ---- the diff being served ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """A path filter: git sees `path` and `srcPath` (so a rename between them is found); only files
    at or under `path` are shown."""

    path: str | None = None
    src_path: str | None = None

    def pathspecs(self) -> tuple[str, ...]:
        if self.path is None:
            return ()
        return (self.path,) if self.src_path in (None, self.path) else (self.path, self.src_path)

    def _under(self, name: str | None) -> bool:
        assert self.path is not None
        return name is not None and (name == self.path or name.startswith(self.path + "/"))

    def keep(self) -> Callable[[gitdiff.FileDiff], bool] | None:
        if self.path is None:
            return None
        return lambda f: self._under(f.destination) or self._under(f.source)


def _scope(request: Request, path: str | None, req: gitdiff.DiffRequest) -> Scope:
    path = repo_path(path)
    src = repo_path(_param(request, "srcPath"), "srcPath")
    if path is not None and src is None and flag(request, "autoSrcPath"):
        src = gitdiff.copy_source(req, path)
    return Scope(path, src)


def _line(line: gitdiff.Line) -> dict[str, Any]:
    return {"source": line.source, "destination": line.destination, "line": line.text, "truncated": line.truncated}


def _hunk(h: gitdiff.Hunk) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if h.context:
        body["context"] = h.context
    body.update({
        "sourceLine": h.source_line, "sourceSpan": h.source_span,
        "destinationLine": h.destination_line, "destinationSpan": h.destination_span,
        "segments": [{"type": s.type, "lines": [_line(x) for x in s.lines], "truncated": s.truncated}
                     for s in h.segments],
        "truncated": h.truncated,
    })
    return body


def file_json(f: gitdiff.FileDiff) -> dict[str, Any]:
    """One entry of `diffs`: no `source` for an added file, no `destination` for a deleted one."""
    body: dict[str, Any] = {}
    if f.source is not None:
        body["source"] = path_json(f.source)
    if f.destination is not None:
        body["destination"] = path_json(f.destination)
    if f.binary:
        body["binary"] = True
    body["hunks"] = [_hunk(h) for h in f.hunks]
    body["truncated"] = f.truncated
    return body


def _json_stream(req: gitdiff.DiffRequest, scope: Scope) -> Iterator[bytes]:
    parser = gitdiff.DiffParser(keep=scope.keep())
    head: dict[str, Any] = {}
    if req.base is not None:
        head["fromHash"] = req.base
    head.update({"toHash": req.target, "contextLines": req.context_lines,
                 "whitespace": "IGNORE_ALL" if req.ignore_whitespace else "SHOW"})
    yield json.dumps(head)[:-1].encode() + b', "diffs": ['
    first = True
    for f in gitdiff.stream_diff(req, parser):
        yield (b"" if first else b",") + json.dumps(file_json(f)).encode()
        first = False
    yield b'], "truncated": ' + (b"true" if parser.truncated else b"false") + b"}"


def serve_diff(request: Request, req: gitdiff.DiffRequest, path: str | None) -> StreamingResponse:
    """The diff `req` limited to `path`, as JSON or text as the client prefers."""
    scope = _scope(request, path, req)
    req = replace(req, paths=scope.pathspecs())
    if prefers_text(request):
        return GitStream(gitdiff.raw_diff(req), media_type=TEXT_TYPE)
    return GitStream(_json_stream(req, scope), media_type=JSON_TYPE)


def serve_stats(request: Request, req: gitdiff.DiffRequest, path: str | None) -> JSONResponse:
    """RestDiffStatsSummary: `{filesChanged, totalInsertions, totalDeletions}` (DiffStatsSummary)."""
    scope = _scope(request, path, req)
    keep = scope.keep()
    files, added, removed = gitdiff.stats(replace(req, paths=scope.pathspecs()),
                                          keep=None if keep is None else (lambda s, d: keep(gitdiff.FileDiff(s, d))))
    return JSONResponse({"filesChanged": files, "totalInsertions": added, "totalDeletions": removed},
                        media_type=JSON_TYPE)


def _first_parent(commit: pygit2.Commit) -> str | None:
    ids = commit.parent_ids
    return str(ids[0]) if ids else None


def _request(request: Request, repo: Repository, base: str | None, target: str) -> gitdiff.DiffRequest:
    return gitdiff.DiffRequest(repo_dir(repo.id), base, target, context_lines=context_lines(request),
                               ignore_whitespace=ignore_whitespace(request))


def _commit_diff(request: Request, repo: Repository, until: str | None, since: str | None) -> gitdiff.DiffRequest:
    """`until` against `since`, or against its first parent (nothing: the empty tree) without one."""
    git = open_repo(repo.id)
    target = resolve_commit(git, until, repo.name)
    base = str(resolve_commit(git, since, repo.name).id) if since else _first_parent(target)
    return _request(request, repo, base, str(target.id))


# ---- commits/{commitId}/diff -------------------------------------------------------------------------


@router.get(R + "/commits/{commitId}/diff", response_model=None)
@router.get(R + "/commits/{commitId}/diff/{path:path}", response_model=None)
def commit_diff(projectKey: str, repositorySlug: str, commitId: str, request: Request, path: str = "",
                session: Session = Depends(db), who: Principal = Depends(principal)) -> StreamingResponse:
    repo = readable(session, who, projectKey, repositorySlug)
    return serve_diff(request, _commit_diff(request, repo, commitId, _param(request, "since")), path)


@router.get(R + "/commits/{commitId}/diff-stats-summary", response_model=None)
@router.get(R + "/commits/{commitId}/diff-stats-summary/{path:path}", response_model=None)
def commit_diff_stats(projectKey: str, repositorySlug: str, commitId: str, request: Request, path: str = "",
                      session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    repo = readable(session, who, projectKey, repositorySlug)
    return serve_stats(request, _commit_diff(request, repo, commitId, _param(request, "since")), path)


# ---- diff?since=&until= ------------------------------------------------------------------------------


@router.get(R + "/diff", response_model=None)
@router.get(R + "/diff/{path:path}", response_model=None)
def raw_diff(projectKey: str, repositorySlug: str, request: Request, path: str = "",
             session: Session = Depends(db), who: Principal = Depends(principal)) -> StreamingResponse:
    repo = readable(session, who, projectKey, repositorySlug)
    until = _param(request, "until")
    if until is None:
        raise ValidationError("An until revision is required to stream a diff.", context="until")
    return serve_diff(request, _commit_diff(request, repo, until, _param(request, "since")), path)


# ---- compare/diff?from=&to= --------------------------------------------------------------------------


def _source_repo(session: Session, who: Principal, repo: Repository, value: str | None) -> Repository:
    """`fromRepo` (`42` or `KEY/slug`), readable by the caller; the current repository when absent."""
    if value is None:
        return repo
    if value.isdigit():
        found = session.get(Repository, int(value))
        project = session.get(Project, found.project_id) if found is not None else None
        if found is None or project is None:
            raise NoSuchRepository(f"Repository {value} does not exist.", context="fromRepo")
        key, slug = project.key, found.slug
    else:
        key, _, slug = value.partition("/")
        if not key or not slug:
            raise NoSuchRepository(f"Repository {value} does not exist.", context="fromRepo")
    return repo_at(session, who, key, slug)[1]


def _compare(request: Request, session: Session, who: Principal, project_key: str,
             slug: str) -> gitdiff.DiffRequest | None:
    """What `from` brings that `to` lacks: the merge base of the two to `from`. None when `from` is
    an unborn default branch (nothing to show)."""
    repo = readable(session, who, project_key, slug)
    source = _source_repo(session, who, repo, _param(request, "fromRepo"))
    git = open_repo(repo.id)
    source_git = git if source.id == repo.id else open_repo(source.id)
    from_name, to_name = _param(request, "from"), _param(request, "to")
    frm = (find_commit(source_git, source.default_branch) if from_name is None
           else resolve_commit(source_git, from_name, source.name))
    to = find_commit(git, repo.default_branch) if to_name is None else resolve_commit(git, to_name, repo.name)
    alternates: tuple = ()
    if source.id != repo.id:
        alternates = (repo_dir(source.id),)
        git.odb.add_disk_alternate(str(repo_dir(source.id) / "objects"))
    if frm is None:
        return None
    base = None
    if to is not None:
        found = git.merge_base(frm.id, to.id)
        base = str(found) if found is not None else None
    req = _request(request, repo, base, str(frm.id))
    return replace(req, alternates=alternates)


def _empty_diff(request: Request) -> JSONResponse:
    return JSONResponse({"contextLines": context_lines(request),
                         "whitespace": "IGNORE_ALL" if ignore_whitespace(request) else "SHOW",
                         "diffs": [], "truncated": False}, media_type=JSON_TYPE)


def _compare_path(path: str) -> str:
    """The spec writes `compare/diff{path}` (no slash): `""` or `/some/file`; `compare/diffx` is no route."""
    if path and not path.startswith("/"):
        raise NotFound(f"No resource at compare/diff{path}.")
    return path


# Declared before `compare/diff{path}`, whose path parameter would otherwise swallow `-stats-summary`.
@router.get(R + "/compare/diff-stats-summary{path:path}", response_model=None)
def compare_diff_stats(projectKey: str, repositorySlug: str, path: str, request: Request,
                       session: Session = Depends(db), who: Principal = Depends(principal)) -> JSONResponse:
    path = _compare_path(path)
    req = _compare(request, session, who, projectKey, repositorySlug)
    if req is None:
        repo_path(path)
        return JSONResponse({"filesChanged": 0, "totalInsertions": 0, "totalDeletions": 0}, media_type=JSON_TYPE)
    return serve_stats(request, req, path)


@router.get(R + "/compare/diff{path:path}", response_model=None)
def compare_diff(projectKey: str, repositorySlug: str, path: str, request: Request,
                 session: Session = Depends(db), who: Principal = Depends(principal)) -> Any:
    path = _compare_path(path)
    req = _compare(request, session, who, projectKey, repositorySlug)
    if req is None:
        repo_path(path)
        return StreamingResponse(iter([b""]), media_type=TEXT_TYPE) if prefers_text(request) else _empty_diff(request)
    return serve_diff(request, req, path)


# ---- patch -------------------------------------------------------------------------------------------


@router.get(R + "/patch", response_model=None)
def patch(projectKey: str, repositorySlug: str, request: Request, session: Session = Depends(db),
          who: Principal = Depends(principal)) -> StreamingResponse:
    """`git format-patch` text: `until` alone, `since..until`, or all of `until`'s ancestors."""
    repo = readable(session, who, projectKey, repositorySlug)
    until_name, since_name = _param(request, "until"), _param(request, "since")
    if until_name is None:
        raise ValidationError("An until revision is required to stream a patch.", context="until")
    git = open_repo(repo.id)
    until = str(resolve_commit(git, until_name, repo.name).id)
    all_ancestors = flag(request, "allAncestors")
    since = str(resolve_commit(git, since_name, repo.name).id) if since_name and not all_ancestors else None
    headers = {}
    if until_name == until and (since is None or since_name == since):
        headers["Cache-Control"] = "private, max-age=31536000"  # full ids name immutable content
    return GitStream(gitdiff.patch(repo_dir(repo.id), until, since, all_ancestors), media_type=TEXT_TYPE,
                     headers=headers)
