"""culm's server-side push hooks: tiny scripts that hand each push to the server's internal API.

The scripts run `python -m culm.git.hookclient` with the server's interpreter (baked in at install,
overridable by `CULM_HOOK_PYTHON`, which the smart-HTTP handler sets), so they never import the app.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HOOKS = ("pre-receive", "post-receive")

SCRIPT = """#!/bin/sh
# culm push hook: reports this push to the culm server. Managed by culm; rewritten on install.
exec "${{CULM_HOOK_PYTHON:-{python}}}" -m culm.git.hookclient {hook}
"""


def script(hook: str) -> str:
    python = sys.executable or "python3"
    if any(c in python for c in '"$`\\\n'):
        python = "python3"
    return SCRIPT.format(python=python, hook=hook)


def install(path: Path, only_if_changed: bool = False) -> bool:
    """Write the hook scripts into `path/hooks` (atomically: a push never sees half a script).
    Returns whether anything was written."""
    hooks_dir = path / "hooks"
    hooks_dir.mkdir(exist_ok=True)
    wrote = False
    for hook in HOOKS:
        target = hooks_dir / hook
        if only_if_changed and target.is_file() and target.read_text(errors="replace") == script(hook) \
                and os.access(target, os.X_OK):
            continue
        wrote = True
        tmp = hooks_dir / f".{hook}.tmp"
        tmp.write_text(script(hook))
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    return wrote


def install_all(repositories_dir: Path) -> int:
    """Server start: bring every repository's hooks up to date (repositories made before the hooks
    existed, or a server whose interpreter moved). Returns how many repositories changed."""
    if not repositories_dir.is_dir():
        return 0
    changed = 0
    for entry in repositories_dir.iterdir():
        if entry.name.isdigit() and (entry / "HEAD").is_file():
            changed += install(entry, only_if_changed=True)
    return changed
