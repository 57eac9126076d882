"""The agent's executor pieces without a server: process groups killed on stop/timeout/end, output decoded,
masked, chunked and capped, variables as data, artifact paths confined to the workdir, JUnit parsing."""

from __future__ import annotations

import os
import re
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from bamboo_support import process_alive
from culm.agent import junit
from culm.agent.artifacts import ArtifactRefused, collect, inside, pack, unpack
from culm.agent.executor import CHUNK, MASK, LogStream, _group_alive, run_process, script_env
from culm.agent.tasks import substitute


def _run(tmp_path: Path, script: str, stop=lambda: None, timeout: float = 30, grace: float = 5.0):  # type: ignore[no-untyped-def]
    out: list[bytes] = []
    code, reason = run_process(["/bin/sh", "-c", script], tmp_path, script_env({}), out.append, stop, timeout, grace)
    return code, reason, b"".join(out)


def test_cancel_kills_the_whole_group(tmp_path: Path) -> None:
    flag = {"stop": None}
    started = time.monotonic()

    def stop() -> str | None:
        if (tmp_path / "ready").exists():
            flag["stop"] = "cancelled"
        return flag["stop"]

    code, reason, output = _run(tmp_path, "echo $$ > shell.pid; sleep 1000 & echo $! > child.pid; echo started; "
                                "touch ready; sleep 1000", stop)
    assert reason == "cancelled" and code != 0
    assert b"started" in output
    child, shell = int((tmp_path / "child.pid").read_text()), int((tmp_path / "shell.pid").read_text())
    assert not process_alive(child) and not process_alive(shell)
    assert not _group_alive(shell)
    assert time.monotonic() - started < 30


def test_timeout_kills_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    code, reason, _ = _run(tmp_path, "trap '' TERM; (trap '' TERM; sleep 1000) & echo $! > child.pid; "
                           "echo $$ > shell.pid; sleep 1000", timeout=3.0, grace=0.5)
    assert reason == "timeout" and code != 0
    child, shell = int((tmp_path / "child.pid").read_text()), int((tmp_path / "shell.pid").read_text())
    assert not process_alive(child) and not _group_alive(shell)


def test_leftover_background_processes_end_with_the_script(tmp_path: Path) -> None:
    code, reason, output = _run(tmp_path, "sleep 1000 & echo $! > child.pid; echo $$ > shell.pid; echo done")
    assert (code, reason) == (0, None) and output == b"done\n"
    assert not process_alive(int((tmp_path / "child.pid").read_text()))
    assert not _group_alive(int((tmp_path / "shell.pid").read_text()))


def test_exit_code_is_reported(tmp_path: Path) -> None:
    assert _run(tmp_path, "echo oops >&2; exit 3")[:3:2] == (3, b"oops\n")


def test_output_is_streamed_while_the_script_runs(tmp_path: Path) -> None:
    seen: list[bytes] = []

    def stop() -> str | None:
        return "cancelled" if b"first" in b"".join(seen) else None

    started = time.monotonic()
    _, reason = run_process(["/bin/sh", "-c", "echo first; sleep 1000"], tmp_path, script_env({}), seen.append, stop,
                            60)
    assert reason == "cancelled" and time.monotonic() - started < 30


def test_masking_survives_chunk_boundaries_and_bad_utf8() -> None:
    sent: list[bytes] = []
    stream = LogStream(sent.append, ["hunter2-secret", "pw"])
    stream.write(b"password is hunter2-")
    stream.flush()
    stream.write(b"secret and pw\xff\xfe caf\xc3")
    stream.flush()
    stream.write(b"\xa9\n")
    stream.flush(final=True)
    text = b"".join(sent).decode("utf-8")
    assert "hunter2" not in text and "secret and" not in text.replace(MASK, "")
    assert text == f"password is {MASK} and {MASK}\ufffd\ufffd café\n"


def test_big_output_is_chunked_and_capped(tmp_path: Path) -> None:
    sent: list[int] = []
    stream = LogStream(lambda data: sent.append(len(data)), [], cap=1 << 20)
    code, reason = run_process(["/bin/sh", "-c", "head -c 30000000 /dev/zero | tr '\\0' 'x'"], tmp_path,
                               script_env({}), stream.write, lambda: None, 60)
    stream.flush(final=True)
    assert (code, reason) == (0, None)
    assert stream.truncated and max(sent) <= CHUNK + 200
    assert (1 << 20) <= sum(sent) <= (1 << 20) + 200


