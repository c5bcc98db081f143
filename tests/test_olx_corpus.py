"""Real Studio exports nobody on this team wrote: import -> check -> build OLX -> compare with the original.

The corpus (tests/fixtures/studio/corpus/, provenance and licences in its SOURCES.md) holds public courses of
different ages and shapes. For each one:

* the import writes a source that checks with no error;
* the OLX built from that source has no validator error, and olxcleaner (a real OLX client) finds no error
  class it did not find in the original, never more of one;
* the built course has the same blocks, in the same order, with the same types and display names
  (policy.json applied over the XML, as the platform does) as the original;
* importing the built OLX again (without the source it embeds) gives the same source, and our own archive
  imports and rebuilds to the same bytes.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from collections import Counter
from importlib.metadata import entry_points
from pathlib import Path

import olxcleaner
import pytest
from lxml import etree

from localmooc_packager.exporters.olx import OlxExporter
from localmooc_packager.importers.compare import diff_sources
from localmooc_packager.importers.olx import ImportReport, import_olx
from localmooc_packager.olx_read import EMBED_DIR, is_pointer, pointer_path
from localmooc_packager.source import check_course, load_course
from localmooc_packager.validators.olx import validate_olx

CORPUS = Path(__file__).parent / "fixtures" / "studio" / "corpus"
COURSES = sorted(p for p in CORPUS.iterdir() if p.is_dir())
STRUCTURE = ("course", "chapter", "sequential", "vertical")
Trip = tuple[Path, Path, Path, ImportReport]


def outline(root: Path, dropped: list[str] | None = None) -> list[tuple[str, str | None]]:
    """(tag, display name) of every block in course order, read independently of the importer.

    A chapter, sequential or vertical with no component below it is left out (and its tag added to
    ``dropped``): the source format has no empty containers, learners see nothing of one, and the import
    reports each one it leaves out (import-empty).
    """
    pointer = etree.parse(str(root / "course.xml")).getroot()
    run = pointer.get("url_name")
    policy_file = root / "policies" / str(run) / "policy.json"
    policy = json.loads(policy_file.read_text(encoding="utf-8")) if policy_file.is_file() else {}

    def visit(el: etree._Element) -> list[tuple[str, str | None]]:
        tag = el.tag
        url_name = el.get("url_name")
        if is_pointer(el):
            rel = pointer_path(tag, el.get("url_name", ""))
            assert rel is not None
            el = etree.parse(str(root / rel)).getroot()
        entry = policy.get(f"{tag}/{url_name}", {}) if url_name else {}
        name = entry["display_name"] if "display_name" in entry else el.get("display_name")
        if tag not in STRUCTURE:
            return [(tag, name)]
        inside = [block for child in el if isinstance(child.tag, str) for block in visit(child)]
        if tag != "course" and not any(t not in STRUCTURE for t, _ in inside):
            if dropped is not None:
                dropped.append(tag)
            return []
        return [(tag, name), *inside]

    return visit(pointer)


def olxcleaner_errors(root: Path) -> Counter[str]:
    allowed = sorted({ep.name for ep in entry_points(group="xblock.v1")} | {"wiki"})
    _course, store, _ = olxcleaner.validate(str(root), steps=8, ignore=[], allowed_xblocks=allowed)
    return Counter(e.name for e in store.errors if e.level == "ERROR")


def course_root(folder: Path) -> Path:
    return folder if (folder / "course.xml").is_file() else next(folder.glob("*/course.xml")).parent


@pytest.fixture(scope="module", params=COURSES, ids=lambda p: p.name)
def trip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Trip:
    original: Path = request.param
    work = tmp_path_factory.mktemp(original.name)
    report = import_olx(original, work / "src")
    assert report.errors == [], "\n".join(map(str, report.errors))
    archive = OlxExporter().export(load_course(work / "src"), work / "out")
    with tarfile.open(archive) as tar:
        tar.extractall(work / "built", filter="data")
    return original, work / "src", course_root(work / "built"), report


def test_corpus_is_real_and_varied() -> None:
    assert len(COURSES) >= 4
    sources = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    for course in COURSES:
        assert f"`{course.name}/`" in sources, f"{course.name} has no provenance in SOURCES.md"


def test_import_checks_clean(trip: Trip) -> None:
    _original, src, _built, _report = trip
    tree, problems = check_course(src)
    assert tree is not None
    assert problems.errors == []


def test_built_olx_validates(trip: Trip) -> None:
    original, _src, built, _report = trip
    assert validate_olx(original).errors == []
    assert validate_olx(built).errors == []


def test_olxcleaner_finds_nothing_new(trip: Trip) -> None:
    original, _src, built, _report = trip
    before, after = olxcleaner_errors(course_root(original)), olxcleaner_errors(built)
    new = {name: n for name, n in after.items() if n > before.get(name, 0)}
    assert new == {}, f"olxcleaner errors the original did not have: {new} (original: {dict(before)})"


def test_same_blocks_and_display_names(trip: Trip) -> None:
    original, _src, built, report = trip
    dropped: list[str] = []
    assert outline(built) == outline(course_root(original), dropped)
    # Each empty container the comparison skips is one the import reported leaving out.
    empty = [p.message.split(">", 1)[0].lstrip("<") for p in report.warnings if p.code == "import-empty"]
    assert sorted(empty) == sorted(dropped)


def test_import_of_the_build_is_the_same_source(trip: Trip, tmp_path: Path) -> None:
    """Our OLX of an imported course, with the embedded source removed (what a trip through Studio
    leaves), imports to exactly the same source: nothing the import mapped is lost on the way out."""
    _original, src, built, _report = trip
    olx = tmp_path / "olx"
    shutil.copytree(built, olx)
    shutil.rmtree(olx / EMBED_DIR)
    report = import_olx(olx, tmp_path / "again")
    assert not report.restored
    assert diff_sources(src, tmp_path / "again") == []


def test_own_archive_rebuilds_byte_for_byte(
    trip: Trip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    _original, src, _built, _report = trip
    a = OlxExporter().export(load_course(src), tmp_path / "a")
    assert import_olx(a, tmp_path / "src").restored
    b = OlxExporter().export(load_course(tmp_path / "src"), tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()


def test_grading_policy_comes_back(trip: Trip) -> None:
    """The source format cannot say all of a Studio grading policy (raw problems graded, drop_count, letter
    grades); the import keeps the file and the export writes it back while the source grades the same."""
    original, _src, built, _report = trip
    [before] = course_root(original).glob("policies/*/grading_policy.json")
    after = built / before.relative_to(course_root(original))
    assert after.read_bytes() == before.read_bytes()
