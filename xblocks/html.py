"""A page of text: HTML (rendered from Markdown by the loader), shown as it is."""

from __future__ import annotations

from html import escape
from typing import Any

from lxml import etree
from web_fragments.fragment import Fragment
from xblock.core import XBlock
from xblock.fields import Scope, String

from .base import DefinitionXmlMixin, DisplayNameMixin, static_text
from .xmlutil import inner_html


class HtmlBlock(DefinitionXmlMixin, DisplayNameMixin, XBlock):
    """Text, images and links. Complete when viewed (the runtime marks it, as Open edX does for html)."""

    data = String(
        help="The content as HTML; /static/NAME points at course assets", scope=Scope.content, default=""
    )

    def student_view(self, context: dict[str, Any] | None = None) -> Fragment:
        frag = Fragment(
            f'<div class="lm-html" data-lm-block="{escape(str(self.scope_ids.usage_id))}">{self.data}</div>'
        )
        frag.add_css(static_text("lm.css"))
        return frag

    def xml_body_fields(self) -> tuple[str, ...]:
        return ("data",)

    def add_xml_body(self, node: etree._Element) -> None:
        if self.data:
            node.text = etree.CDATA(self.data)

    @classmethod
    def parse_xml(cls, node: etree._Element, runtime: Any, keys: Any) -> HtmlBlock:
        block = runtime.construct_xblock_from_class(cls, keys)
        block.set_fields_from_attributes(node)
        block.data = inner_html(node).strip()
        return block

    @staticmethod
    def workbench_scenarios() -> list[tuple[str, str]]:
        return [
            (
                "Local MOOC: html",
                '<lm-html display_name="บทนำ"><![CDATA[<h3>งบประมาณ</h3><p>ปีงบประมาณเริ่ม 1 ตุลาคม</p>]]></lm-html>',
            )
        ]
