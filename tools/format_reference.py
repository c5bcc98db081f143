"""Regenerate the key reference in docs/course-format.md from the JSON Schemas (the schema is the documentation).

Usage: python tools/format_reference.py [--check]   (--check exits 1 when the document is out of date)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "course-format.md"
BEGIN, END = "<!-- reference:begin -->", "<!-- reference:end -->"
SECTIONS = [
    ("course.yaml", None),
    ("Unit", "unit"),
    ("Subsection (full form)", "subsection"),
    ("Section (full form)", "section"),
    ("Block: html", "block-html"),
    ("Block: video", "block-video"),
    ("Block: quiz", "block-quiz"),
    ("Block: olx (kept verbatim)", "block-olx"),
    ("Block: any other XBlock", "block-xblock"),
    ("Question: single-choice", "question-single-choice"),
    ("Question: multiple-choice", "question-multiple-choice"),
    ("Question: true-false", "question-true-false"),
    ("Question: numeric", "question-numeric"),
    ("Question: short-text", "question-short-text"),
    ("Quiz file", "quizFile"),
]


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        target = defs.get(name, {})
        return {"id": "id", "path": "path", "text": "text", "date": "date", "olxPolicy": "mapping"}.get(
            name, target.get("type", name)
        )
    if "enum" in prop:
        return _choices(prop)
    kind = prop.get("type", "any")
    if kind == "array" and "enum" in prop.get("items", {}):
        return "list of " + _choices(prop["items"])
    if kind == "array":
        return "list"
    if kind == "object":
        return "mapping"
    return " or ".join(kind) if isinstance(kind, list) else kind


def _choices(prop: dict[str, Any]) -> str:
    """`code` \\| ...; a code with Thai aliases (x-aliases) is shown with them: `local-law` (กฎหมายท้องถิ่น)."""
    aliases: dict[str, str] = prop.get("x-aliases", {})
    shown = []
    for value in prop["enum"]:
        if value in aliases:
            continue
        names = [f"`{a}`" for a, code in aliases.items() if code == value]
        shown.append(f"`{value}`" + (f" ({' or '.join(names)})" if names else ""))
    return " \\| ".join(shown)


def _description(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    text = prop.get("description")
    if not text and "$ref" in prop:
        text = defs.get(prop["$ref"].rsplit("/", 1)[-1], {}).get("description", "")
    extra = []
    if "default" in prop:
        extra.append(f"default `{json.dumps(prop['default'], ensure_ascii=False)}`")
    if "examples" in prop:
        extra.append("e.g. `" + json.dumps(prop["examples"][0], ensure_ascii=False) + "`")
    return " ".join([(text or "").replace("|", "\\|"), *(f"({e})" for e in extra)]).strip()


def render() -> str:
    schema = json.loads((ROOT / "schemas" / "course.schema.json").read_text(encoding="utf-8"))
    defs = schema["$defs"]
    out = [BEGIN, "", "_Generated from `schemas/course.schema.json` by `tools/format_reference.py`._", ""]
    for title, name in SECTIONS:
        node = schema if name is None else defs[name]
        required = set(node.get("required", []))
        out += [
            f"### {title}",
            "",
            node.get("description", ""),
            "",
            "| key | type | required | meaning |",
            "|---|---|---|---|",
        ]
        for key, prop in node.get("properties", {}).items():
            req = "yes" if key in required else ""
            out.append(f"| `{key}` | {_type(prop, defs)} | {req} | {_description(prop, defs)} |")
        out.append("")
    out.append(END)
    return "\n".join(out)


def main() -> int:
    doc = DOC.read_text(encoding="utf-8")
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = head + render() + tail
    if "--check" in sys.argv:
        if new != doc:
            print(
                f"{DOC.relative_to(ROOT)} is out of date: run python tools/format_reference.py",
                file=sys.stderr,
            )
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
