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


# In every player the course title is h1, a unit's title h2 and a block's title h3, so a page's own headings
# start at h3 whatever level the designer typed (`#` or `##`): screen readers get an unbroken outline.
CONTENT_TOP_HEADING = 3
_HEADING = re.compile(r"<(/?)h([1-6])\b")


def shift_headings(html: str, top: int = CONTENT_TOP_HEADING) -> str:
    levels = [int(m.group(2)) for m in _HEADING.finditer(html) if not m.group(1)]
    shift = top - min(levels) if levels else 0
    if shift <= 0:
        return html
    return _HEADING.sub(lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + shift, 6)}", html)


def render_markdown(text: str) -> str:
    return shift_headings(canonical_static(_md().render(text))).strip()


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
