"""Every problem code the source checks can emit is documented in docs/validation.md."""

from __future__ import annotations

import re

from localmooc_packager.source import thai

from conftest import ROOT


def test_every_source_code_is_documented() -> None:
    emitted: set[str] = set()
    for path in (ROOT / "localmooc_packager" / "source").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        # Codes are the string argument right after a message in report.add(...) / self.add(...) calls.
        emitted |= set(
            re.findall(r'"([a-z]+(?:-[a-z0-9]+)+)",?\s*(?:path|W\b|key=|\)|severity|$)', text, re.M)
        )
    emitted |= set(thai.CODES)
    emitted -= {
        "single-choice",
        "multiple-choice",
        "true-false",
        "short-text",
        "pre-test",
        "post-test",
        "utf-8",
    }
    doc = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
    assert emitted, "the code pattern found nothing: update this test"
    assert sorted(c for c in emitted if f"`{c}`" not in doc) == []
