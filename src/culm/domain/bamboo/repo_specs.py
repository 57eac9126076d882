"""Bamboo Specs stored in repositories: `bamboo-specs/bamboo.yml` (or `.yaml`) on a repository's default
branch is imported when that branch moves, and the plans it defines are linked to the repository (their
builds check it out and pushes to it trigger them).

Invalid specs change nothing: the error is logged and kept per repository (`BambooRepoSpecs`) so it can be
shown. A plan already linked to another repository is not taken over (that is an error too): otherwise any
user able to push anywhere could redirect someone else's plan to their own code."""

from __future__ import annotations

import logging
from typing import Any

import pygit2
from sqlalchemy import select
from sqlalchemy.orm import Session

from culm.domain.bamboo import plan_branches, service
from culm.domain.bamboo.models import BambooPlan, BambooProject
from culm.domain.bamboo.specs import SpecError, SpecsInvalid, parse
from culm.domain.bamboo.trigger_models import BambooRepoSpecs
from culm.domain.base import now_ms
from culm.domain.repos.models import Repository
from culm.git import blob, revisions, tree

log = logging.getLogger(__name__)

SPEC_PATHS = ("bamboo-specs/bamboo.yml", "bamboo-specs/bamboo.yaml")
MAX_SPECS_BYTES = 1 << 20
MAX_ERROR = 4000


class NoSpecs(Exception):
    """The commit has no specs file."""


def _invalid(message: str) -> SpecsInvalid:
    return SpecsInvalid([SpecError(message, None)])


def _specs_node(repo: pygit2.Repository, revision: str) -> tree.Node | None:
    commit = revisions.find_commit(repo, revision)
    if commit is None:
        return None
    for path in SPEC_PATHS:
        node = tree.find(commit, path)
        if node is not None and node.kind == tree.FILE:
            return node
    return None


def specs_blob(repository_id: int, revision: str) -> str | None:
    """The object id of the specs file at `revision` (None without one): unchanged specs need no import."""
    node = _specs_node(revisions.open_repo(repository_id), revision)
    return node.oid if node else None


def read_specs(repository_id: int, revision: str) -> str:
    """The specs text at `revision`; NoSpecs when there is none, SpecsInvalid when it cannot be read."""
    repo = revisions.open_repo(repository_id)
    node = _specs_node(repo, revision)
    if node is not None:
        path = node.path
        try:
            data = blob.read_limited(repo, node.oid, MAX_SPECS_BYTES)
        except (KeyError, ValueError, pygit2.GitError):
            data = None
        if data is None:
            raise _invalid(f"{path} is larger than {MAX_SPECS_BYTES} bytes or cannot be read")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid(f"{path} must be UTF-8 text") from None
    raise NoSpecs(revision)


def _unchanged(session: Session, repo: Repository, revision: str) -> bool:
    """The specs were imported at an earlier revision and the file is the same object now."""
    last = session.get(BambooRepoSpecs, repo.id)
    if last is None or last.error is not None or last.revision == revision:
        return False
    before = specs_blob(repo.id, last.revision)
    return before is not None and before == specs_blob(repo.id, revision)


def _plan(session: Session, spec: dict[str, Any]) -> BambooPlan | None:
    return session.scalar(select(BambooPlan).join(BambooProject, BambooProject.id == BambooPlan.project_id)
                          .where(BambooProject.key == spec["projectKey"], BambooPlan.key == spec["key"],
                                 BambooPlan.master_id.is_(None)))


def _foreign(session: Session, repo: Repository, specs: list[dict[str, Any]]) -> list[str]:
    """Plans of these specs that another repository already owns."""
    taken = []
    for spec in specs:
        plan = _plan(session, spec)
        if plan is not None and plan.repository_id is not None and plan.repository_id != repo.id:
            taken.append(f"plan {spec['projectKey']}-{spec['key']} is linked to another repository; "
                         "its specs are not taken over")
    return taken


def _record(session: Session, repo_id: int, revision: str, error: str | None) -> None:
    row = session.get(BambooRepoSpecs, repo_id)
    if row is None:
        row = BambooRepoSpecs(repository_id=repo_id, revision=revision)
        session.add(row)
    row.revision = revision
    row.error = error[:MAX_ERROR] if error else None
    row.updated_date = now_ms()
    session.flush()


def scan(session: Session, repo: Repository, revision: str) -> list[BambooPlan] | None:
    """Import the specs of `repo` at `revision` (a new tip of its default branch) in the caller's transaction.
    Returns the plans imported, or None when there are no specs, they did not change since the last import
    (so a plan disabled or labelled through REST stays so until its specs change), or they were refused."""
    if _unchanged(session, repo, revision):
        _record(session, repo.id, revision, None)
        return None
    try:
        text = read_specs(repo.id, revision)
        specs = parse(text)
        taken = _foreign(session, repo, specs)
        if taken:
            raise SpecsInvalid([SpecError(t, None) for t in taken])
    except NoSpecs:
        existing = session.get(BambooRepoSpecs, repo.id)
        if existing is not None:
            _record(session, repo.id, revision, None)
        return None
    except SpecsInvalid as exc:
        message = str(exc)
        log.warning("Bamboo Specs of repository %s at %s refused: %s", repo.id, revision[:12], message)
        _record(session, repo.id, revision, message)
        return None
    plans = service.import_specs(session, text)
    for plan in plans:
        plan.repository_id = repo.id
        plan_branches.follow_master(session, plan)
    session.flush()
    _record(session, repo.id, revision, None)
    log.info("Bamboo Specs of repository %s at %s imported: %s", repo.id, revision[:12],
             ", ".join(f"{p.spec['projectKey']}-{p.key}" for p in plans))
    return plans


def last_error(session: Session, repository_id: int) -> str | None:
    row = session.get(BambooRepoSpecs, repository_id)
    return row.error if row else None
