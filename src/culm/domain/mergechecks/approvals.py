"""Review merge checks: a minimum number of approvals, every reviewer approving, and the approvals
default reviewer conditions require."""

from __future__ import annotations

from culm.domain.mergechecks.model import CheckInput, Veto
from culm.domain.reviewers import service as reviewers


def _approvals(n: int) -> str:
    return "1 approval" if n == 1 else f"{n} approvals"


def minimum_approvals(ctx: CheckInput) -> list[Veto]:
    """`requiredApprovers`: at least N reviewers approved."""
    wanted = ctx.settings.required_approvers
    missing = wanted - len(ctx.approved_ids())
    if wanted <= 0 or missing <= 0:
        return []
    return [Veto("Requires approvals",
                 f"You still need {_approvals(missing)} before this pull request can be merged.")]


def all_reviewers(ctx: CheckInput) -> list[Veto]:
    """`requiredAllApprovers`: every reviewer approved."""
    if not ctx.settings.required_all_approvers:
        return []
    if all(p.status == "APPROVED" for p in ctx.reviewers):
        return []
    return [Veto("Not all reviewers have approved yet",
                 "All reviewers must approve this pull request before it can be merged.")]


def default_reviewer_conditions(ctx: CheckInput) -> list[Veto]:
    """Each matching default reviewer condition: at least `requiredApprovals` of its users approved."""
    approved = ctx.approved_ids()
    out: list[Veto] = []
    for req in reviewers.required_approvals(ctx.session, ctx.repo, ctx.pr.from_ref, ctx.pr.to_ref):
        if req.required <= 0:
            continue
        have = sum(1 for u in req.users if u.id in approved)
        if have >= req.required:
            continue
        names = ", ".join(u.display_name or u.name for u in req.users)
        out.append(Veto("Not all required reviewers have approved yet",
                        f"At least {req.required} of the following users must review and approve this pull "
                        f"request before it can be merged: {names}."))
    return out

