"""Branch rules: listing (filter, order, boost, page), details for one page (ahead/behind and latest
commit), create, delete (with the expected end point as a compare-and-swap), branches containing a
commit. Every change goes through `service` (compare-and-swap + outbox event)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from culm.core.errors import DuplicateRef, NoSuchCommit, ValidationError
from culm.core.paging import PageRequest
from culm.domain.refs import service
from culm.domain.refs.naming import (
    InvalidStartPoint,
    RefNameConflict,
    by_modification,
    filtered,
    full_ref,
    lookup_ref,
    page_of,
)
from culm.domain.repos.models import Repository
from culm.git import branches as gitbranches
from culm.git.branches import BranchRef
from culm.git.revisions import CommitInfo, commit_info, find_commit, open_repo

HEADS = "refs/heads/"
_HEX = re.compile(r"^[0-9a-fA-F]{4,64}$")


@dataclass(frozen=True)
class BranchDetails:
    """Plugin metadata of one branch: (ahead, behind) against the base, and its latest commit."""

    ahead_behind: tuple[int, int] | None
    latest: CommitInfo | None


def find(repo: Repository, req: PageRequest, filter_text: str | None = None, order_by: str | None = None,
         boost: bool = False) -> tuple[list[BranchRef], bool]:
    """One page of branches. One git process lists them all (names and ids only); the rest is
    string work, so 10,000 branches stay cheap."""
    modification = by_modification(order_by)
    items = gitbranches.list_branches(repo.id, modification)
    return page_of(filtered(items, lambda b: b.name, filter_text, boost), req)


def details(repo: Repository, page: list[BranchRef], base: str | None) -> dict[str, BranchDetails]:
    """{ref: details} for the branches of one page only. The base is `base` (a branch, tag or commit)
    or the default branch; when it does not resolve, ahead/behind is left out."""
    if not page:
        return {}
    git = open_repo(repo.id)
    base_commit = find_commit(git, base or repo.default_branch)
    counts = (gitbranches.ahead_behind(git, str(base_commit.id), [b.commit for b in page])
              if base_commit is not None else {})
    out: dict[str, BranchDetails] = {}
    for branch in page:
        commit = find_commit(git, branch.commit)
        out[branch.ref] = BranchDetails(counts.get(branch.commit), commit_info(commit) if commit else None)
    return out


def _start_commit(repo: Repository, start_point: object, plugin_api: bool) -> str:
    if not isinstance(start_point, str) or not start_point.strip():
        raise ValidationError("A startPoint is required.", context="startPoint")
    commit = find_commit(open_repo(repo.id), start_point)
    if commit is None:
        message = f"Commit '{start_point}' does not exist in repository '{repo.name}'."
        if plugin_api:
            raise InvalidStartPoint(message, context="startPoint")
        raise NoSuchCommit(message, context="startPoint")
    return str(commit.id)


def create(session: Session, repo: Repository, actor_id: int | None, name: object, start_point: object,
           message: object = None, plugin_api: bool = False) -> BranchRef:
    """Create branch `name` at `start_point`. A name already taken is a 400 (DuplicateRefException);
    one that clashes with an existing ref's path (`a` vs `a/b`) a 409. `plugin_api` (branch-utils)
    answers 400 rather than 404 for an unknown start point, as its spec says."""
    ref = full_ref(name, HEADS, "branch")
    commit = _start_commit(repo, start_point, plugin_api)
    if gitbranches.branch_commit(repo.id, ref) is not None:
        raise DuplicateRef(f"Branch '{ref[len(HEADS):]}' already exists in repository '{repo.name}'",
                           context="name")
    clash = gitbranches.overlapping(repo.id, ref)
    if clash is not None:
        raise RefNameConflict(f"Branch '{ref[len(HEADS):]}' cannot be created in repository '{repo.name}' "
                              f"because it overlaps with the existing ref '{clash}'.", context="name")
    reason = message if isinstance(message, str) and message else "branch: Created via REST"
    service.create(session, repo, actor_id, ref, commit, reason)
    return BranchRef(ref, commit)


def delete(session: Session, repo: Repository, actor_id: int | None, name: object, end_point: object = None,
           dry_run: bool = False) -> None:
    """Make sure branch `name` no longer exists (missing already: nothing to do). `end_point`, when
    given, is the commit the branch must still point at (a mismatch is a 400); the deletion itself is a
    compare-and-swap from the commit read here. The default branch cannot be deleted."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("The name of the branch to delete is required.", context="name")
    if name.startswith("refs/") and not name.startswith(HEADS):
        raise ValidationError(f"'{name}' is not a branch.", context="name")
    if end_point is not None and (not isinstance(end_point, str) or not _HEX.match(end_point)):
        raise ValidationError(f"'{end_point}' is not a valid commit ID.", context="endPoint")
    ref = lookup_ref(name, HEADS)
    if ref is None:
        return
    if ref == repo.default_branch:
        raise ValidationError(f"Branch '{ref[len(HEADS):]}' is the default branch of repository "
                              f"'{repo.name}' and cannot be deleted.", context="name")
    current = gitbranches.branch_commit(repo.id, ref)
    if current is None:
        return
    if isinstance(end_point, str) and not current.startswith(end_point.lower()):
        raise ValidationError(f"Branch '{ref[len(HEADS):]}' points at {current}, not at the expected "
                              f"end point {end_point}.", context="endPoint")
    if not dry_run:
        service.delete(session, repo, actor_id, ref, current)


def containing(repo: Repository, commit_id: str, req: PageRequest) -> tuple[list[BranchRef], bool]:
    """One page of the branches (by name) whose history contains the commit; 404 for an unknown one."""
    commit = find_commit(open_repo(repo.id), commit_id) if _HEX.match(commit_id or "") else None
    if commit is None:
        raise NoSuchCommit(f"Commit '{commit_id}' does not exist in repository '{repo.name}'.", context="commitId")
    return page_of(gitbranches.containing(repo.id, str(commit.id)), req)
