"""Where build logs and artifact files live on the server's disk (under `{home}/bamboo`)."""

from __future__ import annotations

import re
from pathlib import Path

from culm.core.config import get_settings
from culm.domain.bamboo.models import BambooArtifact

# A job result key: PROJ-PLAN-JOB1-42 (project keys allow underscores).
_JOB_RESULT_KEY = re.compile(r"^([A-Z][A-Z0-9_]*-[A-Z][A-Z0-9]*-[A-Z][A-Z0-9]*)-([0-9]+)$")


def bamboo_dir() -> Path:
    return get_settings().home / "bamboo"


def log_path(job_result_key: str) -> Path:
    """`{home}/bamboo/logs/{PROJ-PLAN-JOB1}/{PROJ-PLAN-JOB1-42}.log`; the key is checked so that a value taken
    from a URL can never name a file outside the log folder."""
    match = _JOB_RESULT_KEY.match(job_result_key)
    if match is None:
        raise ValueError(f"not a job result key: {job_result_key!r}")
    return bamboo_dir() / "logs" / match.group(1) / f"{job_result_key}.log"


def artifact_root() -> Path:
    return bamboo_dir() / "artifacts"


def artifact_dir(artifact: BambooArtifact) -> Path:
    """The folder holding an artifact's files (`BambooArtifact.path` is relative to `artifact_root()`)."""
    rel = artifact.path or str(artifact.id)
    if not rel.isdigit():
        raise ValueError(f"bad artifact path: {rel!r}")
    return artifact_root() / rel
