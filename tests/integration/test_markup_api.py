"""`POST /rest/api/latest/markup/preview`: Markdown in, sanitised HTML out, for authenticated callers."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest
from atlassian import Bitbucket

from support import ADMIN, LiveServer, validating_client

PREVIEW = "/rest/api/latest/markup/preview"
TEXT = {"Content-Type": "text/plain", "X-Atlassian-Token": "no-check"}


def markup_of(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag in `html` with its attributes, as a browser's tokenizer sees them."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    parser = Collect()
    parser.feed(html)
    parser.close()
    return found


def test_renders_markdown_as_text_or_json_string(admin: httpx.Client) -> None:
    r = admin.post(PREVIEW, content="# Hello World!\n\n~~old~~ **new**", headers=TEXT)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"html": "<h1>Hello World!</h1>\n<p><s>old</s> <strong>new</strong></p>\n"}
    r = admin.post(PREVIEW, json="| a |\n|---|\n| 1 |")
    assert r.status_code == 200
    assert "<table>" in r.json()["html"] and "<td>1</td>" in r.json()["html"]
    r = admin.post(PREVIEW, content=b"", headers=TEXT)
    assert r.status_code == 200 and r.json() == {"html": ""}
    r = admin.post(PREVIEW, content="caf\u00e9 \u2603".encode(), headers=TEXT)
    assert r.json()["html"] == "<p>caf\u00e9 \u2603</p>\n"


def test_parameters(admin: httpx.Client) -> None:
    def html(text: str, **params: str) -> str:
        r = admin.post(PREVIEW, content=text, headers=TEXT, params=params)
        assert r.status_code == 200, r.text
        return r.json()["html"]

    assert html("<b>x</b>") == "<p>&lt;b&gt;x&lt;/b&gt;</p>\n"  # HTML is escaped unless asked otherwise
    assert html("<b>x</b>", htmlEscape="true") == "<p>&lt;b&gt;x&lt;/b&gt;</p>\n"
    assert html("<b onclick='x()'>x</b><script>alert(1)</script>", htmlEscape="false") == "<p><b>x</b></p>\n"
    assert html("a\nb", hardwrap="true") == "<p>a<br>\nb</p>\n"
    assert html("a\nb") == "<p>a\nb</p>\n"
    assert html("## Some Title", includeHeadingId="true") == '<h2 id="markdown-header-some-title">Some Title</h2>\n'
    base = str(admin.base_url).rstrip("/")
    assert f'href="{base}/x"' in html("[a](/x)", urlMode="ABSOLUTE")
    assert 'href="/x"' in html("[a](/x)", urlMode="RELATIVE")
    assert f'href="{base}/x"' in html("[a](/x)", urlMode="CONFIGURED")
    r = admin.post(PREVIEW, content="x", headers=TEXT, params={"urlMode": "SIDEWAYS"})
    assert r.status_code == 400 and r.json()["errors"][0]["context"] == "urlMode"


@pytest.mark.parametrize("payload", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))",
    "<a href='jav&#x09;ascript:alert(1)'>x</a>", "<svg onload=alert(1)>", "<div style='background:url(x)'>d</div>",
    "<iframe src=javascript:alert(1)>",
])
def test_xss_never_survives(admin: httpx.Client, payload: str) -> None:
    for escape in ("true", "false"):
        r = admin.post(PREVIEW, content=payload, headers=TEXT, params={"htmlEscape": escape})
        assert r.status_code == 200
        found = markup_of(r.json()["html"])
        assert {tag for tag, _ in found} <= {"p", "a", "img", "div"}, found
        for _, attrs in found:
            for name, value in attrs:
                assert not name.startswith("on") and name != "style", found
                assert not re.sub(r"\s", "", value or "").lower().startswith(("javascript", "data")), found


def test_bad_bodies_and_access(server: LiveServer, admin: httpx.Client) -> None:
    r = admin.post(PREVIEW, json={"text": "# x"})
    assert r.status_code == 400
    r = admin.post(PREVIEW, content=b'"unterminated', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = admin.post(PREVIEW, content=b"x" * (1024 * 1024 + 1), headers=TEXT)
    assert r.status_code == 400
    with validating_client(server, auth=None) as anonymous:
        r = anonymous.post(PREVIEW, json="# x")
        assert r.status_code == 401
    r = admin.post(PREVIEW, content="# x", headers={"Content-Type": "text/plain", "User-Agent": "Mozilla/5.0"})
    assert r.status_code == 403


def test_atlassian_python_api_post(server: LiveServer) -> None:
    bb = Bitbucket(server.url, username=ADMIN[0], password=ADMIN[1])
    # The client's JSON default: the Markdown as a JSON string.
    assert bb.post("rest/api/1.0/markup/preview", data="*hi*") == {"html": "<p><em>hi</em></p>\n"}
