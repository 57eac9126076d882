"""Recording pushes in the outbox so that no accepted ref change is ever lost.

pre-receive registers the push and its intended updates (PENDING) before git moves any ref;
post-receive confirms the updates git applied. Each step then *syncs* the repository, under a
per-repository lock: confirmed updates are recorded in order, and any difference left between the
repository's actual refs and the last recorded snapshot is explained by chaining registered updates
(giving them their pusher) or, failing that, recorded as a reconciliation change without an actor.
Server start syncs every repository with unfinished pushes; every push syncs its repository first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.domain.base import now_ms
from culm.domain.events import service as events
from culm.domain.projects.models import Project
from culm.domain.pushes.models import Push, PushUpdate, RefSnapshot
from culm.domain.repos.models import Repository
from culm.git import refs as gitrefs
from culm.git import storage

REFS_CHANGED = "repo:refs_changed"
ZERO = gitrefs.ZERO
# A registered update still unapplied this long after pre-receive never will be.
STALE_MS = 10 * 60 * 1000
MAX_CHAIN = 1000


@dataclass(frozen=True)
class RefUpdate:
    ref: str
    old: str
    new: str


def parse_updates(raw: Iterable[object]) -> list[RefUpdate]:
    """Updates as the hook client sends them; anything malformed or untracked is left out."""
    found = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        ref, old, new = item.get("ref"), item.get("old"), item.get("new")
        if not all(isinstance(v, str) for v in (ref, old, new)):
            continue
        if gitrefs.is_tracked(ref) and _is_oid(old) and _is_oid(new):  # type: ignore[arg-type]
            found.append(RefUpdate(ref, old, new))  # type: ignore[arg-type]
    return found


def undecodable_refs(raw: Iterable[object]) -> list[str]:
    """Ref names that are not valid UTF-8 (the hook client passes them as lone surrogates). They are
    refused at pre-receive: no client of the API could name them, and no database could store them."""
    bad = []
    for item in raw:
        ref = item.get("ref") if isinstance(item, dict) else None
        if isinstance(ref, str):
            try:
                ref.encode("utf-8")
            except UnicodeEncodeError:
                bad.append(ref.encode("utf-8", errors="replace").decode())
    return bad


def _is_oid(value: str) -> bool:
    return len(value) in (40, 64) and all(c in "0123456789abcdef" for c in value)


def lock_repo(session: Session, repo_id: int) -> Repository | None:
    """Serialise outbox recording per repository (row lock on PostgreSQL; SQLite's BEGIN IMMEDIATE
    already holds the database's write lock)."""
    query = select(Repository).where(Repository.id == repo_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def register(session: Session, token: str, repo_id: int, user_id: int | None,
             updates: list[RefUpdate]) -> Push | None:
    """pre-receive: reconcile the repository, then remember what this push intends to change."""
    repo = lock_repo(session, repo_id)
    if repo is None:
        return None
    sync(session, repo)
    push = session.scalar(select(Push).where(Push.token == token))
    if push is not None:
        return push
    push = Push(token=token, repository_id=repo_id, user_id=user_id, state="PENDING")
    session.add(push)
    session.flush()
    for i, u in enumerate(updates):
        session.add(PushUpdate(push_id=push.id, position=i, ref=u.ref, old=u.old, new=u.new, state="PENDING"))
    session.flush()
    return push


def confirm(session: Session, token: str, repo_id: int, user_id: int | None,
            applied: list[RefUpdate]) -> None:
    """post-receive: the updates git applied are facts; record them (and anything else unrecorded)."""
    repo = lock_repo(session, repo_id)
    if repo is None:
        return
    push = session.scalar(select(Push).where(Push.token == token)) if token else None
    if push is None or push.repository_id != repo_id:
        push = Push(token=token or f"unregistered-{uuid.uuid4().hex}", repository_id=repo_id,
                    user_id=user_id, state="PENDING")
        session.add(push)
        session.flush()
    _confirm_updates(session, push, applied)
    sync(session, repo)


def record_server_change(session: Session, repo_id: int, actor_id: int | None,
                         updates: list[RefUpdate]) -> None:
    """For ref writes the server makes itself (REST branch/tag operations, merges): call in the same
    transaction, holding `lock_repo` from before the compare-and-swap until commit."""
    repo = lock_repo(session, repo_id)
    if repo is None:
        return
    push = Push(token=f"server-{uuid.uuid4().hex}", repository_id=repo_id, user_id=actor_id, state="PENDING")
    session.add(push)
    session.flush()
    _confirm_updates(session, push, updates)
    sync(session, repo)


def _confirm_updates(session: Session, push: Push, applied: list[RefUpdate]) -> None:
    registered = list(session.scalars(select(PushUpdate).where(PushUpdate.push_id == push.id)
                                      .order_by(PushUpdate.position)))
    remaining = list(applied)
    for row in registered:
        key = RefUpdate(row.ref, row.old, row.new)
        if key in remaining:
            remaining.remove(key)
            if row.state == "PENDING":
                row.state = "CONFIRMED"
        elif row.state == "PENDING":
            row.state = "REJECTED"
    position = len(registered)
    for u in remaining:
        session.add(PushUpdate(push_id=push.id, position=position, ref=u.ref, old=u.old, new=u.new,
                               state="CONFIRMED"))
        position += 1
    push.state = "CONFIRMED"
    session.flush()


# -- syncing ----------------------------------------------------------------------------------

class _Recorder:
    """Walks the repository's refs forward from the snapshot, collecting changes in order."""

    def __init__(self, session: Session, repo: Repository) -> None:
        self.session = session
        self.repo = repo
        self.rows = {r.ref: r for r in session.scalars(select(RefSnapshot)
                                                       .where(RefSnapshot.repository_id == repo.id))}
        self.current = {ref: row.hash for ref, row in self.rows.items()}
        self.emitted: list[tuple[Push | None, RefUpdate]] = []

    def at(self, ref: str) -> str:
        return self.current.get(ref, ZERO)

    def emit(self, push: Push | None, update: RefUpdate, row: PushUpdate | None = None) -> None:
        self.current[update.ref] = update.new
        if row is not None:
            row.state = "RECORDED"
        self.emitted.append((push, update))


def _chain(start: str, target: str, candidates: list[PushUpdate]) -> list[PushUpdate] | None:
    """Registered updates leading one ref from `start` to `target`, earliest registrations first."""
    if start == target:
        return []
    stack: list[tuple[str, list[PushUpdate]]] = [(start, [])]
    while stack:
        node, path = stack.pop()
        if len(path) >= MAX_CHAIN:
            continue
        used = {id(p) for p in path}
        for cand in reversed([c for c in candidates if c.old == node and id(c) not in used]):
            if cand.new == target:
                return [*path, cand]
            stack.append((cand.new, [*path, cand]))
    return None


def sync(session: Session, repo: Repository) -> int:
    """Record every ref change of `repo` not yet in the outbox. Call holding `lock_repo`.
    Returns the number of events written."""
    path = storage.repo_dir(repo.id)
    if not path.exists():
        return 0
    actual = gitrefs.list_refs(path)
    rec = _Recorder(session, repo)
    pushes = {p.id: p for p in session.scalars(select(Push).where(Push.repository_id == repo.id,
                                                                  Push.state != "CLOSED"))}
    rows = list(session.scalars(select(PushUpdate).where(
        PushUpdate.push_id.in_(list(pushes)), PushUpdate.state.in_(("PENDING", "CONFIRMED")))
        .order_by(PushUpdate.push_id, PushUpdate.position))) if pushes else []

    def pending_for(ref: str, exclude: int | None = None) -> list[PushUpdate]:
        return [r for r in rows if r.state == "PENDING" and r.ref == ref and r.push_id != exclude]

    def emit_chain(chain: list[PushUpdate]) -> None:
        for r in chain:
            rec.emit(pushes[r.push_id], RefUpdate(r.ref, r.old, r.new), r)

    # 1. Confirmed updates happened: record them in push order, explaining any gap before each.
    confirmed = [r for r in rows if r.state == "CONFIRMED"]
    progress = True
    while confirmed and progress:
        progress = False
        for r in list(confirmed):
            cur = rec.at(r.ref)
            if cur == r.old:
                emit_chain([r])
            elif cur == r.new:
                r.state = "RECORDED"  # already explained by a reconciliation
            else:
                chain = _chain(cur, r.old, pending_for(r.ref, exclude=r.push_id))
                if chain is None:
                    continue
                emit_chain([*chain, r])
            confirmed.remove(r)
            progress = True
        if confirmed and not progress:
            # The ref reached `old` through changes nobody reported: record that, then the update.
            r = confirmed.pop(0)
            rec.emit(None, RefUpdate(r.ref, rec.at(r.ref), r.old))
            emit_chain([r])
            progress = True

    # 2. Whatever still differs from the repository's refs: chains of registered updates, else a
    #    reconciliation change.
    for ref in sorted(set(actual) | set(rec.current)):
        target = actual.get(ref, ZERO)
        cur = rec.at(ref)
        if cur == target:
            continue
        chain = _chain(cur, target, pending_for(ref))
        if chain is not None:
            emit_chain(chain)
        else:
            rec.emit(None, RefUpdate(ref, cur, target))

    _close_finished(session, pushes, rows)
    _write_snapshot(session, rec)
    return _write_events(session, repo, rec.emitted)


def _close_finished(session: Session, pushes: dict[int, Push], rows: list[PushUpdate]) -> None:
    stale_before = now_ms() - STALE_MS
    for push in pushes.values():
        mine = [r for r in rows if r.push_id == push.id]
        if push.state == "PENDING" and push.created_date < stale_before:
            for r in mine:
                if r.state == "PENDING":
                    r.state = "REJECTED"
            push.state = "CLOSED"
        elif push.state == "CONFIRMED" and all(r.state in ("RECORDED", "REJECTED") for r in mine):
            push.state = "CLOSED"
    session.flush()


def _write_snapshot(session: Session, rec: _Recorder) -> None:
    for ref, value in rec.current.items():
        row = rec.rows.get(ref)
        if value == ZERO:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(RefSnapshot(repository_id=rec.repo.id, ref=ref, hash=value))
        elif row.hash != value:
            row.hash = value
    session.flush()


def _write_events(session: Session, repo: Repository, emitted: list[tuple[Push | None, RefUpdate]]) -> int:
    """One event per run of consecutive changes from the same push (or reconciliation)."""
    if not emitted:
        return 0
    project = session.get(Project, repo.project_id)
    groups: list[tuple[Push | None, list[RefUpdate]]] = []
    for push, update in emitted:
        if groups and groups[-1][0] is push:
            groups[-1][1].append(update)
        else:
            groups.append((push, [update]))
    for push, updates in groups:
        body = {
            "repository": {"id": repo.id, "slug": repo.slug, "projectKey": project.key if project else None},
            "actorId": push.user_id if push else None,
            "pushId": push.token if push else None,
            "reconciled": push is None,
            "changes": [change_json(u) for u in updates],
        }
        events.record(session, REFS_CHANGED, body, repository_id=repo.id, actor_id=push.user_id if push else None)
    return len(groups)


def change_json(u: RefUpdate) -> dict[str, object]:
    kind = "TAG" if u.ref.startswith("refs/tags/") else "BRANCH"
    display = u.ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    return {"ref": {"id": u.ref, "displayId": display, "type": kind}, "refId": u.ref,
            "fromHash": u.old, "toHash": u.new, "type": gitrefs.change_type(u.old, u.new)}


def adopt_current_refs(session: Session, repo_id: int) -> None:
    """Take the repository's refs as already recorded (a fork starts with its origin's refs)."""
    path = storage.repo_dir(repo_id)
    for ref, value in gitrefs.list_refs(path).items():
        session.add(RefSnapshot(repository_id=repo_id, ref=ref, hash=value))
    session.flush()


def repos_with_open_pushes(session: Session) -> list[int]:
    return list(session.scalars(select(Push.repository_id).where(Push.state != "CLOSED").distinct()))


def reconcile_open(session_scope: Callable) -> int:
    """Server start: sync every repository a push was left unfinished in (crash, lost post-receive)."""
    with session_scope() as session:
        repo_ids = repos_with_open_pushes(session)
    written = 0
    for repo_id in repo_ids:
        with session_scope() as session:
            repo = lock_repo(session, repo_id)
            if repo is not None:
                written += sync(session, repo)
    return written
