"""The YAML reader's fast paths: resolver shortcut, direct strings, paused collector, listed containers."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from localmooc_packager.errors import InvalidInputError
from localmooc_packager.source.checks import check
from localmooc_packager.source.reader import read_source
from localmooc_packager.source.yamlpos import _Loader, load_yaml_text

DOC = """\
id: budget
title: งบประมาณ "ท้องถิ่น"
yes: ใช่
null: ว่าง
start: 2026-10-01
defaults: &d {role: practice, attempts: 2}
units:
  - id: u1
    blocks:
      - <<: *d
        type: quiz
        attempts: 3
        shuffle: yes
        weight: 1.5
        tags: [ก, 'ข', ~]
"""


def _load(text: str) -> object:
    return load_yaml_text(text, Path("x.yaml"), "x.yaml")


def test_values_positions_and_containers() -> None:
    doc = _load(DOC)
    assert doc.data == {
        "id": "budget",
        "title": 'งบประมาณ "ท้องถิ่น"',
        "yes": "ใช่",
        "null": "ว่าง",
        "start": "2026-10-01",
        "defaults": {"role": "practice", "attempts": 2},
        "units": [
            {
                "id": "u1",
                "blocks": [
                    {
                        "role": "practice",
                        "attempts": 3,
                        "type": "quiz",
                        "shuffle": True,
                        "weight": 1.5,
                        "tags": ["ก", "ข", None],
                    }
                ],
            }
        ],
    }
    block = ("units", 0, "blocks", 0)
    assert doc.where(("title",)) == (2, 8)
    assert doc.where(("title",), key=True) == (2, 1)
    assert doc.where((*block, "type")) == (11, 15)
    assert doc.where((*block, "role")) == (6, 21)  # merged: where the anchor wrote it
    assert doc.where((*block, "tags", 2)) == (15, 24)
    assert doc.where((*block, "tags", 7)) == (15, 15)  # no such item: its list
    # every mapping and list is listed with its path, each exactly once
    listed = {path: obj for obj, path in doc.containers}
    assert len(listed) == len(doc.containers) == 7
    assert listed[block] is doc.data["units"][0]["blocks"][0]
    assert listed[(*block, "tags")] is doc.data["units"][0]["blocks"][0]["tags"]


def test_duplicate_key_is_listed_with_its_place() -> None:
    doc = _load("id: a\ntitle: ก\nid: b\n")
    assert doc.data == {"id": "a", "title": "ก"}
    assert doc.duplicate_keys == [("id",)]
    assert doc.key_pos[("id",)] == (3, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!map text\n", "x.yaml:1:4: bad value: "),
        ("a: !!python/name:os.system x\n", "x.yaml:1:4: YAML tag 'tag:yaml.org,2002:python/name:os.system'"),
        ("a: !custom [1]\n", "x.yaml:1:4: YAML tag '!custom' is not allowed"),
        ("[1]: x\n", "x.yaml:1:1: a mapping key must be a plain word"),
    ],
)
def test_tags_outside_plain_data_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        _load(text)
    assert str(exc.value).startswith(message)


def test_str_tag_on_a_list_keeps_the_list() -> None:
    assert _load("a: !!str [x, 1]\n").data == {"a": ["x", 1]}


@pytest.mark.parametrize("enabled", [True, False])
def test_collector_state_is_restored(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        _load(DOC)
        assert gc.isenabled() is enabled
        with pytest.raises(InvalidInputError):
            _load("a: [\n")
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


_PLAIN = st.text(alphabet=st.sampled_from([*"yYnNtTfFoO~-+.0123456789:_eE<=xก ", "\u0e4d"]), max_size=8)


@settings(max_examples=500, deadline=None)
@given(_PLAIN, st.booleans(), st.booleans())
def test_resolver_shortcut_agrees_with_pyyaml(value: str, plain: bool, quoted: bool) -> None:
    for kind in (yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode):
        ours = _Loader("").resolve(kind, value, (plain, quoted))
        assert ours == yaml.SafeLoader("").resolve(kind, value, (plain, quoted))


def test_sara_am_written_as_an_escape_is_still_found(tmp_path: Path) -> None:
    """The check skips files without the pair or a backslash; an escaped pair must still be reported."""
    (tmp_path / "course.yaml").write_text(
        'id: c\norg: O\nrun: "1"\ntitle: "ก\\u0E4D\\u0E32"\n'
        "units:\n  - id: u1\n    title: หน่วย\n    blocks:\n      - type: html\n        body: ข้อความ\n",
        encoding="utf-8",
    )
    source, report = read_source(tmp_path)
    assert source is not None
    check(source, report)
    assert [(p.location.line, p.location.column, p.code) for p in report] == [(4, 8, "thai-sara-am")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a key dedented out of a list item: the hint names the item's line and the right indent
        (
            "units:\n  - id: u1\n    title: x\n    blocks:\n      - type: html\n     body: hi\n",
            "6:6: invalid YAML: the indentation (การเยื้อง) does not line up: this line is indented by 5 "
            "spaces, but the block it belongs to (opened at line 5: `- type: html`) indents its lines by 8; "
            "indent this line by 8 spaces",
        ),
        # a key indented deeper than its siblings
        (
            "units:\n  - id: u1\n    title: x\n      blocks: []\n",
            "4:7: invalid YAML: the indentation (การเยื้อง) does not line up: this line is indented by 6 "
            "spaces, but the block it belongs to (opened at line 2: `- id: u1`) indents its lines by 4; "
            "indent this line by 4 spaces",
        ),
        (
            "id: x\ntitle\norg: y\n",
            "2:1: invalid YAML: this line has no `:`: write `key: value` (or start it with `- ` if it is a list item)",
        ),
        (
            'title: "a\\qb"\n',
            "1:10: invalid YAML: inside double quotes a backslash starts an escape such as \\n; write \\\\ for a backslash, or use single quotes",
        ),
        (
            "a: *nothing\n",
            "1:4: invalid YAML: `*name` refers to an anchor `&name` that is not defined above it",
        ),
        (
            "units:\n  - id: u1\n  title: x\n",
            "3:3: invalid YAML: the indentation (การเยื้อง) does not line up: this line starts where the list's `- ` items do, but it is not an item; to belong to the item opened at line 2 (`- id: u1`), indent it by 4 spaces",
        ),
    ],
)
def test_yaml_slips_in_plain_words(text: str, expected: str, tmp_path: Path) -> None:
    """One message per slip, at the slip, saying what to do (tests/test_source_fixtures.py has more)."""
    with pytest.raises(InvalidInputError) as info:
        load_yaml_text(text, tmp_path / "c.yaml", "c.yaml")
    assert str(info.value) == "c.yaml:" + expected


def test_a_key_in_the_column_of_list_dashes_is_meant_for_the_item(tmp_path: Path) -> None:
    text = "questions:\n  - type: true-false\n    prompt: x\n  answer: true\n"
    with pytest.raises(InvalidInputError) as info:
        load_yaml_text(text, tmp_path / "c.yaml", "c.yaml")
    assert str(info.value) == (
        "c.yaml:4:3: invalid YAML: the indentation (การเยื้อง) does not line up: this line starts where the "
        "list's `- ` items do, but it is not an item; to belong to the item opened at line 2 "
        "(`- type: true-false`), indent it by 4 spaces"
    )


@pytest.mark.parametrize("enabled", [True, False])
def test_check_course_restores_the_collector_state(enabled: bool) -> None:
    """check_course pauses the cyclic collector while it works (as a build does) and restores it, also
    when the course has errors or cannot be read."""
    from localmooc_packager.errors import UsageError
    from localmooc_packager.source import check_course

    from conftest import FIXTURES

    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        for name in ("valid-minimal", "bad-yaml", "missing-files"):
            check_course(FIXTURES / "source" / name)
            assert gc.isenabled() is enabled, name
        with pytest.raises(UsageError):
            check_course(FIXTURES / "source" / "no-such-course")
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
