"""The xAPI statement catalogue: its shape, its privacy rules, its determinism, and a real LRS accepting it."""

from __future__ import annotations

import copy
import random
import string
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from xapi_support import AT, COURSE, LEARNER, QUESTION, SITE, UNIT, Ralph, one_of_each, ralph_validate

from localmooc_packager.xapi import statements as xs

BASE = SITE.base_url


@pytest.fixture(scope="module")
def ralph(tmp_path_factory: pytest.TempPathFactory):
    lrs = Ralph(tmp_path_factory.mktemp("ralph"))
    lrs.start()
    yield lrs
    lrs.kill()


def test_every_kind_has_its_verb_thai_and_english_display() -> None:
    built = one_of_each()
    expected = {
        "registered": "http://adlnet.gov/expapi/verbs/registered",
        "launched": "http://adlnet.gov/expapi/verbs/launched",
        "experienced": "http://adlnet.gov/expapi/verbs/experienced",
        "answered": "http://adlnet.gov/expapi/verbs/answered",
        "completed-unit": "http://adlnet.gov/expapi/verbs/completed",
        "completed": "http://adlnet.gov/expapi/verbs/completed",
        "passed": "http://adlnet.gov/expapi/verbs/passed",
        "failed": "http://adlnet.gov/expapi/verbs/failed",
        "earned": "http://id.tincanapi.com/verb/earned",
    }
    assert {k: s["verb"]["id"] for k, s in built.items()} == expected
    for s in built.values():
        assert set(s["verb"]["display"]) == {"th-TH", "en-US"}
        assert s["object"]["definition"]["name"]["th-TH"]
        assert s["object"]["definition"]["name"]["en-US"]


def test_actor_is_the_opaque_account_only() -> None:
    for s in one_of_each().values():
        assert s["actor"] == {"objectType": "Agent", "account": {"homePage": BASE, "name": LEARNER}}


