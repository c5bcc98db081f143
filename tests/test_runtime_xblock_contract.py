"""The contract with XBlock's private internals: every one the project relies on, checked against the
installed XBlock. It fails when an XBlock release renames or changes one.

``runtime/compat.py`` holds the runtime's uses; ``tree.py`` (course loading) uses the rest listed here.
pyproject.toml pins XBlock to the range this test passed on (lowest and highest). To check the lowest
again (about 5 s, PyPI):

    pip install --no-deps --target /tmp/xblock-low "XBlock==6.2.0"
    PYTHONPATH=/tmp/xblock-low .venv/bin/python -m pytest tests/test_runtime_xblock_contract.py -q

(the highest is what ``pip install -e .[test]`` installs; ``test_installed_xblock_is_in_the_pinned_range``
says which one ran.)
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import xblock
import xblock.plugin as xblock_plugin
from runtime_support import sample_courses
from xblock.core import XBlock
from xblock.fields import Field, String
from xblock.runtime import DictKeyValueStore, KvsFieldData, MemoryIdManager

from localmooc_packager.runtime import compat
from localmooc_packager.runtime.blocks import is_handler
from localmooc_packager.runtime.learner_runtime import JsonHandlerRequest, LearnerRuntime
from localmooc_packager.runtime.store import Published

ROOT = Path(__file__).resolve().parents[1]


def _pinned_range() -> tuple[tuple[int, ...], tuple[int, ...]]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(d for d in deps if d.lower().startswith("xblock"))
    low = re.search(r">=\s*([\d.]+)", spec)
    high = re.search(r"<\s*([\d.]+)", spec)
    assert low and high, f"XBlock must be pinned to a tested range (>=X,<Y), not {spec!r}"
    return tuple(map(int, low.group(1).split("."))), tuple(map(int, high.group(1).split(".")))


def test_installed_xblock_is_in_the_pinned_range() -> None:
    low, high = _pinned_range()
    installed = tuple(int(p) for p in version("XBlock").split(".")[:3])
    assert low <= installed < high, f"XBlock {installed} is outside the tested range {low} - {high}"


def test_json_handler_wrapper_code_is_shared_and_reads_only_method_and_body() -> None:
    """compat.JSON_WRAPPER_CODE: every json_handler shares the wrapper's code object, and the wrapper
    only reads ``request.method`` and ``request.body`` (the runtime's two-attribute request)."""
    course = sample_courses()["local-budget-basics"]
    quiz_cls = course.classes["lm-quiz"]
    assert compat.is_json_handler(quiz_cls, "submit") and compat.is_json_handler(quiz_cls, "state")
    assert not compat.is_json_handler(quiz_cls, "student_view")
    kvs = DictKeyValueStore()
    runtime = LearnerRuntime(course, "contract-learner", kvs, Published())
    block = runtime.get_block("revenue-check")
    response = runtime.handle(block, "state", JsonHandlerRequest(b"{}"))
    assert response.status_code == 200 and "attempts_used" in json.loads(response.body)


def test_handlers_carry_the_xblock_handler_mark() -> None:
    course = sample_courses()["local-budget-basics"]
    assert is_handler(course, "revenue-check", "submit")
    assert not is_handler(course, "revenue-check", "student_view")
    assert getattr(XBlock.handler(lambda self, request, suffix="": None), "_is_xblock_handler", False)


def test_field_data_internals() -> None:
    """compat.field_data_kvs (KvsFieldData._kvs) and compat.block_field_data (XBlock._field_data)."""
    kvs = DictKeyValueStore()
    data = KvsFieldData(kvs)
    assert compat.field_data_kvs(data) is kvs
    course = sample_courses()["local-budget-basics"]
    block = course.tree.block("revenue-check")
    assert compat.block_field_data(block).has(block, "questions")
    assert isinstance(block._field_data_cache, dict)  # tree.py: fields set but not saved


def test_tree_internals() -> None:
    """tree.py: MemoryIdManager's id maps, Field._sanitize, XBlock's plugin cache."""
    ids = MemoryIdManager()
    assert isinstance(ids._usages, dict) and isinstance(ids._definitions, dict)
    assert callable(Field._sanitize) and String._sanitize is not Field._sanitize
    cache: Any = xblock_plugin.PLUGIN_CACHE
    assert isinstance(cache, dict)
    assert xblock.__name__ == "xblock"
