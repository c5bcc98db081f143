"""The contract with XBlock's private internals: every one the project relies on, checked against XBlock.
It fails when an XBlock release renames or changes one.

``localmooc_packager/xblock_compat.py`` holds every use (``runtime/compat.py`` re-exports the runtime's part);
each function there has a test here that checks what it does, not only that the attribute exists.
pyproject.toml pins XBlock to the range this test passed on. The installed XBlock is the highest of it (what
``pip install -e .[test]`` installs); ``test_contract_holds_on_the_lowest_xblock`` runs this file again against
the lowest, installed once into ``.venv/xblock-contract/`` from PyPI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import warnings
from importlib.metadata import entry_points, version
from pathlib import Path

import pytest
import xblock
import xblock.plugin as xblock_plugin
from runtime_support import sample_courses
from webob import Response
from xblock.core import XBlock
from xblock.exceptions import JsonHandlerError
from xblock.fields import UNIQUE_ID, Boolean, Dict, Field, Integer, List, Scope, ScopeIds, String
from xblock.runtime import DictKeyValueStore, KvsFieldData, MemoryIdManager

from localmooc_packager import xblock_compat as compat
from localmooc_packager.runtime import compat as runtime_compat
from localmooc_packager.runtime.blocks import FrozenDict, FrozenList, is_handler
from localmooc_packager.runtime.learner_runtime import JsonHandlerRequest, LearnerRuntime
from localmooc_packager.runtime.store import Published
from localmooc_packager.tree import TreeRuntime

ROOT = Path(__file__).resolve().parents[1]
# Set by test_contract_holds_on_the_lowest_xblock for the run it starts: the version that run must import.
EXPECTED = os.environ.get("LOCALMOOC_XBLOCK_EXPECTED")


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
    if EXPECTED:  # the lowest-version run: the XBlock imported must be that one, not the venv's
        assert version("XBlock") == EXPECTED
        assert Path(xblock.__file__).resolve().is_relative_to(Path(os.environ["PYTHONPATH"]).resolve())


def test_runtime_compat_is_the_shared_module() -> None:
    for name in runtime_compat.__all__:
        assert getattr(runtime_compat, name) is getattr(compat, name)


def test_json_handler_wrapper_code_is_shared_and_reads_only_method_and_body() -> None:
    """JSON_WRAPPER_CODE (``__code__``): every json_handler shares the wrapper's code object, and the
    wrapper only reads ``request.method`` and ``request.body`` (the runtime's two-attribute request)."""
    course = sample_courses()["local-budget-basics"]
    quiz_cls = course.classes["lm-quiz"]
    assert compat.is_json_handler(quiz_cls, "submit") and compat.is_json_handler(quiz_cls, "state")
    assert not compat.is_json_handler(quiz_cls, "student_view")
    kvs = DictKeyValueStore()
    runtime = LearnerRuntime(course, "contract-learner", kvs, Published())
    block = runtime.get_block("revenue-check")
    response = runtime.handle(block, "state", JsonHandlerRequest(b"{}"))
    assert response.status_code == 200 and "attempts_used" in json.loads(response.body)


class Echo(XBlock):
    """json handlers of every outcome, each counting its calls in a user field."""

    calls = Integer(scope=Scope.user_state, default=0)

    @XBlock.json_handler
    def ok(self, data: dict[str, object], suffix: str = "") -> dict[str, object]:
        self.calls += 1
        return {"echo": data, "text": "สวัสดี", "n": self.calls}

    @XBlock.json_handler
    def refuse(self, data: dict[str, object], suffix: str = "") -> dict[str, object]:
        self.calls += 1
        raise JsonHandlerError(409, "ไม่ได้")

    @XBlock.json_handler
    def raw(self, data: dict[str, object], suffix: str = "") -> Response:
        self.calls += 1
        return Response(b"plain", content_type="text/plain", status=202)


@pytest.mark.parametrize(
    ("handler", "body"),
    [
        ("ok", rb'{"a": [1, "\u0e01"]}'),
        ("ok", b"not json"),
        ("ok", b"\xff"),
        ("refuse", b"{}"),
        ("raw", b"{}"),
    ],
)
def test_handle_json_answers_and_saves_as_runtime_handle(handler: str, body: bytes) -> None:
    """``__wrapped__`` (the function ``json_handler`` wraps): ``handle_json`` gives the status, body and
    content type ``Runtime.handle`` gives through XBlock's wrapper, and saves the same fields."""
    assert compat.is_json_handler(Echo, handler)
    answers = []
    for fast in (False, True):
        kvs = DictKeyValueStore()
        runtime = TreeRuntime(services={"field-data": KvsFieldData(kvs)})
        block = runtime.construct_xblock_from_class(Echo, ScopeIds("u", "echo", "def-e", "e"))
        if fast:
            out = compat.handle_json(block, handler, body)
        else:
            out = runtime.handle(block, handler, JsonHandlerRequest(body))
        if not isinstance(out, tuple):
            out = (out.status_code, out.body, out.content_type)
        answers.append((out, dict(kvs.db_dict)))
    assert answers[0] == answers[1]


def test_handlers_carry_the_xblock_handler_mark() -> None:
    """``_is_xblock_handler``."""
    course = sample_courses()["local-budget-basics"]
    assert is_handler(course, "revenue-check", "submit")
    assert not is_handler(course, "revenue-check", "student_view")
    assert compat.is_handler(
        type("H", (XBlock,), {"h": XBlock.handler(lambda self, r, suffix="": None)}), "h"
    )


class Probe(XBlock):
    """A block with one field of each kind the decoder treats differently."""

    text = String(scope=Scope.content, default="")
    number = Integer(scope=Scope.settings, default=3)
    flag = Boolean(scope=Scope.settings, default=False)
    items = List(scope=Scope.content, default=[])
    mapping = Dict(scope=Scope.user_state, default={})
    token = String(scope=Scope.settings, default=UNIQUE_ID)


def _probe() -> tuple[Probe, KvsFieldData, DictKeyValueStore]:
    kvs = DictKeyValueStore()
    data = KvsFieldData(kvs)
    runtime = TreeRuntime(services={"field-data": data})
    block = runtime.construct_xblock_from_class(Probe, ScopeIds("u", "probe", "def-p", "p"))
    return block, data, kvs


def test_field_data_internals() -> None:
    """``KvsFieldData._kvs``, ``XBlock._field_data`` and ``XBlock._field_data_cache``."""
    block, data, kvs = _probe()
    assert compat.field_data_kvs(data) is kvs
    assert compat.block_field_data(block) is data
    assert not compat.read_through_block(block, "number")
    block.number = 7  # set, not saved: the block's own cache holds it
    assert compat.read_through_block(block, "number") and not data.has(block, "number")
    course = sample_courses()["local-budget-basics"]
    quiz = course.tree.block("revenue-check")
    assert compat.block_field_data(quiz).has(quiz, "questions")


def test_prime_field_cache_is_what_the_first_read_caches() -> None:
    """``XBlock._field_data_cache``: a primed value is what the block reads, without a field-data lookup;
    the course index primes exactly what the descriptor would have decoded, and no mutable value."""
    block, data, _ = _probe()
    compat.prime_field_cache(block, {"number": 11})
    assert block.number == 11 and not data.has(block, "number")
    block.save()  # a primed value is not a change: nothing is written
    assert not data.has(block, "number")
    course = sample_courses()["local-budget-basics"]
    primed = course.field_cache["revenue-check"]
    assert {"questions", "role", "attempts"} <= primed.keys()
    plain = course.tree.block("revenue-check")
    for name, value in primed.items():
        assert value == getattr(plain, name), name
        assert isinstance(value, (str, int, float, bool, type(None), FrozenDict, FrozenList)), name


def test_sentinel_is_its_own_copy_and_set_fields_are_still_saved() -> None:
    """``EXPLICITLY_SET`` (XBlock's baseline of an assigned field, deep-copied by ``Field._mark_dirty``):
    the copy is the sentinel itself, and an assigned field is still saved while an unchanged one is not."""
    assert compat.sentinel_is_its_own_copy()
    block, data, _ = _probe()
    block.mapping = {"a": 1}
    block.number = 3  # its default: an assignment of the same value is no change
    block.save()
    assert data.get(block, "mapping") == {"a": 1}
    assert data.has(block, "number")  # XBlock saves a field assigned a value equal to its default
    block.mapping["b"] = 2  # changed in place after the save: saved again
    block.save()
    assert data.get(block, "mapping") == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("text", "สวัสดี plain"),
        ("text", "bad \x00\x0b control"),  # String._sanitize drops what XML cannot hold
        ("number", "42"),
        ("flag", "true"),
        ("items", [1, "two"]),
        ("mapping", {"a": [1]}),
    ],
)
def test_field_decoder_and_sanitize_match_the_descriptor(name: str, stored: object) -> None:
    """``Field._sanitize`` (and String's own), as the decoder and ``sanitize`` use them: stored JSON decodes
    to what ``getattr`` on the block returns, and sanitising a value is what setting and reading it gives."""
    block, data, _ = _probe()
    fld = Probe.fields[name]  # type: ignore[attr-defined]
    data.set(block, name, stored)
    assert compat.field_decoder(fld)(stored) == getattr(block, name)
    fresh, _, _ = _probe()
    value = fld.from_json(stored)
    setattr(fresh, name, value)
    assert compat.sanitize(fld, value) == getattr(fresh, name)
    assert Field._sanitize is not String._sanitize  # the decoder's shortcut tells these apart


