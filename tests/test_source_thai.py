"""The Thai typing rules (source/thai.py): what each reports, and that the fast byte-level pre-test never
hides a problem the full scan would find."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localmooc_packager.source import thai

AM = "\u0e4d\u0e32"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("ทำงาน น้ำ กี่ ผู้ใหญ่ ปั๊ม เกื้อ ญาติ์ ฤๅษี ฯลฯ ๆ ◌่ แม่", []),  # correct Thai, a mark on ◌
        ("ท" + AM + "งาน", [(1, 2, "thai-sara-am")]),
        ("น\u0e49" + AM, [(1, 3, "thai-sara-am")]),  # tone, then nikhahit + sara aa
        ("น\u0e4d\u0e49\u0e32", [(1, 2, "thai-sara-am")]),  # nikhahit, tone, sara aa
        ("ก\u0e48\u0e35", [(1, 2, "thai-mark-order")]),  # tone before the vowel
        ("น\u0e33\u0e49", [(1, 2, "thai-mark-order")]),  # tone after sara am
        ("ก\u0e48\u0e48", [(1, 2, "thai-mark-repeated")]),
        ("ก\u0e34\u0e35", [(1, 2, "thai-mark-repeated")]),  # two vowels above
        ("\u0e40\u0e40ดด", [(1, 1, "thai-sara-e-twice")]),
        ("บรรทัด\n\u0e48คำ", [(2, 1, "thai-mark-alone")]),
        ("กา\u0e48", [(1, 3, "thai-mark-alone")]),
        ("abc \u0e34", [(1, 5, "thai-mark-alone")]),
    ],
)
def test_rules(text: str, found: list[tuple[int, int, str]]) -> None:
    assert [(p.line, p.column, p.code) for p in thai.thai_problems(text)] == found


THAI_AND_MORE = st.text(
    alphabet=st.sampled_from(
        [chr(c) for c in range(0x0E01, 0x0E5C) if c not in range(0x0E3B, 0x0E3F)]
        + [" ", "\n", "a", "\u25cc", "é"]
    ),
    max_size=30,
)


@settings(max_examples=3000, deadline=None)
@given(THAI_AND_MORE)
def test_the_fast_pre_test_never_hides_a_problem(text: str) -> None:
    scanned = [m.group() for m in thai._PROBLEM.finditer(text)]  # the full scan, without the pre-test
    if scanned:
        assert thai._suspect(text), (text, scanned)


@settings(max_examples=3000, deadline=None)
@given(THAI_AND_MORE, st.text(alphabet="<svg/>\r\n \u25cc\u00e9\ufeff", max_size=8), st.booleans())
def test_the_byte_pre_test_never_hides_a_problem(text: str, markup: str, bom: bool) -> None:
    """The test on undecoded files of static/ (a window from the first Thai letter to the last)."""
    data = ("\ufeff" if bom else "").encode() + (markup + text + markup).encode("utf-8")
    decoded = data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")
    if list(thai.thai_problems(decoded)):
        assert thai.utf8_suspect(data), (data, decoded)
