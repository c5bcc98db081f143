"""SCORM packages in a real runtime (scorm-again) in a real browser (Debian's headless Chromium).

Each test drives the player through its automation hooks, lets the SCO unload, and reads the CMI data the
LMS kept (``renderCMIToJSONObject``). Every non-loopback request is aborted and fails the test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_support import (  # noqa: F401 (fixtures)
    Lms,
    LocalServer,
    extract,
    lms,
    scorm_browser,
    scorm_server,
    write_long_course,
)

from localmooc_packager.exporters.scorm import Scorm12Exporter, Scorm2004Exporter
from localmooc_packager.source import load_course
from localmooc_xblocks.grading import is_correct

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parent.parent / "sample_courses" / "local-budget-basics"
VERSIONS = ["1.2", "2004"]
SESSION_TIME = {"1.2": r"\d{2,4}:\d{2}:\d{2}(\.\d{1,2})?", "2004": r"PT\d+H\d+M\d+(\.\d{1,2})?S"}


@dataclass(frozen=True)
class Typed:
    """A typed answer (numeric or short text), as opposed to choices to tick."""

    text: str


@pytest.fixture(scope="module")
def sample_urls(
    scorm_server: LocalServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    tree = load_course(SAMPLE)
    out = tmp_path_factory.mktemp("scorm")
    urls = {}
    for version, exporter in (("1.2", Scorm12Exporter()), ("2004", Scorm2004Exporter())):
        folder = extract(exporter.export(tree, out), out / f"x{version}")
        urls[version] = scorm_server.mount(f"sample-{version}", folder)
    return urls


def seed(version: str) -> dict[str, Any]:
    """What an LMS passes at launch: the learner and the mastery score from the manifest."""
    if version == "1.2":
        return {
            "cmi": {
                "core": {"student_id": "learner-1", "student_name": "Somchai"},
                "student_data": {"mastery_score": "70"},
            }
        }
    return {"cmi": {"learner_id": "learner-1", "learner_name": "Somchai", "scaled_passing_score": "0.7"}}


def relaunch_cmi(version: str, cmi: dict[str, Any]) -> dict[str, Any]:
    """What an LMS hands the next session of a suspended attempt."""
    data = seed(version)
    c = cmi["cmi"]
    if version == "1.2":
        data["cmi"]["core"].update(
            lesson_location=c["core"]["lesson_location"],
            entry="resume",
            lesson_status=c["core"]["lesson_status"],
        )
    else:
        data["cmi"].update(location=c["location"], entry="resume", completion_status=c["completion_status"])
    data["cmi"]["suspend_data"] = c["suspend_data"]
    return data


def answer(frame: Any, quiz: str, answers: dict[str, Any]) -> str:
    """Answer through the hooks and submit; returns the result line the learner sees."""
    root = f'[data-lm-quiz="{quiz}"]'
    for qid, value in answers.items():
        q = f'{root} [data-lm-question="{qid}"]'
        if isinstance(value, Typed):
            frame.fill(f"{q} [data-lm-input]", value.text)
        else:
            for choice in value if isinstance(value, list) else [value]:
                frame.check(f'{q} [data-lm-choice="{choice}"]')
    frame.click(f'{root} [data-lm="submit"]')
    return frame.inner_text(f"{root} [data-lm-result]")


def current_unit(frame: Any) -> str:
    return frame.evaluate("document.documentElement.dataset.lmCurrentUnit")


def interactions(cmi: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = cmi["cmi"]["interactions"]
    return {v["id"]: v for _k, v in sorted(found.items(), key=lambda kv: int(kv[0]))}


POST_80 = {"q1": "b", "q2": Typed("๒"), "q3": ["a", "b"], "q4": "true", "q5": Typed("สภาจังหวัด")}
POST_40 = {"q1": "a", "q2": Typed("3"), "q3": ["a"], "q4": "true", "q5": Typed(" สภาเทศบาล ")}


def take_course(frame: Any, post: dict[str, Any]) -> str:
    """A learner who does every unit in order: pre-test, practice, a wrong graded quiz, then the post-test."""
    assert current_unit(frame) == "intro"
    answer(frame, "pre", {"q1": "false", "q2": "a"})
    frame.click('[data-lm="next"]')
    assert current_unit(frame) == "revenue"
    answer(frame, "revenue-check", {"q1": "a"})
    frame.click('[data-lm="next"]')
    answer(frame, "process-quiz", {"q1": "a"})  # wrong: the course grade drops, the post-test still decides
    frame.click('[data-lm="next"]')
    assert current_unit(frame) == "final"
    return answer(frame, "post", post)


@pytest.mark.parametrize("version", VERSIONS)
def test_learner_who_passes_the_post_test(version: str, lms: Lms, sample_urls: dict[str, str]) -> None:  # noqa: F811
    frame = lms.launch(version, sample_urls[version], seed(version))
    assert frame.evaluate("document.documentElement.dataset.lmLms") == (
        "scorm12" if version == "1.2" else "scorm2004"
    )
    result = take_course(frame, POST_80)
    assert "4/5 (80%)" in result
    assert frame.evaluate("LmPlayer.errors") == []
    lms.close_sco()
    cmi = lms.cmi()
    c = cmi["cmi"]
    # Reported score = the post-test's (80), not the weighted course grade (0.8 / 1.3 = 62 %): the post-test
    # decides, and an LMS that compares the score with the mastery score must reach the same verdict.
    if version == "1.2":
        assert c["core"]["lesson_status"] == "passed"
        assert (c["core"]["score"]["raw"], c["core"]["score"]["min"], c["core"]["score"]["max"]) == (
            "80",
            "0",
            "100",
        )
        assert c["core"]["exit"] == ""
        assert c["core"]["lesson_location"] == "final"
        assert re.fullmatch(SESSION_TIME[version], c["core"]["session_time"])
    else:
        assert (c["completion_status"], c["success_status"]) == ("completed", "passed")
        assert (c["score"]["scaled"], c["score"]["raw"], c["score"]["min"], c["score"]["max"]) == (
            "0.8",
            "80",
            "0",
            "100",
        )
        assert c["exit"] == "normal"
        assert c["location"] == "final"
        assert c["progress_measure"] == "1"
        assert re.fullmatch(SESSION_TIME[version], c["session_time"])
    events = lms.events()
    assert events[0] == ("LMSInitialize" if version == "1.2" else "Initialize")
    assert events[-1] == ("LMSFinish" if version == "1.2" else "Terminate")
    assert events.count(events[-1]) == 1

    found = interactions(cmi)
    assert list(found) == [
        "pre.q1",
        "pre.q2",
        "revenue-check.q1",
        "process-quiz.q1",
        "post.q1",
        "post.q2",
        "post.q3",
        "post.q4",
        "post.q5",
    ]
    wrong = "wrong" if version == "1.2" else "incorrect"
    assert [found[f"post.q{i}"]["result"] for i in range(1, 6)] == ["correct"] * 4 + [wrong]
    types = [found[f"post.q{i}"]["type"] for i in range(1, 6)]
    assert types == ["choice", "numeric", "choice", "true-false", "fill-in"]
    response = "student_response" if version == "1.2" else "learner_response"
    got = [found[f"post.q{i}"][response] for i in range(1, 6)]
    pattern = [found[f"post.q{i}"]["correct_responses"]["0"]["pattern"] for i in range(1, 6)]
    if version == "1.2":
        assert got == ["b", "2", "a,b", "t", "สภาจังหวัด"]
        assert pattern == ["b", "2", "a,b", "t", "สภาเทศบาล"]
        assert all(re.fullmatch(r"\d\d:\d\d:\d\d", found[i]["time"]) for i in found)
    else:
        assert got == ["b", "2", "a[,]b", "true", "{lang=th}สภาจังหวัด"]
        assert pattern == ["b", "2[:]2", "a[,]b", "true", "{case_matters=false}{lang=th}สภาเทศบาล"]
        assert all(
            re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", found[i]["timestamp"]) for i in found
        )
    lms.assert_no_network()


@pytest.mark.parametrize("version", VERSIONS)
def test_learner_who_fails_the_post_test(version: str, lms: Lms, sample_urls: dict[str, str]) -> None:  # noqa: F811
    frame = lms.launch(version, sample_urls[version], seed(version))
    result = take_course(frame, POST_40)
    assert "2/5 (40%)" in result
    assert "ส่งได้อีก 2 ครั้ง" in frame.inner_text('[data-lm-quiz="post"] [data-lm-meta]')
    lms.close_sco()
    c = lms.cmi()["cmi"]
    if version == "1.2":
        assert c["core"]["lesson_status"] == "failed"
        assert c["core"]["score"]["raw"] == "40"
        assert c["core"]["exit"] == "suspend"  # attempts are left: the learner may come back
    else:
        assert (c["completion_status"], c["success_status"]) == ("completed", "failed")
        assert (c["score"]["scaled"], c["score"]["raw"]) == ("0.4", "40")
        assert c["exit"] == "suspend"
    lms.assert_no_network()


@pytest.mark.parametrize("version", VERSIONS)
def test_learner_who_leaves_half_way_resumes_where_they_were(
    version: str,
    lms: Lms,  # noqa: F811
    sample_urls: dict[str, str],
) -> None:
    frame = lms.launch(version, sample_urls[version], seed(version))
    answer(frame, "pre", {"q1": "true", "q2": "b"})
    frame.click('[data-lm-goto="process"]')  # the table of contents, skipping the revenue unit
    assert "0/1" in answer(frame, "process-quiz", {"q1": "a"})
    lms.close_sco()  # the LMS closes the frame: the SCO saves, commits and finishes on unload
    first = lms.cmi()
    c = first["cmi"]
    if version == "1.2":
        assert (c["core"]["lesson_status"], c["core"]["exit"], c["core"]["lesson_location"]) == (
            "incomplete",
            "suspend",
            "process",
        )
        assert c["core"]["score"]["raw"] == ""  # the post-test, which decides, was not taken
    else:
        assert (c["completion_status"], c["success_status"], c["exit"], c["location"]) == (
            "incomplete",
            "unknown",
            "suspend",
            "process",
        )
    assert len(c["suspend_data"]) < 100

    frame = lms.launch(version, sample_urls[version], relaunch_cmi(version, first))
    assert current_unit(frame) == "process"
    assert frame.is_visible('[data-lm-unit="process"]') and not frame.is_visible('[data-lm-unit="intro"]')
    # Earlier answers, attempts and feedback are back.
    assert frame.is_checked('[data-lm-quiz="pre"] [data-lm-question="q1"] [data-lm-choice="true"]')
    assert frame.is_checked('[data-lm-quiz="pre"] [data-lm-question="q2"] [data-lm-choice="b"]')
    assert frame.is_checked('[data-lm-quiz="process-quiz"] [data-lm-choice="a"]')
    assert "ส่งได้อีก 1 ครั้ง" in frame.inner_text('[data-lm-quiz="process-quiz"] [data-lm-meta]')
    assert "0/1" in frame.inner_text('[data-lm-quiz="process-quiz"] [data-lm-result]')
    visited = frame.eval_on_selector_all(
        "[data-lm-goto]", "links => links.map(a => !a.querySelector('[data-lm-visited]').hidden)"
    )
    assert visited == [True, False, True, False]
    # The second attempt is the last one allowed: the submit button goes.
    assert "1/1" in answer(frame, "process-quiz", {"q1": "b"})
    assert frame.is_disabled('[data-lm-quiz="process-quiz"] [data-lm="submit"]')
    lms.close_sco()
    state = lms.cmi()["cmi"]["suspend_data"]
    assert state.split("|")[1] == "2"  # still at unit index 2 (process)
    lms.assert_no_network()


def test_worst_case_suspend_data_fits_scorm12(
    lms: Lms,  # noqa: F811
    scorm_server: LocalServer,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """200 units, 50 quizzes x 20 questions, every question answered (long Thai text where typed)."""
    tree = load_course(write_long_course(tmp_path / "course"))
    folder = extract(Scorm12Exporter().export(tree, tmp_path / "out"), tmp_path / "x")
    url = scorm_server.mount("long", folder)
    frame = lms.launch("1.2", url, seed("1.2"))
    frame.evaluate(FILL_EVERYTHING)
    full = frame.evaluate("LmPlayer.encodeState(1e9)")  # what full fidelity would take
    saved = frame.evaluate("LmPlayer.suspendData")
    before = frame.evaluate("JSON.stringify(LmPlayer.state.quizzes)")
    lms.close_sco()
    cmi = lms.cmi()
    suspend = cmi["cmi"]["suspend_data"]
    with capsys.disabled():
        print(
            f"\nworst case suspend_data: {len(suspend)} characters (level {saved['level']}); "
            f"full fidelity would be {len(full['text'])}"
        )
    assert len(suspend) <= 4096
    assert suspend == saved["text"]
    assert cmi["cmi"]["core"]["lesson_status"] in ("passed", "failed")

    frame = lms.launch("1.2", url, relaunch_cmi("1.2", cmi))
    state = frame.evaluate("LmPlayer.state")
    assert all(state["visited"]) and len(state["visited"]) == 200
    restored = json.loads(frame.evaluate("JSON.stringify(LmPlayer.state.quizzes)"))
    kept = json.loads(before)
    assert len(restored) == 50
    # Grades survive whatever was degraded: attempts and best points of every quiz.
    assert {k: (v["attempts"], v["best"]) for k, v in restored.items()} == {
        k: (v["attempts"], v["best"]) for k, v in kept.items()
    }
    if saved["level"] <= 2:  # choice answers are kept up to level 2
        for quiz_id, v in kept.items():
            for qid, value in v["responses"].items():
                if isinstance(value, list) or value in (True, False) or value in ("a", "b", "c"):
                    assert restored[quiz_id]["responses"][qid] == value
    lms.assert_no_network()


# Answers every quiz the way a thorough learner would, unit by unit, through the hooks.
FILL_EVERYTHING = """() => {
  const next = document.querySelector('[data-lm="next"]');
  const long = "สภาองค์การบริหารส่วนจังหวัดนครราชสีมา";
  for (let u = 0; u < LmPlayer.data.units.length; u++) {
    const unit = document.querySelectorAll("[data-lm-unit]")[u];
    unit.querySelectorAll("[data-lm-quiz]").forEach((quiz, n) => {
      quiz.querySelectorAll("[data-lm-question]").forEach((fs, k) => {
        const kind = fs.dataset.lmQtype;
        const choices = fs.querySelectorAll("[data-lm-choice]");
        if (kind === "multiple-choice") [0, 2, 5, 7].forEach(i => { choices[i].checked = true; });
        else if (kind === "single-choice") choices[k % 3].checked = true;
        else if (kind === "true-false") choices[k % 2].checked = true;
        else if (kind === "numeric") fs.querySelector("[data-lm-input]").value = k % 2 ? "๑,๒๓๔.๕" : "1,240.0";
        else fs.querySelector("[data-lm-input]").value = (k + u) % 2 ? "อบต." : long;
      });
      quiz.querySelector('[data-lm="submit"]').click();
    });
    if (u < LmPlayer.data.units.length - 1) next.click();
  }
}"""


@pytest.mark.parametrize("version", VERSIONS)
def test_shuffled_quiz_gives_each_learner_an_order_of_their_own(
    version: str,
    lms: Lms,  # noqa: F811
    sample_urls: dict[str, str],
) -> None:
    """The post-test shuffles: one package, a stable order per learner, grading by choice id."""
    read = (
        "qid => Array.from(document.querySelectorAll("
        "'[data-lm-quiz=\"post\"] [data-lm-question=\"' + qid + '\"] .lm-choice [data-lm-choice]'))"
        ".map(e => e.value)"
    )

    def orders(learner: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        data = seed(version)
        if version == "1.2":
            data["cmi"]["core"]["student_id"] = learner
        else:
            data["cmi"]["learner_id"] = learner
        frame = lms.launch(version, sample_urls[version], data)
        found = tuple(frame.evaluate(read, "q1")), tuple(frame.evaluate(read, "q3"))
        lms.close_sco()
        return found

    seen = {learner: orders(learner) for learner in (f"3101700{n:06d}" for n in range(6))}
    for q1, q3 in seen.values():
        assert sorted(q1) == ["a", "b", "c"] and sorted(q3) == ["a", "b", "c", "d"]  # every choice, once
    assert len(set(seen.values())) > 1  # not one order for everybody
    first = next(iter(seen))
    assert orders(first) == seen[first]  # a relaunch shows the learner the same order
    # Whatever the order, the answer is graded by choice id.
    frame = lms.launch(version, sample_urls[version], seed(version))
    frame.evaluate("LmPlayer.goTo(LmPlayer.data.units.length - 1)")
    result = answer(
        frame, "post", {"q1": "b", "q2": Typed("2"), "q3": ["a", "b"], "q4": "true", "q5": Typed("สภาเทศบาล")}
    )
    assert "5/5 (100%)" in result
    assert frame.evaluate("LmPlayer.errors") == []
    lms.assert_no_network()


def test_standalone_without_lms_shows_a_notice_and_still_works(
    lms: Lms,  # noqa: F811
    sample_urls: dict[str, str],
) -> None:
    page = lms.page
    page.goto(sample_urls["1.2"] + "index.html")
    page.wait_for_function("() => window.LmPlayer !== undefined")
    assert page.is_visible("[data-lm-standalone]")
    assert page.evaluate("document.documentElement.dataset.lmLms") == "none"
    page.click('[data-lm="next"]')
    assert current_unit(page) == "revenue"
    assert "1/1" in answer(page, "revenue-check", {"q1": "a"})
    lms.assert_no_network()


def test_keyboard_only_learner_with_visible_focus(lms: Lms, sample_urls: dict[str, str]) -> None:  # noqa: F811
    frame = lms.launch("2004", sample_urls["2004"], seed("2004"))
    frame.focus('[data-lm="next"]')
    lms.page.keyboard.press("Enter")
    assert current_unit(frame) == "revenue"
    focused = frame.evaluate("document.activeElement.textContent")
    assert focused == "รายได้ขององค์กรปกครองส่วนท้องถิ่น"  # focus moved to the new unit's heading
    frame.focus('[data-lm-quiz="revenue-check"] [data-lm-choice="a"]')
    lms.page.keyboard.press("Space")
    lms.page.keyboard.press("Tab")  # a radio group is one tab stop: next comes the submit button
    assert frame.evaluate("document.activeElement.dataset.lm") == "submit"
    outline = frame.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    lms.page.keyboard.press("Enter")
    assert "1/1" in frame.inner_text('[data-lm-quiz="revenue-check"] [data-lm-result]')
    lms.assert_no_network()


# (question, response) pairs where the player's grading must agree with xblocks/grading.py.
GRADING_CASES: list[tuple[dict[str, Any], Any]] = [
    *(
        ({"type": "numeric", "answer": 1234.5}, r)
        for r in [
            "1,234.5",
            "๑,๒๓๔.๕",
            "1 234.5",
            "1234.50",
            "1_234.5",
            " 1234.5\u00a0",
            "１２３４.５",
            "1e3",
            "abc",
            "",
            "1234.5.0",
            "1,2,3,4.5",
            "+1234.5",
            ".5",
            "inf",
            "nan",
            1234.5,
            True,
        ]
    ),
    *(({"type": "numeric", "answer": 100, "tolerance": "5%"}, r) for r in ["105", "105.01", "95", "94.9"]),
    *(({"type": "numeric", "answer": 0.3, "tolerance": 0.05}, r) for r in ["0.35", "0.36", 0.1 + 0.2]),
    *(
        ({"type": "short-text", "answer": ["สภาเทศบาล"]}, r)
        for r in ["สภาเทศบาล", "  สภาเทศบาล\n", "สภา เทศบาล", "สภาเทศบาล.", 5]
    ),
    *(({"type": "short-text", "answer": ["กำนัน"]}, r) for r in ["ก\u0e4d\u0e32นัน", "กำนัน", "กานัน"]),
    *(
        ({"type": "short-text", "answer": ["Budget  Plan"]}, r)
        for r in ["budget plan", "BUDGET\tPLAN", "budgetplan"]
    ),
    *(
        ({"type": "short-text", "answer": ["Budget"], "case_sensitive": True}, r)
        for r in ["Budget", "budget"]
    ),
    *(({"type": "short-text", "answer": ["straße"]}, r) for r in ["STRASSE", "strasse", "Straße"]),
    *(({"type": "single-choice", "answer": ["b"]}, r) for r in ["b", "a", ["b"], None]),
    *(
        ({"type": "multiple-choice", "answer": ["a", "b"]}, r)
        for r in [["a", "b"], ["b", "a"], ["a"], ["a", "b", "b"], "a"]
    ),
    *(({"type": "true-false", "answer": True}, r) for r in [True, "true", "false", False, 1]),
]


def test_player_grading_mirrors_python(lms: Lms, sample_urls: dict[str, str]) -> None:  # noqa: F811
    frame = lms.launch("1.2", sample_urls["1.2"], seed("1.2"))
    cases = [(dict(q, id="q"), r) for q, r in GRADING_CASES]
    got = frame.evaluate("cases => cases.map(([q, r]) => LmPlayer.isCorrect(q, r))", cases)
    expected = [is_correct(q, r) for q, r in cases]
    assert [c for c, g, e in zip(cases, got, expected, strict=True) if g != e] == []
    assert any(expected) and not all(expected)


def test_missing_browser_tools_fail_and_name_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import browser_support

    monkeypatch.setattr(browser_support, "CHROMIUM", Path("/nonexistent/chromium"))
    with pytest.raises(pytest.fail.Exception, match=r"/nonexistent/chromium not found.*Run ./run.sh test"):
        browser_support.require_tools()
