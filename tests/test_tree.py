"""The block tree's fast paths give what XBlock's own machinery gives.

The loader hands each block its values in one go (``TreeRuntime.add_block``), the runtime's field data keeps
course fields in plain dicts (``TreeFieldData``) and exporters read them with ``CourseTree.value``. Each is
checked here against XBlock's descriptors and ``KvsFieldData`` on real courses: the samples, a course with
kept OLX and third-party blocks, and an Open edX export imported to source.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_export_olx import write_course
from xblock.core import XBlock
from xblock.fields import Scope, ScopeIds
from xblock.runtime import DictKeyValueStore, KvsFieldData

from localmooc_packager.importers.olx import import_olx
from localmooc_packager.source import load_course
from localmooc_packager.source.checks import check
from localmooc_packager.source.loader import Loader
from localmooc_packager.source.reader import read_source
from localmooc_packager.tree import (
    CachedCourseTree,
    CourseTree,
    TreeFieldData,
    TreeRuntime,
    xblock_entry_points,
)

from conftest import FIXTURES, sample_courses


@pytest.fixture(scope="module")
def courses(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("courses")
    imported = root / "imported"
    import_olx(FIXTURES / "studio" / "studio_export", imported)
    return [*sample_courses(), write_course(root / "gen"), imported]


def load_with(course_dir: Path, runtime: TreeRuntime) -> CourseTree:
    source, report = read_source(course_dir)
    assert source is not None and not report.errors
    outline = check(source, report)
    assert not report.errors, [str(p) for p in report.errors]
    loader = Loader(source)
    loader.runtime = runtime
    loader.tree = CourseTree(runtime, "", source.root_dir)
    return loader.load(outline)


def kvs_runtime() -> TreeRuntime:
    """XBlock's own path: KvsFieldData over a dict store, so add_block sets each field and saves."""
    return TreeRuntime(services={"field-data": KvsFieldData(DictKeyValueStore())})


def every_field(tree: CourseTree) -> list[tuple[str, str, XBlock]]:
    return [(str(b.scope_ids.usage_id), name, b) for b, _ in tree.walk() for name in sorted(b.fields)]


def test_loaded_tree_equals_xblock_descriptor_path(courses: list[Path]) -> None:
    """Every field of every block: stored or not, and its value, as setting fields and save() gives."""
    kinds: set[str] = set()
    for course in courses:
        fast = load_with(course, TreeRuntime())
        slow = load_with(course, kvs_runtime())
        assert fast.runtime.tree_data is not None and slow.runtime.tree_data is None
        fast_fields, slow_fields = every_field(fast), every_field(slow)
        assert [(u, n) for u, n, _ in fast_fields] == [(u, n) for u, n, _ in slow_fields]
        for (uid, name, a), (_, _, b) in zip(fast_fields, slow_fields, strict=True):
            field = a.fields[name]
            assert field.is_set_on(a) == field.is_set_on(b), (course.name, uid, name)
            assert getattr(a, name) == getattr(b, name), (course.name, uid, name)
            kinds.add(a.scope_ids.block_type)
        # Course fields never reach the key-value store: it is for learner state.
        assert fast.runtime.service(fast.course, "field-data")._kvs.db_dict == {}
        assert fast.locations == slow.locations and fast.assets == slow.assets
    # Every block type of the toolkit and a third-party one took part.
    assert {"lm-course", "lm-html", "lm-video", "lm-quiz", "lm-raw", "slider_demo"} <= kinds


def test_value_reads_what_the_descriptor_returns(courses: list[Path]) -> None:
    for course in courses:
        tree = load_course(course)
        checked = 0
        for uid, name, block in every_field(tree):
            fresh = tree.block(uid)  # no per-instance cache: value() must not depend on one
            assert tree.value(fresh, name) == getattr(block, name), (course.name, uid, name)
            checked += 1
        assert checked > 100


def test_value_follows_unsaved_changes_and_learner_state(sample_course: Path) -> None:
    tree = load_course(sample_course)
    quiz = tree.block("post")
    questions = tree.value(quiz, "questions")
    assert questions == quiz.questions and questions[0]["id"]
    quiz.display_name = "ยังไม่บันทึก"  # set, not saved: only this instance sees it, as with getattr
    assert tree.value(quiz, "display_name") == "ยังไม่บันทึก"
    assert tree.value(tree.block("post"), "display_name") != "ยังไม่บันทึก"
    quiz.attempts_used = 2  # learner state goes to the key-value store
    quiz.save()
    again = tree.block("post")
    assert tree.value(again, "attempts_used") == 2 == again.attempts_used
    assert tree.value(again, "display_name") == "ยังไม่บันทึก"


