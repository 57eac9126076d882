"""Build merge checks: the required builds (conditions of `/rest/required-builds`) and the minimum
number of successful builds (`requiredSuccessfulBuilds`) on the source's latest commit."""

from __future__ import annotations

from culm.domain.builds import required
from culm.domain.builds import service as builds
from culm.domain.mergechecks.model import CheckInput, Veto

SUMMARY = "Not all required builds are successful yet"


def required_builds(ctx: CheckInput) -> list[Veto]:
    unmet = required.unmet_required_builds(ctx.session, ctx.repo, ctx.pr.to_ref, ctx.pr.from_commit,
                                           source_ref=ctx.pr.from_ref)
    if not unmet:
        return []
    return [Veto(SUMMARY, "These builds must be successful before this pull request can be merged: "
                 + ", ".join(unmet) + ".")]


def successful_builds(ctx: CheckInput) -> list[Veto]:
    wanted = ctx.settings.required_successful_builds
    if wanted <= 0:
        return []
    counts = builds.stats(ctx.session, [ctx.pr.from_commit.lower()]).get(ctx.pr.from_commit.lower(), {})
    if counts.get("inProgress"):
        return [Veto(SUMMARY, "You cannot merge this pull request while it has in-progress builds.")]
    if counts.get("failed"):
        return [Veto(SUMMARY, "You cannot merge this pull request while it has failed builds.")]
    missing = wanted - counts.get("successful", 0)
    if missing <= 0:
        return []
    what = "one successful build" if missing == 1 else f"{missing} successful builds"
    return [Veto(SUMMARY, f"You still need a minimum of {what} before this pull request can be merged.")]
