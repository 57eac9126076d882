"""Checking out a build's revision into an agent's job folder over git smart HTTP.

The agent authenticates with the job's bearer token (`job-{id}-{claim token}`), valid for reading exactly that
job's repository while the job runs. The header travels in the environment (GIT_CONFIG_COUNT...), not on the
command line, so other users of the machine cannot read it from the process list."""

from __future__ import annotations

import re
from pathlib import Path

from culm.core.errors import ValidationError
from culm.git.command import run, safe_arg

_REVISION = re.compile(r"^[0-9a-fA-F]{4,64}$")


def _auth_env(bearer: str | None) -> dict[str, str]:
    if not bearer:
        return {}
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {bearer}"}


def checkout(dest: Path, url: str, revision: str, bearer: str | None = None, timeout: float = 1800) -> str:
    """Fetch `url` into `dest` (a new or existing clone) and check out `revision` detached; returns HEAD's id."""
    if not _REVISION.match(revision):
        raise ValidationError(f"Invalid revision: {revision!r}", context="revision")
    safe_arg(url, "repository URL")
    if not url.startswith(("http://", "https://", "file://", "/")):
        raise ValidationError(f"Invalid repository URL: {url!r}", context="url")
    dest = dest.resolve()
    dest.mkdir(parents=True, exist_ok=True)
    git_dir = dest / ".git"
    env = _auth_env(bearer)
    if not git_dir.is_dir():
        run(None, "init", "-q", str(dest), timeout=timeout)
    # Every branch and tag, so that any revision of the repository is found (a build may be of an older one).
    run(git_dir, "fetch", "-q", "--force", "--prune", "--no-auto-gc", url,
        "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*", env=env, timeout=timeout)
    if run(git_dir, "cat-file", "-e", f"{revision}^{{commit}}", check=False).returncode != 0:
        # Not reachable from a branch or tag (e.g. a pull request ref): ask for the commit itself.
        run(git_dir, "fetch", "-q", "--no-auto-gc", url, revision, env=env, timeout=timeout)
    run(git_dir, "--work-tree", str(dest), "-c", "advice.detachedHead=false", "checkout", "-q", "--force",
        "--detach", revision, "--", timeout=timeout)
    run(git_dir, "--work-tree", str(dest), "clean", "-q", "-d", "-f", "-f", "-x", timeout=timeout)
    return run(git_dir, "rev-parse", "HEAD").stdout.decode().strip()
