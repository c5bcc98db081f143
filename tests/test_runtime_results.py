"""The runtime records results: ``course_results`` and xAPI statements written with the event that changed them.

On SQLite and PostgreSQL (``db_url``), through the learner API, with the runtime's clock (``Settings.clock``)
moved forward instead of waiting: study time comes from activity with idle gaps capped, milestones are
recorded once, a certificate number is drawn when every rule is first met, "passed" waits for every rule,
and a transaction that fails leaves neither a result nor a statement behind.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from runtime_support import (  # noqa: F401
    COURSE_ID,
    POST_RIGHT,
    POST_WRONG,
    SAMPLE,
    VALID_NID,
    Api,
    db_url,
    pg_database,
    sample_courses,
    test_secrets,
)

from localmooc_packager.results import certno
from localmooc_packager.results.rounds import Round, round_of
from localmooc_packager.results.schema import anonymise_learner, course_results
from localmooc_packager.runtime.app import create_app
from localmooc_packager.runtime.blocks import load_course_dir
from localmooc_packager.runtime.clock import OffsetClock
from localmooc_packager.runtime.completion import IDLE_CAP
from localmooc_packager.runtime.services import results
from localmooc_packager.runtime.settings import Settings
from localmooc_packager.xapi import outbox
from localmooc_packager.xapi import statements as xs

HOME = "https://mooc.example.go.th"
UNITS = ("intro", "revenue", "process", "final")


@pytest.fixture
def db(db_url: str) -> str:  # noqa: F811 - runtime_support's fixture: SQLite and PostgreSQL
    return db_url


class FixedClock:
    """A clock that stands still until moved (``set``/``advance``): exact times for boundary tests."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


def app_for(url: str, clock: Any, courses: dict[str, Any] | None = None) -> Any:
    settings = Settings(courses=Path("."), db_url=url, clock=clock, xapi_home_page=HOME)
    return create_app(courses or sample_courses(), url, secrets=test_secrets(), settings=settings)


def rows(app: Any, table: Any) -> list[dict[str, Any]]:
    with app.state.store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(table)).mappings()]


def statements(app: Any) -> list[dict[str, Any]]:
    return [json.loads(r["statement"]) for r in sorted(rows(app, outbox.outbox), key=lambda r: r["id"])]


def verbs(app: Any) -> list[str]:
    return [s["verb"]["id"].rsplit("/", 1)[1] for s in statements(app)]


def progress(api: Api, course: str = COURSE_ID) -> dict[str, Any]:
    r = api.get(f"/api/courses/{course}/progress")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def view(api: Api, unit: str, course: str = COURSE_ID) -> None:
    r = api.get(f"/api/courses/{course}/units/{unit}")
    assert r.status_code == 200, r.text


def do_all_content(api: Api, clock: Any, post: dict[str, Any] = POST_RIGHT, course: str = COURSE_ID) -> None:
    """Every unit viewed, the video watched, every quiz submitted (the post-test with ``post``), a minute
    of the clock between steps."""
    step = timedelta(minutes=1)
    view(api, "intro", course)
    assert api.submit("pre", {}, course).status_code == 200
    clock.advance(step)
    r = api.post(f"/api/courses/{course}/blocks/intro-video/handler/watched_handler", json={})
    assert r.status_code == 200, r.text
    for unit, quiz, answer in (("revenue", "revenue-check", {"q1": "a"}), ("process", "process-quiz", {})):
        clock.advance(step)
        view(api, unit, course)
        clock.advance(step)
        assert api.submit(quiz, answer, course).status_code == 200
    clock.advance(step)
    view(api, "final", course)
    clock.advance(step)
    assert api.submit("post", post, course).status_code == 200


