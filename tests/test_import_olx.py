"""OLX import: Studio-style exports (folders and archives) -> course source that checks clean, round trip."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from localmooc_packager.cli import main
from localmooc_packager.errors import InvalidInputError, UnsafeInputError, UsageError
from localmooc_packager.exporters.olx import OlxExporter
from localmooc_packager.grading import course_grading
from localmooc_packager.importers.compare import diff_sources
from localmooc_packager.importers.olx import import_olx
from localmooc_packager.source import check_course, load_course
from localmooc_packager.source.reader import read_source

from conftest import SAMPLES, sample_courses

STUDIO = Path(__file__).parent / "fixtures" / "studio"
EXPORT_ROOT = STUDIO / "studio_export" / "course"
INLINE_ROOT = STUDIO / "root_inline"

RAW_EXPECTED = {
    "studio_export": {
        ("discussion", "disc_intro"),
        ("drag-and-drop-v2", "dnd_revenue"),
        ("lti", "lti_quiz"),
        ("done", "done_activities"),
        ("problem", "calc_budget"),
    },
    "root_inline": {("poll", "waste_poll"), ("discussion", "")},
}


@pytest.fixture(scope="session")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    spec = importlib.util.spec_from_file_location("make_archives", STUDIO / "make_archives.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_all(tmp_path_factory.mktemp("studio-archives"))


def _input(kind: str, name: str, archives: dict[str, Path]) -> Path:
    return STUDIO / name if kind == "folder" else archives[f"{name}.{kind}"]


def _blocks(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        b
        for section in data["sections"]
        for sub in section["subsections"]
        for unit in sub["units"]
        for b in unit["blocks"]
    ]


def _by_id(course_dir: Path) -> dict[str, dict[str, Any]]:
    tree, report = read_source(course_dir)
    assert tree is not None and not report.errors
    return {b["id"]: b for b in _blocks(tree.data)}


def _olx_components(root: Path) -> list[tuple[str, str]]:
    """(tag, url_name) of every component in the OLX's verticals, read independently of the importer."""

    def resolve(el: etree._Element) -> etree._Element:
        if set(el.keys()) == {"url_name"} and not len(el):
            rel = f"{el.tag}/{el.get('url_name').replace(':', '/')}.xml"
            return etree.parse(str(root / rel)).getroot()
        return el

    pointer = etree.parse(str(root / "course.xml")).getroot()
    course = (
        pointer
        if len(pointer)
        else etree.parse(str(root / "course" / f"{pointer.get('url_name')}.xml")).getroot()
    )
    found = []
    for chapter in course.iterchildren("chapter"):
        for seq in resolve(chapter).iterchildren("sequential"):
            for vert in resolve(seq).iterchildren("vertical"):
                found.extend((c.tag, c.get("url_name", "")) for c in resolve(vert) if isinstance(c.tag, str))
    return found


