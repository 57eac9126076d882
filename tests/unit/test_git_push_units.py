"""Pure pieces of git over HTTP and the push outbox: pkt-lines, protocol headers, hooks, chains."""

from __future__ import annotations

import io

from culm.domain.pushes.models import PushUpdate
from culm.domain.pushes.service import RefUpdate, _chain, change_json, parse_updates
from culm.git import hookclient, hooks
from culm.git.http import advertisement_prefix, pkt_line, protocol_value
from culm.git.refs import change_type

Z = "0" * 40
A, B, C = "a" * 40, "b" * 40, "c" * 40


def test_pkt_lines_and_advertisement_prefix() -> None:
    assert pkt_line("# service=git-upload-pack\n") == b"001e# service=git-upload-pack\n"
    assert advertisement_prefix("git-upload-pack", None).endswith(b"0000")
    assert advertisement_prefix("git-upload-pack", "version=2") == b""
    # receive-pack has no protocol v2: it always gets the v0 header.
    assert advertisement_prefix("git-receive-pack", "version=2").startswith(b"001f# service=git-receive-pack")


def test_protocol_header_is_sanitised() -> None:
    assert protocol_value("version=2") == "version=2"
    assert protocol_value("version=2:object-format=sha1") == "version=2:object-format=sha1"
    assert protocol_value("version=2\nX=1") is None
    assert protocol_value("$(rm -rf /)") is None
    assert protocol_value(None) is None


def test_change_types_and_json() -> None:
    assert [change_type(Z, A), change_type(A, B), change_type(A, Z)] == ["ADD", "UPDATE", "DELETE"]
    assert change_json(RefUpdate("refs/tags/v1", Z, A))["ref"] == {"id": "refs/tags/v1", "displayId": "v1",
                                                                   "type": "TAG"}


def test_parse_updates_keeps_only_well_formed_tracked_refs() -> None:
    raw = [{"ref": "refs/heads/main", "old": Z, "new": A}, {"ref": "refs/notes/x", "old": Z, "new": A},
           {"ref": "refs/heads/x", "old": "zz", "new": A}, "junk", {"ref": 1, "old": Z, "new": A}]
    assert parse_updates(raw) == [RefUpdate("refs/heads/main", Z, A)]


def _u(old: str, new: str, push: int = 1) -> PushUpdate:
    return PushUpdate(push_id=push, position=0, ref="refs/heads/m", old=old, new=new, state="PENDING")


def test_chain_follows_registered_updates() -> None:
    first, second, stray = _u(A, B, 1), _u(B, C, 2), _u(A, C, 3)
    assert _chain(A, A, []) == []
    assert _chain(A, C, [second, first]) == [first, second]
    assert _chain(A, C, [stray, first, second]) in ([stray], [first, second])
    assert _chain(A, C, [first]) is None
    loop = [_u(A, B), _u(B, A)]
    assert _chain(A, C, loop) is None


def test_hook_scripts_and_client_input() -> None:
    script = hooks.script("pre-receive")
    assert script.startswith("#!/bin/sh\n") and "-m culm.git.hookclient pre-receive" in script
    assert "CULM_HOOK_PYTHON" in script
    lines = io.StringIO(f"{Z} {A} refs/heads/main\n\n{A} {Z} refs/tags/v 1\n")
    assert hookclient._read_updates(lines) == [
        {"old": Z, "new": A, "ref": "refs/heads/main"}, {"old": A, "new": Z, "ref": "refs/tags/v 1"}]


def test_hook_client_without_server_is_a_no_op(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CULM_HOOK_URL", raising=False)
    assert hookclient.main(["hookclient", "pre-receive"]) == 0
    assert hookclient.main(["hookclient", "bogus"]) == 2


def test_hooks_install_only_when_changed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "7"
    (repo / "hooks").mkdir(parents=True)
    (repo / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / "not-a-repo").mkdir()
    assert hooks.install_all(tmp_path) == 1
    assert hooks.install_all(tmp_path) == 0
    (repo / "hooks" / "post-receive").write_text("#!/bin/sh\nexit 0\n")
    assert hooks.install_all(tmp_path) == 1
    assert (repo / "hooks" / "post-receive").read_text() == hooks.script("post-receive")
