"""An Open edX OLX element kept verbatim: blocks an import could not map, written back unchanged."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from lxml import etree
from web_fragments.fragment import Fragment
from xblock.completable import XBlockCompletionMode
from xblock.core import XBlock
from xblock.fields import Dict, List, Scope, String

from .base import DisplayNameMixin, static_text, ui


class RawOlxBlock(DisplayNameMixin, XBlock):
    """Holds one OLX element as text; exporters to OLX write ``xml`` back as it was read."""

    completion_mode = XBlockCompletionMode.EXCLUDED
    xml = String(help="The OLX element, verbatim", scope=Scope.content, default="")
    policy = Dict(
        help="Open edX settings of this element from policy.json, kept as they are",
        scope=Scope.settings,
        default={},
    )
    files = List(
        help="Definition files it points at, relative to the course folder", scope=Scope.content, default=[]
    )

    @property
    def olx_tag(self) -> str:
        try:
            return etree.QName(etree.fromstring(self.xml.encode())).localname
        except (etree.XMLSyntaxError, ValueError):
            return "unknown"

    def student_view(self, context: dict[str, Any] | None = None) -> Fragment:
        """A card saying, in Thai and English, that this Open edX block is not available here.

        Never raises: a kept element that does not parse still gets its card (type "unknown").
        """
        t = ui(context)
        tag = self.olx_tag
        title = self.display_name or tag
        frag = Fragment(
            f'<div class="lm-raw" role="note" data-lm-block="{escape(str(self.scope_ids.usage_id))}" '
            f'data-olx-tag="{escape(tag)}">'
            f'<p class="lm-notice"><strong>{escape(title)}</strong></p>'
            f'<p lang="th">ไม่พร้อมใช้งานที่นี่: บล็อก Open edX ชนิด <code>{escape(tag)}</code></p>'
            f'<p lang="en">Not available here: Open edX block type <code>{escape(tag)}</code></p>'
            f'<p class="lm-muted">{t["olx_only"]}</p></div>'
        )
        frag.add_css(static_text("lm.css"))
        return frag

    def add_xml_to_node(self, node: etree._Element) -> None:
        node.tag = self.scope_ids.block_type
        if self.display_name:
            node.set("display_name", self.display_name)
        if self.files:
            node.set("files", json.dumps(self.files, ensure_ascii=False))
        if self.policy:
            node.set("policy", json.dumps(self.policy, ensure_ascii=False, sort_keys=True))
        node.text = etree.CDATA(self.xml)

    @classmethod
    def parse_xml(cls, node: etree._Element, runtime: Any, keys: Any) -> RawOlxBlock:
        block = runtime.construct_xblock_from_class(cls, keys)
        block.display_name = node.get("display_name", "")
        block.xml = (node.text or "").strip()
        if node.get("files"):
            block.files = json.loads(node.get("files"))
        if node.get("policy"):
            block.policy = json.loads(node.get("policy"))
        return block
