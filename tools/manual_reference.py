"""The manual's generated chapters, made fresh by every build (tools/manual_hooks.py runs this).

- keys.{th,en}.md: every key of the course format, from the JSON Schemas in schemas/ (nested keys too);
- troubleshooting.{th,en}.md: every validation code from the message catalogue (the code tables of
  docs/validation.md, docs/validate-olx.md and docs/validate-scorm.md, which tests/test_docs_codes.py keeps
  complete against the code), each with a real message the validator prints for a fixture under
  tests/fixtures/ when one produces it;
- dev/: the developer documents in docs/ (and docs/img), so the manual links to them rather than copying.

Usage: python tools/manual_reference.py OUT_DIR   (writes the pages into OUT_DIR; the build uses manual/docs)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import format_reference  # noqa: E402  (the schema helpers docs/course-format.md is generated with)

CATALOGUE = ("validation.md", "validate-olx.md", "validate-scorm.md")
FIXTURES = ROOT / "tests" / "fixtures"
THAI_KEYS = ROOT / "manual" / "keys.th.yaml"
THAI_HINTS = ROOT / "manual" / "troubleshooting.th.yaml"
GENERATED = ("keys.th.md", "keys.en.md", "troubleshooting.th.md", "troubleshooting.en.md")

TH_SECTIONS = {
    "course.yaml": "course.yaml (ไฟล์หลักของหลักสูตร)",
    "Unit": "บทเรียน (unit)",
    "Subsection (full form)": "หัวข้อย่อย (subsection, แบบเต็ม)",
    "Section (full form)": "หมวด (section, แบบเต็ม)",
    "Block: html": "บล็อก html (เนื้อหา)",
    "Block: video": "บล็อก video (วิดีโอ)",
    "Block: quiz": "บล็อก quiz (แบบทดสอบ)",
    "Block: olx (kept verbatim)": "บล็อก olx (เก็บไว้ตามต้นฉบับ)",
    "Block: any other XBlock": "บล็อก XBlock อื่น ๆ",
    "Question: single-choice": "คำถามแบบเลือกตอบข้อเดียว (single-choice)",
    "Question: multiple-choice": "คำถามแบบเลือกได้หลายข้อ (multiple-choice)",
    "Question: true-false": "คำถามถูก/ผิด (true-false)",
    "Question: numeric": "คำถามตอบเป็นตัวเลข (numeric)",
    "Question: short-text": "คำถามเติมคำตอบสั้น (short-text)",
    "Quiz file": "ไฟล์แบบทดสอบ (quizzes/*.yaml)",
}
TEXT = {
    "th": {
        "keys_title": "ทุกคีย์ของรูปแบบหลักสูตร",
        "keys_intro": (
            "หน้านี้สร้างขึ้นใหม่จาก JSON Schema ใน `schemas/` ทุกครั้งที่สร้างคู่มือ จึงตรงกับโปรแกรมเสมอ "
            "ความหมายแต่ละคีย์เป็นภาษาไทยแบบสั้น (ตัวหนา) ตามด้วยคำอธิบายภาษาอังกฤษจาก schema คีย์ที่มีจุด เช่น `certificate.requires` "
            "คือคีย์ที่อยู่ข้างในคีย์แรก"
        ),
        "head": "| คีย์ | ชนิด | ต้องมี | ความหมาย |",
        "yes": "ต้องมี",
        "trouble_title": "แก้ปัญหา: ทุกรหัสข้อความ",
        "trouble_intro": (
            "ทุกข้อความของ `localmooc validate` ลงท้ายด้วยรหัสในวงเล็บเหลี่ยม เช่น `[quiz-answer-unknown]` "
            "ค้นหารหัสนั้นในหน้านี้ (Ctrl+F) หน้านี้สร้างจากตารางรหัสในเอกสารสำหรับนักพัฒนา "
            "([การตรวจไฟล์ต้นฉบับ](dev/validation.md), [OLX](dev/validate-olx.md), [SCORM](dev/validate-scorm.md)) "
            "ทุกครั้งที่สร้างคู่มือ ตัวอย่างข้อความเป็นข้อความจริงที่โปรแกรมพิมพ์ออกมาเมื่อตรวจไฟล์ตัวอย่างที่ผิด "
            "ใน `tests/fixtures/` วิธีแก้เขียนเป็นภาษาไทย ตามด้วยคำอธิบายภาษาอังกฤษจากตารางรหัส"
        ),
        "example": "ตัวอย่างจริง",
        "error": "ข้อผิดพลาด",
        "warning": "คำเตือน",
        "codes": "รหัส",
        "sections": {
            "validation.md": "ไฟล์ต้นฉบับของหลักสูตร",
            "validate-olx.md": "แพ็กเกจ Open edX (OLX)",
            "validate-scorm.md": "แพ็กเกจ SCORM",
        },
    },
    "en": {
        "keys_title": "Every key of the course format",
        "keys_intro": (
            "This page is generated from the JSON Schemas in `schemas/` on every build of the manual, so it "
            "always matches the program. A dotted key such as `certificate.requires` is a key inside the "
            "first one."
        ),
        "head": "| key | type | required | meaning |",
        "yes": "yes",
        "trouble_title": "Troubleshooting: every message code",
        "trouble_intro": (
            "Every message of `localmooc validate` ends with a code in brackets, such as "
            "`[quiz-answer-unknown]`. Search this page for it (Ctrl+F). The page is generated on every build "
            "from the code tables of the developer documents ([source checks](dev/validation.md), "
            "[OLX](dev/validate-olx.md), [SCORM](dev/validate-scorm.md)); each example is the real message "
            "the program prints for a bad sample file in `tests/fixtures/`."
        ),
        "example": "Real example",
        "error": "error",
        "warning": "warning",
        "codes": "codes",
        "sections": {
            "validation.md": "Course source files",
            "validate-olx.md": "Open edX packages (OLX)",
            "validate-scorm.md": "SCORM packages",
        },
    },
}


# ---------------------------------------------------------------------------------------------------------
# Every key, from the schemas


def thai_glosses() -> dict[str, str]:
    """key (or dotted key) -> its meaning in a few Thai words (manual/keys.th.yaml)."""
    import yaml

    glosses: dict[str, str] = yaml.safe_load(THAI_KEYS.read_text(encoding="utf-8"))
    return glosses


def _rows(
    node: dict[str, Any], defs: dict[str, Any], prefix: str, yes: str, glosses: dict[str, str]
) -> Iterator[str]:
    required = set(node.get("required", []))
    for key, prop in node.get("properties", {}).items():
        req = yes if key in required else ""
        name = f"{prefix}{key}"
        meaning = format_reference._description(prop, defs)
        if name in glosses:  # Thai first, then the schema's own words
            meaning = f"**{glosses[name]}**<br>{meaning}"
        yield f"| `{name}` | {format_reference._type(prop, defs)} | {req} | {meaning} |"
        if "properties" in prop:  # an inline mapping (certificate:, olx:): its keys too
            yield from _rows(prop, defs, f"{name}.", yes, glosses)


def schema_keys() -> set[str]:
    """Every property name in every schema file (what the keys page must show)."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    found.update(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    import json

    for path in sorted((ROOT / "schemas").glob("*.schema.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return found


def keys_page(lang: str) -> str:
    import json

    text = TEXT[lang]
    glosses = thai_glosses() if lang == "th" else {}
    schema = json.loads((ROOT / "schemas" / "course.schema.json").read_text(encoding="utf-8"))
    defs = schema["$defs"]
    out = [f"# {text['keys_title']}", "", text["keys_intro"], ""]
    for title, name in format_reference.SECTIONS:
        node = schema if name is None else defs[name]
        heading = TH_SECTIONS[title] if lang == "th" else title
        out += [f"## {heading}", "", node.get("description", ""), "", text["head"], "|---|---|---|---|"]
        out += _rows(node, defs, "", text["yes"], glosses)
        out.append("")
    include = defs["include"]
    out += [
        "## include",
        "",
        include.get("description", ""),
        "",
        text["head"],
        "|---|---|---|---|",
        *_rows(include, defs, "", text["yes"], glosses),
        "",
    ]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------
# Every code, from the message catalogue


@dataclass
class Entry:
    code: str
    severity: str  # "error", "warning", "error or warning" or "" when the table does not say
    meaning: str


def _cells(line: str) -> list[str]:
    # Split a Markdown table row on | that is not escaped (\|) and not inside `code`.
    cells, cur, in_code, i = [], "", False, 0
    body = line.strip().strip("|")
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            cur += body[i : i + 2]
            i += 2
            continue
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    cells.append(cur.strip())
    return cells


def catalogue(doc: str) -> list[Entry]:
    """The code tables of one developer document: every row whose first cell names codes."""
    entries: list[Entry] = []
    header: list[str] | None = None
    for line in (ROOT / "docs" / doc).read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set(line) <= set("|-: ") or header[0] != "code":
            continue
        codes = re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)*)`", cells[0])
        row = dict(zip(header, cells, strict=False))
        severity = row.get("severity", "")
        parts = [row[h] for h in header[1:] if h not in ("severity", "olxcleaner") and row.get(h)]
        meaning = " — ".join(parts)
        for code in codes:
            entries.append(Entry(code, severity, meaning))
    if not entries:
        raise SystemExit(f"docs/{doc}: no code table found; update tools/manual_reference.py")
    return entries


def real_examples() -> dict[str, str]:
    """code -> the first message the validator prints for a fixture that produces it."""
    from localmooc_packager.api import validate_path
    from localmooc_packager.errors import LocalMoocError

    found: dict[str, str] = {}
    kinds = [("source", FIXTURES / "source"), ("olx", FIXTURES / "olx"), ("scorm", FIXTURES / "scorm")]
    for kind, folder in kinds:
        for item in sorted(folder.iterdir()):
            if item.name.startswith(("make_", ".")) or item.name == "real":
                continue
            try:
                _, report = validate_path(item, kind)
            except LocalMoocError:  # a fixture that is no course at all (not-a-course): no example from it
                continue
            for problem in report.problems:
                if problem.code not in found:
                    line = str(problem)  # shown from the fixture folder: bad-yaml/course.yaml:3:8: ...
                    for prefix in (f"{folder}/", f"{folder.relative_to(ROOT)}/"):
                        line = line.replace(prefix, "")
                    found[problem.code] = line
    return found


def thai_hints() -> dict[str, str]:
    """code -> how to fix it, in Thai (manual/troubleshooting.th.yaml), shown first on the Thai page."""
    import yaml

    hints: dict[str, str] = yaml.safe_load(THAI_HINTS.read_text(encoding="utf-8"))
    return hints


def troubleshooting_page(lang: str, examples: dict[str, str]) -> str:
    text = TEXT[lang]
    hints = thai_hints() if lang == "th" else {}
    out = [f"# {text['trouble_title']}", "", text["trouble_intro"], ""]
    for doc in CATALOGUE:
        entries = catalogue(doc)
        out += [f"## {text['sections'][doc]}", "", f"{len(entries)} {text['codes']}.", ""]
        for entry in entries:
            severity = {"error": text["error"], "warning": text["warning"]}.get(
                entry.severity, entry.severity
            )
            out += [f"### `{entry.code}`" + (f" ({severity})" if severity else ""), ""]
            if entry.code in hints:
                out += [f"**วิธีแก้:** {hints[entry.code]}", "", f"ภาษาอังกฤษ: {entry.meaning}", ""]
            else:
                out += [entry.meaning, ""]
            if entry.code in examples:
                out += [f"{text['example']}:", "", "```text", examples[entry.code], "```", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------
# The developer documents, linked from the manual

# Fenced code and code spans first (left as they are), then a link.
_LINK = re.compile(
    r"(?P<code>^```.*?^```|`[^`\n]*`)|(?P<bang>!?)\[(?P<label>[^\]]*)\]\((?P<target>[^)\s]+)\)", re.S | re.M
)


