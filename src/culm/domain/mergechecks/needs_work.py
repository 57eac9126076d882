"""The bundled "No 'needs work' status" merge check: while a reviewer has marked the pull request as
needing work (NEEDS_WORK, "Requested changes" in the UI), it cannot be merged. Enabled per repository
through `{R}/settings/pull-requests` with the check's plugin key (`settings.NEEDS_WORK_HOOK`)."""

from __future__ import annotations

from culm.domain.mergechecks.model import CheckInput, Veto

SUMMARY = "Needs work"
DETAIL = "A reviewer has marked this pull request as needing work."


def no_needs_work(ctx: CheckInput) -> list[Veto]:
    """One veto while at least one reviewer's status is NEEDS_WORK (only when the check is enabled)."""
    if not ctx.settings.required_no_needs_work:
        return []
    if not any(p.status == "NEEDS_WORK" for p in ctx.reviewers):
        return []
    return [Veto(SUMMARY, DETAIL)]