def test_unique_id_default() -> None:
    """``Field._default``."""
    assert compat.has_unique_id_default(Probe.fields["token"])  # type: ignore[attr-defined]
    assert not compat.has_unique_id_default(Probe.fields["number"])  # type: ignore[attr-defined]


def test_memory_id_manager_maps() -> None:
    """``MemoryIdManager._usages`` and ``_definitions``: a usage added under our own id reads back."""
    ids = MemoryIdManager()
    assert not compat.usage_taken(ids, "unit-1")
    compat.add_usage(ids, "lm-unit", "def-unit-1", "unit-1")
    assert compat.usage_taken(ids, "unit-1")
    assert ids.get_definition_id("unit-1") == "def-unit-1"
    assert ids.get_block_type("def-unit-1") == "lm-unit"


def test_runtime_user_id_and_usage_id_from_node() -> None:
    """``Runtime._deprecated_per_instance_user_id`` and ``Runtime._usage_id_from_node``."""
    runtime = TreeRuntime()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert compat.runtime_user_id(runtime) is None
    assert not seen  # the point of reading it directly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runtime.user_id = "learner-9"
        assert compat.runtime_user_id(runtime) == runtime.user_id == "learner-9"
    usage = runtime.parse_xml_file(b'<lm-html display_name="x"/>')
    assert runtime.get_block(usage).scope_ids.block_type == "lm-html"


