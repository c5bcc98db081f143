"""Question grading rules (shared with the SCORM player's JS) and the course grading rules."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from localmooc_packager.build import build_course
from localmooc_packager.grading import course_grading
from localmooc_packager.source import load_course
from localmooc_xblocks.grading import grade, is_correct, normalize_text, parse_number

from conftest import FIXTURES, ROOT

SHORT_TEXT = json.loads((FIXTURES / "grading" / "short-text.json").read_text(encoding="utf-8"))["cases"]
PLAYER = ROOT / "localmooc_packager" / "exporters" / "player" / "player.js"

SINGLE = {"id": "q", "type": "single-choice", "answer": ["b"], "choices": [{"id": "a"}, {"id": "b"}]}
MULTI = {"id": "q", "type": "multiple-choice", "answer": ["a", "c"]}
TF = {"id": "q", "type": "true-false", "answer": False}
NUM = {"id": "q", "type": "numeric", "answer": 2500.0, "tolerance": 0}
NUM_PCT = {"id": "q", "type": "numeric", "answer": 200.0, "tolerance": "5%"}
NUM_ABS = {"id": "q", "type": "numeric", "answer": 0.3, "tolerance": 0.05}
TEXT = {"id": "q", "type": "short-text", "answer": ["สภาเทศบาล", "Municipal Council"]}
TEXT_CASE = {"id": "q", "type": "short-text", "answer": ["DLA"], "case_sensitive": True}


@pytest.mark.parametrize(
    ("question", "response", "expected"),
    [
        (SINGLE, "b", True),
        (SINGLE, "a", False),
        (SINGLE, ["b"], False),  # a list is not a single choice
        (MULTI, ["c", "a"], True),
        (MULTI, ["a"], False),
        (MULTI, ["a", "b", "c"], False),
        (MULTI, "a", False),
        (TF, False, True),
        (TF, "false", True),
        (TF, True, False),
        (TF, "no", False),
        (NUM, "2,500", True),  # thousands comma
        (NUM, "๒๕๐๐", True),  # Thai digits
        (NUM, 2500, True),
        (NUM, "2501", False),
        (NUM, "สองพันห้าร้อย", False),
        (NUM, "nan", False),
        (NUM, True, False),
        (NUM_PCT, "209.9", True),
        (NUM_PCT, "211", False),
        (NUM_ABS, "0.35", True),  # float noise must not fail the edge
        (NUM_ABS, "0.36", False),
        (TEXT, " สภา  เทศบาล ", True),  # a space next to Thai is not counted
        (TEXT, "  สภาเทศบาล  ", True),
        (TEXT, "municipal   council", True),
        (TEXT, "สภาเทศบาล".replace("\u0e33", "\u0e4d\u0e32"), True),
        (TEXT_CASE, "dla", False),
        (TEXT_CASE, "DLA", True),
        (TEXT, None, False),
    ],
)
def test_is_correct(question: dict, response: object, expected: bool) -> None:
    assert is_correct(question, response) is expected


def test_sara_am_normalised_but_never_nfkc() -> None:
    typed = "ทํางาน"  # nikhahit + sara aa, as some keyboards produce
    assert normalize_text(typed) == "ทำงาน"
    assert "\u0e33" in normalize_text("ทำงาน")  # NFKC would split it into U+0E4D U+0E32


def test_parse_number_edges() -> None:
    assert parse_number("1e309") is None
    assert parse_number(" -๑.๕ ") == -1.5
    assert parse_number([1]) is None


def test_grade_counts_points() -> None:
    questions = [dict(SINGLE, id="a", points=2), dict(TF, id="b"), dict(NUM, id="c")]
    earned, possible, results = grade(questions, {"a": "b", "b": True})
    assert (earned, possible) == (2.0, 4.0)
    assert results == {"a": True, "b": False, "c": False}


def test_course_grading_of_the_sample(sample_course: Path) -> None:
    rules = course_grading(load_course(sample_course))
    assert rules.pass_threshold == 0.7
    assert [(q.id, q.role, q.subsection) for q in rules.quizzes] == [
        ("process-quiz", "graded", "process_seq"),
        ("post", "post-test", "final_seq"),
    ]
    assert [round(q.weight, 4) for q in rules.quizzes] == [round(0.3 / 1.3, 4), round(1 / 1.3, 4)]
    assert rules.post_test is not None and rules.post_test.id == "post"
    # The post-test decides: a perfect chapter quiz does not pass a failed post-test, and vice versa.
    assert rules.result({"process-quiz": 1.0, "post": 0.6}) == (pytest.approx((0.3 + 0.6) / 1.3), False)
    assert rules.result({"process-quiz": 0.0, "post": 0.7})[1] is True
    assert rules.result({})[1] is False


def _short_question(answers: list[str], options: dict[str, Any]) -> dict[str, Any]:
    return {"id": "q", "type": "short-text", "answer": answers, **options}


@pytest.mark.parametrize(("answers", "options", "response", "correct", "why"), SHORT_TEXT)
def test_short_answer_matching_table(
    answers: list[str], options: dict[str, Any], response: str, correct: bool, why: str
) -> None:
    assert is_correct(_short_question(answers, options), response) is correct, why


def _player_grading_source() -> str:
    """The grading part of player.js (from its 'Grading' banner to the next one): plain functions only."""
    text = PLAYER.read_text(encoding="utf-8")
    start = text.index("  // Grading: a line-by-line mirror")
    end = text.index("  // ----", start)
    return "var EPS = 1e-9;\n" + text[start:end]


def test_player_matches_short_answers_like_python(tmp_path: Path) -> None:
    """The same table through the SCORM player's own functions, in Node (the V8 engine of Chromium)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run the SCORM player's grading; install nodejs (run.sh does)")
    cases = [[_short_question(a, o), r] for a, o, r, _c, _w in SHORT_TEXT]
    script = tmp_path / "grade.js"
    script.write_text(
        _player_grading_source()
        + "\nvar cases = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));\n"
        + "process.stdout.write(JSON.stringify(cases.map(function (c) { return isCorrect(c[0], c[1]); })));\n",
        encoding="utf-8",
    )
    data = tmp_path / "cases.json"
    data.write_text(json.dumps(cases, ensure_ascii=False), encoding="utf-8")
    out = subprocess.run([node, str(script), str(data)], capture_output=True, text=True, check=True).stdout
    got = json.loads(out)
    expected = [c for _a, _o, _r, c, _w in SHORT_TEXT]
    assert [(case[4], g) for case, g in zip(SHORT_TEXT, got, strict=True) if g != case[3]] == []
    assert got == expected


def test_exact_options_reach_the_quiz_block_and_the_scorm_player(tmp_path: Path) -> None:
    course = FIXTURES / "source" / "short-answers"
    quiz = next(b for b, _ in load_course(course).walk() if b.scope_ids.block_type == "lm-quiz")
    name, code = quiz.questions
    assert "exact" not in name and code["exact"] == ["case", "spaces", "sara-am"]  # schema order
    assert is_correct(name, "น้ำหมัก ชีวภาพ") and is_correct(code, "LM 101")
    assert not is_correct(code, "lm 101") and not is_correct(code, "LM101")
    ((package, _),) = build_course(course, tmp_path, ["scorm2004"])
    with zipfile.ZipFile(package) as zf:
        page = zf.read("index.html").decode("utf-8")
    assert '"exact": ["case", "spaces", "sara-am"]' in page or '"exact":["case","spaces","sara-am"]' in page
