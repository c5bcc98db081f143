"""The learner view in Debian's Chromium at 390 px (phone) and 1366 px (desktop), checked by geometry and
behaviour: nothing wider than the screen, the catalogue's cards in a grid across the width with 16:9 images,
no empty categories, long quiz questions inside their fieldsets, selects wide enough for their options, the
end-of-course standing refreshed in the page when the post-test is graded, a favicon, and the screenshot
script (tools/screenshots_learner.py) that docs/runtime.md shows."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from browser_support import chromium_context, require_tools

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import screenshots_learner as shots  # noqa: E402

from localmooc_packager.runtime.i18n import T  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TH = T["th"]
LONG_TOKEN = "https://www.dla.go.th/upload/document/type2/2564/10/" + "ระเบียบกระทรวงมหาดไทยว่าด้วยการรับเงิน" * 2
LONG_PROMPT = (
    "ตามระเบียบกระทรวงมหาดไทยว่าด้วยการรับเงิน การเบิกจ่ายเงิน การฝากเงิน การเก็บรักษาเงิน และการตรวจเงินขององค์กร"
    "ปกครองส่วนท้องถิ่น ซึ่งประกาศไว้ที่ " + LONG_TOKEN + " เมื่อเจ้าหน้าที่การเงินได้รับเงินสดจำนวน 1234567890123456789 บาท "
    "ต้องนำฝากธนาคารภายในกี่วันทำการ"
)


def long_course(folder: Path) -> Path:
    """A course with long questions, long choices and unbreakable text, and no card image (the fallback)."""
    course = {
        "id": "long-questions",
        "org": "DLA",
        "run": "2569_1",
        "title": "แบบทดสอบคำถามยาวสำหรับตรวจการแสดงผลบนโทรศัพท์",
        "short_description": "คำถามและตัวเลือกยาว " + LONG_TOKEN,
        "language": "th",
        "category": "local-law",
        "hours": 1.5,
        "pass_threshold": 0.5,
        "units": [
            {
                "id": "only",
                "title": "คำถามยาว",
                "blocks": [
                    {"type": "html", "body": "อ่านคำถามให้ครบก่อนตอบ " + LONG_TOKEN},
                    {
                        "type": "quiz",
                        "id": "post",
                        "title": "แบบทดสอบหลังเรียน",
                        "role": "post-test",
                        "questions": [
                            {
                                "type": "single-choice",
                                "prompt": LONG_PROMPT,
                                "choices": {
                                    "a": "ภายในวันนั้นหรืออย่างช้าในวันทำการถัดไป " + LONG_TOKEN,
                                    "b": "ภายในสามสิบวันนับแต่วันที่ได้รับเงิน",
                                },
                                "answer": "a",
                            },
                            {"type": "short-text", "prompt": LONG_PROMPT, "answer": ["ธนาคาร"]},
                        ],
                    },
                ],
            }
        ],
    }
    folder.mkdir(parents=True)
    (folder / "course.yaml").write_text(yaml.safe_dump(course, allow_unicode=True, sort_keys=False), "utf-8")
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The runtime over every sample course plus the long-question course."""
    require_tools()
    root = tmp_path_factory.mktemp("view")
    courses = root / "courses"
    courses.mkdir()
    for sample in sorted((ROOT / "sample_courses").iterdir()):
        if (sample / "course.yaml").is_file():
            (courses / sample.name).symlink_to(sample, target_is_directory=True)
    long_course(courses / "long-questions")
    with shots.serve(courses, f"sqlite:///{root / 'view.db'}") as base:
        yield base


@pytest.fixture(params=[390, 1366])
def page(request: pytest.FixtureRequest, server: str) -> Iterator[Any]:
    width = request.param
    with chromium_context(viewport={"width": width, "height": 800}, locale="th-TH") as context:
        p = context.pages[0] if context.pages else context.new_page()
        errors: list[str] = []
        p.on("pageerror", lambda e: errors.append(str(e)))
        p.width = width
        yield p
        assert not errors, errors


def register(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/register")
    page.fill("#name", "สมชาย ทดสอบจอ")
    page.fill("#username", username)
    page.fill("#password", shots.PASSWORD)
    page.select_option("#org_type", "public")
    page.select_option("#province", "ขอนแก่น")
    page.check("#consent")
    page.click('[data-lm="register-submit"]')
    page.wait_for_selector('[data-lm="registered"]')


def faults(page: Any) -> list[str]:
    return list(page.evaluate(shots.LAYOUT_JS))


def test_catalogue_is_a_grid_across_the_width_without_empty_categories(page: Any, server: str) -> None:
    page.goto(f"{server}/")
    assert faults(page) == []
    chips = page.locator(".cats a").all_inner_texts()
    assert chips and not any("(0)" in c for c in chips), chips
    cards = page.locator(".card").evaluate_all(
        "cs => cs.map(c => { const r = c.getBoundingClientRect(); return [r.left, r.top, r.right]; })"
    )
    first_row = [c for c in cards if abs(c[1] - cards[0][1]) < 1]
    span = max(c[2] for c in first_row) - min(c[0] for c in first_row)
    if page.width == 1366:
        assert len(first_row) >= 4, f"{len(first_row)} card(s) in the first row of {len(cards)}"
        assert span >= 0.8 * 1366, f"the cards use {span:.0f} of 1366 px"
    else:
        assert len(first_row) == 1 and span >= 0.9 * (390 - 32), span
    # Every card's picture is 16:9: the image of the course, or the fallback of a course without one.
    boxes = page.locator(".card-img").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [e.tagName, r.width, r.height]; })"
    )
    assert len(boxes) == len(cards) and {b[0] for b in boxes} == {"IMG", "DIV"}
    for tag, w, h in boxes:
        assert abs(w * 9 / 16 - h) <= 1.5, (tag, w, h)


