"""Compare-and-swap ref writes with `git update-ref` (the only way the server moves refs)."""

from __future__ import annotations

from culm.git.command import run, safe_arg
from culm.git.refs import ZERO
from culm.git.storage import repo_dir


def valid_ref_name(ref: str) -> bool:
    """git's own rules for ref names (`git check-ref-format`), and never option-like."""
    if not ref or ref.startswith("-") or "\x00" in ref or not ref.startswith("refs/"):
        return False
    # No `--` here: check-ref-format takes none (it would be read as the name); `ref` starts with refs/.
    return run(None, "check-ref-format", ref, check=False).returncode == 0


def compare_and_swap(repo_id: int, ref: str, old: str, new: str, message: str = "") -> bool:
    """Set `ref` to `new` if it is `old` now (ZERO: must not exist / delete). False when it moved."""
    safe_arg(ref, "ref")
    path = repo_dir(repo_id)
    msg = ["-m", message.replace("\n", " ")[:200]] if message else []
    if new == ZERO:
        proc = run(path, "update-ref", *msg, "-d", "--", ref, old, check=False)
    else:
        proc = run(path, "update-ref", *msg, "--", ref, new, old, check=False)
    return proc.returncode == 0