@pytest.mark.parametrize("kind", ["folder", "tar.gz", "zip"])
@pytest.mark.parametrize("name", ["studio_export", "root_inline"])
def test_every_fixture_imports_and_checks_clean(
    name: str, kind: str, archives: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "src"
    report = import_olx(_input(kind, name, archives), out)
    assert report.errors == []
    tree, problems = check_course(out)
    assert tree is not None, "\n".join(map(str, problems.errors))
    assert problems.errors == []
    # Exactly the unmappable blocks are kept raw, each with a reason and a file:line.
    assert {(r.tag, r.url_name) for r in report.raw} == RAW_EXPECTED[name]
    assert all(r.reason and r.location.line > 0 for r in report.raw)
    # Nothing dropped: every component of the OLX is one block of the source, in order.
    olx = _olx_components(EXPORT_ROOT if name == "studio_export" else INLINE_ROOT)
    blocks = _blocks(read_source(out)[0].data)  # type: ignore[union-attr]
    assert len(blocks) == len(olx) == report.olx_components == sum(report.blocks.values())
    assert [b["type"] for b in blocks if b["type"] == "olx"] == ["olx"] * len(RAW_EXPECTED[name])
    text = str(report)
    assert "kept verbatim as olx blocks" in text
    assert all(r.id in text for r in report.raw)
    # The temporary folders beside the output are gone.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


@pytest.mark.parametrize(
    "course",
    [
        EXPORT_ROOT,
        INLINE_ROOT,
        *sorted(p for p in (STUDIO / "corpus").iterdir() if p.is_dir()),
        Path("studio-shape"),
        Path("studio-round-trip"),
    ],
    ids=lambda p: p.name,
)
def test_closing_check_is_a_check_of_the_written_source(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import's closing check (which reuses the check its grading step made when that was clean)
    reports exactly what checking the written source reports, wherever the command runs from."""
    monkeypatch.chdir(tmp_path)
    if course.name == "studio-shape":  # the benchmark's Studio course: clean, so its check is reused
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
        import shapes

        course = tmp_path / "studio-shape"
        shapes.studio_course(course, 30)
    elif course.name == "studio-round-trip":  # a check found clean, then reused: the embed folder is gone
        from localmooc_packager.exporters.olx import OlxExporter
        from localmooc_packager.olx_read import EMBED_DIR
        from localmooc_packager.source import load_course

        archive = OlxExporter().export(load_course(SAMPLES / "local-budget-basics"), tmp_path / "built")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp_path / "x", filter="data")
        (course,) = list((tmp_path / "x").iterdir())
        shutil.rmtree(course / EMBED_DIR)
    checked = import_olx(course, tmp_path / "checked")
    unchecked = import_olx(course, tmp_path / "unchecked", check=False)
    assert checked.problems.problems[: len(unchecked.problems)] == unchecked.problems.problems
    assert checked.problems.problems[len(unchecked.problems) :] == check_course(Path("checked"))[1].problems


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_archive_read_once_or_twice_gives_the_same_source(
    kind: str, archives: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Studio archive's OLX is held in memory by the first pass, or read again past HELD_BYTES."""
    from localmooc_packager.importers import olx as olx_importer
    from localmooc_packager.importers.compare import diff_sources

    archive = archives[f"studio_export.{kind}"]
    held = import_olx(archive, tmp_path / "held")
    monkeypatch.setattr(olx_importer, "HELD_BYTES", 100)
    again = import_olx(archive, tmp_path / "again")
    assert diff_sources(tmp_path / "held", tmp_path / "again") == []
    assert [(p.code, p.message) for p in held.problems] == [(p.code, p.message) for p in again.problems]


def test_studio_export_mapping(tmp_path: Path) -> None:
    out = tmp_path / "src"
    report = import_olx(STUDIO / "studio_export", out)
    blocks = _by_id(out)
    assert blocks["q_fiscal_year"] == {
        "type": "quiz",
        "id": "q_fiscal_year",
        "title": "ปีงบประมาณเริ่มเมื่อใด",
        "role": "practice",
        "attempts": 2,
        "shuffle": True,
        "questions": [
            {
                "type": "single-choice",
                "prompt": "ปีงบประมาณ พ.ศ. 2566 เริ่มต้นวันที่เท่าใด",
                "choices": {"a": "1 มกราคม 2566", "b": "1 ตุลาคม 2565", "c": "1 เมษายน 2566"},
                "answer": "b",
                "feedback": {"a": "ปีงบประมาณไม่ตรงกับปีปฏิทิน"},
                "explain": "<p>ปีงบประมาณเริ่ม 1 ตุลาคม ของปีก่อนหน้า และสิ้นสุด 30 กันยายน</p>",
            }
        ],
    }
    own = blocks["q_own_revenue"]["questions"][0]
    assert own["type"] == "multiple-choice" and own["answer"] == ["a", "b"]
    assert own["feedback"] == {"c": "เงินอุดหนุนเป็นเงินที่รัฐบาลจัดสรรให้"}
    assert blocks["q_own_revenue"]["show_answers"] == "always"
    tax = blocks["q_tax_rate"]
    assert tax["attempts"] == 3
    assert {k: tax["questions"][0][k] for k in ("type", "answer", "tolerance", "points")} == {
        "type": "numeric",
        "answer": 7.5,
        "tolerance": "5%",
        "points": 2,
    }
    council = blocks["q_council"]
    assert council["questions"][0]["answer"] == ["สภาเทศบาล", "สภาเทศบาลตำบล"]
    assert "case_sensitive" not in council["questions"][0]  # type="ci"
    assert council["questions"][0]["prompt"] == "<p>สภาท้องถิ่นของเทศบาลเรียกว่าอะไร</p>\n<p>ตอบเป็นคำเดียว</p>"
    assert council["policy"] == {"rerandomize": "never"}
    assert blocks["intro_video"] == {
        "type": "video",
        "id": "intro_video",
        "title": "วิดีโอแนะนำหลักสูตร",
        "src": "static/intro.mp4",
        "subtitles": {"th": "static/intro-th.vtt"},
        "transcript": "static/intro-transcript.txt",
        "policy": {"download_track": "true", "download_video": "false", "show_captions": "true"},
    }
    assert blocks["yt_video"]["youtube"] == "aBcDeFgHiJ0"
    assert blocks["welcome_text"]["format"] == "html" and blocks["welcome_text"]["policy"] == {
        "editor": "visual"
    }
    # A url_name with ':' (a subfolder) gets an ASCII id, recorded in the report.
    assert "unit-note" in blocks
    assert [(r.url_name, r.id) for r in report.renamed] == [("unit:note", "unit-note")]
    # Pointer definitions of raw blocks are copied byte for byte; inline ones keep their element.
    assert blocks["calc_budget"]["xml"] == '<problem url_name="calc_budget"/>'
    assert blocks["calc_budget"]["files"] == ["problem/calc_budget.xml"]
    assert (out / "problem/calc_budget.xml").read_bytes() == (
        EXPORT_ROOT / "problem/calc_budget.xml"
    ).read_bytes()
    assert blocks["lti_quiz"]["files"] == ["lti/lti_quiz.xml"]
    assert blocks["dnd_revenue"]["xml"].startswith('<drag-and-drop-v2 url_name="dnd_revenue"')
    data = read_source(out)[0].data  # type: ignore[union-attr]
    assert data["olx"] == {
        "about": {"overview": "about/overview.html", "short_description": "about/short_description.html"},
        # Studio's asset metadata is written back as it was (display names, locks).
        # Its grading policy says more than the quizzes can (kept while they grade the same).
        "files": ["info/updates.html", "policies/2566_1/grading_policy.json", "policies/assets.json"],
    }
    assert (out / "policies/2566_1/grading_policy.json").read_bytes() == (
        EXPORT_ROOT / "policies/2566_1/grading_policy.json"
    ).read_bytes()
    assert not (out / "olx/policies/2566_1/grading_policy.json").exists()
    assert {p.code for p in report.warnings} >= {"import-grading"}
    assert data["pass_threshold"] == 0.6
    assert data["image"] == "static/course-card.png"
    assert sorted(p.name for p in (out / "static").iterdir()) == sorted(
        p.name for p in (EXPORT_ROOT / "static").iterdir()
    )


def test_policy_json_wins_over_xml(tmp_path: Path) -> None:
    out = tmp_path / "src"
    import_olx(STUDIO / "studio_export", out)
    data = read_source(out)[0].data  # type: ignore[union-attr]
    blocks = _by_id(out)
    assert data["title"] == "การบริหารงานท้องถิ่นเบื้องต้น"  # XML says ชื่อเดิมใน XML
    assert data["start"] == "2023-03-01T00:00:00Z"  # XML says 2023-01-01
    assert data["sections"][0]["title"] == "บทนำ"  # XML says บทนำ (XML)
    exam = data["sections"][1]["subsections"][1]
    assert exam["due"] == "2023-09-30T16:59:00Z" and exam["graded"] is True and exam["format"] == "Final Exam"
    assert exam["policy"] == {"graceperiod": "1 day", "hide_after_due": "false"}
    q1 = blocks["exam_q1"]
    assert q1["attempts"] == 1 and q1["role"] == "graded"  # XML says 3
    assert q1["policy"] == {"showanswer": "past_due"}  # no quiz equivalent: kept for the platform
    assert "show_answers" not in q1
    assert blocks["calc_budget"]["policy"] == {"max_attempts": 5}
    assert blocks["disc_intro"]["policy"] == {"discussion_category": "แนะนำตัว"}
    assert data["policy"]["advanced_modules"] == ["done", "drag-and-drop-v2", "lti"]
    assert data["policy"]["wiki_slug"] == "DLA.LB101.2566_1"


def test_thai_text_is_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "src"
    import_olx(STUDIO / "studio_export", out)
    for name in ("welcome_text", "budget_text"):
        assert (out / f"html/{name}.html").read_bytes() == (EXPORT_ROOT / f"html/{name}.html").read_bytes()
    assert (out / "about/overview.html").read_bytes() == (EXPORT_ROOT / "about/overview.html").read_bytes()
    course_yaml = (out / "course.yaml").read_bytes()
    for thai in ("ปีงบประมาณ พ.ศ. 2566 เริ่มต้นวันที่เท่าใด", "จับคู่ประเภทรายได้", "สภาเทศบาลตำบล", "แนะนำตัว"):
        assert thai.encode("utf-8") in course_yaml
    assert b"\\u0e" not in course_yaml.lower()  # no escapes: Thai is written as UTF-8


def test_inline_course_at_the_root(tmp_path: Path) -> None:
    out = tmp_path / "src"
    report = import_olx(STUDIO / "root_inline", out)
    blocks = _by_id(out)
    # The same url_name on two types, and a block without one, get unique ASCII ids; both are reported.
    assert [(r.tag, r.url_name, r.id) for r in report.renamed] == [
        ("html", "dup", "dup-2"),
        ("discussion", "", "waste_v2-discussion2"),
    ]
    assert blocks["dup"]["type"] == "quiz" and blocks["dup-2"]["type"] == "html"
    assert (
        (out / "html/waste_h1.html")
        .read_text(encoding="utf-8")
        .startswith("<h3>ขยะมูลฝอยแบ่งเป็น 4 ประเภท</h3>")
    )
    assert "<strong>ถังสีเหลือง</strong>" in (out / "html/waste_h2.html").read_text(encoding="utf-8")
    assert blocks["waste_vid"]["url"] == "https://media.example.org/waste-sorting.mp4"
    assert blocks["waste_true_false"]["questions"][0]["explain"] == "<p>ถ่านไฟฉายและหลอดไฟเป็นขยะอันตราย</p>"
    assert {p.code for p in report.warnings} >= {"import-no-policy"}


def test_large_course_is_split_into_section_files(tmp_path: Path) -> None:
    olx = tmp_path / "olx"
    units = []
    for i in range(25):
        units.append(
            f'<vertical url_name="v{i}" display_name="หน่วยที่ {i}"><html url_name="h{i}" display_name="เนื้อหา {i}">'
            f"<![CDATA[<p>เนื้อหาที่ {i}</p>]]></html></vertical>"
        )
    chapters = "".join(
        f'<chapter url_name="c{c}" display_name="บทที่ {c}"><sequential url_name="s{c}" display_name="ตอน {c}">'
        + "".join(units[c * 5 : c * 5 + 5])
        + "</sequential></chapter>"
        for c in range(5)
    )
    olx.mkdir()
    (olx / "course.xml").write_text(
        f'<course url_name="r1" org="DLA" course="BIG" display_name="ใหญ่" language="th">{chapters}</course>',
        encoding="utf-8",
    )
    out = tmp_path / "src"
    report = import_olx(olx, out)
    assert report.split and report.errors == []
    data = read_source(out)[0].data  # type: ignore[union-attr]
    assert [s["id"] for s in data["sections"]] == [f"c{c}" for c in range(5)]
    assert sorted(p.name for p in (out / "sections").iterdir()) == [f"c{c}.yaml" for c in range(5)]
    assert "include: sections/c0.yaml" in (out / "course.yaml").read_text(encoding="utf-8")


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_refusals_leave_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(UsageError):
        import_olx(STUDIO / "root_inline", tmp_path / "full")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(InvalidInputError):
        import_olx(junk, tmp_path / "out1")
    slip = _tar(tmp_path / "slip.tar.gz", {"course.xml": b"<course/>", "../evil.txt": b"x"})
    with pytest.raises(UnsafeInputError):
        import_olx(slip, tmp_path / "out2")
    course = b'<course url_name="r" org="o" course="c"/>'
    two = _tar(tmp_path / "two.tar.gz", {"a/course.xml": course, "b/course.xml": course})
    with pytest.raises(InvalidInputError, match="2 courses"):
        import_olx(two, tmp_path / "out3")
    dangling = _tar(
        tmp_path / "dangling.tar.gz",
        {"course.xml": course, "course/r.xml": b'<course><chapter url_name="gone"/></course>'},
    )
    with pytest.raises(InvalidInputError, match=r"chapter/gone\.xml"):
        import_olx(dangling, tmp_path / "out4")
    traversal = _tar(tmp_path / "trav.tar.gz", {"course.xml": b'<course url_name=".." org="o" course="c"/>'})
    with pytest.raises(UnsafeInputError):
        import_olx(traversal, tmp_path / "out5")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dangling.tar.gz",
        "full",
        "junk.tar.gz",
        "slip.tar.gz",
        "trav.tar.gz",
        "two.tar.gz",
    ]


def test_cli_import(archives: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "src"
    with pytest.raises(SystemExit) as done:
        main(["import", str(archives["studio_export.tar.gz"]), "-o", str(out)])
    assert done.value.code == 0
    printed = capsys.readouterr().out
    assert "imported 'LB101'" in printed and "5 kept raw" in printed and str(out) in printed
    with pytest.raises(SystemExit) as again:
        main(["import", str(archives["studio_export.tar.gz"]), "-o", str(out)])
    assert again.value.code == 2  # the output folder is not empty
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(SystemExit) as bad:
        main(["import", str(junk), "-o", str(tmp_path / "other")])
    assert bad.value.code == 1


def _round_trip(first: Path, work: Path) -> Path:
    archive = OlxExporter().export(load_course(first), work, olx_flavor="stock")
    second = work / "src2"
    report = import_olx(archive, second)
    assert report.errors == []
    return second


def test_round_trip_studio_export(tmp_path: Path) -> None:
    first = tmp_path / "src1"
    import_olx(STUDIO / "studio_export", first)
    second = _round_trip(first, tmp_path / "rt")
    assert diff_sources(first, second) == []
    # Raw OLX blocks and the files they name come back byte for byte.
    a, b = _by_id(first), _by_id(second)
    for block_id in ("calc_budget", "lti_quiz", "dnd_revenue", "disc_intro", "done_activities"):
        assert a[block_id]["xml"] == b[block_id]["xml"]
        for rel in a[block_id].get("files", []):
            assert (first / rel).read_bytes() == (second / rel).read_bytes()
    # What the exporter used to lose or change comes back as it was imported.
    assert b["exam_q1"]["policy"] == {"showanswer": "past_due"}  # differs from the XML: policy.json wins
    assert b["intro_video"]["transcript"] == "static/intro-transcript.txt"  # written as a <track>
    assert "cert_html_view_enabled" not in read_source(second)[0].data["policy"]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["studio_export", "root_inline"])
def test_round_trip_is_exact(name: str, tmp_path: Path) -> None:
    first = tmp_path / "src1"
    import_olx(STUDIO / name, first)
    second = _round_trip(first, tmp_path / "rt")
    assert diff_sources(first, second) == []


def test_round_trip_inline_course_is_exact(tmp_path: Path) -> None:
    first = tmp_path / "src1"
    import_olx(STUDIO / "root_inline", first)
    data = read_source(first)[0].data  # type: ignore[union-attr]
    # A hand-written OLX without policy.json is imported with the settings the platform would use, in
    # the form every export states them, so the round trip changes nothing.
    assert (data["start"], data["end"]) == ("2024-01-15T00:00:00Z", "2024-09-30T00:00:00Z")
    assert data["pass_threshold"] == 0.5  # Open edX's default grading policy
    assert data["policy"] == {"advanced_modules": ["poll"]}
    second = _round_trip(first, tmp_path / "rt1")
    assert diff_sources(first, second) == []


@pytest.mark.parametrize("course", sample_courses(), ids=lambda p: p.name)
def test_sample_courses_reach_a_fixed_point(
    course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """source -> A -> src2 -> B -> src3 -> C: A, B and C are the same bytes and src2 equals src3.

    A == B means the import lost nothing the export wrote: roles (pre-test and post-test included),
    quiz weights, true-false questions. The grading rules of the import equal the source's."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # archives of different folders compare
    exporter = OlxExporter()
    a = exporter.export(load_course(course), tmp_path / "a")
    assert import_olx(a, tmp_path / "src2").errors == []
    b = exporter.export(load_course(tmp_path / "src2"), tmp_path / "b")
    assert import_olx(b, tmp_path / "src3").errors == []
    c = exporter.export(load_course(tmp_path / "src3"), tmp_path / "c")
    assert diff_sources(tmp_path / "src2", tmp_path / "src3") == []
    assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    with tarfile.open(b) as tar:
        assert len(tar.getnames()) > 20  # a whole course, not an empty archive that trivially matches

    def rules(src: Path) -> tuple[float, list[tuple[str, float, float]], list[str]]:
        tree = load_course(src)
        grading = course_grading(tree)
        roles = [b.role for b, _d in tree.walk() if b.scope_ids.block_type == "lm-quiz"]
        return (
            grading.pass_threshold,
            [(q.role, round(q.weight, 9), q.possible) for q in grading.quizzes],
            roles,
        )

    assert rules(tmp_path / "src2") == rules(course)


@pytest.mark.parametrize(
    ("child", "extra"),
    [
        ('<track src="/static/notes.txt"/>', 'download_track="true"'),  # what the export writes
        ('<handout src="/static/notes.txt"/>', ""),  # older exports
    ],
)
def test_video_download_file_from_track_or_handout(child: str, extra: str, tmp_path: Path) -> None:
    olx = tmp_path / "olx"
    (olx / "static").mkdir(parents=True)
    (olx / "static" / "v.mp4").write_bytes(b"mp4")
    (olx / "static" / "notes.txt").write_text("บทถอดความ\n", encoding="utf-8")
    (olx / "course.xml").write_text(
        '<course url_name="r1" org="DLA" course="VID" display_name="วิดีโอ" start="2024-01-01T00:00:00Z">'
        '<chapter url_name="c" display_name="บท"><sequential url_name="s" display_name="ตอน">'
        '<vertical url_name="v" display_name="หน่วย">'
        f'<video url_name="clip" display_name="วิดีโอ" html5_sources=\'["/static/v.mp4"]\' {extra}>'
        f"{child}</video></vertical></sequential></chapter></course>",
        encoding="utf-8",
    )
    report = import_olx(olx, tmp_path / "src")
    assert report.errors == [] and report.raw == []
    video = _by_id(tmp_path / "src")["clip"]
    assert video["transcript"] == "static/notes.txt"
    assert video.get("policy", {}) == ({"download_track": "true"} if extra else {})


def test_diff_sources_reports_changes(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    import_olx(STUDIO / "root_inline", first)
    import_olx(STUDIO / "root_inline", second)
    assert diff_sources(first, second) == []
    text = (second / "course.yaml").read_text(encoding="utf-8")
    (second / "course.yaml").write_text(text.replace("title: สรุป", "title: บทสรุป"), encoding="utf-8")
    (second / "static" / "bins.png").write_bytes(b"changed")
    assert diff_sources(first, second) == [
        "file static/bins.png: contents differ",
        "sections[0].subsections[0].units[0].blocks[4].title: 'สรุป' / 'บทสรุป'",
    ]


def _graded_course(tmp_path: Path, grader: list[dict[str, Any]], problems: dict[str, list[str]]) -> Path:
    """An OLX folder: one graded subsection per entry of ``problems`` ({format: [problem XML, ...]})."""
    olx = tmp_path / "olx"
    (olx / "policies" / "r1").mkdir(parents=True)
    (olx / "policies" / "r1" / "grading_policy.json").write_text(
        json.dumps({"GRADER": grader, "GRADE_CUTOFFS": {"Pass": 0.6}}), encoding="utf-8"
    )
    subs = []
    for n, (fmt, items) in enumerate(problems.items(), 1):
        for m, body in enumerate(items, 1):
            name = f"s{n}"
            subs.append(
                f'<sequential url_name="{name}-{m}" display_name="ตอน {n}.{m}" graded="true" format="{fmt}">'
                f'<vertical url_name="v{n}-{m}" display_name="หน่วย">{body}</vertical></sequential>'
            )
    (olx / "course.xml").write_text(
        '<course url_name="r1" org="DLA" course="GR" display_name="คะแนน" start="2024-01-01T00:00:00Z">'
        f'<chapter url_name="c" display_name="บท">{"".join(subs)}</chapter></course>',
        encoding="utf-8",
    )
    return olx


def _tf(
    name: str, weight: str = "1", correct: str = "false", labels: tuple[str, str] = ("จริง", "เท็จ")
) -> str:
    """A CAPA problem as the OLX exporter writes a true-false question."""
    return (
        f'<problem url_name="{name}" display_name="ข้อ {name}" weight="{weight}"><multiplechoiceresponse>'
        f'<label>งบประมาณเริ่มเดือนตุลาคม</label><choicegroup type="MultipleChoice">'
        f'<choice correct="{"true" if correct == "true" else "false"}" name="true">{labels[0]}</choice>'
        f'<choice correct="{"true" if correct == "false" else "false"}" name="false">{labels[1]}</choice>'
        "</choicegroup></multiplechoiceresponse></problem>"
    )


def test_true_false_comes_back_as_true_false_with_its_labels(tmp_path: Path) -> None:
    olx = _graded_course(
        tmp_path,
        [{"type": "Quiz", "min_count": 2, "drop_count": 0, "weight": 1.0}],
        {"Quiz": [_tf("p1", correct="true"), _tf("p2", labels=("ใช่", "เท็จ"))]},
    )
    report = import_olx(olx, tmp_path / "src")
    assert report.errors == [] and report.raw == []
    blocks = _by_id(tmp_path / "src")
    assert blocks["p1"]["questions"] == [
        {"type": "true-false", "prompt": "งบประมาณเริ่มเดือนตุลาคม", "answer": True}
    ]
    assert blocks["p2"]["questions"][0]["labels"] == {"true": "ใช่"}  # only the label that differs
    assert blocks["p2"]["questions"][0]["answer"] is False
    # Choices named otherwise, or shuffled, stay single-choice: true-false has neither.
    shuffled = _tf("p3").replace('type="MultipleChoice"', 'type="MultipleChoice" shuffle="true"')
    olx2 = _graded_course(
        tmp_path / "b",
        [{"type": "Quiz", "min_count": 1, "drop_count": 0, "weight": 1.0}],
        {"Quiz": [shuffled]},
    )
    import_olx(olx2, tmp_path / "src-b")
    assert _by_id(tmp_path / "src-b")["p3"]["questions"][0]["type"] == "single-choice"


def test_quiz_weights_grade_as_open_edx_grades_the_grading_policy(tmp_path: Path) -> None:
    """Exam (60 %) has one subsection; Homework (40 %) two, one of them with two problems worth 1 and 3
    points. Open edX: exam 0.6; homework subsection 1 is 0.2; in subsection 2, 0.2 split 1:3."""
    olx = _graded_course(
        tmp_path,
        [
            {"type": "Homework", "min_count": 2, "drop_count": 0, "weight": 0.4},
            {"type": "Exam", "min_count": 1, "drop_count": 0, "weight": 0.6},
        ],
        {
            "Homework": [_tf("h1"), _tf("h2a", weight="1") + _tf("h2b", weight="3")],
            "Exam": [_tf("x1", weight="5")],
        },
    )
    report = import_olx(olx, tmp_path / "src")
    assert report.errors == []
    blocks = _by_id(tmp_path / "src")
    # 0.2 : 0.05 : 0.15 : 0.6 = 4 : 1 : 3 : 12, the smallest whole numbers in that proportion.
    assert [blocks[q].get("weight") for q in ("h1", "h2a", "h2b", "x1")] == [4, 1, 3, 12]
    grading = course_grading(load_course(tmp_path / "src"))
    assert [round(q.weight, 9) for q in grading.quizzes] == [0.2, 0.05, 0.15, 0.6]
    assert grading.post_test is None  # no "Post-test" subsection: the weighted grade decides, as in Open edX


def test_drop_count_and_unknown_types_are_reported(tmp_path: Path) -> None:
    olx = _graded_course(
        tmp_path,
        [{"type": "Homework", "min_count": 2, "drop_count": 1, "weight": 1.0}],
        {"Homework": [_tf("h1"), _tf("h2")], "Lab": [_tf("l1")]},
    )
    report = import_olx(olx, tmp_path / "src")
    messages = [str(w) for w in report.warnings if "[import-grading]" in str(w)]
    assert any("drops its 1 lowest" in m for m in messages)
    assert any("'Lab' has no grader" in m for m in messages)
    blocks = _by_id(tmp_path / "src")
    assert (blocks["h1"].get("weight"), blocks["h2"].get("weight"), blocks["l1"]["weight"]) == (1, 1, 0)


def test_post_test_from_its_assignment_type_and_worthless_problems_as_practice(tmp_path: Path) -> None:
    olx = _graded_course(
        tmp_path,
        [
            {"type": "Graded", "min_count": 1, "drop_count": 0, "weight": 0.25},
            {"type": "Post-test", "min_count": 1, "drop_count": 0, "weight": 0.75},
        ],
        {"Graded": [_tf("g1") + _tf("warmup", weight="0")], "Post-test": [_tf("final")]},
    )
    assert import_olx(olx, tmp_path / "src").errors == []
    blocks = _by_id(tmp_path / "src")
    assert blocks["final"]["role"] == "post-test"
    assert blocks["warmup"]["role"] == "practice"  # weight 0 in a graded subsection never counts
    assert (blocks["g1"]["weight"], blocks["final"]["weight"]) == (1, 3)
    assert course_grading(load_course(tmp_path / "src")).post_test is not None
