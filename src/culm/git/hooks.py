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


def install(path: Path) -> None:
    """Write the hook scripts into `path/hooks` (atomically: a push never sees half a script)."""
    hooks_dir = path / "hooks"
    hooks_dir.mkdir(exist_ok=True)
    for hook in HOOKS:
        target = hooks_dir / hook
        tmp = hooks_dir / f".{hook}.tmp"
        tmp.write_text(script(hook))
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
