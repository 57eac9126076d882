"""Every ref change the server makes itself (branch and tag create/delete, file edits, later merges):
a compare-and-swap update of the ref, recorded in the outbox in the same transaction as a push is.

The repository's outbox lock is taken before git moves the ref and held until the transaction
commits, so a concurrent push's recording cannot interleave. If the transaction fails after git moved
the ref, the next sync of the repository (next push, or server start) finds the difference against
its snapshot and records it, so no change is lost from the outbox.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from culm.core.errors import StaleRef, ValidationError
from culm.domain.pushes import service as pushes
from culm.domain.pushes.service import RefUpdate
from culm.domain.repos.models import Repository
from culm.git import refwrite
from culm.git.refs import ZERO


def apply(session: Session, repo: Repository, actor_id: int | None, ref: str, old: str, new: str,
          message: str = "") -> RefUpdate:
    """Move `ref` from `old` to `new` (ZERO for create/delete) only if it still points at `old`;
    409 otherwise. Records the change as a `repo:refs_changed` event."""
    if old == new:
        raise ValidationError("The ref update changes nothing.", context="ref")
    pushes.lock_repo(session, repo.id)
    if not refwrite.compare_and_swap(repo.id, ref, old, new, message):
        raise StaleRef(f"'{ref}' was changed by someone else; reload it and try again.", context="ref")
    update = RefUpdate(ref, old, new)
    pushes.record_server_change(session, repo.id, actor_id, [update])
    from culm.domain.pullrequests import rescope  # late: pull requests build on ref writes

    rescope.schedule(session)  # rescope affected pull requests once this commits
    return update


def create(session: Session, repo: Repository, actor_id: int | None, ref: str, new: str,
           message: str = "") -> RefUpdate:
    return apply(session, repo, actor_id, ref, ZERO, new, message)


def delete(session: Session, repo: Repository, actor_id: int | None, ref: str, old: str) -> RefUpdate:
    return apply(session, repo, actor_id, ref, old, ZERO)
