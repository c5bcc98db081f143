"""importers.yaml_write writes exactly what yaml.dump writes (the import's YAML is compared byte for byte
with fixtures and round trips elsewhere; this covers the layouts and scalars themselves)."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from localmooc_packager.importers.olx import _Dumper, _represent_str, import_olx
from localmooc_packager.importers.yaml_write import Writer

from conftest import SAMPLES

STUDIO = Path(__file__).parent / "fixtures" / "studio"


class _PythonDumper(yaml.SafeDumper):
    """The import's dumper where libyaml is missing (PyYAML's own emitter)."""


_PythonDumper.add_representer(str, _represent_str)


def _pyyaml(data: Any, dumper: type[yaml.SafeDumper] = _Dumper) -> str:
    return yaml.dump(data, Dumper=dumper, allow_unicode=True, sort_keys=False, width=100_000)


def _same(data: Any) -> None:
    for dumper in (_Dumper, _PythonDumper):
        assert Writer(dumper).dump(data) == _pyyaml(data, dumper)


TRICKY = [
    "",
    " ",
    "a",
    "yes",
    "No",
    "NULL",
    "null",
    "~",
    "y",
    "on",
    "Off",
    "true",
    "1",
    "0x1F",
    "1_000",
    "1.5",
    ".inf",
    "-.NaN",
    "1e3",
    "2024-01-15",
    "2024-01-15T00:00:00Z",
    "12:30",
    "<<",
    "=",
    "- a",
    "a - b",
    "a: b",
    "a:b",
    "a #b",
    "a#b",
    "#a",
    "'q'",
    '"q"',
    "a 'q' b",
    "trailing ",
    " leading",
    "two  spaces",
    "{a}",
    "[a]",
    "a, b",
    "?",
    "? a",
    "!tag",
    "&anchor",
    "*alias",
    "%pct",
    "@at",
    "`tick",
    "|",
    ">",
    "a|b",
    "tab\there",
    "บทที่ 1: เริ่มต้น",
    "ภาษาไทย",
    "\u0e33",
    "emoji 😀",
    "zero\u200bwidth",
    "bom\ufeff",
    "nbsp\xa0x",
    "ctrl\x07",
    "line\nbreak",
    "two\n\nbreaks\n",
    "trailing breaks\n\n",
    "\nleading break",
    "  indented\nblock",
    "ends with space \nx",
    "<problem>\n  <p>x</p>\n</problem>\n",
    "cr\r\nlf",
    "nel\x85x",
    "ls\u2028x",
    "x" * 130,
    "long " * 60,
    "{urn:x-localmooc:olx}grading",
    "html/unit-1.html",
    "static/a_photo.png",
    "Unit (1) part/2 - end.",
]


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_scalars_in_every_place(text: str) -> None:
    _same({"k": text, "list": [text, [text], {"in": text}], "nested": {"deeper": {"k": text}}})
    _same({"items": [{"id": "a", "body": text, "more": [{"x": text}]}]})
    if text:
        _same({text: 1, "next": {text: [text]}})


def test_other_values_and_empty_collections() -> None:
    _same(
        {
            "none": None,
            "t": True,
            "f": False,
            "int": 3,
            "neg": -7,
            "big": 10**20,
            "float": 1.5,
            "exp": 1e17,
            "inf": float("inf"),
            "empty_map": {},
            "empty_list": [],
            "in_list": [{}, [], None, 0, 0.1, [[]], [{}]],
            "tuple": ("a", 1),
        }
    )
    _same({"a": [1, 2]})
    _same({})
    _same([1, 2])
    _same({1: "int key"})


def test_random_data() -> None:
    rng = random.Random(17)
    atoms: list[Any] = [*TRICKY, None, True, False, 0, 7, 2.5, "plain", "Two words"]

    def make(depth: int) -> Any:
        roll = rng.random()
        if depth > 3 or roll < 0.5:
            return rng.choice(atoms)
        if roll < 0.75:
            return [make(depth + 1) for _ in range(rng.randrange(4))]
        return {rng.choice([*TRICKY[1:], "id", "title"]): make(depth + 1) for _ in range(rng.randrange(4))}

    for _ in range(300):
        _same({"root": make(0), "other": make(0)})


def _courses(tmp_path: Path) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import shapes

    studio = tmp_path / "studio-shape"
    shapes.studio_course(studio, 25)
    return [
        STUDIO / "studio_export" / "course",
        STUDIO / "root_inline",
        *sorted(p for p in (STUDIO / "corpus").iterdir() if p.is_dir()),
        studio,
    ]


def test_every_imported_yaml_file_is_what_pyyaml_writes(tmp_path: Path) -> None:
    """Each YAML file the import wrote, read back, is written again exactly as it is by both writers."""
    for n, course in enumerate(_courses(tmp_path)):
        out = tmp_path / f"out{n}"
        import_olx(course, out, check=False)
        files = sorted(out.rglob("*.yaml"))
        assert files
        for path in files:
            text = path.read_text(encoding="utf-8")
            data = yaml.load(text, Loader=yaml.SafeLoader)
            body = text.split("\n", 1)[1] if text.startswith("#") else text
            assert Writer(_Dumper).dump(data) == _pyyaml(data) == body, path


def test_sample_courses_as_data() -> None:
    for course in sorted(SAMPLES.glob("*/course.yaml")):
        _same(yaml.load(course.read_text(encoding="utf-8"), Loader=yaml.SafeLoader))
