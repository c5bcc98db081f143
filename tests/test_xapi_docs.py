"""docs/xapi.md shows one example per statement kind; each must equal what the builders produce.

Regenerate the examples after changing the catalogue: ``LOCALMOOC_WRITE_DOCS=1 .venv/bin/python -m pytest
tests/test_xapi_docs.py`` rewrites the JSON blocks in place (and the test then passes).
"""

from __future__ import annotations

import json
import os
import re

from xapi_support import ROOT, one_of_each

DOC = ROOT / "docs" / "xapi.md"
BLOCK = re.compile(r"<!-- example: (?P<kind>[a-z-]+) -->\n```json\n(?P<body>.*?)\n```", re.S)


def _render(statement: dict) -> str:
    return json.dumps(statement, ensure_ascii=False, indent=2)


def test_doc_examples_are_the_builders_output() -> None:
    built = one_of_each()
    text = DOC.read_text(encoding="utf-8")
    if os.environ.get("LOCALMOOC_WRITE_DOCS"):
        text = BLOCK.sub(
            lambda m: f"<!-- example: {m['kind']} -->\n```json\n{_render(built[m['kind']])}\n```", text
        )
        DOC.write_text(text, encoding="utf-8")
    found = {m["kind"]: json.loads(m["body"]) for m in BLOCK.finditer(text)}
    assert set(found) == set(built), "one example per kind in the catalogue"
    for kind, statement in built.items():
        assert found[kind] == statement, f"docs/xapi.md example '{kind}' is stale: regenerate it"


def test_doc_names_every_verb_iri() -> None:
    text = DOC.read_text(encoding="utf-8")
    for statement in one_of_each().values():
        assert statement["verb"]["id"] in text
