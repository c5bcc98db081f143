"""Issue 11, the OLX side: Open edX's own rules in the reader, and round trips that lose nothing.

tests/fixtures/studio/issue11/ is a Studio-style export holding each case the issue reported (see its
README); the sample courses are the toolkit's own sources.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
from pathlib import Path

import pytest
from lxml import etree
from test_olx_corpus import outline

from localmooc_packager.exporters.olx import OlxExporter
from localmooc_packager.importers import olx as olx_importer
from localmooc_packager.importers.compare import diff_sources
from localmooc_packager.importers.olx import import_olx
from localmooc_packager.olx_read import (
    EMBED_DIR,
    STOCK,
    asset_name,
    block_status,
    is_pointer,
    static_link_asset,
)
from localmooc_packager.source import check_course, load_course
from localmooc_packager.source.reader import read_source
from localmooc_packager.validators.olx import validate_olx

from conftest import SAMPLES, sample_courses

ISSUE = Path(__file__).parent / "fixtures" / "studio" / "issue11"
DEMO = Path(__file__).parent / "fixtures" / "studio" / "corpus" / "openedx-demo-course"
ROOT = ISSUE / "course"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "issue11"
    shutil.copytree(ISSUE, target)
    return target / "course"


def _build(src: Path, out: Path) -> Path:
    archive = OlxExporter().export(load_course(src), out)
    with tarfile.open(archive) as tar:
        tar.extractall(out / "x", filter="data")
    (root,) = list((out / "x").iterdir())
    return root


def _units(course_dir: Path) -> list[dict]:  # type: ignore[type-arg]
    tree, report = read_source(course_dir)
    assert tree is not None and not report.errors
    data = tree.data
    if "units" in data:
        return list(data["units"])
    return [u for s in data["sections"] for sub in s["subsections"] for u in sub["units"]]


def _blocks(course_dir: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    return {b["id"]: b for u in _units(course_dir) for b in u["blocks"] if "id" in b}


# ---- the platform's rules, from its source
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("a photo.png", "a_photo.png"),  # spaces
        ("images/logo.png", "images_logo.png"),  # sub-folders are flattened
        ("report (final) v2.pdf", "report__final__v2.pdf"),  # every unsafe character, underscores kept
        ("a__b.png", "a__b.png"),  # clean_keeping_underscores does not collapse them
        ("100%.png", "100%.png"),  # % is allowed
        ("ภาพ.png", "ภาพ.png"),  # letters of any script are \w
    ],
)
def test_asset_names_as_opaque_keys_cleans_them(path: str, name: str) -> None:
    assert asset_name(path) == name
    assert static_link_asset(f"/static/{path}?v=2#top") == name


def test_pointer_rule_is_the_platforms() -> None:
    def el(text: str) -> etree._Element:
        return etree.fromstring(text)

    assert is_pointer(el('<html url_name="a"/>'))
    assert not is_pointer(el('<html url_name="a"><!-- note --></html>'))  # a comment is a child node
    assert not is_pointer(el('<html url_name="a" display_name="x"/>'))
    assert is_pointer(el('<course url_name="r" org="o" course="c"/>'))
    assert not is_pointer(el('<course url_name="r"/>'))  # a course pointer needs exactly the three


def test_stock_block_types_come_with_their_package() -> None:
    assert STOCK.package("staffgradedxblock") == "staff-graded-xblock"
    assert STOCK.package("openassessment") == "ora2"
    assert "library_content" in STOCK.platform
    status = block_status("staffgradedxblock", set())
    assert status.known and not status.installed and "pip install staff-graded-xblock" in status.message
    assert not block_status("my_own_block", set()).known
    assert block_status("my_own_block", {"my_own_block"}).known


# ---- the validator: no false alarms on what Studio accepts
def test_validator_accepts_what_studio_accepts() -> None:
    report = validate_olx(ISSUE)
    assert report.errors == []
    codes = {p.code: p for p in report.warnings}
    # staffgradedxblock: a warning naming the package, not an "unknown tag" error
    assert "pip install staff-graded-xblock" in codes["olx-xblock-not-installed"].message
    # /static/a_photo.png reaches "static/a photo.png"; discussion ids and the course end have defaults
    assert not {"olx-static-missing", "olx-setting-missing", "olx-date-missing"} & set(codes)
    # the platform's pointer rule, shared with the importer
    assert codes["olx-pointer-comment"].location.file == "vertical/v1.xml"


def test_unknown_type_is_an_error_unless_advanced_modules_declares_it(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    vertical = root / "vertical" / "v1.xml"
    vertical.write_text(
        vertical.read_text(encoding="utf-8").replace(
            "</vertical>", '  <my_widget url_name="w1" display_name="ของฉัน"/>\n</vertical>'
        ),
        encoding="utf-8",
    )
    [error] = validate_olx(root).errors
    assert error.code == "olx-tag-unknown" and "<my_widget>" in error.message
    policy = root / "policies" / "2567_1" / "policy.json"
    data = json.loads(policy.read_text(encoding="utf-8"))
    data["course/2567_1"]["advanced_modules"].append("my_widget")
    policy.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    report = validate_olx(root)
    assert report.errors == []
    [declared] = [p for p in report.warnings if "<my_widget>" in p.message]
    assert declared.code == "olx-xblock-not-installed" and "advanced_modules" in declared.message


def test_link_broken_on_the_platform_too_names_the_asset_it_needs(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    page = root / "html" / "photo_page.html"
    page.write_text('<p><img src="/static/sub/a photo.png"/></p>\n', encoding="utf-8")
    [warning] = [p for p in validate_olx(root).warnings if p.code == "olx-static-missing"]
    assert "'sub_a_photo.png'" in warning.message
    report = import_olx(root.parent, tmp_path / "src")
    [kept] = [r for r in report.raw if r.id == "photo_page"]
    assert "broken on the platform too" in kept.reason and "'sub_a_photo.png'" in kept.reason
    assert report.errors == []


# ---- the importer
def test_import_writes_assets_under_their_platform_names(tmp_path: Path) -> None:
    report = import_olx(ISSUE, tmp_path / "src")
    assert report.errors == []
    assert report.assets_renamed == [("static/a photo.png", "static/a_photo.png")]
    assert "static/a photo.png -> static/a_photo.png" in str(report)
    assert (tmp_path / "src" / "static" / "a_photo.png").read_bytes() == (
        ROOT / "static" / "a photo.png"
    ).read_bytes()
    blocks = _blocks(tmp_path / "src")
    assert blocks["photo_page"]["type"] == "html"  # its link resolves: mapped, not kept raw
    assert blocks["q_budget"]["title"] == "ปีงบประมาณ"
    # Both readers: the element holding a comment is an (empty) inline definition, not a pointer.
    assert blocks["commented"]["type"] == "html"
    assert "not used" not in (tmp_path / "src" / "html" / "commented.html").read_text(encoding="utf-8")
    raw = {r.id: r.reason for r in report.raw}
    assert "staff-graded-xblock" in raw["offline_task"]
    _tree, problems = check_course(tmp_path / "src")
    assert problems.errors == []


def test_studio_export_round_trip_keeps_what_learners_see(tmp_path: Path) -> None:
    import_olx(ISSUE, tmp_path / "src")
    built = _build(tmp_path / "src", tmp_path / "out")
    assert outline(built) == outline(ROOT)  # types, order, display names ("ปีงบประมาณ", no " (ข้อ 1)")
    course = etree.parse(str(built / "course" / "2567_1.xml")).getroot()
    assert [(c.tag, dict(c.attrib)) for c in course] == [
        ("chapter", {"url_name": "ch1"}),
        ("wiki", {"slug": "DLA.LM900.2567_1"}),
    ]
    for rel in (
        "info/updates.html",
        "info/updates.items.json",
        "tabs/glossary.html",
        "about/overview.html",
        "assets/assets.xml",
        "policies/assets.json",
    ):
        assert (built / rel).read_bytes() == (ROOT / rel).read_bytes(), rel
    original = json.loads((ROOT / "policies/2567_1/policy.json").read_text(encoding="utf-8"))["course/2567_1"]
    again = json.loads((built / "policies/2567_1/policy.json").read_text(encoding="utf-8"))["course/2567_1"]
    assert {k: again.get(k) for k in original} == original  # every policy key comes back as it was
    assert "wiki_slug" not in again  # it is the <wiki> element, as Studio writes it
    assert validate_olx(built).errors == []


# ---- the toolkit's own archives
@pytest.mark.parametrize("course", sample_courses(), ids=lambda p: p.name)
def test_own_archive_gives_back_the_identical_source(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = OlxExporter().export(load_course(course), tmp_path / "a")
    report = import_olx(a, tmp_path / "src")
    assert report.restored and report.errors == []
    assert diff_sources(course, tmp_path / "src") == []  # Markdown, files, ids, category, hours, ...
    assert report.structure["unit"] == len(_units(course)) > 0  # the counts are the source's
    b = OlxExporter().export(load_course(tmp_path / "src"), tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()


def test_fields_without_an_olx_place_survive_a_studio_round_trip(tmp_path: Path) -> None:
    """Studio drops the embedded source but keeps unknown attributes and policy keys (xml_attributes):
    the toolkit's namespaced fields and ids come back from those."""
    course = SAMPLES / "local-budget-basics"  # its post-test has the numeric question this edits
    text = (course / "course.yaml").read_text(encoding="utf-8")
    src = tmp_path / "course"
    shutil.copytree(course, src)
    # A question id with a dash: "post" + "q-bin" must not come back as "post-q" + "bin".
    (src / "course.yaml").write_text(
        text.replace("          - type: numeric\n", "          - type: numeric\n            id: q-bin\n", 1),
        encoding="utf-8",
    )
    root = _build(src, tmp_path / "out")
    shutil.rmtree(root / EMBED_DIR)  # what a trip through Studio leaves
    report = import_olx(root, tmp_path / "src")
    assert not report.restored and report.errors == []
    data = read_source(tmp_path / "src")[0].data  # type: ignore[union-attr]
    first = read_source(src)[0].data  # type: ignore[union-attr]
    for key in ("category", "audience", "hours", "certificate", "start", "end"):
        assert data[key] == first[key], key
    post = _blocks(tmp_path / "src")["post"]
    assert post["type"] == "quiz"
    assert [q.get("id") for q in post["questions"]][:2] == [None, "q-bin"]
    assert "quiz post" in "\n".join(report.merged)