@pytest.mark.parametrize(
    ("learner", "message"),
    [
        ("1101700203451", "national id"),  # 13 digits: a Thai national id, never sent
        ("สมชาย ใจดี", "opaque id"),
        ("short", "opaque id"),
        ("a" * 65, "opaque id"),
        ("someone@example.org", "opaque id"),
    ],
)
def test_anything_but_an_opaque_learner_id_is_refused(learner: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        xs.registered(SITE, learner, COURSE, AT)


def test_object_ids_are_iris_under_the_site() -> None:
    built = one_of_each()
    course = f"{BASE}/courses/local-budget-basics"
    assert built["registered"]["object"]["id"] == course
    assert built["experienced"]["object"]["id"] == f"{course}/units/u01-intro"
    assert built["answered"]["object"]["id"] == f"{course}/blocks/q-budget-year"
    assert built["earned"]["object"]["id"] == f"{course}/certificate/CERT-2569-000123"
    assert built["passed"]["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/course"
    assert (
        built["experienced"]["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/lesson"
    )


def test_context_registration_parent_grouping_platform_language() -> None:
    built = one_of_each()
    registration = xs.registration_id(SITE, LEARNER, COURSE.id)
    assert uuid.UUID(registration).version == 5
    for s in built.values():
        assert s["context"]["registration"] == registration
        assert s["context"]["platform"] == "localmooc"
        assert s["context"]["language"] == "th-TH"
    # Statements about the course itself need no parent; the rest point at their container and the course.
    assert "contextActivities" not in built["registered"]["context"]
    answered = built["answered"]["context"]["contextActivities"]
    assert [a["id"] for a in answered["parent"]] == [f"{BASE}/courses/local-budget-basics/units/u01-intro"]
    assert [a["id"] for a in answered["grouping"]] == [f"{BASE}/courses/local-budget-basics"]
    unit = built["experienced"]["context"]["contextActivities"]
    assert [a["id"] for a in unit["parent"]] == [f"{BASE}/courses/local-budget-basics"]
    # Another learner in the same course is another registration.
    assert xs.registration_id(SITE, "AnotherLearner01", COURSE.id) != registration


def test_results_of_answered_and_graded() -> None:
    built = one_of_each()
    assert built["answered"]["result"] == {
        "success": True,
        "score": {"scaled": 1.0, "raw": 1, "min": 0.0, "max": 1},
        "response": "oct",
    }
    definition = built["answered"]["object"]["definition"]
    assert definition["interactionType"] == "choice"
    assert definition["correctResponsesPattern"] == ["oct"]
    assert [c["id"] for c in definition["choices"]] == ["oct", "jan"]
    assert built["passed"]["result"]["success"] is True
    assert built["passed"]["result"]["score"]["scaled"] == 0.8
    assert built["failed"]["result"] == {
        "success": False,
        "score": {"scaled": 0.3, "raw": 3, "min": 0.0, "max": 10},
    }
    assert built["completed"]["result"] == {"completion": True}


def test_timestamps_are_utc_iso8601() -> None:
    bangkok = timezone(timedelta(hours=7))
    s = xs.launched(SITE, LEARNER, COURSE, datetime(2026, 12, 5, 16, 30, tzinfo=bangkok))
    assert s["timestamp"] == "2026-12-05T09:30:00.000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        xs.launched(SITE, LEARNER, COURSE, datetime(2026, 12, 5, 16, 30))


def test_statement_ids_are_deterministic_and_distinct() -> None:
    first, again = one_of_each(), one_of_each()
    assert first == again  # the same events built twice: byte-for-byte the same statements
    ids = [s["id"] for s in first.values()]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 5 for i in ids)
    # The sequence separates two answers to the same question at the same instant.
    one = xs.answered(SITE, LEARNER, COURSE, UNIT, QUESTION, "oct", True, xs.Score(1, 1), AT, sequence=1)
    two = xs.answered(SITE, LEARNER, COURSE, UNIT, QUESTION, "oct", True, xs.Score(1, 1), AT, sequence=2)
    assert one["id"] != two["id"]
    # Without a sequence, the event time is the sequence.
    later = xs.launched(SITE, LEARNER, COURSE, AT + timedelta(milliseconds=1))
    assert later["id"] != first["launched"]["id"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: xs.Site("https://mooc.example.go.th/"), "trailing slash"),
        (lambda: xs.Site("mooc.example.go.th"), "http"),
        (lambda: xs.Activity("course", "หลักสูตร", {"th-TH": "x"}), "ASCII"),
        (lambda: xs.Activity("course", "c1", {"en-US": "only English"}), "Thai name"),
        (lambda: xs.Activity("course", "c1", {"th-TH": "ก", "fr-FR": "x"}), "language"),
        (lambda: xs.Activity("unit", "u1", {"th-TH": "ก"}, interaction_type="choice"), "only questions"),
        (lambda: xs.Activity("question", "q1", {"th-TH": "ก"}, interaction_type="essay"), "interaction type"),
        (lambda: xs.Score(raw=11, max=10), "min <= raw <= max"),
        (lambda: xs.Score(raw=float("nan"), max=10), "finite"),
        (lambda: xs.Score(raw=-20, min=-20, max=10), "min >= -max"),
        (lambda: xs.earned(SITE, LEARNER, COURSE, "ใบที่ 1", AT), "certificate id"),
        (lambda: xs.experienced(SITE, LEARNER, UNIT, UNIT, AT), "kind 'course'"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_every_kind_is_accepted_by_ralph(ralph: Ralph) -> None:
    built = list(one_of_each().values())
    response = ralph.post(built)
    assert response.status_code == 200, response.text
    assert sorted(response.json()) == sorted(s["id"] for s in built)
    stored = {s["id"]: s for s in ralph.stored()}
    for s in built:
        back = stored[s["id"]]
        # Ralph adds stored/authority; everything we said comes back unchanged (Thai text included).
        assert {k: back[k] for k in s} == s


def _mutations(good: dict) -> list[tuple[str, dict]]:
    out = []
    for name, mutate in (
        ("agent without identifier", lambda s: s["actor"].pop("account")),
        ("verb id not an IRI", lambda s: s["verb"].update(id="answered")),
        ("scaled score outside [-1, 1]", lambda s: s["result"]["score"].update(scaled=8)),
        ("timestamp not ISO 8601", lambda s: s.update(timestamp="5 Dec 2026")),
        ("registration not a UUID", lambda s: s["context"].update(registration="enrolment-1")),
        ("display language not a tag", lambda s: s["verb"]["display"].update({"thai language": "x"})),
    ):
        bad = copy.deepcopy(good)
        bad["id"] = str(uuid.uuid4())
        mutate(bad)
        out.append((name, bad))
    return out


def test_every_kind_passes_ralphs_xapi_model() -> None:
    built = one_of_each()
    reports = ralph_validate(list(built.values()))
    assert {r["id"]: r["errors"] for r in reports} == {s["id"]: [] for s in built.values()}


def test_ralphs_model_rejects_broken_statements() -> None:
    broken = _mutations(one_of_each(learner="ValidationProbe01")["answered"])
    reports = ralph_validate([bad for _, bad in broken])
    for (name, _), report in zip(broken, reports, strict=True):
        assert report["errors"], f"Ralph's model accepted a statement with {name}"


def test_ralphs_profile_models_want_english_only_verb_displays() -> None:
    # Why the catalogue claims no Ralph profile: its LMS profile model (selected by verb registered + a
    # course) pins verb.display to {"en-US": "registered"}, which rules out the Thai display we must send.
    (report,) = ralph_validate([one_of_each()["registered"]])
    assert report["errors"] == []
    assert any("verb.display" in e for e in report["profiles"]["LMSRegisteredCourse"])


def test_ralphs_lrs_refuses_what_it_checks(ralph: Ralph) -> None:
    # The LRS endpoint checks the bare minimum (an identified actor, a verb, an object): a statement
    # without one is refused with 422 and not stored.
    (name, bad), *_ = _mutations(one_of_each(learner="ValidationProbe02")["answered"])
    before = len(ralph.stored())
    response = ralph.post([bad])
    assert response.status_code == 422, (name, response.text)
    assert len(ralph.stored()) == before


THAI = [chr(c) for c in range(0x0E01, 0x0E3A)] + [chr(c) for c in range(0x0E40, 0x0E5B)] + [" ", "๑", "๙"]


def _varied(rng: random.Random, i: int) -> list[dict]:
    """Every kind of statement from random but valid inputs: ids, Thai names, scores, time zones."""

    def ascii_id() -> str:
        alphabet = string.ascii_letters + string.digits + "._-"
        return rng.choice(string.ascii_letters) + "".join(rng.choices(alphabet, k=rng.randint(0, 40)))

    def names() -> dict[str, str]:
        th = "".join(rng.choices(THAI, k=rng.randint(1, 60))).strip() or "ก"
        out = {"th-TH": th}
        if rng.random() < 0.5:
            out["en-US"] = (
                "".join(rng.choices(string.printable[:94] + " ", k=rng.randint(1, 40))).strip() or "x"
            )
        return out

    site = xs.Site(rng.choice(["https://mooc.dla.go.th", "http://127.0.0.1:8000", "https://example.org/lm"]))
    learner = "".join(rng.choices(string.ascii_letters + string.digits + "-_", k=rng.randint(8, 64)))
    course = xs.Activity("course", ascii_id(), names())
    unit = xs.Activity("unit", ascii_id(), names())
    choice_ids = list(dict.fromkeys(ascii_id() for _ in range(rng.randint(2, 6))))
    question = xs.Activity(
        "question",
        ascii_id(),
        names(),
        interaction_type="choice",
        choices=tuple((c, names()) for c in choice_ids),
        correct=tuple(rng.sample(choice_ids, rng.randint(1, len(choice_ids)))),
    )
    tz = timezone(timedelta(minutes=rng.randint(-12 * 60, 14 * 60)))
    at = datetime(2026, 1, 1, tzinfo=tz) + timedelta(seconds=rng.uniform(0, 10**8))
    top = rng.choice([1, 3, 10, 100, 7.5])
    score = xs.Score(raw=round(rng.uniform(0, top), 2), max=top)
    response = rng.sample(choice_ids, rng.randint(1, len(choice_ids)))
    return [
        xs.registered(site, learner, course, at),
        xs.launched(site, learner, course, at, sequence=i),
        xs.experienced(site, learner, course, unit, at),
        xs.answered(site, learner, course, unit, question, response, rng.random() < 0.5, score, at, i),
        xs.completed(site, learner, course, at, of=unit if rng.random() < 0.5 else None),
        xs.graded(site, learner, course, score, rng.random() < 0.5, at),
        xs.earned(site, learner, course, ascii_id(), at),
    ]


def test_varied_inputs_pass_ralphs_model_and_its_lrs(ralph: Ralph) -> None:
    rng = random.Random(20261205)
    statements = [s for i in range(60) for s in _varied(rng, i)]
    reports = ralph_validate(statements)
    bad = [(s, r["errors"]) for s, r in zip(statements, reports, strict=True) if r["errors"]]
    assert not bad, bad[:3]
    response = ralph.post(statements)
    assert response.status_code == 200, response.text
    assert len(response.json()) == len(statements)