def study(api: Api, clock: Any, minutes: int, course: str = COURSE_ID) -> None:
    """``minutes`` of counted study: a unit view every 4 minutes (under the idle cap)."""
    for i in range(minutes // 4):
        clock.advance(timedelta(minutes=4))
        view(api, UNITS[i % len(UNITS)], course)


def enrolled(app: Any, username: str) -> tuple[Api, str]:
    api = Api(app)
    learner = api.learner(username)
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    return api, learner["id"]


def test_min_minutes_course_is_not_passed_at_zero_minutes_and_is_after_enough_capped_activity(
    db: str,
) -> None:
    clock = FixedClock(datetime.now(UTC))
    app = app_for(db, clock)
    api, learner = enrolled(app, "timerule")
    do_all_content(api, clock)
    p = progress(api)
    # Everything done and the post-test passed, but 90 minutes of study are required: not passed.
    assert p["grade_passed"] is True and p["passed"] is False and p["certificate"] is True
    assert p["study_minutes"] == 7 and p["min_minutes"] == 90  # the first view starts the count
    assert [(m["rule"], m["need"], m["have"]) for m in p["missing"]] == [("min-minutes", 90.0, 7.0)]
    assert p["missing"][0]["text"] == "ใช้เวลาเรียนให้ครบ"
    assert p["missing"][0]["detail"] == "ต้องเรียนอย่างน้อย 90 นาที (ตอนนี้ 7 นาที)"
    row = results.result(app.state.store, learner, COURSE_ID)
    assert row is not None and row.certified_at is None and row.certificate_no is None
    assert row.content_completed_at is not None and row.post_test_passed_at is not None
    assert row.post_test_score == 100.0 and row.credited_hours is None

    study(api, clock, 80)  # 7 + 80 = 87 minutes: still short
    assert progress(api)["passed"] is False
    study(api, clock, 4)  # 91 minutes
    p = progress(api)
    assert p["passed"] is True and p["missing"] == [] and p["study_minutes"] == 91
    row = results.result(app.state.store, learner, COURSE_ID)
    assert row is not None and row.certified and row.study_minutes == 91
    assert row.credited_hours == 3.0 and certno.normalise(row.certificate_no or "") == row.certificate_no
    assert row.certificate_no is not None and row.certificate_no.startswith(
        f"LM-{row.certified_at.year + 543}-"
    )  # type: ignore[union-attr]
    assert p["certificate_no"] == row.certificate_no and p["certified_be"].endswith(
        str(row.certified_at.year + 543)
    )  # type: ignore[union-attr]
    assert [r.course_id for r in results.results_for_learner(app.state.store, learner)] == [COURSE_ID]
    assert results.rules_status(sample_courses()[COURSE_ID], row) == []
    assert results.is_passed(sample_courses()[COURSE_ID], row)


def test_an_idle_gap_counts_only_up_to_the_cap_and_login_time_never_counts(db: str) -> None:
    clock = FixedClock(datetime.now(UTC))
    app = app_for(db, clock)
    api, learner = enrolled(app, "idler")
    clock.advance(timedelta(hours=3))  # enrolled, then away: nothing counts before the first activity
    view(api, "intro")
    assert results.result(app.state.store, learner, COURSE_ID).study_seconds == 0  # type: ignore[union-attr]
    clock.advance(timedelta(minutes=2))
    view(api, "revenue")
    assert results.result(app.state.store, learner, COURSE_ID).study_seconds == 120  # type: ignore[union-attr]
    clock.advance(timedelta(hours=3))  # the tab left open over lunch
    assert api.submit("revenue-check", {"q1": "b"}).status_code == 200  # a handler call is activity too
    row = results.result(app.state.store, learner, COURSE_ID)
    assert row is not None and row.study_seconds == 120 + IDLE_CAP.total_seconds()
    # Logging out and in again adds nothing: only views and handler calls count.
    api.post("/api/logout")
    clock.advance(timedelta(minutes=3))
    api.login("idler")
    assert results.result(app.state.store, learner, COURSE_ID).study_seconds == row.study_seconds  # type: ignore[union-attr]


def test_milestones_are_written_once_and_a_later_lower_score_does_not_uncertify(db: str) -> None:
    clock = FixedClock(datetime.now(UTC))
    app = app_for(db, clock)
    api, learner = enrolled(app, "once")
    do_all_content(api, clock)
    study(api, clock, 88)
    first = results.result(app.state.store, learner, COURSE_ID)
    assert first is not None and first.certified
    clock.advance(timedelta(minutes=3))
    assert api.submit("post", POST_WRONG).status_code == 200  # a second, worse attempt
    clock.advance(timedelta(minutes=3))
    view(api, "intro")
    after = results.result(app.state.store, learner, COURSE_ID)
    assert after is not None
    for name in (
        "enrolled_at",
        "content_completed_at",
        "post_test_passed_at",
        "certified_at",
        "certificate_no",
    ):
        assert getattr(after, name) == getattr(first, name), name
    assert after.post_test_score == 100.0 and after.credited_hours == 3.0  # the best stays
    assert after.study_seconds == first.study_seconds + 360
    assert progress(api)["passed"] is True


def test_a_failed_transaction_writes_no_result_and_no_statement(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FixedClock(datetime.now(UTC))
    app = app_for(db, clock)
    store = app.state.store
    api, learner = enrolled(app, "rollback")
    view(api, "intro")
    before_rows, before_outbox = rows(app, course_results), rows(app, outbox.outbox)

    class Boom(RuntimeError):
        pass

    real_write = store.write_results

    def write_then_fail(raw: Any, *args: Any) -> None:
        real_write(raw, *args)  # the result row and the statements are sent ...
        raise Boom("after the writes, before COMMIT")  # ... and the transaction fails

    monkeypatch.setattr(store, "write_results", write_then_fail)
    clock.advance(timedelta(minutes=2))
    with pytest.raises(Boom):  # the unit view's transaction
        store.record_view(learner, COURSE_ID, "revenue", ["revenue-html1"], sample_courses()[COURSE_ID])
    if store.is_sqlite:  # the handler batch writes through write_results on SQLite ...
        r = api.submit("revenue-check", {"q1": "a"})
    else:  # ... and in its one WITH statement on PostgreSQL: fail that statement's transaction instead
        real_parts = store.result_write_parts
        failing = ("INSERT INTO course_results (learner_id) VALUES (NULL)", [])  # NOT NULL: fails
        monkeypatch.setattr(store, "result_write_parts", lambda *a: [*real_parts(*a), failing])
        r = api.submit("revenue-check", {"q1": "a"})
    assert r.status_code == 500
    assert rows(app, course_results) == before_rows and rows(app, outbox.outbox) == before_outbox
    assert store.attempt_count(learner, COURSE_ID, "revenue-check") == 0  # the event itself is gone too


def test_every_event_kind_reaches_the_outbox_with_deterministic_ids_and_an_opaque_actor(db: str) -> None:
    clock = FixedClock(datetime.now(UTC))
    app = app_for(db, clock)
    api = Api(app)
    assert api.register("feed", national_id=VALID_NID).status_code == 201
    learner = api.login("feed").json()["id"]
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    do_all_content(api, clock, post=POST_WRONG)  # a failed post-test first ...
    clock.advance(timedelta(minutes=1))
    assert api.submit("post", POST_RIGHT).status_code == 200  # ... then passed
    study(api, clock, 84)
    said = statements(app)
    kinds = verbs(app)
    assert kinds[:3] == ["registered", "launched", "experienced"]
    for kind in ("answered", "completed", "failed", "passed", "earned"):
        assert kind in kinds, kind
    assert kinds.count("registered") == kinds.count("completed") == kinds.count("passed") == 1
    assert kinds.count("earned") == 1 and kinds.count("launched") == 1  # one study session (gaps < cap)
    # Per question of every quiz submission: pre (0 questions answered still lists them), ...
    course = sample_courses()[COURSE_ID]
    questions = {q.id: len(course.static_fields[(q.id, "questions")]) for q in course.quizzes}
    assert kinds.count("answered") == sum(questions.values()) + questions["post"]
    text = "\n".join(r["statement"] for r in rows(app, outbox.outbox))
    assert VALID_NID not in text and "สมหญิง" not in text
    site = xs.Site(HOME)
    for s in said:
        assert s["actor"] == {"objectType": "Agent", "account": {"homePage": HOME, "name": learner}}
        assert s["context"]["registration"] == xs.registration_id(site, learner, COURSE_ID)
    # Ids are the catalogue's deterministic ones: rebuilding an event gives the same id.
    by_kind = {s["verb"]["id"].rsplit("/", 1)[1]: s for s in said}
    earned = by_kind["earned"]
    row = results.result(app.state.store, learner, COURSE_ID)
    assert row is not None and earned["object"]["id"].endswith(f"/certificate/{row.certificate_no}")
    assert earned["id"] == xs.statement_id("earned", learner, earned["object"]["id"], "certificate")
    at = datetime.fromisoformat(earned["timestamp"].replace("Z", "+00:00"))
    activity = xs.Activity("course", COURSE_ID, {"th-TH": course.meta["title"]})
    assert earned == xs.earned(site, learner, activity, row.certificate_no or "", at, sequence="certificate")
    answered = [s for s in said if s["verb"]["id"].endswith("/answered")]
    last = answered[-1]  # the passing post-test, question q5 (attempt 2)
    assert last["object"]["id"] == f"{HOME}/courses/{COURSE_ID}/blocks/post.q5"
    assert last["result"] == {
        "success": True,
        "score": {"scaled": 1.0, "raw": 1.0, "min": 0.0, "max": 1.0},
        "response": "สภาเทศบาล",
    }
    assert last["id"] == xs.statement_id("answered", learner, last["object"]["id"], "2")
    assert last["object"]["definition"]["interactionType"] == "fill-in"
    experienced = by_kind["experienced"]
    assert experienced["id"] == xs.statement_id(
        "experienced", learner, experienced["object"]["id"], experienced["timestamp"]
    )
    assert experienced["context"]["contextActivities"]["grouping"][0]["id"] == f"{HOME}/courses/{COURSE_ID}"
    assert len({s["id"] for s in said}) == len(said)


def test_statements_are_off_when_the_setting_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'off.db'}"
    clock = OffsetClock()
    settings = Settings(courses=Path("."), db_url=url, clock=clock, xapi=False)
    app = create_app(sample_courses(), url, secrets=test_secrets(), settings=settings)
    api, learner = enrolled(app, "quiet")
    view(api, "intro")
    assert statements(app) == []
    assert results.result(app.state.store, learner, COURSE_ID) is not None  # results are kept all the same


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2021, 3, 31, 23, 59, 59), Round(2564, 1)),
        (datetime(2021, 4, 1, 0, 0, 0), Round(2564, 2)),
        (datetime(2021, 9, 30, 23, 59, 59), Round(2564, 2)),
        (datetime(2021, 10, 1, 0, 0, 0), Round(2565, 1)),
    ],
)
def test_certified_at_puts_the_result_in_the_round_of_its_bangkok_date(
    tmp_path: Path, local: datetime, expected: Round
) -> None:
    """The event that meets the last rule happens at ``local`` (Bangkok): the row's certified_at is that
    instant in UTC and falls in ``expected``."""
    url = f"sqlite:///{tmp_path / 'round.db'}"
    bangkok = local.replace(tzinfo=UTC) - timedelta(hours=7)
    clock = FixedClock(bangkok - timedelta(hours=2))
    app = app_for(url, clock)
    api, learner = enrolled(app, "rounds")
    do_all_content(api, clock)
    study(api, clock, 80)  # 87 minutes, half an hour before the boundary: one rule short
    assert results.result(app.state.store, learner, COURSE_ID).certified_at is None  # type: ignore[union-attr]
    clock.at = bangkok  # at the boundary instant: the gap adds the capped 5 minutes, 92 in all
    view(api, "intro")
    row = results.result(app.state.store, learner, COURSE_ID)
    assert row is not None and row.certified_at == bangkok and row.study_minutes == 92
    assert round_of(row.certified_at) == expected and row.certified_at in expected
    # The number carries the B.E. calendar year of the Bangkok date (not the fiscal year).
    assert row.certificate_no is not None and row.certificate_no.startswith(f"LM-{local.year + 543}-")


