"""Where repositories live on disk, and creating / forking / removing them atomically.

A repository is `<home>/shared/data/repositories/<id>`: keyed by id, so renames and moves between
projects never touch files. New repositories are built in a temporary folder and renamed into place,
so a crash never leaves a half-made repository at the real path.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from culm.core.config import get_settings
from culm.git.command import run, safe_arg

# Configuration every hosted repository gets.
REPO_CONFIG = {
    "core.fsync": "committed",
    "core.fsyncMethod": "fsync",
    "core.logAllRefUpdates": "true",
    "receive.fsckObjects": "true",
    "receive.denyNonFastForwards": "false",
    "uploadpack.allowFilter": "true",
    "uploadpack.allowAnySHA1InWant": "false",
    "gc.auto": "0",
    "http.receivepack": "true",
    # Server-internal refs (e.g. a fork's commit fetched for a merge) are never advertised to clients.
    "transfer.hideRefs": "refs/culm/",
}


def repo_dir(repo_id: int) -> Path:
    return get_settings().repositories_dir / str(int(repo_id))


def _staging(repo_id: int) -> Path:
    return get_settings().repositories_dir / f".new-{int(repo_id)}-{uuid.uuid4().hex[:8]}"


def configure(path: Path, default_branch: str) -> None:
    for key, value in REPO_CONFIG.items():
        run(path, "config", key, value)
    run(path, "symbolic-ref", "HEAD", safe_arg(default_branch, "defaultBranch"))
    install_hooks(path)


def install_hooks(path: Path) -> None:
    """Install culm's push hooks (pre-receive / post-receive) into the repository."""
    from culm.git import hooks

    hooks.install(path)


def create(repo_id: int, default_branch: str = "refs/heads/main") -> Path:
    final = repo_dir(repo_id)
    if final.exists():
        raise FileExistsError(final)
    tmp = _staging(repo_id)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        run(None, "init", "--bare", "--quiet", str(tmp))
        configure(tmp, default_branch)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def fork(origin_id: int, repo_id: int, default_branch: str) -> Path:
    """A fork starts with all of the origin's branches and tags. Objects are shared through
    `objects/info/alternates` (`clone --shared`), so a fork costs no copy; `dissociate` gives a fork
    its own objects before its origin is removed."""
    final = repo_dir(repo_id)
    tmp = _staging(repo_id)
    try:
        run(None, "clone", "--bare", "--quiet", "--shared", "--", str(repo_dir(origin_id)), str(tmp))
        run(tmp, "config", "--unset-all", "remote.origin.url", check=False)
        run(tmp, "remote", "remove", "origin", check=False)
        configure(tmp, default_branch)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def remove(repo_id: int) -> None:
    """Move out of the way first (atomic), then delete at leisure."""
    path = repo_dir(repo_id)
    if not path.exists():
        return
    trash = path.with_name(f".deleted-{int(repo_id)}-{uuid.uuid4().hex[:8]}")
    path.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)


def dissociate(repo_id: int) -> None:
    """Copy every object borrowed through alternates into the repository, then stop borrowing
    (what `git clone --dissociate` does). Run on a fork before its origin's files go."""
    path = repo_dir(repo_id)
    alternates = path / "objects" / "info" / "alternates"
    if not alternates.exists():
        return
    run(path, "repack", "-a", "-d", "-q")
    alternates.unlink()


def set_head(repo_id: int, ref: str) -> None:
    """Point HEAD (the default branch clients clone) at `ref`."""
    run(repo_dir(repo_id), "symbolic-ref", "HEAD", safe_arg(ref, "defaultBranch"))


def has_branches(repo_id: int) -> bool:
    out = run(repo_dir(repo_id), "for-each-ref", "--count=1", "--format=%(refname)", "refs/heads/").stdout
    return bool(out.strip())


def resolve_ref(repo_id: int, ref: str) -> str | None:
    """The commit `ref` points at, or None when the ref does not exist."""
    proc = run(repo_dir(repo_id), "rev-parse", "--verify", "--quiet", "--end-of-options",
               safe_arg(ref, "ref") + "^{commit}", check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None
