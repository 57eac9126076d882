"""Markdown to safe HTML, as Bitbucket's markup preview renders it: CommonMark plus tables and
strikethrough, raw HTML escaped by default (Bitbucket Data Center escapes HTML tags in Markdown) or,
with `htmlEscape=false`, passed through an allowlist sanitiser.

The sanitiser does not patch the renderer's output: nh3 (Ammonia, an HTML5 parser) re-parses the HTML
and writes out only allowlisted tags and attributes, every value re-escaped, URLs limited to safe
schemes. Scripts, styles, event handlers, `javascript:`/`data:` URLs and comments never survive.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import nh3
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


def _attribute_filter(tag: str, name: str, value: str) -> str | None:
    """Per-value rules nh3's allowlists cannot say: image URL schemes, alignment, heading ids."""
    if name in URL_ATTRS:
        return safe_url(value, tag)
    rule = _VALUE_RULES.get(name)
    if rule is not None and not rule.match(value):
        return None
    return value


def sanitise(fragment: str) -> str:
    """An HTML fragment reduced to the allowlist by nh3 (Ammonia): comments dropped, elements of
    DROP_CONTENT dropped with everything inside them, URLs limited to safe schemes."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_CONTENT),
        attributes={"*": set(GLOBAL_ATTRS), **{tag: set(attrs) for tag, attrs in TAG_ATTRS.items()}},
        attribute_filter=_attribute_filter,
        url_schemes=set(LINK_SCHEMES),
        strip_comments=True,
        link_rel=None,
    )


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


MARKDOWN_EXTENSIONS = (".md", ".markdown", ".mdown", ".mkd", ".mkdn")


def render_file(name: str, content: str, options: Options) -> str:
    """A repository file as HTML (`raw?markup=true`): Markdown files rendered, anything else shown as
    escaped preformatted text."""
    if name.lower().endswith(MARKDOWN_EXTENSIONS):
        return render(content, options)
    return f"<pre>{html.escape(content, quote=False)}</pre>"
