"""Which agents may work, and on what: remote agent approval (when `Settings.agent_approval` is on, a remote
agent registering for the first time gets no work until an administrator approves it) and agents dedicated
to jobs (a job with assignments runs only on one of its assigned agents; a plan branch's job follows its
master plan's assignments). The engine calls `may_work`, `dedication` and `assignment_note`."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from culm.core.config import get_settings
from culm.domain.bamboo.admin_models import BambooAgentApproval, BambooAgentAssignment
from culm.domain.bamboo.models import BambooAgent, BambooJobResult, BambooPlan, BambooResult
from culm.domain.bamboo.service import Invalid

MAX_DESCRIPTION = 4000


# -- approval -----------------------------------------------------------------------------------------------
def on_register(session: Session, agent: BambooAgent, ip: str) -> None:
    """Called when an agent registers for the first time: a remote one waits for approval if required."""
    if agent.type != "REMOTE" or not get_settings().agent_approval:
        return
    session.flush()
    row = session.get(BambooAgentApproval, agent.id)
    if row is None:
        session.add(BambooAgentApproval(agent_id=agent.id, approved=False, ip=(ip or "")[:64], description=""))
        session.flush()


def may_work(session: Session, agent: BambooAgent) -> bool:
    """False for a remote agent still waiting for an administrator's approval."""
    row = session.get(BambooAgentApproval, agent.id)
    return row is None or row.approved


def authentications(session: Session) -> list[tuple[BambooAgent, BambooAgentApproval | None]]:
    rows = session.execute(select(BambooAgent, BambooAgentApproval)
                           .outerjoin(BambooAgentApproval, BambooAgentApproval.agent_id == BambooAgent.id)
                           .where(BambooAgent.type == "REMOTE").order_by(BambooAgent.id)).all()
    return [(r[0], r[1]) for r in rows]


def approve(session: Session, uuid: str) -> None:
    agent = session.scalar(select(BambooAgent).where(BambooAgent.uuid == uuid)) if len(uuid) <= 64 else None
    if agent is None or agent.type != "REMOTE":
        raise Invalid(f"No remote agent with UUID {uuid} found.")
    row = session.get(BambooAgentApproval, agent.id)
    if row is None:
        session.add(BambooAgentApproval(agent_id=agent.id, approved=True, ip="", description=""))
    else:
        row.approved = True
    session.flush()


def description(session: Session, agent: BambooAgent) -> str:
    row = session.get(BambooAgentApproval, agent.id)
    return row.description if row else ""


def set_description(session: Session, agent: BambooAgent, text: str) -> None:
    if len(text) > MAX_DESCRIPTION or "\x00" in text:
        raise Invalid(f"The description must be text of at most {MAX_DESCRIPTION} characters.")
    row = session.get(BambooAgentApproval, agent.id)
    if row is None:
        session.add(BambooAgentApproval(agent_id=agent.id, approved=True, ip="", description=text))
    else:
        row.description = text
    session.flush()


# -- dedicated agents ---------------------------------------------------------------------------------------
def assigned_ids(session: Session, plan: BambooPlan, job_key: str) -> list[int]:
    plan_id = plan.master_id or plan.id
    return list(session.scalars(select(BambooAgentAssignment.agent_id)
                                .where(BambooAgentAssignment.plan_id == plan_id,
                                       BambooAgentAssignment.job_key == job_key)
                                .order_by(BambooAgentAssignment.agent_id)))


def assign(session: Session, plan: BambooPlan, job_key: str, agent: BambooAgent) -> None:
    if agent.id in assigned_ids(session, plan, job_key):
        raise Invalid(f"Agent {agent.name} is already assigned to this job.")
    session.add(BambooAgentAssignment(plan_id=plan.master_id or plan.id, job_key=job_key, agent_id=agent.id))
    session.flush()


def unassign(session: Session, plan: BambooPlan, job_key: str, agent_id: int) -> None:
    gone = session.execute(delete(BambooAgentAssignment).where(
        BambooAgentAssignment.plan_id == (plan.master_id or plan.id), BambooAgentAssignment.job_key == job_key,
        BambooAgentAssignment.agent_id == agent_id)).rowcount
    if not gone:
        raise Invalid(f"Agent {agent_id} is not assigned to this job.")


def _rules(session: Session) -> dict[tuple[int, str], set[int]]:
    out: dict[tuple[int, str], set[int]] = {}
    for plan_id, job_key, agent_id in session.execute(select(BambooAgentAssignment.plan_id,
                                                             BambooAgentAssignment.job_key,
                                                             BambooAgentAssignment.agent_id)):
        out.setdefault((plan_id, job_key), set()).add(agent_id)
    return out


def _job_rule(session: Session, rules: dict[tuple[int, str], set[int]], job_id: int) -> set[int] | None:
    row = session.execute(select(BambooJobResult.job_key, BambooPlan.id, BambooPlan.master_id)
                          .join(BambooResult, BambooResult.id == BambooJobResult.result_id)
                          .join(BambooPlan, BambooPlan.id == BambooResult.plan_id)
                          .where(BambooJobResult.id == job_id)).first()
    if row is None:
        return None
    job_key, plan_id, master_id = row
    return rules.get((master_id or plan_id, job_key))


def dedication(session: Session, agent: BambooAgent) -> Callable[[int], bool]:
    """For one claim: whether `agent` may take the queued job with this id (no assignments: any agent)."""
    rules = _rules(session)
    if not rules:
        return lambda _job_id: True

    def allowed(job_id: int) -> bool:
        assigned = _job_rule(session, rules, job_id)
        return assigned is None or agent.id in assigned

    return allowed


def assignment_note(session: Session, job: BambooJobResult, agents: list[BambooAgent]) -> str | None:
    """Why a queued job with dedicated agents cannot run (none of them enabled and online, or none meets its
    requirements); None when it has no assignments or one of them can run it. `agents`: the enabled, online
    agents."""
    from culm.domain.bamboo.queue import agent_capabilities, match_requirements

    assigned = _job_rule(session, _rules(session), job.id)
    if assigned is None:
        return None
    pool = [a for a in agents if a.id in assigned]
    if not pool:
        return "No agent dedicated to this job is enabled and online"
    reasons = [match_requirements(job.requirements or [], agent_capabilities(a)) for a in pool]
    if all(r is not None for r in reasons):
        return f"No agent dedicated to this job has the {reasons[0]}"
    return None