def test_changed_olx_is_imported_from_the_olx(tmp_path: Path) -> None:
    course = SAMPLES / "local-budget-basics"
    root = _build(course, tmp_path / "out")
    chapter = next((root / "chapter").iterdir())
    chapter.write_text(
        chapter.read_text(encoding="utf-8").replace('display_name="', 'display_name="แก้ใน Studio: '),
        encoding="utf-8",
    )
    report = import_olx(root, tmp_path / "src")
    assert not report.restored
    assert "import-embedded-stale" in {p.code for p in report.warnings}
    titles = [s["title"] for s in read_source(tmp_path / "src")[0].data["sections"]]  # type: ignore[union-attr]
    assert any(t.startswith("แก้ใน Studio: ") for t in titles)
    assert os.path.isdir(tmp_path / "src" / "static")


def _tar(folder: Path, archive: Path, top: str | None) -> Path:
    """``folder`` as a .tar.gz: its files inside the folder ``top``, or at the top of the archive."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            tar.add(path, f"{top}/{rel}" if top else rel, recursive=False)
    return archive


@pytest.mark.parametrize(
    ("top", "held"),
    [("course", None), (None, None), ("course", 2000)],
    ids=["in-a-folder", "at-the-top", "second-pass"],
)
def test_changed_archive_is_imported_from_its_olx(
    top: str | None, held: int | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first pass over an archive writes only static/ and the embed folder; when the embedded source
    is stale, a second pass writes the OLX (a Studio archive's, without an embed folder, is held in memory
    up to HELD_BYTES instead): the import from the OLX gets every file, and a folder named static/ deeper
    down is part of the OLX."""
    if held is not None:
        monkeypatch.setattr(olx_importer, "HELD_BYTES", held)
    course = SAMPLES / "local-budget-basics"
    root = _build(course, tmp_path / "out")
    unchanged = import_olx(_tar(root, tmp_path / "same.tar.gz", top), tmp_path / "same")
    assert unchanged.restored and unchanged.errors == []
    assert diff_sources(course, tmp_path / "same") == []
    # A file in a folder named like static/ but not at the root: the digest covers it (it was not in the
    # export), so the OLX counts as changed. The import keeps it as an OLX file.
    (root / "about" / "static").mkdir(parents=True)
    (root / "about" / "static" / "note.txt").write_text("added in Studio", encoding="utf-8")
    report = import_olx(_tar(root, tmp_path / "changed.tar.gz", top), tmp_path / "src", check=False)
    assert not report.restored
    assert "import-embedded-stale" in {p.code for p in report.warnings}
    from_folder = import_olx(root, tmp_path / "from-folder", check=False)
    assert diff_sources(tmp_path / "from-folder", tmp_path / "src") == []
    assert report.structure == from_folder.structure and report.static_files == from_folder.static_files
    assert (tmp_path / "src" / "olx" / "about" / "static" / "note.txt").is_file()