def _dev_links(markdown: str) -> str:
    """Links that leave docs/ (README, deploy/, source files) become the plain path: the site has no copy."""

    def fix(m: re.Match[str]) -> str:
        if m["code"]:
            return m.group(0)
        label, target = m["label"], m["target"]
        if m["bang"] or re.match(r"[a-z]+:", target) or target.startswith("#"):
            return m.group(0)
        path = target.split("#", 1)[0]
        if path.startswith("../") or (not path.endswith(".md") and not path.startswith("img/")):
            shown = path.removeprefix("../")
            if label.strip("`/") in (shown.rstrip("/"), shown.removesuffix("/README.md")):
                return label if "`" in label else f"`{label}`"
            return f"{label} (`{shown}`)"
        return m.group(0)

    return _LINK.sub(fix, markdown)


def dev_docs() -> dict[str, bytes]:
    """dev/<name> -> content, for every document and image in docs/."""
    files: dict[str, bytes] = {}
    for path in sorted((ROOT / "docs").glob("*.md")):
        files[f"dev/{path.name}"] = _dev_links(path.read_text(encoding="utf-8")).encode()
    for path in sorted((ROOT / "docs" / "img").glob("*")):
        if path.is_file():
            files[f"dev/img/{path.name}"] = path.read_bytes()
    return files


def generate(out: Path) -> list[Path]:
    """Write every generated page into ``out``; a file is rewritten only when it changed. Returns them."""
    examples = real_examples()
    pages: dict[str, bytes] = {
        "keys.th.md": keys_page("th").encode(),
        "keys.en.md": keys_page("en").encode(),
        "troubleshooting.th.md": troubleshooting_page("th", examples).encode(),
        "troubleshooting.en.md": troubleshooting_page("en", examples).encode(),
        **dev_docs(),
    }
    dev = out / "dev"
    if dev.is_dir():  # a document removed from docs/ goes from the manual too
        stale = {p for p in dev.rglob("*") if p.is_file()} - {out / n for n in pages}
        for path in stale:
            path.unlink()
    written = []
    for name, content in pages.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != content:
            path.write_bytes(content)
        written.append(path)
    return written


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    generate(Path(sys.argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
