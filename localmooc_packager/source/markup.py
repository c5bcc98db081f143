"""Markdown and HTML bodies: rendering, and the asset and network references they contain.

Inside the block tree every course asset is written `/static/NAME` (the OLX convention); designers may
write `static/NAME` or `./static/NAME` in Markdown and HTML, and exporters rewrite `/static/` for their
own layout.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from markdown_it import MarkdownIt

# An attribute (or CSS url()) whose value names a course asset or a network address.
# The look-ahead names the letters a match can start with (ſ folds to s): the same matches, but the regex
# engine skips other characters without trying the pattern at each (3x faster on long Thai bodies).
_REF = re.compile(
    r"""(?=[shpdu\u017f])(?:\b(?:src|href|poster|data|srcset)\s*=\s*["']|url\(\s*["']?)(?P<url>[^"')\s]+)""",
    re.IGNORECASE,
)
_STATIC = re.compile(
    r"""(?=[shpdu\u017f])(\b(?:src|href|poster|data)\s*=\s*["']|url\(\s*["']?)(?:\./)?static/""",
    re.IGNORECASE,
)


@cache
def _md() -> MarkdownIt:
    # Raw HTML stays allowed: designers embed tables and figures; imported HTML is sanitised elsewhere.
    return MarkdownIt("commonmark", {"html": True, "typographer": False}).enable(["table", "strikethrough"])


@cache
def _block_renderer() -> Callable[[str], str]:
    """cmark-gfm (C, ~7x faster than markdown-it-py) where it can be called without leaking; else markdown-it.

    cmarkgfm's own helpers never free the document tree nor the HTML buffer (~26 KB per call, 250 MB for a
    5,000-unit course), so we drive its cffi library ourselves and free both with cmark_node_free, exported
    by the same shared object, and the C library's free (cmark's default allocator is malloc).
    Same CommonMark + tables + strikethrough, raw HTML kept; strikethrough is <del> and cell alignment
    `style="text-align: left"` where markdown-it writes <s> and `text-align:left`.
    """
    try:
        import cffi
        from cmarkgfm import _cmark

        lib, ffi = _cmark.lib, _cmark.ffi
        own = cffi.FFI()
        own.cdef("void cmark_node_free(void *node); void free(void *ptr);")
        cmark_so, libc = own.dlopen(_cmark.__file__), own.dlopen(None)
        lib.cmark_gfm_core_extensions_ensure_registered()
        extensions = [lib.cmark_find_syntax_extension(name) for name in (b"table", b"strikethrough")]
        options = lib.CMARK_OPT_UNSAFE | lib.CMARK_OPT_TABLE_PREFER_STYLE_ATTRIBUTES
    except (ImportError, OSError, AttributeError, cffi.FFIError):  # pragma: no cover - platform without it
        return _md().render

    def ours(pointer: object) -> object:
        return own.cast("void *", int(ffi.cast("uintptr_t", pointer)))

    def render(text: str) -> str:
        data = text.encode("utf-8")
        parser = lib.cmark_parser_new(options)
        try:
            for extension in extensions:
                lib.cmark_parser_attach_syntax_extension(parser, extension)
            lib.cmark_parser_feed(parser, data, len(data))
            root = lib.cmark_parser_finish(parser)
            try:
                html = lib.cmark_render_html(root, options, lib.cmark_parser_get_syntax_extensions(parser))
                try:
                    return ffi.string(html).decode("utf-8")
                finally:
                    libc.free(ours(html))
            finally:
                cmark_so.cmark_node_free(ours(root))
        finally:
            lib.cmark_parser_free(parser)

    return render


# In every player the course title is h1, a unit's title h2 and a block's title h3, so a page's own headings
# start at h3 whatever level the designer typed (`#` or `##`): screen readers get an unbroken outline.
CONTENT_TOP_HEADING = 3
_HEADING = re.compile(r"<(/?)h([1-6])\b")


# `<h1`..`<h6` opening a tag, one pattern per level: the smallest level present is found by trying the
# levels in turn, each search stopping at its first match (not one scan of the whole page for every tag).
_OPENING = {level: re.compile(f"<h{level}\\b") for level in range(1, 7)}


@cache
def _shifted(shift: int) -> Callable[[re.Match[str]], str]:
    """The replacement of each `<hN` / `</hN` match for ``shift`` levels (capped at h6)."""
    table = {f"<{slash}h{n}": f"<{slash}h{min(n + shift, 6)}" for slash in ("", "/") for n in range(1, 7)}
    return lambda m: table[m[0]]


def shift_headings(html: str, top: int = CONTENT_TOP_HEADING) -> str:
    if "<h" not in html:
        return html
    for level in range(1, 7):
        if f"<h{level}" in html and _OPENING[level].search(html):
            break
    else:
        return html
    shift = top - level
    if shift <= 0:
        return html
    return _HEADING.sub(_shifted(shift), html)


def render_markdown(text: str) -> str:
    return shift_headings(canonical_static(_block_renderer()(text))).strip()


# Characters that can start inline Markdown or HTML, or that the renderer escapes; text without any of them
# renders as itself (most quiz prompts), so markdown-it is not needed for it.
_INLINE_SYNTAX = re.compile(r"""[\\`*_\[\]!<>&~"\r\n\x00]""")


def render_inline(text: str) -> str:
    """One paragraph becomes inline HTML (fits a <legend>); longer text is rendered as blocks.

    cmark has no inline-only mode (`1. ข้อใด` must not become a list), so markdown-it renders it.
    """
    if "\n\n" in text.strip():
        return render_markdown(text)
    text = text.strip()
    return canonical_static(_md().renderInline(text) if _INLINE_SYNTAX.search(text) else text)


def canonical_static(html: str) -> str:
    return _STATIC.sub(r"\1/static/", html) if _may_name_static(html) else html


def _may_name_static(html: str) -> bool:
    """Whether ``_STATIC`` may match: a cheap look at each `c/` (every match ends in `static/`, and `c` has
    no other case variant than `C`) for what a match has just before `static/`: a quote, `(` or space, or
    `./`. Bodies whose links were made canonical (`/static/NAME`) are then not scanned again, which on
    long Thai bodies costs more than the rest of their checks."""
    for needle in ("c/", "C/"):
        at = html.find(needle)
        while at >= 0:
            start = at - 5  # where `static/` would start
            if start >= 1:
                before = html[start - 1]
                if (
                    before in "\"'("
                    or before.isspace()
                    or (before == "/" and html[start - 2 : start - 1] == ".")
                ):
                    return True
            at = html.find(needle, at + 2)
    return False


def references(text: str) -> list[tuple[int, str]]:
    """(line, url) for every src/href/poster/url() in ``text`` (Markdown images and links included)."""
    found: list[tuple[int, str]] = []
    if "=" not in text and "(" not in text:  # both patterns need one of them; most bodies have neither
        return found
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
