"""The flashcards block in XBlock's own test runtime: views, the handler, the schema, the SCORM rendering."""

from __future__ import annotations

import json

import jsonschema
import pytest
from flashcards_xblock.block import FlashcardsBlock
from lxml import etree
from webob import Request
from xblock.core import XBlock
from xblock.field_data import DictFieldData
from xblock.fields import ScopeIds
from xblock.test.tools import TestRuntime

CARDS = [{"front": "อบต.", "back": "องค์การบริหารส่วนตำบล"}, {"front": "<b>", "back": "a & b"}]


class RecordingRuntime(TestRuntime):
    """XBlock's test runtime, keeping what the block publishes."""

    __test__ = False

    def __init__(self) -> None:
        super().__init__(services={"field-data": DictFieldData({})})
        self.events: list[tuple[str, object]] = []

    def publish(self, block: XBlock, event_type: str, event_data: object) -> None:
        self.events.append((event_type, event_data))


def make_block(cards: list[dict[str, str]] = CARDS) -> FlashcardsBlock:
    runtime = RecordingRuntime()
    block = runtime.construct_xblock_from_class(FlashcardsBlock, ScopeIds("learner", "flashcards", "d", "u1"))
    block.cards = cards
    return block


def post(block: FlashcardsBlock, body: object) -> tuple[int, object]:
    response = block.mark(Request.blank("/", method="POST", body=json.dumps(body).encode()))
    return response.status_code, json.loads(response.body)


def test_the_entry_point_finds_the_block() -> None:
    assert XBlock.load_class("flashcards") is FlashcardsBlock


def test_student_view_escapes_and_labels() -> None:
    html = make_block().student_view({"lang": "th"}).body_html()
    assert "&lt;b&gt;" in html and "a &amp; b" in html and "<b>" not in html
    assert html.count('type="checkbox"') == 2 and "จำได้ 0 จาก 2 บัตร" in html


def test_marking_every_card_completes_the_block() -> None:
    block = make_block()
    assert post(block, {"card": 0, "known": True}) == (200, {"known": [0], "total": 2})
    assert block.runtime.events == []
    assert post(block, {"card": 1, "known": True}) == (200, {"known": [0, 1], "total": 2})
    assert block.runtime.events == [("completion", {"completion": 1.0})]
    assert post(block, {"card": 0, "known": False}) == (200, {"known": [1], "total": 2})
    assert "checked" in block.student_view({}).body_html()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"card": 5, "known": True}, "card must be an index from 0 to 1"),
        ({"card": True, "known": True}, "card must be an index"),
        ({"card": 0, "known": "yes"}, "known must be true or false"),
        ([1, 2], "send"),
    ],
)
def test_bad_requests_are_400(body: object, message: str) -> None:
    status, answer = post(make_block(), body)
    assert status == 400 and message in answer["error"]


def test_static_view_is_markup_without_grading() -> None:
    result = make_block().static_view({"lang": "en", "static_url": "xblocks/flashcards/"})
    assert set(result) == {"html", "css", "grading"} and result["grading"] is None
    root = etree.fromstring(result["html"].encode())
    assert [d.findtext("p") for d in root.iter("details")] == ["องค์การบริหารส่วนตำบล", "a & b"]
    assert "Card 1: " in result["html"]


def test_the_schema() -> None:
    schema = FlashcardsBlock.source_schema
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate({"cards": CARDS}, schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors({"cards": []}))
    assert list(validator.iter_errors({"cards": [{"front": "x"}]}))
    assert list(validator.iter_errors({"cards": CARDS, "known": {}}))


def test_workbench_scenario_parses_into_cards() -> None:
    ((name, xml),) = FlashcardsBlock.workbench_scenarios()
    node = etree.fromstring(xml.encode())
    assert name == "flashcards" and node.tag == "flashcards"
    assert json.loads(node.get("cards"))[0]["front"] == "อบต."
