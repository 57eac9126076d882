"""The tasks of a job: script, checkout, clean, test-parser, artifact-download, inject-variables; then the
artifacts a job saves.

Variables reach scripts two ways, as in Bamboo: as environment variables `bamboo_X` (dots -> underscores), which
are plain data however odd their values (`"$bamboo_x"` is safe), and as `${bamboo.X}` in inline scripts, which is
replaced by the value's TEXT before the shell sees the script. Like Bamboo's, that substitution makes the value
part of the code: a value `$(rm -rf ~)` would run. Scripts handling values from untrusted sources (trigger
variables, injected files) should use the environment variables."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from culm.agent import junit
from culm.agent.artifacts import ArtifactRefused, collect, inside, pack, unpack
from culm.agent.executor import JobFailed, run_process, script_env

if TYPE_CHECKING:
    from culm.agent.executor import JobRun

_SUBST = re.compile(r"\$\{bamboo\.([A-Za-z0-9_.\-]+)\}")
_INJECT_LINE = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*=(.*)$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_.\-]*$")
MAX_INJECT_BYTES = 1 << 20


def substitute(text: str, variables: dict[str, str]) -> str:
    """`${bamboo.name}` -> the value's text (unknown names are left as written, as Bamboo does)."""
    return _SUBST.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def _describe(task: dict[str, Any]) -> str:
    return str(task.get("description") or task["type"])


def _path_in(run: JobRun, relative: str, what: str) -> Path:
    try:
        return inside(run.workdir, relative or "", what)
    except ArtifactRefused as exc:
        raise JobFailed(str(exc)) from None


def run_task(run: JobRun, task: dict[str, Any], index: int, final: bool = False) -> None:
    kind = task.get("type")
    handler = _HANDLERS.get(str(kind))
    if handler is None:
        raise JobFailed(f"unknown task type '{kind}'")
    run.log.line(f"Starting {'final ' if final else ''}task '{_describe(task)}' of type '{kind}'")
    started = time.monotonic()
    handler(run, task, index)
    run.log.line(f"Finished task '{_describe(task)}' ({time.monotonic() - started:.1f} s)")


# -- script --------------------------------------------------------------------------------------------------

def _task_environment(text: str, variables: dict[str, str]) -> dict[str, str]:
    out = {}
    try:
        words = shlex.split(substitute(text, variables))
    except ValueError as exc:
        raise JobFailed(f"invalid task environment: {exc}") from None
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise JobFailed(f"invalid task environment entry '{word}' (KEY=value expected)")
        out[key] = value
    return out


def task_script(run: JobRun, task: dict[str, Any], index: int) -> None:
    interpreter = str(task.get("interpreter") or "SHELL").upper()
    if interpreter not in ("SHELL", "BINSH_OR_CMDEXE"):
        raise JobFailed(f"the interpreter {interpreter} is not available on this agent")
    variables = run.variables
    if task.get("scripts") is not None:
        body = substitute("\n".join(task["scripts"]), variables) + "\n"
        script = run.tmpdir / f"script-{index}-{time.monotonic_ns()}.sh"
        script.write_text(body)
        if body.startswith("#!"):
            script.chmod(0o700)
            argv = [str(script)]
        else:
            argv = ["/bin/sh", str(script)]
    else:
        script = _path_in(run, str(task.get("file") or ""), "script file")
        if not script.is_file():
            raise JobFailed(f"script file '{task.get('file')}' does not exist")
        with script.open("rb") as f:
            shebang = f.read(2) == b"#!"
        argv = [str(script)] if shebang and os.access(script, os.X_OK) else ["/bin/sh", str(script)]
    if task.get("argument"):
        try:
            argv += shlex.split(substitute(str(task["argument"]), variables))
        except ValueError as exc:
            raise JobFailed(f"invalid script arguments: {exc}") from None
    cwd = _path_in(run, str(task.get("working-dir") or ""), "working directory")
    if not cwd.is_dir():
        raise JobFailed(f"working directory '{task.get('working-dir')}' does not exist")
    env = script_env(variables, _task_environment(str(task.get("environment") or ""), variables))
    remaining = run.deadline - time.monotonic()
    code, reason = run_process(argv, cwd, env, run.log.write, run.should_stop, remaining)
    run.log.flush()
    if reason is not None:
        run.stopped_reason = reason
        run.log.line(f"The script was stopped ({reason}); its processes were killed.")
        raise JobFailed("Stopped by user" if reason == "cancelled" else
                        f"Timed out after {int(run.timeout)} seconds" if reason == "timeout" else reason)
    if code != 0:
        raise JobFailed(f"task '{_describe(task)}' failed: the script returned {code}")


