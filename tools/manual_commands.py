"""The steps a designer takes in the manual, read from its pages: marked fenced blocks, in the nav's order.

A fenced block is a step when an HTML comment (invisible on the site) stands on the line before it:

    <!-- run -->              a shell block, run as written; must exit 0
    <!-- run: exit 1 -->      must exit 1 (a mistake shown on purpose); a following `<!-- output -->` block
                              lists lines the run must print
    <!-- run: password -->   a command that asks for a new password twice (typed by the test)
    <!-- run: background -->  a server (preview, serve): started, fetched over loopback, stopped with Ctrl+C
    <!-- file: PATH -->       the designer writes the block's content to PATH
    <!-- shown: REASON -->    a shell block that is not run, and why (system setup, a PostgreSQL server, ...)

Every ```sh block must carry one of these (tests/test_manual.py checks), so no command in the manual goes
untested by accident. The Thai and English pages must hold the same steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MANUAL = ROOT / "manual"
DOCS = MANUAL / "docs"
LANGS = ("th", "en")

_BLOCK = re.compile(
    r"(?:<!--\s*(?P<marker>[a-z]+)(?::\s*(?P<arg>.*?))?\s*-->\n)?```(?P<lang>[a-z]*)[^\n]*\n(?P<body>.*?)^```",
    re.S | re.M,
)
MARKERS = {"run", "file", "shown", "output"}


@dataclass(frozen=True)
class Step:
    page: str  # chapter name, without language: "write"
    line: int
    marker: str  # run, file, shown, output ("" for an unmarked block)
    arg: str  # "exit 1", "background", "password", a file path, a reason
    lang: str  # the fence's language: sh, yaml, markdown, text
    body: str

    @property
    def key(self) -> tuple[str, str, str]:
        """What must be equal between the Thai and English pages (a `shown:` reason is free text)."""
        return (self.marker, "" if self.marker == "shown" else self.arg, self.body)


def chapters() -> list[str]:
    """The manual's own chapters in nav order (the generated and developer pages have no steps)."""
    config = yaml.safe_load((MANUAL / "mkdocs.yml").read_text(encoding="utf-8"))
    names = []
    for item in config["nav"]:
        (target,) = item.values()
        if isinstance(target, str) and (DOCS / target.replace(".md", ".th.md")).is_file():
            names.append(target.removesuffix(".md"))
    return names


def blocks(chapter: str, lang: str) -> list[Step]:
    """Every fenced block of one page, marked or not."""
    text = (DOCS / f"{chapter}.{lang}.md").read_text(encoding="utf-8")
    found = []
    for m in _BLOCK.finditer(text):
        line = text.count("\n", 0, m.start("lang")) + 1
        marker = m["marker"] or ""
        if marker and marker not in MARKERS:
            raise ValueError(f"manual/docs/{chapter}.{lang}.md:{line}: unknown marker {marker!r}")
        found.append(Step(chapter, line, marker, (m["arg"] or "").strip(), m["lang"], m["body"]))
    return found


def steps(lang: str = "th") -> list[Step]:
    """The marked blocks of every chapter, in the order a designer follows them."""
    return [s for chapter in chapters() for s in blocks(chapter, lang) if s.marker]
