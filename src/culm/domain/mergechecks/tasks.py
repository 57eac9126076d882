"""Task merge check: `requiredAllTasksComplete` refuses the merge while tasks are open."""

from __future__ import annotations

from culm.domain.mergechecks.model import CheckInput, Veto


def all_tasks_complete(ctx: CheckInput) -> list[Veto]:
    if not ctx.settings.required_all_tasks_complete or ctx.open_tasks <= 0:
        return []
    what = "1 open task" if ctx.open_tasks == 1 else f"{ctx.open_tasks} open tasks"
    return [Veto("Resolve all tasks",
                 f"You need to resolve {what} before this pull request can be merged.")]
