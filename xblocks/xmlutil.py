"""Small XML helpers the blocks share."""

from __future__ import annotations

from lxml import etree


def inner_html(node: etree._Element) -> str:
    """The text and child markup of ``node``, as written (CDATA comes back as plain text)."""
    parts = [node.text or ""]
    for child in node:
        if child.tag is etree.Comment:
            parts.append(child.tail or "")
            continue
        parts.append(etree.tostring(child, encoding="unicode", with_tail=True))
    return "".join(parts)


def set_body(node: etree._Element, html: str) -> None:
    """Write HTML as CDATA so that it survives unescaped and byte-stable."""
    if html:
        node.text = etree.CDATA(html)
