"""Finding pull requests: one by its per-repository id, pages of them by Bitbucket's filters, and
the commit range a pull request covers (the extension point for changes, commits and diffs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import Session

from culm.core.errors import NoSuchPullRequest, ValidationError
from culm.domain.projects.models import Project
from culm.domain.pullrequests.models import ROLES, PullRequest
from culm.domain.pullrequests.models import Participant as P
from culm.domain.repos.models import Repository
from culm.domain.users import service as users
from culm.domain.users.models import User

STATE_FILTERS = ("OPEN", "DECLINED", "MERGED", "ALL")


@dataclass(frozen=True)
class CommitRange:
    """What a pull request proposes: the commits reachable from `from_commit` and not from `to_commit`."""

    from_repository_id: int
    from_commit: str
    to_repository_id: int
    to_commit: str


def commit_range(pr: PullRequest) -> CommitRange:
    return CommitRange(pr.from_repository_id, pr.from_commit, pr.repository_id, pr.to_commit)


def parse_id(value: object) -> int:
    """Path ids that are not numbers name no pull request (Bitbucket answers 404 rather than 400)."""
    try:
        number = int(str(value))
    except ValueError:
        number = -1
    return number


def require(session: Session, repo: Repository, pr_id: object, *, lock: bool = False) -> PullRequest:
    number = parse_id(pr_id)
    stmt = select(PullRequest).where(PullRequest.repository_id == repo.id, PullRequest.local_id == number)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    pr = session.scalar(stmt) if number > 0 else None
    if pr is None:
        project = session.get(Project, repo.project_id)
        key = project.key if project else "?"
        raise NoSuchPullRequest(f"Pull request {pr_id} does not exist in {key}/{repo.slug}.")
    return pr


def no_nul(params: Mapping[str, str]) -> None:
    """Query values with NUL name nothing (and PostgreSQL refuses them in text): a clean 400."""
    for name, value in params.items():
        if "\x00" in value:
            raise ValidationError(f"The value of '{name}' must not contain NUL characters.", context=name)


def _enum(params: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = params.get(name)
    value = (raw or default).strip().upper()
    if value not in allowed:
        raise ValidationError(f"'{raw}' is not a valid value for '{name}'; valid values are {', '.join(allowed)}.",
                              context=name)
    return value


def _bool(params: Mapping[str, str], name: str) -> bool | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise ValidationError(f"'{raw}' is not a valid value for '{name}'; use true or false.", context=name)
    return value == "true"


def _participant_filters(session: Session, params: Mapping[str, str]) -> list[object]:
    """`username.N`, `role.N`, `approved.N` (N = 1, 2, …): each N is one participant condition."""
    conds: list[object] = []
    n = 1
    while any(f"{k}.{n}" in params for k in ("username", "role", "approved")):
        name = params.get(f"username.{n}")
        role = params.get(f"role.{n}")
        approved = _bool(params, f"approved.{n}")
        sub = [P.pull_request_id == PullRequest.id]
        if name:
            user = users.get_user_by_slug(session, name) or users.get_user_by_name(session, name)
            sub.append(P.user_id == (user.id if user else -1))
        if role:
            if role.upper() not in ROLES:
                raise ValidationError(f"'{role}' is not a valid role; valid roles are {', '.join(ROLES)}.",
                                      context=f"role.{n}")
            sub.append(P.role == role.upper())
        if approved is not None:
            sub.append(P.status == "APPROVED" if approved else P.status != "APPROVED")
        conds.append(exists().where(and_(*sub)))
        n += 1
    return conds


def page_statement(session: Session, repo: Repository, params: Mapping[str, str]) -> Select:
    """`getPage`'s filters as one query; the caller pages it (limit+1) in the database."""
    no_nul(params)
    state = _enum(params, "state", STATE_FILTERS, "OPEN")
    direction = _enum(params, "direction", ("INCOMING", "OUTGOING"), "INCOMING")
    order = _enum(params, "order", ("NEWEST", "OLDEST", "PARTICIPANT_STATUS", "CLOSED_DATE"), "NEWEST")
    stmt = select(PullRequest)
    if direction == "INCOMING":
        stmt = stmt.where(PullRequest.repository_id == repo.id)
    else:
        stmt = stmt.where(PullRequest.from_repository_id == repo.id)
    if state != "ALL":
        stmt = stmt.where(PullRequest.state == state)
    at = (params.get("at") or "").strip()
    if at:
        ref = at if at.startswith("refs/") else f"refs/heads/{at}"
        stmt = stmt.where(PullRequest.to_ref == ref if direction == "INCOMING" else PullRequest.from_ref == ref)
    draft = _bool(params, "draft")
    if draft is not None:
        stmt = stmt.where(PullRequest.draft.is_(draft))
    text = (params.get("filterText") or "").strip().lower()
    if text:
        from sqlalchemy import func

        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(func.lower(PullRequest.title).like(pattern, escape="\\"),
                              func.lower(func.coalesce(PullRequest.description, "")).like(pattern, escape="\\")))
    for cond in _participant_filters(session, params):
        stmt = stmt.where(cond)  # type: ignore[arg-type]
    if order == "OLDEST":
        return stmt.order_by(PullRequest.created_date, PullRequest.id)
    if order == "CLOSED_DATE":
        return stmt.order_by(PullRequest.closed_date.desc(), PullRequest.id.desc())
    return stmt.order_by(PullRequest.updated_date.desc(), PullRequest.id.desc())


def participants_statement(pr: PullRequest) -> Select:
    """Author first, then reviewers, then other participants; stable by row id."""
    from sqlalchemy import case

    rank = case((P.role == "AUTHOR", 0), (P.role == "REVIEWER", 1), else_=2)
    return select(P).where(P.pull_request_id == pr.id).order_by(rank, P.id)


def repository_participants(session: Session, repo: Repository, params: Mapping[str, str]) -> Select:
    """Users who took part in the repository's pull requests (`GET {R}/participants`)."""
    no_nul(params)
    role = (params.get("role") or "").strip().upper()
    if role and role not in ROLES:
        raise ValidationError(f"'{params.get('role')}' is not a valid role; valid roles are {', '.join(ROLES)}.",
                              context="role")
    direction = _enum(params, "direction", ("INCOMING", "OUTGOING"), "INCOMING")
    side = PullRequest.repository_id if direction == "INCOMING" else PullRequest.from_repository_id
    sub = select(P.user_id).join(PullRequest, PullRequest.id == P.pull_request_id).where(side == repo.id)
    if role:
        sub = sub.where(P.role == role)
    stmt = select(User).where(User.id.in_(sub), User.deleted.is_(False))
    text = (params.get("filter") or "").strip().lower()
    if text:
        from sqlalchemy import func

        stmt = stmt.where(or_(func.lower(User.name).contains(text, autoescape=True),
                              func.lower(User.display_name).contains(text, autoescape=True),
                              func.lower(func.coalesce(User.email, "")).contains(text, autoescape=True)))
    return stmt.order_by(User.name, User.id)
