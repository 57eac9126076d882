"""What a merge check sees and what it answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from culm.domain.merging.settings import MergeSettings
from culm.domain.pullrequests.models import Participant, PullRequest
from culm.domain.repos.models import Repository


@dataclass(frozen=True)
class Veto:
    """RestRejectedRef-like veto of Bitbucket: a short summary and a sentence saying what is missing."""

    summary: str
    detail: str

    def json(self) -> dict[str, Any]:
        return {"summaryMessage": self.summary, "detailedMessage": self.detail}


@dataclass
class CheckInput:
    """Everything the checks read, loaded once per evaluation."""

    session: Session
    repo: Repository  # the target repository
    pr: PullRequest
    settings: MergeSettings
    participants: list[Participant]
    open_tasks: int = 0

    @property
    def reviewers(self) -> list[Participant]:
        return [p for p in self.participants if p.role == "REVIEWER"]

    def approved_ids(self) -> set[int]:
        """Users whose approval counts: reviewers who approved (the author's own approval never counts)."""
        return {p.user_id for p in self.reviewers if p.status == "APPROVED"}
