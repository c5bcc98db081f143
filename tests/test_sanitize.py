"""Untrusted course HTML keeps its structure and loses everything that runs or leaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from localmooc_packager.sanitize import sanitize_html


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<p>ข้อความ<script>fetch('//evil')</script></p>", "<p>ข้อความ</p>"),
        ('<img src="/static/a.png" alt="ภาพ" onerror="steal()">', '<img src="/static/a.png" alt="ภาพ">'),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        (
            '<a href="https://www.dla.go.th/">กรม</a>',
            '<a href="https://www.dla.go.th/" rel="noopener noreferrer">กรม</a>',
        ),
        ('<iframe src="https://evil.example/"></iframe>ต่อ', "ต่อ"),
        ('<div style="background:url(https://evil/)">ก</div>', "<div>ก</div>"),
        ("<form action='/x'><input name=a></form>ข", "ข"),
        ("<!-- hidden --><p>ค</p>", "<p>ค</p>"),
        (
            '<video controls src="/static/v.mp4"><track kind="subtitles" src="/static/v.vtt" srclang="th"></video>',
            '<video controls="" src="/static/v.mp4"><track kind="subtitles" src="/static/v.vtt" srclang="th"></video>',
        ),
        (
            '<table><caption>ตาราง</caption><tr><th scope="col">ก</th></tr></table>',
            '<table><caption>ตาราง</caption><tbody><tr><th scope="col">ก</th></tr></tbody></table>',
        ),
    ],
)
def test_sanitize(dirty: str, clean: str) -> None:
    assert sanitize_html(dirty) == clean


def test_thai_text_is_untouched() -> None:
    text = "<p>กำหนดการ ทํา น้ำ ๑๒๓</p>"  # includes a decomposed sara am: must stay byte-identical
    assert sanitize_html(text) == text


def _evil_course(root: Path) -> Path:
    course = root / "evil"
    course.mkdir()
    (course / "course.yaml").write_text(
        "id: evil\norg: DLA\nrun: r1\ntitle: ทดสอบ\n"
        "description: 'ก<img src=https://example.org/x.png onerror=\"steal()\">'\n"
        "units:\n  - id: u\n    title: หน่วย\n    blocks:\n"
        "      - {type: html, format: html, body: '<p>ข้อความ</p><script>steal()</script><iframe src=\"https://x\"></iframe>'}\n"
        "      - type: quiz\n        id: q\n        questions:\n"
        "          - {type: true-false, prompt: 'จริง<img src=https://example.org/x.png onerror=a()>', answer: true,"
        " explain: '<a href=\"javascript:a()\">ดู</a>'}\n",
        encoding="utf-8",
    )
    return course


def test_runtime_loads_courses_sanitised_unless_trusted(tmp_path: Path) -> None:
    from localmooc_packager.runtime.blocks import load_courses

    course = _evil_course(tmp_path)
    loaded = load_courses(course, trusted_html=False)["evil"]
    html = loaded.tree.block("u-html1").data
    assert html == "<p>ข้อความ</p>"
    question = loaded.tree.block("q").questions[0]
    assert question["prompt"] == 'จริง<img src="https://example.org/x.png">'
    assert question["explain"] == '<p><a rel="noopener noreferrer">ดู</a></p>'
    assert loaded.meta["description"] == '<p>ก<img src="https://example.org/x.png"></p>'
    trusted = load_courses(course, trusted_html=True)["evil"]
    assert "<script>steal()</script>" in trusted.tree.block("u-html1").data
