"""Markdown and HTML bodies: rendering, and the asset and network references they contain.

Inside the block tree every course asset is written `/static/NAME` (the OLX convention); designers may
write `static/NAME` or `./static/NAME` in Markdown and HTML, and exporters rewrite `/static/` for their
own layout.
"""

from __future__ import annotations

import re
from functools import cache

from markdown_it import MarkdownIt

# An attribute (or CSS url()) whose value names a course asset or a network address.
_REF = re.compile(
    r"""(?:\b(?:src|href|poster|data|srcset)\s*=\s*["']|url\(\s*["']?)(?P<url>[^"')\s]+)""",
    re.IGNORECASE,
)
_STATIC = re.compile(
    r"""(\b(?:src|href|poster|data)\s*=\s*["']|url\(\s*["']?)(?:\./)?static/""", re.IGNORECASE
)


@cache
def _md() -> MarkdownIt:
    # Raw HTML stays allowed: designers embed tables and figures; imported HTML is sanitised elsewhere.
    return MarkdownIt("commonmark", {"html": True, "typographer": False}).enable(["table", "strikethrough"])


def render_markdown(text: str) -> str:
    return canonical_static(_md().render(text)).strip()


def render_inline(text: str) -> str:
    """One paragraph becomes inline HTML (fits a <legend>); longer text is rendered as blocks."""
    if "\n\n" in text.strip():
        return render_markdown(text)
    return canonical_static(_md().renderInline(text.strip()))


def canonical_static(html: str) -> str:
    return _STATIC.sub(r"\1/static/", html)


def references(text: str) -> list[tuple[int, str]]:
    """(line, url) for every src/href/poster/url() in ``text`` (Markdown images and links included)."""
    found: list[tuple[int, str]] = []
    for m in _REF.finditer(text):
        found.append((text.count("\n", 0, m.start()) + 1, m.group("url")))
    for m in re.finditer(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)", text):
        found.append((text.count("\n", 0, m.start()) + 1, m.group(1)))
    return found


def static_name(url: str) -> str | None:
    """'static/a.png', './static/a.png' or '/static/a.png' -> 'static/a.png'; anything else -> None."""
    url = url.split("#", 1)[0].split("?", 1)[0]
    for prefix in ("./static/", "/static/", "static/"):
        if url.startswith(prefix):
            return "static/" + url[len(prefix) :]
    return None


def is_network(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))
