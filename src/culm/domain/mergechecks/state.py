"""State merge checks: a draft pull request cannot be merged."""

from __future__ import annotations

from culm.domain.mergechecks.model import CheckInput, Veto


def not_draft(ctx: CheckInput) -> list[Veto]:
    if not ctx.pr.draft:
        return []
    return [Veto("Draft pull request", "This pull request is a draft and can't be merged until it is published.")]
