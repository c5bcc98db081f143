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
        t = ui(context)
        frag = Fragment(
            f'<div class="lm-raw" data-lm-block="{escape(str(self.scope_ids.usage_id))}">'
            f'<p class="lm-notice">{t["olx_only"]}: <strong>{escape(self.display_name or self.olx_tag)}</strong> '
            f"(<code>{escape(self.olx_tag)}</code>)</p></div>"
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
