"""What every block of this package shares: export of definition fields only, UI strings, static files."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from lxml import etree
from xblock.fields import Dict, Scope, String

# Scopes that describe the course. Everything else (user_state, preferences, ...) is a learner's and must
# never reach an export: XBlock's own add_xml_to_node writes every set field, learner answers included.
DEFINITION_SCOPES = (Scope.content, Scope.settings)

UI = {
    "th": {
        "submit": "ส่งคำตอบ",
        "answer_label": "คำตอบ",
        "correct": "ถูกต้อง",
        "incorrect": "ไม่ถูกต้อง",
        "score": "คะแนน",
        "attempts_left": "ส่งได้อีก {n} ครั้ง",
        "attempts_unlimited": "ส่งคำตอบได้ไม่จำกัดครั้ง",
        "no_attempts": "ใช้สิทธิ์ส่งคำตอบครบแล้ว",
        "passed": "ผ่าน",
        "not_passed": "ยังไม่ผ่าน",
        "true": "จริง",
        "false": "เท็จ",
        "question": "ข้อ",
        "explain": "คำอธิบาย",
        "subtitles": "คำบรรยาย",
        "transcript": "ดาวน์โหลดบทถอดความ",
        "video_unsupported": "เบราว์เซอร์นี้เล่นวิดีโอไม่ได้",
        "open_video": "เปิดวิดีโอ",
        "olx_only": "เนื้อหาส่วนนี้แสดงได้บน Open edX เท่านั้น",
        "pre-test": "แบบทดสอบก่อนเรียน",
        "post-test": "แบบทดสอบหลังเรียน",
        "practice": "แบบฝึกหัด",
        "graded": "แบบทดสอบเก็บคะแนน",
        "not_answered": "ยังไม่ได้ตอบ",
    },
    "en": {
        "submit": "Submit",
        "answer_label": "Answer",
        "correct": "Correct",
        "incorrect": "Incorrect",
        "score": "Score",
        "attempts_left": "{n} attempts left",
        "attempts_unlimited": "Unlimited attempts",
        "no_attempts": "No attempts left",
        "passed": "Passed",
        "not_passed": "Not passed",
        "true": "True",
        "false": "False",
        "question": "Question",
        "explain": "Explanation",
        "subtitles": "Subtitles",
        "transcript": "Download transcript",
        "video_unsupported": "This browser cannot play the video",
        "open_video": "Open the video",
        "olx_only": "This content is shown on Open edX only",
        "pre-test": "Pre-test",
        "post-test": "Post-test",
        "practice": "Practice",
        "graded": "Graded quiz",
        "not_answered": "Not answered",
    },
}


def ui(context: dict[str, Any] | None) -> dict[str, str]:
    """UI strings for the language a runtime asks for (``context['lang']``), Thai by default."""
    lang = (context or {}).get("lang", "th")
    return UI.get(lang, UI["th"])


@cache
def static_text(name: str) -> str:
    """A file of this package's static/ folder (JS or CSS), read once per process."""
    return (files(__package__) / "static" / name).read_text(encoding="utf-8")


class DefinitionXmlMixin:
    """OLX export of content and settings fields only, plus children, in a stable order."""

    policy = Dict(
        help="Open edX settings kept as they are (advanced settings and import leftovers)",
        scope=Scope.settings,
        default={},
    )

    def definition_fields(self) -> dict[str, Any]:
        """Every content/settings field that has a value set, by name (children excluded)."""
        out = {}
        for name, field in self.fields.items():  # type: ignore[attr-defined]
            if name in ("children", "parent") or field.scope not in DEFINITION_SCOPES:
                continue
            if field.is_set_on(self):
                out[name] = field.read_from(self)
        return out

    def add_xml_to_node(self, node: etree._Element) -> None:
        node.tag = self.scope_ids.block_type  # type: ignore[attr-defined]
        for name, value in sorted(self.definition_fields().items()):
            if name in self.xml_body_fields():
                continue
            field = self.fields[name]  # type: ignore[attr-defined]
            text = field.to_string(value)
            if isinstance(value, dict | list):
                text = json.dumps(value, ensure_ascii=False, sort_keys=True)
            node.set(name, text)
        self.add_xml_body(node)
        if getattr(self, "has_children", False):
            for child_id in self.children:  # type: ignore[attr-defined]
                child = self.runtime.get_block(child_id)  # type: ignore[attr-defined]
                self.runtime.add_block_as_child_node(child, node)  # type: ignore[attr-defined]

    def xml_body_fields(self) -> tuple[str, ...]:
        """Fields written as element content instead of attributes."""
        return ()

    def add_xml_body(self, node: etree._Element) -> None:
        """Write the body fields; blocks with a body override this and ``xml_body_fields``."""

    def set_fields_from_attributes(self, node: etree._Element) -> None:
        """Attributes naming a field become its value; body fields are read by the block itself."""
        body = self.xml_body_fields()
        for name, value in node.items():
            if name in self.fields and name not in body:  # type: ignore[attr-defined]
                setattr(self, name, self.fields[name].from_string(value))  # type: ignore[attr-defined]


class DisplayNameMixin:
    display_name = String(help="Name shown to learners", scope=Scope.settings, default="")