@pytest.fixture(scope="module")
def survey_course(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The sample course with a satisfaction survey (a practice quiz) that the certificate requires."""
    folder = tmp_path_factory.mktemp("survey") / COURSE_ID
    shutil.copytree(SAMPLE, folder)
    yaml = (folder / "course.yaml").read_text(encoding="utf-8")
    yaml = yaml.replace(
        "certificate: {requires: [all-content, post-test], min_minutes: 90}",
        "certificate: {requires: [all-content, post-test], min_minutes: 90, survey: satisfaction}",
    )
    yaml += """  - id: survey
    title: แบบประเมินความพึงพอใจ
    blocks:
      - type: quiz
        id: satisfaction
        title: แบบประเมินความพึงพอใจต่อหลักสูตร
        role: practice
        questions:
          - type: single-choice
            prompt: ท่านพึงพอใจต่อหลักสูตรนี้ในระดับใด
            choices: {a: มาก, b: ปานกลาง, c: น้อย}
            answer: a
"""
    (folder / "course.yaml").write_text(yaml, encoding="utf-8")
    return load_course_dir(folder)


def test_the_survey_rule_holds_the_certificate_until_the_survey_is_answered(
    db: str, survey_course: Any
) -> None:
    clock = FixedClock(datetime.now(UTC))
    app = app_for(db, clock, {COURSE_ID: survey_course})
    api, learner = enrolled(app, "surveyed")
    do_all_content(api, clock)
    view(api, "survey")
    study(api, clock, 88)
    p = progress(api)
    # The survey is content too (a quiz): all-content and survey are missing until it is answered.
    assert [m["rule"] for m in p["missing"]] == ["all-content", "survey"] and p["passed"] is False
    assert p["missing"][1]["text"] == "ตอบแบบประเมินความพึงพอใจ" and p["missing"][1]["detail"] == ""
    clock.advance(timedelta(minutes=1))
    assert api.submit("satisfaction", {"q1": "b"}).status_code == 200  # any answer will do
    p = progress(api)
    assert p["missing"] == [] and p["passed"] is True
    row = results.result(app.state.store, learner, COURSE_ID)
    assert row is not None and row.survey_done_at is not None and row.certified_at == row.survey_done_at


def test_the_progress_page_shows_what_is_missing_and_passed_only_when_every_rule_is_met(db: str) -> None:
    clock = FixedClock(datetime.now(UTC))
    app = app_for(db, clock)
    api, _learner = enrolled(app, "pagereader")
    view(api, "intro")
    page = api.get(f"/courses/{COURSE_ID}/progress").text
    assert 'data-lm-passed="false"' in page and "ยังไม่ผ่าน" in page
    for rule in ("all-content", "post-test", "min-minutes"):
        assert f'data-lm-missing="{rule}"' in page
    assert "สิ่งที่ยังต้องทำเพื่อผ่านหลักสูตร" in page and "ทำแล้ว 1 จาก 8 ส่วน" in page
    assert "ต้องเรียนอย่างน้อย 90 นาที (ตอนนี้ 0 นาที)" in page
    english = api.get(f"/courses/{COURSE_ID}/progress?lang=en").text
    assert "Still to do to pass the course" in english and "Study for the minimum time" in english
    do_all_content(api, clock)
    study(api, clock, 84)
    page = api.get(f"/courses/{COURSE_ID}/progress?lang=th").text
    assert 'data-lm-passed="true"' in page and "data-lm-missing" not in page
    assert "data-lm-certified=" in page and "ได้รับเกียรติบัตรเมื่อ" in page
    assert f'href="/courses/{COURSE_ID}/certificate"' in page  # the download, next to the number


def test_erasure_keeps_the_certified_row_anonymous(db: str) -> None:
    clock = FixedClock(datetime.now(UTC))
    app = app_for(db, clock)
    api, learner = enrolled(app, "erased")
    do_all_content(api, clock)
    study(api, clock, 84)
    before = results.result(app.state.store, learner, COURSE_ID)
    assert before is not None and before.certified
    with app.state.store.write() as conn:
        assert anonymise_learner(conn, learner) == 1
    after = results.result(app.state.store, learner, COURSE_ID)
    assert after is not None and after.erased and after.certificate_no == before.certificate_no
    assert after.certified_at == before.certified_at and after.credited_hours == 3.0
    assert after.study_seconds == 0 and after.last_active_at is None and after.post_test_score is None


def test_migration_0004_gives_existing_enrolments_a_result_row(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from localmooc_packager.runtime.storage import Store
    from localmooc_packager.runtime.storage.schema import MIGRATIONS, enrolments, learners

    url = f"sqlite:///{tmp_path / 'm.db'}"
    store = Store(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    at = datetime(2021, 5, 1, 3, 0, tzinfo=UTC)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.execute(learners.insert().values(id="old-learner-1", role="learner", created_at=at))
        conn.execute(
            enrolments.insert().values(
                learner_id="old-learner-1",
                course_id=COURSE_ID,
                created_at=at,
                last_seen=at,
                study_seconds=1500,
            )
        )
    store.upgrade()
    row = results.result(store, "old-learner-1", COURSE_ID)
    assert row is not None and row.enrolled_at == at and row.study_seconds == 1500
    assert row.last_active_at is None and row.certified_at is None  # the next activity evaluates all
    store.dispose()


def test_the_offset_clock_only_moves_forward() -> None:
    clock = OffsetClock()
    first = clock()
    clock.advance(timedelta(hours=2))
    assert clock() - first >= timedelta(hours=2) and clock.offset == timedelta(hours=2)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(timedelta(seconds=-1))


def test_a_survey_id_that_names_no_block_is_an_error_with_its_location(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = tmp_path / COURSE_ID
    shutil.copytree(SAMPLE, folder)
    yaml = (folder / "course.yaml").read_text(encoding="utf-8")
    (folder / "course.yaml").write_text(yaml.replace("min_minutes: 90}", "min_minutes: 90, survey: nosuch}"))
    proc = subprocess.run(
        [sys.executable, "-m", "localmooc_packager", "validate", str(folder)], capture_output=True, text=True
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    assert "course.yaml:22:" in proc.stderr + proc.stdout
    assert "certificate.survey: the certificate's survey 'nosuch' is not a block" in proc.stderr + proc.stdout
    assert "[certificate-survey-unknown]" in proc.stderr + proc.stdout


def test_a_batch_of_submissions_writes_each_learners_result_and_statements_once(db: str) -> None:
    """Calls that share one transaction (group commit; on PostgreSQL the batch's array statements) each
    move their learner's row on and each get their statements."""
    import asyncio

    import httpx

    clock = FixedClock(datetime.now(UTC))
    app = app_for(db, clock)
    cookies = []
    for i in range(6):
        api, _learner = enrolled(app, f"batch{i}")
        view(api, "revenue")
        cookies.append({c.name: c.value or "" for c in api.client.cookies.jar})
    clock.advance(timedelta(minutes=2))
    group = app.state.submissions.group
    before = (group.transactions, group.calls)

    async def together() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

            async def one(c: dict[str, str]) -> httpx.Response:
                headers = {
                    "cookie": "; ".join(f"{k}={v}" for k, v in c.items()),
                    "x-csrftoken": c["lm_csrf"],
                    "content-type": "application/json",
                }
                path = f"/api/courses/{COURSE_ID}/blocks/revenue-check/handler/submit"
                return await client.post(path, content=b'{"responses": {"q1": "a"}}', headers=headers)

            return list(await asyncio.gather(*(one(c) for c in cookies * 2)))

    replies = asyncio.run(together())
    assert [r.status_code for r in replies] == [200] * 12
    assert group.calls - before[1] == 12 and group.transactions - before[0] < 12  # batched
    found = rows(app, course_results)
    assert len(found) == 6 and all(r["study_seconds"] == 120 for r in found)  # one gap each, not two
    answered = [s for s in statements(app) if s["verb"]["id"].endswith("/answered")]
    assert len(answered) == 12 and len({s["id"] for s in answered}) == 12  # attempts 1 and 2 of each


def test_statements_filled_in_from_a_template_equal_the_catalogues_builders() -> None:
    from localmooc_packager.runtime.xapi_feed import Feed, activities_of

    course = sample_courses()[COURSE_ID]
    feed, site, acts = Feed(HOME), xs.Site(HOME), activities_of(course)
    learner, at = "Qm9vX2xlYXJuZXJfaWQ", datetime(2021, 4, 1, 2, 3, 4, 567000, tzinfo=UTC)
    [seen] = feed.experienced(learner, course, "final", at)
    assert seen.data() == xs.experienced(site, learner, acts.course, acts.units["final"], at)
    responses = {"q1": "b", "q2": "๒", "q3": ["a", "b"], "q4": False, "q5": 'สภา "เทศบาล"\\'}
    marks = {"q1": True, "q2": True, "q3": True, "q4": False, "q5": False}
    built = feed.answered(learner, course, "post", 3, responses, marks, at)
    expected = [
        xs.answered(
            site,
            learner,
            acts.course,
            acts.units["final"],
            activity,
            ["a", "b"] if q["id"] == "q3" else ("false" if q["id"] == "q4" else responses[q["id"]]),
            marks[q["id"]],
            xs.Score(1.0 if marks[q["id"]] else 0.0, 1.0),
            at,
            sequence=3,
        )
        for q, activity in acts.questions["post"]
    ]
    assert [b.data() for b in built] == expected
    assert [b.id for b in built] == [s["id"] for s in expected]
    assert feed.answered("123", course, "post", 1, {}, {}, at) == []  # not an opaque id: none, no failure
