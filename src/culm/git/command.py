"""Running the git program safely: no shell, no user value that could be read as an option."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from culm.core.config import get_settings
from culm.core.errors import ValidationError


class GitError(Exception):
    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args[:3])} failed ({returncode}): {stderr.strip()[:500]}")
        self.returncode = returncode
        self.stderr = stderr


def safe_arg(value: str, what: str = "argument") -> str:
    """Refuse user-supplied values that git would parse as options (argument injection)."""
    if not value or value.startswith("-") or "\x00" in value:
        raise ValidationError(f"Invalid {what}: {value!r}", context=what)
    return value


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"})
    if extra:
        env.update(extra)
    return env


def run(git_dir: Path | None, *args: str, input: bytes | None = None, check: bool = True,
        env: dict[str, str] | None = None, timeout: float | None = 600) -> subprocess.CompletedProcess[bytes]:
    cmd = [get_settings().git_bin]
    if git_dir is not None:
        cmd += ["--git-dir", str(git_dir)]
    cmd += list(args)
    proc = subprocess.run(cmd, input=input, capture_output=True, env=git_env(env), timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise GitError(list(args), proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


@contextmanager
def popen(git_dir: Path | None, *args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """git with its stdout as a pipe, for output read as it comes (bounded memory). On exit, however it
    comes (page full, bound reached, client gone, error), git is killed if still running and reaped."""
    cmd = [get_settings().git_bin]
    if git_dir is not None:
        cmd += ["--git-dir", str(git_dir)]
    cmd += list(args)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=git_env(env))
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stdout is not None
        proc.stdout.close()
        proc.wait()


def stream(git_dir: Path | None, *args: str, env: dict[str, str] | None = None,
           chunk: int = 64 * 1024) -> Iterator[bytes]:
    """git's stdout in chunks as it comes; closing the generator early ends git."""
    with popen(git_dir, *args, env=env) as proc:
        assert proc.stdout is not None
        while data := proc.stdout.read1(chunk):
            yield data


def nul_records(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The NUL-separated records of `-z` output, from chunks as they come."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *records, pending = pending.split(b"\0")
        yield from records
    if pending:
        yield pending
