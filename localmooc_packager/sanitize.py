"""HTML sanitising for course content that did not come from a trusted designer (imports, third parties).

nh3 (the Rust ammonia library) keeps the structure a course page needs — headings, lists, tables with
captions and scopes, figures, images, audio and video with their sources and subtitle tracks — and drops
scripts, event handlers, styles with url(), forms, frames and `javascript:` links.
"""

from __future__ import annotations

from functools import cache

import nh3

from .tree import CourseTree

_EXTRA_TAGS = {"audio", "video", "source", "track", "picture", "section", "main"}
_GLOBAL_ATTRS = {
    "id",
    "class",
    "lang",
    "dir",
    "title",
    "role",
    "aria-label",
    "aria-describedby",
    "aria-hidden",
}
_ATTRS = {
    "a": {"href", "hreflang", "target"},
    "img": {"src", "alt", "width", "height", "loading", "srcset", "sizes"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope", "abbr"},
    "ol": {"start", "reversed", "type"},
    "time": {"datetime"},
    "abbr": {"title"},
    "video": {"src", "controls", "poster", "width", "height", "preload", "muted", "loop", "playsinline"},
    "audio": {"src", "controls", "preload", "loop"},
    "source": {"src", "type", "srcset", "media"},
    "track": {"src", "kind", "srclang", "label", "default"},
    "code": {"class"},
}


@cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(nh3.ALLOWED_TAGS) | _EXTRA_TAGS,
        clean_content_tags={"script", "style"},
        attributes={"*": _GLOBAL_ATTRS, **_ATTRS},
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def sanitize_html(html: str) -> str:
    """``html`` with everything that could run code or leak data removed; relative links are kept."""
    return _cleaner().clean(html)


def sanitize_tree(tree: CourseTree) -> int:
    """Sanitise every HTML field of the toolkit's blocks in ``tree`` in place; returns how many changed.

    Third-party XBlocks render their own markup and are not touched; kept OLX blocks are never rendered
    as HTML by this toolkit.
    """
    changed = 0
    for block, _depth in tree.walk():
        kind = block.scope_ids.block_type
        if kind == "lm-html":
            clean = sanitize_html(block.data)
            if clean != block.data:
                block.data = clean
                changed += 1
        elif kind == "lm-course":
            clean = sanitize_html(block.description)
            if clean != block.description:
                block.description = clean
                changed += 1
        elif kind == "lm-quiz":
            questions = [dict(q) for q in block.questions]
            for q in questions:
                for key in ("prompt", "explain"):
                    if q.get(key):
                        q[key] = sanitize_html(q[key])
                if q.get("feedback"):
                    q["feedback"] = {k: sanitize_html(v) for k, v in q["feedback"].items()}
            if questions != block.questions:
                block.questions = questions
                changed += 1
        block.save()
    return changed