# -- checkout ------------------------------------------------------------------------------------------------

def task_checkout(run: JobRun, task: dict[str, Any], index: int) -> None:
    from culm.core.errors import CulmError
    from culm.git.checkout import checkout
    from culm.git.command import GitError

    repo = run.job.get("repository")
    if not repo:
        raise JobFailed("this plan has no repository to check out")
    if not repo.get("revision"):
        raise JobFailed("the build has no revision to check out")
    dest = _path_in(run, str(task.get("path") or ""), "checkout path")
    url = f"{run.client.server}/scm/{repo['project_key']}/{repo['slug']}.git"
    run.log.line(f"Checking out {repo['project_key']}/{repo['slug']} at {repo['revision']} into {dest}")
    try:
        head = checkout(dest, url, str(repo["revision"]), bearer=f"job-{run.job_id}-{run.claim_token}")
    except (GitError, CulmError, OSError) as exc:
        raise JobFailed(f"checkout failed: {exc}") from None
    run.log.line(f"Checked out revision {head}")


# -- clean ---------------------------------------------------------------------------------------------------

def task_clean(run: JobRun, task: dict[str, Any], index: int) -> None:
    for entry in run.workdir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    run.log.line("Cleaned the working directory")


# -- test-parser ---------------------------------------------------------------------------------------------

def task_test_parser(run: JobRun, task: dict[str, Any], index: int) -> None:
    parser = str(task.get("parser") or "junit")
    if parser not in ("junit", "testng"):
        raise JobFailed(f"the test parser '{parser}' is not available on this agent")
    files: list[Path] = []
    for pattern in task.get("test-results") or []:
        try:
            _, found = collect(run.workdir, "", str(pattern))
        except ArtifactRefused as exc:
            raise JobFailed(f"test results: {exc}") from None
        files += [f for f in found if f not in files]
    if not files:
        raise JobFailed("Failing task since test cases were expected but none were found.")
    cases: list[dict[str, Any]] = []
    for path in files:
        try:
            cases += junit.parse(path.resolve())
        except junit.ReportInvalid as exc:
            raise JobFailed(f"could not parse test results: {exc}") from None
    run.tests += cases
    failed = sum(1 for c in cases if c["status"] == "failed")
    passed = sum(1 for c in cases if c["status"] == "successful")
    skipped = sum(1 for c in cases if c["status"] == "skipped")
    run.log.line(f"Parsed {len(files)} test report(s): {passed} passed, {failed} failed, {skipped} skipped")
    if failed:
        raise JobFailed(f"{failed} test(s) failed")


# -- artifacts -----------------------------------------------------------------------------------------------

def _subscription(run: JobRun, name: str) -> dict[str, Any] | None:
    for sub in run.job.get("subscriptions") or []:
        if sub.get("name") == name and sub.get("artifact_id") is not None:
            return sub
    return None


def _download(run: JobRun, artifact_id: int, name: str, destination: str) -> None:
    dest = _path_in(run, destination, "artifact destination")
    tar = run.tmpdir / f"download-{artifact_id}.tar"
    try:
        run.client.download_artifact(run.job_id, run.claim_token, int(artifact_id), tar)
        size, count = unpack(tar, dest)
    except ArtifactRefused as exc:
        raise JobFailed(f"artifact '{name}' refused: {exc}") from None
    except RuntimeError as exc:
        raise JobFailed(f"artifact '{name}' could not be downloaded: {exc}") from None
    finally:
        tar.unlink(missing_ok=True)
    run.log.line(f"Downloaded artifact '{name}' ({count} file(s), {size} bytes) into '{destination or '.'}'")


