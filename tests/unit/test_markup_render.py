"""Markdown rendering for the markup preview: the features Bitbucket documents, and no XSS payload
surviving the sanitiser in either mode."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from culm.core.errors import ValidationError
from culm.domain.markup.render import ALLOWED_TAGS, Options, render, sanitise, url_mode

RAW = Options(html_escape=False)

XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"javascript:alert(1)\">",
    "<img src=\"data:image/svg+xml;base64,PHN2Zz4=\">",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JAVASCRIPT:alert(1)\">x</a>",
    "<a href=\" javascript:alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\"jav&#x0A;ascript:alert(1)\">x</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
    "<a href=\"java\u0000script:alert(1)\">x</a>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "![x](javascript:alert(1))",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<body onload=alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<div style=\"width: expression(alert(1))\">x</div>",
    "<style>body{background:red}</style>",
    "<td style=\"text-align:left;background:url(x)\">x</td>",
    "<b onmouseover=alert(1)>x</b>",
    "<p onclick=\"alert(1)\" title=\"t\">x</p>",
    "<form action=\"javascript:alert(1)\"><button>go</button></form>",
    "<input onfocus=alert(1) autofocus>",
    "<details open ontoggle=alert(1)>",
    "<base href=\"javascript:alert(1)//\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<link rel=stylesheet href=\"//evil.example/x.css\">",
    "<!--<script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<a href=\"#\" onclick=alert(1)>x</a>",
    "<a/href=\"javascript:alert(1)\">x</a>",
    "<img \"\"\"><script>alert(1)</script>\">",
    "<textarea><script>alert(1)</script></textarea>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<a href=\"https://ok.example\" style=\"position:fixed\">x</a>",
    "<code class=\"x onmouseover=alert(1)\">c</code>",
    "<h1 id=\"x\" onclick=alert(1)>h</h1>",
    "<table><tr><td background=\"javascript:alert(1)\">x</td></tr></table>",
    "\"><script>alert(1)</script>",
    "<p>unclosed <a href=\"javascript:alert(1)",
]


class _Inspect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag {tag}")
        for name, value in attrs:
            value = (value or "").lower()
            compact = re.sub(r"[\s\x00-\x1f]", "", value)
            if name.startswith("on"):
                self.problems.append(f"event handler {name}")
            if name == "style" and not re.fullmatch(r"text-align:(left|right|center)", compact):
                self.problems.append(f"style {value}")
            if name in ("href", "src") and re.match(r"(javascript|vbscript|data|file):", compact):
                self.problems.append(f"url {value}")
            if name not in ("href", "src", "title", "alt", "style", "id", "class", "align", "start", "colspan",
                            "rowspan", "width", "height"):
                self.problems.append(f"attribute {name}")

    def handle_comment(self, data: str) -> None:
        self.problems.append("comment")


def problems(out: str) -> list[str]:
    inspector = _Inspect()
    inspector.feed(out)
    inspector.close()
    return inspector.problems


@pytest.mark.parametrize("payload", XSS)
@pytest.mark.parametrize("options", [RAW, Options(), Options(html_escape=False, hardwrap=True,
                                                            include_heading_id=True, url_mode="ABSOLUTE",
                                                            base_url="http://h")])
def test_no_payload_survives(payload: str, options: Options) -> None:
    for text in (payload, f"# {payload}", f"* {payload}\n* b", f"> {payload}", f"| a |\n|---|\n| {payload} |"):
        out = render(text, options)
        assert problems(out) == [], (text, out)
        assert "<script" not in out.lower(), (text, out)  # text mentioning it is escaped: &lt;script


def test_sanitise_alone_keeps_safe_markup() -> None:
    kept = '<p title="t"><a href="https://x.example/a?b=1&amp;c=2">l</a> <img src="/i.png" alt="i"></p>'
    assert sanitise(kept) == kept
    assert sanitise("<a href='mailto:a@b.example'>m</a>") == '<a href="mailto:a@b.example">m</a>'
    assert sanitise("<b>unclosed <i>x") == "<b>unclosed <i>x</i></b>"
    assert sanitise("</b>stray") == "stray"
    assert sanitise("a < b & c") == "a &lt; b &amp; c"


def test_commonmark_tables_strikethrough_code() -> None:
    out = render("# Title\n\n**bold** _it_ ~~gone~~ `code`\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
                 "```python\nprint('<x>')\n```\n", Options())
    assert "<h1>Title</h1>" in out
    assert "<strong>bold</strong>" in out and "<em>it</em>" in out and "<s>gone</s>" in out
    assert "<code>code</code>" in out
    assert '<th style="text-align:left">a</th>' in out and '<td style="text-align:right">2</td>' in out
    assert '<pre><code class="language-python">print(&#x27;&lt;x&gt;&#x27;)\n</code></pre>' in out or \
        '<pre><code class="language-python">print(\'&lt;x&gt;\')\n</code></pre>' in out


def test_html_escape_and_raw_html() -> None:
    assert render("<b>x</b>", Options()) == "<p>&lt;b&gt;x&lt;/b&gt;</p>\n"
    assert render("<b>x</b>", RAW) == "<p><b>x</b></p>\n"
    assert render("<div>block</div>", RAW) == "<div>block</div>"


def test_hardwrap_heading_ids_and_url_modes() -> None:
    assert render("a\nb", Options()) == "<p>a\nb</p>\n"
    assert render("a\nb", Options(hardwrap=True)) == "<p>a<br>\nb</p>\n"
    out = render("# Hello World!\n## Hello World!", Options(include_heading_id=True))
    assert '<h1 id="markdown-header-hello-world">' in out and '<h2 id="markdown-header-hello-world_1">' in out
    assert "id=" not in render("# Hello", Options())
    assert 'href="/x"' in render("[a](/x)", Options())
    assert 'href="http://h/ctx/x"' in render("[a](/x)", Options(url_mode="ABSOLUTE", base_url="http://h/ctx"))
    assert 'href="docs/a.md"' in render("[a](docs/a.md)", Options(url_mode="ABSOLUTE", base_url="http://h"))
    assert url_mode(None) == "RELATIVE" and url_mode("absolute") == "ABSOLUTE"
    with pytest.raises(ValidationError):
        url_mode("SIDEWAYS")