def test_field_data_keeps_learner_state_in_the_kvs(sample_course: Path) -> None:
    tree = load_course(sample_course)
    data = tree.runtime.service(tree.course, "field-data")
    assert isinstance(data, TreeFieldData)
    quiz = tree.block("post")
    assert quiz.fields["attempts_used"].scope == Scope.user_state
    assert not data.has(quiz, "attempts_used")
    data.set(quiz, "attempts_used", 1)
    (key,) = data._kvs.db_dict
    assert (key.scope, key.block_scope_id, key.field_name) == (Scope.user_state, "post", "attempts_used")
    assert data.get(quiz, "attempts_used") == 1
    data.delete(quiz, "attempts_used")
    assert not data.has(quiz, "attempts_used") and data._kvs.db_dict == {}
    # Course fields: content by definition id, settings by usage id, as KvsFieldData keys them.
    assert "questions" in data.course["def-post"] and "role" in data.course["post"]
    data.delete(quiz, "role")
    assert not data.has(quiz, "role") and tree.block("post").role == quiz.fields["role"].default
    assert not data.has(quiz, "no_such_field")
    with pytest.raises(KeyError):
        data.get(quiz, "role")


def test_add_block_refuses_learner_state() -> None:
    runtime = TreeRuntime()
    with pytest.raises(ValueError, match="not a course field"):
        runtime.add_block("lm-quiz", "q", {"attempts_used": 1})


def test_get_block_makes_the_class_construct_xblock_makes() -> None:
    runtime = TreeRuntime()
    runtime.add_block("lm-html", "h", {"data": "<p>ก</p>"})
    block = runtime.get_block("h")
    built = runtime.construct_xblock("lm-html", ScopeIds(None, "lm-html", "def-h", "h"))
    assert type(block) is type(built) and block.scope_ids == built.scope_ids and block.data == "<p>ก</p>"


def test_cached_tree_makes_each_block_once(sample_course: Path) -> None:
    tree = load_course(sample_course)
    cached = tree.cached()
    assert isinstance(cached, CachedCourseTree) and cached.cached() is cached
    assert cached.block("intro") is cached.block("intro") and tree.block("intro") is not tree.block("intro")
    assert [str(b.scope_ids.usage_id) for b, _ in cached.walk()] == [
        str(b.scope_ids.usage_id) for b, _ in tree.walk()
    ]
    assert cached.children(cached.course) is cached.children(cached.course)


def test_value_sanitises_stored_strings_as_the_descriptor_does(sample_course: Path) -> None:
    """A stored string with characters XML cannot hold (written by any runtime) reads back cleaned."""
    tree = load_course(sample_course)
    data = tree.runtime.tree_data
    assert data is not None
    data.course["intro"]["display_name"] = "บท\x07นำ\ufffe"
    data.course["def-post"]["questions"][0]["prompt"] = "ข้อ\x07"  # in a List: XBlock leaves it
    for uid, name in (("intro", "display_name"), ("post", "questions"), ("post", "pass_threshold")):
        assert tree.value(tree.block(uid), name) == getattr(tree.block(uid), name), name
    assert tree.value(tree.block("intro"), "display_name") == "บทนำ"


def test_block_classes_from_one_entry_point_scan_are_xblocks_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """TreeRuntime fills XBlock's plugin cache from one scan; the classes are those XBlock itself picks."""
    from xblock import plugin

    names = sorted(xblock_entry_points())
    assert {"lm-course", "lm-quiz", "lm-raw"} <= set(names)
    monkeypatch.setattr(plugin, "PLUGIN_CACHE", {})
    ours = {name: TreeRuntime().load_block_type(name) for name in names if name.startswith("lm-")}
    monkeypatch.setattr(plugin, "PLUGIN_CACHE", {})
    theirs = {name: XBlock.load_class(name) for name in ours}
    assert ours == theirs and len(ours) == 8
    # A type nobody installed: XBlock's own answer (its default class, or PluginMissingError).
    monkeypatch.setattr(plugin, "PLUGIN_CACHE", {})
    runtime = TreeRuntime()
    try:
        expected: object = XBlock.load_class("no-such-block", runtime.default_class)
    except plugin.PluginMissingError as exc:
        expected = type(exc)
    monkeypatch.setattr(plugin, "PLUGIN_CACHE", {})
    try:
        got: object = runtime.load_block_type("no-such-block")
    except plugin.PluginMissingError as exc:
        got = type(exc)
    assert got == expected


def test_build_pauses_the_collector_only_while_it_works(tmp_path: Path) -> None:
    import gc

    from localmooc_packager.build import gc_paused, iter_build_course

    seen = []
    for _built in iter_build_course(sample_courses()[0], tmp_path, ["olx", "scorm12"]):
        seen.append(gc.isenabled())  # the caller's code between packages runs with the collector on
    assert seen == [True, True] and gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