def download_subscriptions(run: JobRun) -> None:
    """The job's artifact subscriptions, downloaded before its first task."""
    for sub in run.job.get("subscriptions") or []:
        if sub.get("artifact_id") is None:
            raise JobFailed(f"the shared artifact '{sub.get('name')}' was not produced by an earlier stage")
        _download(run, int(sub["artifact_id"]), str(sub["name"]), str(sub.get("destination") or ""))


def task_artifact_download(run: JobRun, task: dict[str, Any], index: int) -> None:
    if task.get("source-plan"):
        raise JobFailed("downloading artifacts of another plan is not supported")
    for wanted in task.get("artifacts") or []:
        name = str(wanted.get("name"))
        artifact_id = wanted.get("artifact_id")
        if artifact_id is None:
            sub = _subscription(run, name)
            artifact_id = sub["artifact_id"] if sub else None
        if artifact_id is None:
            raise JobFailed(f"the shared artifact '{name}' was not produced by an earlier stage of this build")
        destination = str(wanted.get("destination") or task.get("destination") or "")
        _download(run, int(artifact_id), name, destination)


def save_artifacts(run: JobRun) -> None:
    """Pack and upload every artifact definition; a definition reaching outside the workdir fails the job."""
    problems: list[str] = []
    for definition in run.job.get("artifacts") or []:
        name = str(definition.get("name"))
        try:
            base, files = collect(run.workdir, str(definition.get("location") or ""),
                                  str(definition.get("pattern") or ""))
        except ArtifactRefused as exc:
            run.log.line(f"Artifact '{name}' refused: {exc}")
            problems.append(f"artifact '{name}' refused: {exc}")
            continue
        if not files:
            if definition.get("required"):
                run.log.line(f"Required artifact '{name}' matched no files")
                problems.append(f"required artifact '{name}' matched no files")
            else:
                run.log.line(f"Artifact '{name}' matched no files; nothing saved")
            continue
        tar = run.tmpdir / f"artifact-{len(run.artifacts)}.tar"
        try:
            size, count = pack(base, files, tar)
            saved = run.client.upload_artifact(run.job_id, run.claim_token, name, bool(definition.get("shared", True)),
                                               tar)
        finally:
            tar.unlink(missing_ok=True)
        run.artifacts.append({"name": name, "shared": bool(definition.get("shared", True)),
                              "size": int(saved.get("size", size)), "fileCount": int(saved.get("fileCount", count)),
                              "artifact_id": saved.get("artifact_id")})
        run.log.line(f"Saved artifact '{name}': {count} file(s), {size} bytes")
    if problems:
        raise JobFailed("; ".join(problems))


# -- inject-variables ----------------------------------------------------------------------------------------

def task_inject_variables(run: JobRun, task: dict[str, Any], index: int) -> None:
    path = _path_in(run, str(task.get("file") or ""), "variables file")
    if not path.is_file():
        raise JobFailed(f"the variables file '{task.get('file')}' does not exist")
    if path.stat().st_size > MAX_INJECT_BYTES:
        raise JobFailed(f"the variables file '{task.get('file')}' is larger than 1 MiB")
    namespace = str(task.get("namespace") or "inject")
    if not _NAMESPACE.match(namespace):
        raise JobFailed(f"invalid namespace '{namespace}'")
    scope = str(task.get("scope") or "LOCAL").upper()
    found = {}
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _INJECT_LINE.match(line)
        if match:
            value = match.group(2).strip().replace("\x00", "")  # no environment (nor PostgreSQL) takes a NUL
            found[f"{namespace}.{match.group(1)}" if namespace else match.group(1)] = value
    run.variables.update(found)
    if scope == "RESULT":
        run.result_variables.update(found)
    run.log.line(f"Injected {len(found)} variable(s) ({scope.lower()} scope): {', '.join(sorted(found))}")


_HANDLERS = {
    "script": task_script,
    "checkout": task_checkout,
    "clean": task_clean,
    "test-parser": task_test_parser,
    "artifact-download": task_artifact_download,
    "inject-variables": task_inject_variables,
}
