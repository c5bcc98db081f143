"""The JSON Schemas are the format's documentation: valid, described everywhere, installed, and in the docs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from localmooc_packager.source import reader
from localmooc_packager.source.reader import read_source
from localmooc_schemas import schema_dir

from conftest import ROOT

NAMES = ["course", "unit", "quiz", "section", "subsection"]


def _schema(name: str) -> dict[str, Any]:
    return json.loads((schema_dir() / f"{name}.schema.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_2020_12(name: str) -> None:
    schema = _schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_every_property_is_described() -> None:
    course = _schema("course")
    missing = []

    def visit(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, prop in (node.get("properties") or {}).items():
                if isinstance(prop, dict) and not prop.get("description"):
                    ref = prop.get("$ref", "")
                    target = course["$defs"].get(ref.rsplit("/", 1)[-1], {}) if ref else {}
                    if not target.get("description"):
                        missing.append(f"{path}.{key}")
            for key, value in node.items():
                if key != "if":  # conditions select a branch; the branches carry the descriptions
                    visit(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                visit(value, f"{path}[{i}]")

    visit(course, "course")
    assert missing == []


def test_docs_reference_is_generated_from_the_schema() -> None:
    proc = subprocess.run(
        [sys.executable, "tools/format_reference.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


class _NeverValid:
    def is_valid(self, _data: object) -> bool:
        return False


@pytest.mark.parametrize(
    "folder",
    sorted(p for p in (ROOT / "tests" / "fixtures" / "source").iterdir() if (p / "course.yaml").is_file())
    + sorted(p for p in (ROOT / "sample_courses").iterdir() if p.is_dir()),
    ids=lambda p: p.name,
)
def test_fast_and_reference_validators_agree(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """jsonschema-rs passes valid documents quickly; it must never pass one that jsonschema rejects."""
    fast = read_source(folder)[1].sorted()
    monkeypatch.setattr(reader, "fast_validator", lambda kind: _NeverValid())
    reference = read_source(folder)[1].sorted()
    assert fast == reference