@pytest.mark.parametrize("top", ["course", None], ids=["in-a-folder", "at-the-top"])
def test_streamed_digest_is_the_digest_of_the_files(top: str | None, tmp_path: Path) -> None:
    from localmooc_packager.importers.olx import _Extraction, _olx_members
    from localmooc_packager.olx_read import olx_digest

    root = _build(SAMPLES / "local-budget-basics", tmp_path / "out")
    for folder in ("about/static", "html/localmooc"):  # written by the first pass when at the top
        (root / folder).mkdir(parents=True)
        (root / folder / "x.txt").write_text(folder, encoding="utf-8")
    dest = tmp_path / "x"
    dest.mkdir()
    extraction = _Extraction(_tar(root, tmp_path / "a.tar.gz", top), dest)
    prefix = extraction.root()
    assert prefix == (f"{top}/" if top else "")
    assert not (dest / prefix / "course.xml").exists()  # the OLX is not written by the first pass
    streamed = extraction.digest(prefix)
    extraction.complete()
    assert streamed == olx_digest(_olx_members(dest / prefix)) == olx_digest(_olx_members(root))


def test_counts_of_a_restored_archive_with_and_without_the_check(tmp_path: Path) -> None:
    """With the check, a restored source is read once for the check and the counts: the same counts."""
    course = SAMPLES / "local-budget-basics"
    archive = OlxExporter().export(load_course(course), tmp_path / "a")
    checked = import_olx(archive, tmp_path / "checked")
    unchecked = import_olx(archive, tmp_path / "unchecked", check=False)
    assert checked.restored and unchecked.restored
    assert (checked.course_id, checked.title) == (unchecked.course_id, unchecked.title) != ("", "")
    assert checked.structure == unchecked.structure and checked.blocks == unchecked.blocks
    assert checked.problems.problems == check_course(tmp_path / "checked")[1].problems


