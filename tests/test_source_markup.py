"""Markdown rendering: cmark-gfm for bodies, markdown-it for one-paragraph prompts, and their agreement."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from localmooc_packager.source import markup

ROOT = Path(__file__).resolve().parent.parent

THAI_PAGE = """\
# งบประมาณท้องถิ่น

ปีงบประมาณเริ่ม **1 ตุลาคม** และสิ้นสุด *30 กันยายน* ~~31 ธันวาคม~~

| รายการ | จำนวนเงิน (บาท) |
|:--|--:|
| ภาษีโรงเรือน | ๑๒,๐๐๐ |

1. จัดทำร่าง
2. เสนอสภา
   - พิจารณา

![แผนภาพ](static/fiscal-year.png) [คู่มือ](./static/guide.pdf)

<div class="note">ข้อควรระวัง & <span lang="th">ตัวอย่าง</span></div>
"""

THAI_HTML = """\
<h3>งบประมาณท้องถิ่น</h3>
<p>ปีงบประมาณเริ่ม <strong>1 ตุลาคม</strong> และสิ้นสุด <em>30 กันยายน</em> <del>31 ธันวาคม</del></p>
<table>
<thead>
<tr>
<th style="text-align: left">รายการ</th>
<th style="text-align: right">จำนวนเงิน (บาท)</th>
</tr>
</thead>
<tbody>
<tr>
<td style="text-align: left">ภาษีโรงเรือน</td>
<td style="text-align: right">๑๒,๐๐๐</td>
</tr>
</tbody>
</table>
<ol>
<li>จัดทำร่าง</li>
<li>เสนอสภา
<ul>
<li>พิจารณา</li>
</ul>
</li>
</ol>
<p><img src="/static/fiscal-year.png" alt="แผนภาพ" /> <a href="/static/guide.pdf">คู่มือ</a></p>
<div class="note">ข้อควรระวัง & <span lang="th">ตัวอย่าง</span></div>"""


def test_thai_page_renders_exactly() -> None:
    assert markup.render_markdown(THAI_PAGE) == THAI_HTML


def test_headings_start_at_h3_and_raw_html_stays() -> None:
    html = markup.render_markdown(
        "## ก\n\n### ข\n\n<script>x()</script>\n\n<iframe src='static/a.html'></iframe>"
    )
    assert html == "<h3>ก</h3>\n<h4>ข</h4>\n<script>x()</script>\n<iframe src='/static/a.html'></iframe>"


def test_sara_am_and_nul_survive() -> None:
    # NFC text is passed through as typed (never NFKC); NUL becomes U+FFFD as CommonMark asks.
    assert markup.render_markdown("น้ำ \u0e4d\u0e32 a\x00b") == "<p>น้ำ \u0e4d\u0e32 a\ufffdb</p>"


def _markdown_texts() -> list[tuple[str, str]]:
    """Every Markdown body, explanation and description of the sample courses and fixtures."""
    texts = []
    for p in _files("*.md"):
        try:
            texts.append((str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")))
        except UnicodeDecodeError:  # the fixtures of legacy Thai encodings
            continue
    for path in _files("*.yaml"):
        if "hostile" in path.parts or "source-hostile" in path.parts:
            continue  # alias bombs and deep nesting: not Markdown, and slow to load whole
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError, ValueError):
            continue
        stack = [(data, "")]
        while stack:
            value, key = stack.pop()
            if isinstance(value, dict):
                stack.extend((v, str(k)) for k, v in value.items())
            elif isinstance(value, list):
                stack.extend((v, key) for v in value)
            elif isinstance(value, str) and key in ("body", "explain", "description"):
                texts.append((f"{path.relative_to(ROOT)}:{key}", value))
    return texts


def _files(pattern: str) -> list[Path]:
    return sorted([*(ROOT / "sample_courses").rglob(pattern), *(ROOT / "tests" / "fixtures").rglob(pattern)])


def _as_markdown_it(html: str) -> str:
    """The two spellings where cmark-gfm and markdown-it differ on purpose, written markdown-it's way."""
    html = html.replace("<del>", "<s>").replace("</del>", "</s>")
    return re.sub(r'style="text-align: (\w+)"', r'style="text-align:\1"', html)


def test_every_course_text_renders_as_markdown_it_did() -> None:
    texts = _markdown_texts()
    assert len(texts) >= 15  # the samples' units, explanations and descriptions are all found
    for where, text in [*texts, ("thai page", THAI_PAGE)]:
        expected = markup.shift_headings(markup.canonical_static(markup._md().render(text))).strip()
        assert _as_markdown_it(markup.render_markdown(text)) == expected, where


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from([*"ก้ำๆฯ a1 .:-=(\"'&<>*_`[]!~\\\n\r\t\x00", "static/", "url(", "src='"])).map(
        "".join
    )
)
def test_inline_shortcut_matches_markdown_it(text: str) -> None:
    """Prompts without any inline syntax skip markdown-it; the result must be what it would render."""
    if "\n\n" in text.strip():
        return
    assert markup.render_inline(text) == markup.canonical_static(markup._md().renderInline(text.strip()))


def test_inline_keeps_list_markers_as_text() -> None:
    assert markup.render_inline("1. ข้อใดถูก *ที่สุด*") == "1. ข้อใดถูก <em>ที่สุด</em>"
    assert markup.render_inline("ข้อใดถูก") == "ข้อใดถูก"
    assert markup.render_inline("ย่อหน้าแรก\n\n## หัวข้อ") == "<p>ย่อหน้าแรก</p>\n<h3>หัวข้อ</h3>"


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    pytest.skip("no /proc/self/status")


def test_rendering_frees_what_cmark_allocates() -> None:
    """cmarkgfm's helpers leak the tree and the HTML (~26 KB a call here); ours must not grow."""
    text = THAI_PAGE * 5
    for _ in range(200):
        markup.render_markdown(text)
    before = _rss_kib()
    for _ in range(4000):
        markup.render_markdown(text)
    assert _rss_kib() - before < 20_000  # a leak would be ~100 MB


def test_references_need_an_equals_or_a_parenthesis() -> None:
    text = "ข้อความ\n<img src='static/a.png'>\n[x](https://example.com) url(static/b.png)"
    assert markup.references(text) == [(2, "static/a.png"), (3, "static/b.png"), (3, "https://example.com")]
    assert markup.references("ข้อความไทยล้วน ไม่มีลิงก์") == []
