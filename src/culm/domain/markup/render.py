"""Markdown to safe HTML, as Bitbucket's markup preview renders it: CommonMark plus tables and
strikethrough, raw HTML escaped by default (Bitbucket Data Center escapes HTML tags in Markdown) or,
with `htmlEscape=false`, passed through an allowlist sanitiser.

The sanitiser does not patch the renderer's output: it re-parses the HTML with the standard library's
tokenizer and writes out only allowlisted tags and attributes, every value re-escaped, URLs limited to
safe schemes. Scripts, styles, event handlers, `javascript:`/`data:` URLs and comments never survive.
(DESIGN.md names nh3 for this; nh3 is not installed in this environment, so the standard library does it.)
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.token import Token

from culm.core.errors import ValidationError

URL_MODES = ("ABSOLUTE", "RELATIVE", "CONFIGURED")
HEADING_ID_PREFIX = "markdown-header-"

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q",
    "s", "samp", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "tt", "u", "ul", "var",
})
VOID_TAGS = frozenset({"br", "hr", "img"})
# Elements dropped together with everything inside them.
DROP_CONTENT = frozenset({
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "template", "noscript",
    "noembed", "noframes", "textarea", "title", "xmp", "plaintext", "svg", "math", "select", "option",
    "head", "canvas", "audio", "video", "button", "form",
})
GLOBAL_ATTRS = frozenset({"title"})
TAG_ATTRS: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "title", "width", "height"}),
    "ol": frozenset({"start"}),
    "td": frozenset({"align", "colspan", "rowspan", "style"}),
    "th": frozenset({"align", "colspan", "rowspan", "style"}),
    "code": frozenset({"class"}),
    **{f"h{n}": frozenset({"id"}) for n in range(1, 7)},
}
URL_ATTRS = frozenset({"href", "src"})
LINK_SCHEMES = frozenset({"http", "https", "mailto", "ftp"})
IMAGE_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_VALUE_RULES = {
    "class": re.compile(r"^language-[A-Za-z0-9_+#.\-]{1,40}$"),
    "style": re.compile(r"^text-align:\s*(left|right|center)\s*;?$"),
    "align": re.compile(r"^(left|right|center)$"),
    "start": re.compile(r"^\d{1,9}$"),
    "colspan": re.compile(r"^\d{1,4}$"),
    "rowspan": re.compile(r"^\d{1,4}$"),
    "width": re.compile(r"^\d{1,5}%?$"),
    "height": re.compile(r"^\d{1,5}%?$"),
    "id": re.compile(r"^" + re.escape(HEADING_ID_PREFIX) + r"[\w\-]{0,200}$"),
}


def safe_url(value: str, tag: str) -> str | None:
    """The URL if its scheme is allowed for `tag` (relative URLs are), else None."""
    compact = _INVISIBLE.sub("", html.unescape(value))
    match = _SCHEME.match(compact)
    if match is None:
        return value.strip()
    allowed = IMAGE_SCHEMES if tag == "img" else LINK_SCHEMES
    return value.strip() if match.group(1).lower() in allowed else None


class _Sanitiser(HTMLParser):
    """Writes out only allowlisted markup; text is always re-escaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.dropping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.dropping:
            if tag in DROP_CONTENT:
                self.dropping.append(tag)
            return
        if tag in DROP_CONTENT:
            self.dropping.append(tag)
            return
        if tag not in ALLOWED_TAGS:
            return
        kept = []
        allowed = GLOBAL_ATTRS | TAG_ATTRS.get(tag, frozenset())
        for name, value in attrs:
            if name not in allowed or value is None:
                continue
            if name in URL_ATTRS:
                value = safe_url(value, tag)
                if value is None:
                    continue
            rule = _VALUE_RULES.get(name)
            if rule is not None and not rule.match(value):
                continue
            kept.append(f' {name}="{html.escape(value, quote=True)}"')
        self.out.append(f"<{tag}{''.join(kept)}>")
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS and self.open and self.open[-1] == tag and not self.dropping:
            self.handle_endtag(tag)
        elif tag in DROP_CONTENT and self.dropping and self.dropping[-1] == tag:
            self.dropping.pop()

    def handle_endtag(self, tag: str) -> None:
        if self.dropping:
            if tag == self.dropping[-1]:
                self.dropping.pop()
            return
        if tag not in self.open:
            return
        while self.open:
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(html.escape(data, quote=False))

    def result(self) -> str:
        self.close()
        while self.open:
            self.out.append(f"</{self.open.pop()}>")
        return "".join(self.out)


def sanitise(fragment: str) -> str:
    """An HTML fragment reduced to the allowlist (comments, doctypes, processing instructions dropped)."""
    parser = _Sanitiser()
    parser.feed(fragment)
    return parser.result()


@dataclass(frozen=True)
class Options:
    html_escape: bool = True
    hardwrap: bool = False
    include_heading_id: bool = False
    url_mode: str = "RELATIVE"
    base_url: str = ""


def url_mode(value: str | None) -> str:
    if value is None or value == "":
        return "RELATIVE"
    mode = value.strip().upper()
    if mode not in URL_MODES:
        raise ValidationError(f"'{value}' is not a valid urlMode; valid values are ABSOLUTE, RELATIVE and "
                              "CONFIGURED.", context="urlMode")
    return mode


def _slug(text: str) -> str:
    words = re.sub(r"[^\w\s-]", "", text.lower(), flags=re.UNICODE)
    return re.sub(r"[\s]+", "-", words.strip())[:200]


def _heading_ids(tokens: list[Token]) -> None:
    seen: dict[str, int] = {}
    for i, token in enumerate(tokens):
        if token.type != "heading_open" or i + 1 >= len(tokens):
            continue
        slug = _slug(tokens[i + 1].content)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        token.attrSet("id", HEADING_ID_PREFIX + slug + (f"_{count}" if count else ""))


def _absolutise(tokens: list[Token], base: str) -> None:
    """Root-relative link and image URLs become absolute (urlMode ABSOLUTE / CONFIGURED)."""
    for token in tokens:
        for child in [token, *(token.children or [])]:
            for attr in ("href", "src"):
                value = child.attrGet(attr)
                if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
                    child.attrSet(attr, base.rstrip("/") + value)


def render(markdown: str, options: Options) -> str:
    """The sanitised HTML for `markdown`."""
    md = MarkdownIt("commonmark", {"html": not options.html_escape, "breaks": options.hardwrap})
    md.enable(["table", "strikethrough"])
    tokens = md.parse(markdown)
    if options.include_heading_id:
        _heading_ids(tokens)
    if options.url_mode != "RELATIVE" and options.base_url:
        _absolutise(tokens, options.base_url)
    return sanitise(md.renderer.render(tokens, md.options, {}))
