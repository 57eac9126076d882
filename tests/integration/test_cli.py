"""The operator's commands, run as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from support import free_port, throwaway_database


def culm(home: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CULM_")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "culm.cli", *args, "--home", str(home)], env=full,
                          capture_output=True, text=True, input=input, timeout=120)


def test_admin_commands_and_generated_password(tmp_path: Path) -> None:
    with throwaway_database() as url:
        env = {"CULM_DATABASE_URL": url} if url else {}
        r = culm(tmp_path, "db", "upgrade", env=env)
        assert r.returncode == 0, r.stderr
        r = culm(tmp_path, "admin", "create-user", "alice", "--password", "pw-alice-1", "--email", "a@example.com",
                 env=env)
        assert r.returncode == 0, r.stderr
        assert culm(tmp_path, "admin", "create-user", "alice", "--password", "x", env=env).returncode == 2
        assert culm(tmp_path, "admin", "grant", "alice", "PROJECT_CREATE", env=env).returncode == 0
        bad = culm(tmp_path, "admin", "grant", "alice", "ROOT", env=env)
        assert bad.returncode == 2 and "not a global permission" in bad.stderr
        assert culm(tmp_path, "admin", "grant", "nobody", "ADMIN", env=env).returncode == 2

        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "culm.cli", "serve", "--home", str(tmp_path), "--port",
                                 str(port)], env={**{k: v for k, v in os.environ.items() if not k.startswith("CULM_")},
                                                  **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith("Created the administrator 'admin' with password: ")
            password = first.rsplit(" ", 1)[1].strip()
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(base + "/rest/api/latest/application-properties", timeout=1)
                    break
                except httpx.HTTPError:
                    import time

                    time.sleep(0.05)
            r = httpx.get(base + "/rest/api/latest/application-properties", auth=("admin", password))
            assert r.headers["x-ausername"] == "admin"
            # alice may create projects (PROJECT_CREATE granted from the command line).
            r = httpx.post(base + "/rest/api/latest/projects", json={"key": "AL", "name": "Alice's"},
                           auth=("alice", "pw-alice-1"))
            assert r.status_code == 201, r.text
        finally:
            proc.terminate()
            proc.wait(10)

        r = culm(tmp_path, "admin", "set-password", "alice", "--password", "pw-alice-2", env=env)
        assert r.returncode == 0, r.stderr
        # A second start neither recreates admin nor prints a password.
        r = culm(tmp_path, "db", "upgrade", env=env)
        assert r.returncode == 0
