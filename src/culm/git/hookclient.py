"""The program push hooks run: `python -m culm.git.hookclient pre-receive|post-receive`.

Standard library only and no culm imports, so it starts fast and never loads the app. It reads the
ref updates git gives on stdin and posts them, with the pushing user the smart-HTTP handler put in
the environment, to `/rest/internal/latest/hooks/<hook>`, authenticated by the installation's hook
secret. pre-receive fails closed (no answer, no push); post-receive failures only warn, because the
server reconciles unreported changes later.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

TIMEOUT = {"pre-receive": 120.0, "post-receive": 120.0}


def _read_updates(stream: object) -> list[dict[str, str]]:
    updates = []
    for line in stream:  # type: ignore[attr-defined]
        parts = line.strip().split(" ", 2)
        if len(parts) == 3:
            updates.append({"old": parts[0], "new": parts[1], "ref": parts[2]})
    return updates


def _post(url: str, secret: str, body: dict, timeout: float) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "X-Culm-Hook-Secret": secret})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


def main(argv: list[str]) -> int:
    hook = argv[1] if len(argv) > 1 else ""
    if hook not in TIMEOUT:
        print(f"culm hook client: unknown hook {hook!r}", file=sys.stderr)
        return 2
    base = os.environ.get("CULM_HOOK_URL")
    if not base:
        # A push that did not come through culm's smart HTTP (e.g. on the server's disk): the
        # server reconciles the refs on the next push or start.
        return 0
    updates = _read_updates(sys.stdin)
    body = {
        "pushId": os.environ.get("CULM_PUSH_ID", ""),
        "repositoryId": int(os.environ.get("CULM_REPO_ID", "0") or 0),
        "userId": int(os.environ["CULM_USER_ID"]) if os.environ.get("CULM_USER_ID") else None,
        "tokenId": int(os.environ["CULM_TOKEN_ID"]) if os.environ.get("CULM_TOKEN_ID") else None,
        "updates": updates,
    }
    try:
        with open(os.environ.get("CULM_HOOK_SECRET_FILE", ""), encoding="utf-8") as f:
            secret = f.read().strip()
        answer = _post(f"{base.rstrip('/')}/rest/internal/latest/hooks/{hook}", secret, body, TIMEOUT[hook])
    except urllib.error.HTTPError as exc:
        answer = {"accepted": False, "messages": [f"culm: the server refused the {hook} hook ({exc.code})."]}
    except (OSError, ValueError) as exc:
        answer = {"accepted": False, "messages": [f"culm: cannot reach the server for the {hook} hook ({exc})."]}
    for message in answer.get("messages") or []:
        print(message, file=sys.stderr)
    if hook == "pre-receive" and not answer.get("accepted"):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
