"""Third-party blocks and export formats as plug-ins: the example block (examples/flashcards, installed by
run.sh) through validate, OLX, SCORM and the reference runtime; `localmooc formats` / `blocks`; a broken
exporter plug-in installed for real (a dist-info on the path); the SCORM static-rendering protocol."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from lxml import etree

from localmooc_packager.errors import BuildError
from localmooc_packager.exporters.scorm import Scorm12Exporter
from localmooc_packager.source import check_course, load_course
from localmooc_packager.validators import validate_path

from conftest import ROOT

FLASH = ROOT / "sample_courses" / "flashcards-demo"

if not any(ep.name == "flashcards" for ep in entry_points(group="xblock.v1")):
    pytest.fail(
        "the example block is not installed: pip install -e examples/flashcards (./run.sh test does it)",
        pytrace=False,
    )


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localmooc_packager", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def write_course(folder: Path, blocks: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "course.yaml").write_text(
        "id: c\norg: DLA\nrun: r1\ntitle: ก\nstart: 2025-10-01\nend: 2026-03-31\nunits:\n"
        f"  - id: u1\n    title: ข\n    blocks:\n{blocks}",
        encoding="utf-8",
    )
    return folder


# ---- formats


def test_formats_lists_the_builtin_exporters_with_their_package() -> None:
    done = run("formats")
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert names == ["olx", "scorm12", "scorm2004"]
    assert all(line.endswith("[localmooc-packager 0.1.0.dev0]") for line in done.stdout.splitlines())
    data = json.loads(run("formats", "--format", "json").stdout)
    assert {d["name"]: d["error"] for d in data} == {"olx": None, "scorm12": None, "scorm2004": None}


@pytest.fixture
def broken_plugin(tmp_path: Path) -> dict[str, str]:
    """A distribution declaring an exporter whose module is missing, and one that is not an exporter."""
    site = tmp_path / "site"
    info = site / "localmooc_pdf-1.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: localmooc-pdf\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text(
        "[localmooc.exporters]\npdf = localmooc_pdf_missing:PdfExporter\nepub = json:JSONDecoder\n"
    )
    return {"PYTHONPATH": str(site)}


def test_a_broken_exporter_is_reported_with_its_package_and_the_others_still_work(
    broken_plugin: dict[str, str], tmp_path: Path
) -> None:
    done = run("formats", env=broken_plugin)
    assert done.returncode == 0
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["olx", "scorm12", "scorm2004"]
    errors = done.stderr.splitlines()
    assert errors[0].startswith(
        "epub         BROKEN (localmooc-pdf 1.2): package localmooc-pdf 1.2, json:JSONDecoder"
    )
    assert "not an exporter (no name, description, export)" in errors[0]
    assert errors[1].startswith("pdf          BROKEN (localmooc-pdf 1.2)")
    assert "ModuleNotFoundError: No module named 'localmooc_pdf_missing'" in errors[1]
    # Building with the working formats is unaffected; asking for the broken one says why.
    built = run("build", str(FLASH), "--format", "olx", "-o", str(tmp_path / "o"), env=broken_plugin)
    assert built.returncode == 0, built.stderr
    bad = run("build", str(FLASH), "--format", "pdf", "-o", str(tmp_path / "p"), env=broken_plugin)
    assert bad.returncode == 1
    assert "the 'pdf' exporter cannot be loaded (package localmooc-pdf 1.2" in bad.stderr
    assert not (tmp_path / "p").exists()


# ---- blocks


def test_blocks_lists_the_example_with_fields_scopes_and_package() -> None:
    done = run("blocks")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    head = (
        "flashcards  [flashcards-xblock 0.1.0; flashcards_xblock.block:FlashcardsBlock; SCORM: static_view]"
    )
    assert head in text
    section = text.split(head + "\n", 1)[1].splitlines()[:7]
    assert [line.split() for line in section] == [
        ["cards", "content", "List", "(course)"],
        ["display_name", "settings", "String", "(course)"],
        ["known", "user_state", "Dict", "(learner)"],
        ["name", "settings", "String", "(course)"],  # XBlock's own
        ["parent", "parent", "Reference", "(structure)"],
        ["tags", "settings", "List", "(course)"],
        [
            "helloworld_demo",
            "[xblock-sdk",
            "0.15.2;",
            "sample_xblocks.basic.content:HelloWorldBlock;",
            "SCORM:",
            "no",
            "(OLX",
            "only)]",
        ],
    ]
    assert "lm-quiz" not in text and "lm-quiz" in run("blocks", "--all").stdout
    data = {b["type"]: b for b in json.loads(run("blocks", "--format", "json").stdout)}
    assert data["flashcards"]["static"] is True and data["thumbs"]["static"] is False
    assert data["flashcards"]["package"] == "flashcards-xblock 0.1.0"


def test_a_broken_block_is_listed_with_its_package_and_reported_by_validate(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "broken_block-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-block\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text("[xblock.v1]\nbrokenblock = broken_block_missing:Block\n")
    env = {"PYTHONPATH": str(site)}
    done = run("blocks", env=env)
    assert done.returncode == 0
    assert done.stderr.strip() == (
        "brokenblock: BROKEN (broken-block 0.3, broken_block_missing:Block): ModuleNotFoundError: "
        "No module named 'broken_block_missing'"
    )
    assert "flashcards  [flashcards-xblock 0.1.0" in done.stdout  # the others are still listed
    course = write_course(
        tmp_path / "c", "      - {type: brokenblock}\n      - {type: flashcards, cards: []}\n"
    )
    done = run("validate", str(course), env=env)
    assert done.returncode == 1
    lines = [line.removeprefix(f"{course}/") for line in done.stderr.splitlines()]
    assert lines[0] == (
        "course.yaml:11:16: units[1].blocks[1].type: XBlock 'brokenblock' (package broken-block 0.3) cannot be "
        "loaded: No module named 'broken_block_missing' [xblock-broken]"
    )
    assert lines[1].endswith("flashcards: [] should be non-empty [xblock-schema]")  # and validation went on


# ---- validation of third-party blocks


def test_the_sample_course_with_flashcards_is_valid() -> None:
    tree, report = check_course(FLASH)
    assert tree is not None and report.ok(strict=True), [str(p) for p in report]
    cards = tree.block("abbr-cards")
    assert cards.scope_ids.block_type == "flashcards" and cards.display_name == "บัตรคำ คำย่อ"
    assert cards.cards[2] == {"front": "อบต.", "back": "องค์การบริหารส่วนตำบล"}


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            "      - {type: flashcards, cards: []}\n",
            [
                "course.yaml:11:35: units[1].blocks[1].cards: flashcards: [] should be non-empty [xblock-schema]"
            ],
        ),
        (
            "      - type: flashcards\n        cards: [{front: ก}]\n",
            [
                "course.yaml:12:17: units[1].blocks[1].cards[1]: flashcards: 'back' is a required property "
                "[xblock-schema]"
            ],
        ),
        (
            "      - {type: flashcards, cards: [{front: ก, back: ข}], card: 1}\n",
            [
                "course.yaml:11:58: units[1].blocks[1].card: flashcards has no key 'card'; did you mean "
                "'cards'? [xblock-field-unknown]"
            ],
        ),
        (
            "      - {type: flashcards, cards: [{front: ก, back: ข}], known: {'0': true}}\n",
            [
                "course.yaml:11:58: units[1].blocks[1].known: field 'known' of flashcards is learner state "
                "(user_state); only content and settings fields belong in a course [xblock-field-scope]"
            ],
        ),
        (
            "      - {type: poll, question: ชอบไหม}\n",
            [
                "course.yaml:11:16: units[1].blocks[1].type: unknown block type 'poll'; the pip package "
                "xblock-poll provides it (pip install xblock-poll) [block-type-unknown]"
            ],
        ),
        (
            # No schema declared: derived from the XBlock's Field definitions.
            "      - {type: html_demo, content: <p>ก</p>, contnet: x}\n",
            [
                "course.yaml:11:46: units[1].blocks[1].contnet: html_demo has no field 'contnet'; did you mean "
                "'content'? [xblock-field-unknown]"
            ],
        ),
    ],
)
def test_third_party_block_fields_are_checked(tmp_path: Path, block: str, expected: list[str]) -> None:
    course = write_course(tmp_path / "c", block)
    _tree, report = check_course(course)
    base = str(course) + "/"
    assert [str(p).removeprefix(base) for p in report] == expected


# ---- OLX and SCORM


def test_flashcards_are_written_inline_in_olx(tmp_path: Path) -> None:
    done = run("build", str(FLASH), "--format", "olx", "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    (archive,) = tmp_path.glob("*.olx.tar.gz")
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getnames() if m.endswith("vertical/abbreviations.xml"))
        f = tar.extractfile(member)
        assert f is not None
        vertical = etree.fromstring(f.read())
    (cards,) = vertical.findall("flashcards")
    assert cards.get("url_name") == "abbr-cards"
    assert json.loads(cards.get("cards"))[0] == {"front": "อปท.", "back": "องค์กรปกครองส่วนท้องถิ่น"}
    kind, report = validate_path(archive)
    assert kind == "olx" and report.ok(strict=True), [str(p) for p in report]


def test_flashcards_reach_scorm_through_static_view(tmp_path: Path) -> None:
    done = run("build", str(FLASH), "--format", "scorm12", "--format", "scorm2004", "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    for archive in sorted(tmp_path.glob("*.zip")):
        with zipfile.ZipFile(archive) as zf:
            page = zf.read("index.html").decode()
            css = zf.read("lm.css").decode()
        assert page.count('<details class="flashcards-card">') == 4
        assert 'data-lm-block="abbr-cards" data-lm-block-type="flashcards"' in page
        assert '<summary><span class="flashcards-sr">บัตรที่ 3: </span>อบต.</summary>' in page
        assert "data-card-known" not in page  # the runtime markup (with its handler calls) is not used
        assert ".flashcards-card summary" in css
        kind, report = validate_path(archive)
        assert kind == "scorm" and report.ok(strict=True), [str(p) for p in report]


def test_a_block_without_static_view_fails_scorm_naming_block_and_unit(tmp_path: Path) -> None:
    course = write_course(tmp_path / "c", "      - {type: thumbs, id: votes}\n")
    done = run("build", str(course), "--format", "scorm12", "-o", str(tmp_path / "out"))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: {course}/course.yaml:11:9: block 'votes' (type: thumbs) in unit 'u1' cannot be exported to "
        "SCORM: its XBlock has no static_view() (the static-rendering protocol, docs/plugins.md); build "
        "--format olx, or remove the block from the course"
    )
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert run("build", str(course), "--format", "olx", "-o", str(tmp_path / "olx")).returncode == 0


class GradedStatic:
    """What a graded third-party block returns: markup with the quiz hooks and the questions."""

    def __init__(self, result: object) -> None:
        self.result = result

    def __call__(self, context: dict[str, object]) -> object:
        return self.result


GRADED = {
    "html": (
        '<div data-lm-quiz="abbr-cards"><form class="lm-quiz-form">'
        '<fieldset data-lm-question="c1"><legend>อบต.</legend>'
        '<input data-lm-input="c1" aria-label="คำเต็ม"><div class="lm-feedback" hidden></div></fieldset>'
        '<button data-lm="submit">ส่ง</button><p data-lm-result></p><p data-lm-meta></p></form></div>'
    ),
    "files": {"img/card.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>"},
    "grading": {"questions": [{"id": "c1", "type": "short-text", "answer": ["องค์การบริหารส่วนตำบล"]}]},
}


def test_a_graded_static_rendering_becomes_a_practice_quiz_of_the_player(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flashcards_xblock.block import FlashcardsBlock

    monkeypatch.setattr(FlashcardsBlock, "static_view", lambda self, context: GRADED)
    path = Scorm12Exporter().export(load_course(FLASH), tmp_path)
    with zipfile.ZipFile(path) as zf:
        page = zf.read("index.html").decode()
        assert zf.read("xblocks/flashcards/img/card.svg").startswith(b"<svg")
    data = json.loads(page.split('<script type="application/json" id="lm-data">', 1)[1].split("</script>")[0])
    quiz = next(q for q in data["quizzes"] if q["id"] == "abbr-cards")
    assert quiz["role"] == "practice" and quiz["unit"] == 0
    assert quiz["questions"][0]["answer"] == ["องค์การบริหารส่วนตำบล"]
    assert "abbr-cards" not in data["grading"]["weights"]  # practice: never part of the course grade


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ("<p>x</p>", "static_view() must return a dict with an 'html' string"),
        ({"html": "x", "js": "alert(1)"}, "static_view() returned unknown keys ['js']"),
        ({"html": "x", "files": {"../evil": "x"}}, "file name '../evil' must be a relative ASCII path"),
        ({"html": "x", "grading": {"questions": []}}, "'grading' must be None or a dict with a non-empty"),
        (
            {"html": "x", "grading": {"questions": [{"id": "a", "type": "essay"}]}},
            "needs an 'id' and a 'type'",
        ),
    ],
)
def test_an_unusable_static_rendering_is_a_build_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, result: object, message: str
) -> None:
    from flashcards_xblock.block import FlashcardsBlock

    monkeypatch.setattr(FlashcardsBlock, "static_view", lambda self, context: result)
    with pytest.raises(BuildError) as exc:
        Scorm12Exporter().export(load_course(FLASH), tmp_path)
    assert "block 'abbr-cards' (type: flashcards) in unit 'abbreviations'" in str(exc.value)
    assert message in str(exc.value)
    assert list(tmp_path.iterdir()) == []


# ---- the reference runtime


def test_flashcards_are_taken_in_the_reference_runtime(tmp_path: Path) -> None:
    from runtime_support import Api, test_secrets

    from localmooc_packager.runtime.app import create_app
    from localmooc_packager.runtime.blocks import load_course_dir

    app = create_app(
        {"flashcards-demo": load_course_dir(FLASH)}, f"sqlite:///{tmp_path / 'rt.db'}", secrets=test_secrets()
    )
    api = Api(app)
    api.learner("somsri")
    assert api.post("/api/courses/flashcards-demo/enrol").status_code == 200
    unit = api.get("/api/courses/flashcards-demo/units/abbreviations").json()
    assert unit["html"].count('type="checkbox"') == 4 and "จำได้ 0 จาก 4 บัตร" in unit["html"]
    url = "/api/courses/flashcards-demo/blocks/abbr-cards/handler/mark"
    for card in range(4):
        r = api.post(url, json={"card": card, "known": True})
        assert r.status_code == 200, r.text
    assert r.json() == {"known": [0, 1, 2, 3], "total": 4}
    assert api.post(url, json={"card": 9, "known": True}).status_code == 400
    # The learner's state is in the database: a new rendering shows every card ticked.
    unit = api.get("/api/courses/flashcards-demo/units/abbreviations").json()
    assert unit["html"].count(" checked") == 4 and "จำได้ 4 จาก 4 บัตร" in unit["html"]
