"""What the learner reads, through the ASGI app: the end-of-course standing follows the real state, one number
rule on every page, "review" (not "continue") once finished, the catalogue without empty categories, the
registration's success message and privacy notice, and a real favicon. Geometry is checked in Chromium by
test_runtime_view_browser.py."""

from __future__ import annotations

import io
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from runtime_support import PASSWORD, POST_RIGHT, POST_WRONG, SAMPLE, Api, test_secrets

from localmooc_packager.runtime.app import create_app
from localmooc_packager.runtime.blocks import load_course_dir
from localmooc_packager.runtime.i18n import T, num, pct
from localmooc_packager.runtime.settings import Settings

TH = T["th"]
COURSE = "local-budget-basics"


def without_video(tmp: Path) -> Path:
    """local-budget-basics without its video, so a test can finish it without waiting for a video to play."""
    folder = tmp / COURSE
    shutil.copytree(SAMPLE, folder)
    course = yaml.safe_load((folder / "course.yaml").read_text("utf-8"))
    intro = course["units"][0]
    intro["blocks"] = [b for b in intro["blocks"] if b.get("type") != "video"]
    (folder / "course.yaml").write_text(yaml.safe_dump(course, allow_unicode=True, sort_keys=False), "utf-8")
    return folder


class Clock:
    """The runtime's clock hook (runtime/clock.py), moved by the test: the course asks for 90 minutes."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(tmp_path: Path, clock: Clock) -> Api:
    course = load_course_dir(without_video(tmp_path))
    url = f"sqlite:///{tmp_path / 'view.db'}"
    settings = Settings(courses=tmp_path, db_url=url, clock=clock)
    app = create_app({course.id: course}, url, secrets=test_secrets(), settings=settings)
    return Api(app)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_one_number_rule() -> None:
    assert [num(x) for x in (1.0, 2, 1.5, 2 / 3, 0.0, 10.0, 0.125)] == [
        "1",
        "2",
        "1.5",
        "0.67",
        "0",
        "10",
        "0.13",
    ]
    assert [pct(x) for x in (1.0, 0.0, 0.7, 0.125, 2 / 3)] == ["100", "0", "70", "13", "67"]
    assert num(None) == pct(None) == ""


def test_standing_follows_the_real_state_and_finished_says_review(api: Api, clock: Clock) -> None:
    api.learner("standing.learner")
    assert api.post(f"/api/courses/{COURSE}/enrol").status_code == 200
    for unit in ("intro", "revenue", "process"):
        assert api.get(f"/courses/{COURSE}/units/{unit}").status_code == 200
    assert api.submit("pre", {"q1": True}).status_code == 200
    assert api.submit("revenue-check", {"q1": "a"}).status_code == 200
    assert api.submit("process-quiz", {"q1": "b"}).status_code == 200

    # Before the post-test: the last unit names what is left (the post-test), not "all done".
    last = api.get(f"/courses/{COURSE}/units/final").text
    assert 'data-lm-standing="unfinished"' in last and 'data-lm-left="quiz"' in last
    assert TH["left_quiz"].format(title="แบบทดสอบหลังเรียน") in _text(last)
    assert "เรียนครบทุกบทแล้ว" not in last and TH["course_finished"] not in last

    # A failed post-test: the score and the pass mark, and no claim of being done anywhere.
    r = api.submit("post", POST_WRONG)
    assert r.status_code == 200 and r.json()["passed"] is False
    last = api.get(f"/courses/{COURSE}/units/final").text
    assert 'data-lm-standing="unfinished"' in last and 'data-lm-left="mark"' in last
    assert "เรียนครบทุกบทแล้ว" not in last and TH["course_finished"] not in last
    assert TH["see_progress"] in last and TH["see_results"] not in last
    progress = api.get(f"/courses/{COURSE}/progress").text
    assert 'data-lm-standing="unfinished"' in progress and TH["continue"] in progress

    # The post-test passed, but the course's time rule (min_minutes: 90) is not met: still unfinished, and
    # the last unit says so; then 92 minutes of study (a view every 4 minutes, under the idle cap).
    r = api.submit("post", POST_RIGHT)
    assert r.status_code == 200 and r.json()["passed"] is True
    last = api.get(f"/courses/{COURSE}/units/final").text
    assert 'data-lm-standing="unfinished"' in last and 'data-lm-left="min-minutes"' in last
    for i in range(23):
        clock.at += timedelta(minutes=4)
        assert api.get(f"/courses/{COURSE}/units/{('intro', 'revenue', 'process')[i % 3]}").status_code == 200

    # Every rule met: finished everywhere, and the course offers review, not "continue".
    last = api.get(f"/courses/{COURSE}/units/final").text
    assert 'data-lm-standing="finished"' in last and TH["course_finished"] in last
    assert TH["passed_with"].format(score="100", mark="70") in _text(last)
    for page in (f"/courses/{COURSE}/progress", f"/courses/{COURSE}"):
        html = api.get(page).text
        assert TH["continue"] not in html, page
        assert TH["review"] in html, page


def test_scores_on_the_progress_page_are_written_as_the_quiz_writes_them(api: Api) -> None:
    api.learner("numbers.learner")
    api.post(f"/api/courses/{COURSE}/enrol")
    state = api.submit("process-quiz", {"q1": "b"}).json()
    progress = api.get(f"/courses/{COURSE}/progress").text
    row = re.search(r'data-lm-quiz-row="process-quiz".*?</tr>', progress, re.S)
    assert row is not None
    # quiz.js writes num(best_earned)/num(possible): the same rule, so the same text.
    assert f"{num(state['best_earned'])}/{num(state['possible'])} ({pct(state['score'])}%)" in row.group(0)
    assert not re.search(r"\d\.0\b", _text(progress)), "a whole number written with .0"
    assert not re.search(r"\d\.0\b", _text(api.get("/").text) + _text(api.get(f"/courses/{COURSE}").text))


def test_catalogue_lists_only_categories_with_courses(api: Api) -> None:
    html = api.get("/").text
    assert "(0)" not in html
    assert re.findall(r'data-lm-category="([^"]+)"', html) == ["local-finance"]
    assert html.count("data-lm-course=") == 1
    # A course image has its documented size (16:9, 640 x 360) on the card.
    assert re.search(r'<img class="card-img" src="[^"]+" alt="" width="640" height="360"', html)
    picked = api.get("/?category=local-finance").text
    assert 'aria-current="true">การเงินการคลังท้องถิ่น' in picked and picked.count("data-lm-course=") == 1
    empty = api.get("/?category=local-law").text
    assert 'data-lm="no-courses"' in empty and "data-lm-course=" not in empty


def test_registration_says_it_worked_and_links_the_privacy_notice(api: Api) -> None:
    page = api.get("/register").text
    assert 'href="/privacy"' in page
    form = {
        "csrf_token": api.client.cookies.get("lm_csrf"),
        "username": "welcome.user",
        "password": PASSWORD,
        "name": "นางสาวต้อนรับ ทดสอบ",
        "national_id": "",
        "org_type": "public",
        "organisation": "",
        "province": "ลำปาง",
        "consent": "yes",
    }
    r = api.client.post("/register", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/"
    landing = api.get("/").text
    assert 'data-lm="registered"' in landing and TH["registered"] in landing
    # Once: the next visit to the catalogue is the plain catalogue.
    assert 'data-lm="registered"' not in api.get("/").text

    privacy = api.get("/privacy")
    assert privacy.status_code == 200 and TH["privacy_notice"] in privacy.text
    for words in ("มาตรา 24 (4)", "มาตรา 19", "มาตรา 33", 'href="/me"', "2024-1"):
        assert words in privacy.text, words
    assert "Privacy notice" in api.get("/privacy?lang=en").text


def test_favicon_is_a_small_real_icon(api: Api) -> None:
    r = api.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    assert len(r.content) < 10_000
    icon = Image.open(io.BytesIO(r.content))
    assert icon.format == "ICO" and (32, 32) in icon.info["sizes"]
    assert '<link rel="icon" href="/favicon.ico"' in api.get("/").text


def test_org_type_choices_are_short_and_explained(api: Any) -> None:
    page = api.get("/register").text
    options = re.findall(
        r'<option value="(dla-central|dla-provincial|local-admin-org|public)"[^>]*>([^<]+)<', page
    )
    assert len(options) == 4 and max(len(label) for _k, label in options) <= 40
    assert 'aria-describedby="org_type-help"' in page and "อบจ. เทศบาล อบต." in page


def test_the_post_test_title_is_shown_once(api: Api) -> None:
    """The unit "แบบทดสอบหลังเรียน" holds only the quiz of that name: one heading, the quiz's (at the unit's
    level, and still naming the quiz's section); a unit with several blocks keeps its own heading."""
    api.learner("title.learner")
    api.post(f"/api/courses/{COURSE}/enrol")
    html = api.get(f"/courses/{COURSE}/units/final").text
    body = html[html.index('class="unit-body"') :]
    body = body[: body.index("data-lm-end")]
    headings = re.findall(r"<h(\d)([^>]*)>([^<]*)</h\d>", body)
    assert [(level, text) for level, _attrs, text in headings] == [("2", "แบบทดสอบหลังเรียน")]
    assert 'id="post-title"' in headings[0][1]
    assert 'aria-labelledby="post-title"' in body
    intro = api.get(f"/courses/{COURSE}/units/intro").text
    assert '<h2 class="lm-title">ความรู้เบื้องต้นเกี่ยวกับงบประมาณ</h2>' in intro
    assert '<h3 id="pre-title" class="lm-title">แบบทดสอบก่อนเรียน</h3>' in intro