def test_variables_are_data_in_the_environment(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    value = f"$(touch {marker}); rm -rf x `touch {marker}` ' \" ;"
    env = script_env({"evil.value": value})
    assert env["bamboo_evil_value"] == value
    assert not any(k.startswith("CULM_") for k in env)
    proc = subprocess.run(["/bin/sh", "-c", 'printf "%s" "$bamboo_evil_value" > out'], cwd=tmp_path, env=env)
    assert proc.returncode == 0
    assert (tmp_path / "out").read_text() == value and not marker.exists()


def test_substitution_is_literal_text() -> None:
    assert substitute("echo ${bamboo.a} ${bamboo.b.c} ${bamboo.missing}", {"a": "1", "b.c": "$(x)"}) \
        == "echo 1 $(x) ${bamboo.missing}"


def test_artifact_paths_stay_inside_the_workdir(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "out").mkdir(parents=True)
    (work / "out" / "a.txt").write_text("a")
    (tmp_path / "secret").write_text("s")
    assert [p.name for p in collect(work, "", "out/*.txt")[1]] == ["a.txt"]
    assert [p.name for p in collect(work, "out", "**/*")[1]] == ["a.txt"]
    for location, pattern in (("", "../secret"), ("..", "secret"), ("/etc", "passwd"), ("", "/etc/passwd")):
        with pytest.raises(ArtifactRefused):
            collect(work, location, pattern)
    (work / "out" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(ArtifactRefused, match="outside"):
        collect(work, "out", "*")
    (work / "escape").symlink_to(tmp_path)
    with pytest.raises(ArtifactRefused):
        inside(work, "escape/secret", "artifact location")


def test_pack_and_unpack_round_trip_and_refuse_bad_archives(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "d").mkdir(parents=True)
    (work / "d" / "x.sh").write_text("#!/bin/sh\n")
    os.chmod(work / "d" / "x.sh", 0o755)
    base, files = collect(work, "", "d/**")
    assert pack(base, files, tmp_path / "a.tar") == (10, 1)
    assert unpack(tmp_path / "a.tar", tmp_path / "dest") == (10, 1)
    assert os.access(tmp_path / "dest" / "d" / "x.sh", os.X_OK)
    for name, kind in (("../evil", tarfile.REGTYPE), ("/abs", tarfile.REGTYPE), ("link", tarfile.SYMTYPE)):
        bad = tmp_path / "bad.tar"
        with tarfile.open(bad, "w") as tar:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd"
            tar.addfile(info)
        with pytest.raises(ArtifactRefused):
            unpack(bad, tmp_path / "dest2")
    assert not (tmp_path / "evil").exists()


def test_junit_reports(tmp_path: Path) -> None:
    report = tmp_path / "r.xml"
    report.write_text("""<?xml version="1.0"?><testsuites><testsuite name="s">
      <testcase classname="a.B" name="ok" time="0.5"/>
      <testcase classname="a.B" name="bad" time="1"><failure message="boom">trace</failure></testcase>
      <testcase classname="a.B" name="skip"><skipped/></testcase></testsuite></testsuites>""")
    cases = junit.parse(report)
    assert [(c["methodName"], c["status"], c["durationMs"]) for c in cases] == [
        ("ok", "successful", 500), ("bad", "failed", 1000), ("skip", "skipped", 0)]
    assert cases[1]["errors"] == ["boom\ntrace"]
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                    '<testsuite><testcase classname="x" name="&b;"/></testsuite>')
    with pytest.raises(junit.ReportInvalid, match="refused"):
        junit.parse(bomb)
    (tmp_path / "not.xml").write_text("<html/>")
    with pytest.raises(junit.ReportInvalid):
        junit.parse(tmp_path / "not.xml")


def test_checkout_of_a_revision(tmp_path: Path) -> None:
    from culm.core.errors import ValidationError
    from culm.git.checkout import checkout
    from support import commit_file, git

    origin = tmp_path / "origin"
    git("init", "-q", "-b", "main", str(origin))
    first = commit_file(origin, "a.txt", "one")
    commit_file(origin, "a.txt", "two")
    dest = tmp_path / "work" / "src"
    assert checkout(dest, f"file://{origin}", first) == first
    assert (dest / "a.txt").read_text() == "one"
    assert git("rev-parse", "HEAD", cwd=dest).stdout.strip() == first
    (dest / "junk").write_text("x")
    head = git("rev-parse", "HEAD", cwd=origin).stdout.strip()
    assert checkout(dest, f"file://{origin}", head) == head and not (dest / "junk").exists()
    for revision, url in (("--upload-pack=touch", f"file://{origin}"), (first, "--upload-pack=x"), (first, "ssh:x")):
        with pytest.raises(ValidationError):
            checkout(tmp_path / "other", url, revision)


def test_client_backs_off_while_the_server_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    import threading

    from culm.agent.client import AgentClient, AgentStopped
    from support import free_port

    stop = threading.Event()
    client = AgentClient(f"http://127.0.0.1:{free_port()}", "token", "uuid-1", stop)
    timer = threading.Timer(2.0, stop.set)
    timer.start()
    started = time.monotonic()
    with caplog.at_level("INFO", logger="culm.agent"), pytest.raises(AgentStopped):
        client.register("a", "REMOTE", {})
    delays = [float(m.group(1)) for r in caplog.records if (m := re.search(r"in ([\d.]+) s", r.message))]
    assert delays[:3] == [0.5, 1.0, 2.0]
    assert time.monotonic() - started < 10
    client.close()