def test_plugin_cache_is_primed_as_xblock_fills_it() -> None:
    """``xblock.plugin.PLUGIN_CACHE``, its key and ``XBlock._load_class_entry_point``: the class primed from
    one entry point scan is the one ``XBlock.load_class`` finds and caches under the same key."""
    saved = dict(xblock_plugin.PLUGIN_CACHE)
    key = (XBlock.entry_point, "lm-quiz")
    try:
        xblock_plugin.PLUGIN_CACHE.clear()
        found = XBlock.load_class("lm-quiz")
        assert xblock_plugin.PLUGIN_CACHE.get(key) is found
        xblock_plugin.PLUGIN_CACHE.clear()
        candidates = list(entry_points().select(group=XBlock.entry_point, name="lm-quiz"))
        compat.prime_plugin_cache("lm-quiz", candidates, None)
        assert xblock_plugin.PLUGIN_CACHE[key] is found
        assert XBlock.load_class("lm-quiz") is found
        xblock_plugin.PLUGIN_CACHE.clear()
        compat.prime_plugin_cache("lm-quiz", candidates, select=lambda *a: a[1][0])  # custom select: XBlock's
        assert key not in xblock_plugin.PLUGIN_CACHE
        compat.prime_plugin_cache("no-such-block", [], None)  # a miss is left to XBlock
        assert (XBlock.entry_point, "no-such-block") not in xblock_plugin.PLUGIN_CACHE
    finally:
        xblock_plugin.PLUGIN_CACHE.clear()
        xblock_plugin.PLUGIN_CACHE.update(saved)


def test_no_module_outside_the_compat_one_reaches_into_xblock() -> None:
    """The names of XBlock's internals used in xblock_compat appear in no other module of the package."""
    internals = re.compile(
        r"PLUGIN_CACHE|\b_load_class_entry_point|\b_usages\b|\b_definitions\b|\b_sanitize\b"
        r"|\b_field_data(_cache)?\b|\b_kvs\b|\b_is_xblock_handler|\b_deprecated_per_instance_user_id"
        r"|\b_usage_id_from_node|\b_default\b|__code__"
    )
    offenders = []
    for folder in ("localmooc_packager", "xblocks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "xblock_compat.py":
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if internals.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "XBlock internals outside xblock_compat.py:\n" + "\n".join(offenders)


@pytest.mark.skipif(EXPECTED is not None, reason="this is the lowest-version run itself")
def test_contract_holds_on_the_lowest_xblock() -> None:
    """This file again, in a subprocess importing the lowest XBlock of the pinned range (installed once,
    without dependencies, into the venv; pip fetches it from PyPI the first time)."""
    low = ".".join(map(str, (_pinned_range()[0] + (0, 0, 0))[:3]))
    target = Path(sys.prefix) / "xblock-contract" / f"XBlock-{low}"
    if not (target / "xblock" / "__init__.py").is_file():
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
        done = subprocess.run([*pip, f"XBlock=={low}"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"could not install XBlock=={low} for the contract test:\n{done.stderr}"
    env = {**os.environ, "PYTHONPATH": str(target), "LOCALMOOC_XBLOCK_EXPECTED": low}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, (
        f"the XBlock contract fails on XBlock {low}:\n{run.stdout[-6000:]}{run.stderr}"
    )
    assert re.search(r"\b\d+ passed", run.stdout) and " failed" not in run.stdout, run.stdout