def test_long_questions_stay_inside_their_fieldsets(page: Any, server: str) -> None:
    register(page, server, f"long{page.width}")
    page.goto(f"{server}/courses/long-questions")
    page.click('[data-lm="enrol"]')
    page.wait_for_url("**/units/only")
    for fs in page.locator("fieldset.lm-question").all():
        f = fs.bounding_box()
        assert f["x"] >= 0 and f["x"] + f["width"] <= page.width + 0.5, f
        for part in fs.locator("legend, label, input, .lm-prompt").all():
            b = part.bounding_box()
            assert b["x"] >= f["x"] - 0.5 and b["x"] + b["width"] <= f["x"] + f["width"] + 0.5, (b, f)
    assert faults(page) == []


def test_the_end_of_the_course_follows_the_post_test_in_the_page(page: Any, server: str) -> None:
    register(page, server, f"ending{page.width}")
    page.goto(f"{server}/courses/long-questions")
    page.click('[data-lm="enrol"]')
    page.wait_for_url("**/units/only")
    end = page.locator("[data-lm-end]")
    assert end.locator("[data-lm-standing]").get_attribute("data-lm-standing") == "unfinished"
    shots.answer(page, "post", {"q1": "b", "q2": "ไม่ทราบ"})
    end.locator('[data-lm-standing="unfinished"] [data-lm-left="mark"]').wait_for()
    text = end.inner_text()
    assert "เรียนครบทุกบทแล้ว" not in text and TH["course_finished"] not in text and TH["see_progress"] in text
    shots.answer(page, "post", {"q1": "a", "q2": "ธนาคาร"})
    end.locator('[data-lm-standing="finished"]').wait_for()
    assert TH["see_results"] in end.inner_text()
    # The quiz and the progress page write the score the same way.
    quiz_says = page.locator('[data-lm-quiz="post"] [data-lm-result]').inner_text()
    assert "2/2 (100%)" in quiz_says
    page.goto(f"{server}/courses/long-questions/progress")
    assert "2/2 (100%)" in page.locator('[data-lm-quiz-row="post"]').inner_text()
    assert TH["continue"] not in page.locator("main").inner_text()
    page.goto(f"{server}/courses/long-questions")
    assert page.locator('[data-lm="resume"]').inner_text() == TH["review"]
    assert faults(page) == []


def test_registration_form_fits_says_it_worked_and_links_privacy(page: Any, server: str) -> None:
    page.goto(f"{server}/register")
    assert faults(page) == [], "a select cuts an option, or something sticks out"
    link = page.locator('form [data-lm="privacy-link"]')
    assert link.get_attribute("href") == "/privacy"
    register(page, server, f"fits{page.width}")
    assert page.locator('[data-lm="registered"]').is_visible()
    page.goto(f"{server}/privacy")
    assert page.locator("h1").inner_text() == TH["privacy_notice"]
    assert faults(page) == []
    icon = page.request.get(f"{server}/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/")
    assert page.evaluate("document.querySelector('link[rel=icon]').href").endswith("/favicon.ico")


def test_screenshot_script_walks_every_learner_page_without_layout_faults(tmp_path: Path) -> None:
    """tools/screenshots_learner.py over the real sample courses: every page at both widths, no faults, and
    the PNGs docs/runtime.md shows are the ones it writes."""
    require_tools()
    taken = shots.take(tmp_path)
    problems = [f"{s.name} @ {s.width}: {f}" for s in taken for f in s.faults]
    assert problems == []
    names = {(s.name, s.width) for s in taken}
    for name in (
        "catalogue",
        "register",
        "about",
        "unit-posttest-failed",
        "progress-finished",
        "me",
        "error-404",
    ):
        assert {(name, 390), (name, 1366)} <= names, name
    from PIL import Image

    for s in taken:
        with Image.open(s.path) as img:
            assert img.width == s.width, (s.path, img.width)
    runtime_doc = (ROOT / "docs" / "runtime.md").read_text("utf-8")
    for s in taken:
        assert f"img/{s.path.name}" in runtime_doc, f"docs/runtime.md does not show {s.path.name}"
        assert (ROOT / "docs" / "img" / s.path.name).is_file(), s.path.name