# ---- every code is documented
@pytest.mark.parametrize(
    ("module", "doc", "prefix"),
    [
        ("localmooc_packager/validators/olx.py", "docs/validate-olx.md", "olx"),
        ("localmooc_packager/importers/olx.py", "docs/import-olx.md", "import"),
    ],
)
def test_every_code_is_documented(module: str, doc: str, prefix: str) -> None:
    root = Path(__file__).resolve().parents[1]
    codes = set(re.findall(rf'"({prefix}-[a-z0-9-]+)"', (root / module).read_text(encoding="utf-8")))
    text = (root / doc).read_text(encoding="utf-8")
    assert codes
    assert sorted(c for c in codes if f"`{c}`" not in text) == []


def test_kept_grading_policy_yields_to_a_changed_source(tmp_path: Path) -> None:
    src = tmp_path / "src"
    import_olx(DEMO, src)
    text = (src / "course.yaml").read_text(encoding="utf-8")
    assert "{urn:x-localmooc:olx}grading" in text  # the fingerprint of what the source grades
    original = (DEMO / "policies/DemoCourse/grading_policy.json").read_bytes()
    assert (_build(src, tmp_path / "a") / "policies/DemoCourse/grading_policy.json").read_bytes() == original
    (src / "course.yaml").write_text(
        text.replace("pass_threshold: 0.5", "pass_threshold: 0.8"), encoding="utf-8"
    )
    made = json.loads((_build(src, tmp_path / "b") / "policies/DemoCourse/grading_policy.json").read_bytes())
    assert made["GRADE_CUTOFFS"] == {"Pass": 0.8}  # the author's change wins over the kept file
