"""The blocks through a real xblock.runtime.Runtime subclass (TreeRuntime): views, handlers, XML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree
from webob import Request
from xblock.core import XBlock
from xblock.fields import ScopeIds

from localmooc_packager.source import load_course
from localmooc_packager.tree import CourseTree, TreeRuntime
from localmooc_xblocks.quiz import QuizBlock

USER_STATE = ("responses", "results", "attempts_used", "earned", "best_earned", "watched")


@pytest.fixture
def tree(sample_course: Path) -> CourseTree:
    return load_course(sample_course)


def post_json(block: XBlock, handler: str, payload: object) -> tuple[int, dict]:
    request = Request.blank("/", method="POST", body=json.dumps(payload).encode())
    request.content_type = "application/json"
    response = block.runtime.handle(block, handler, request)
    return response.status_int, json.loads(response.body or b"{}")


@pytest.mark.parametrize(
    "name",
    ["lm-course", "lm-section", "lm-subsection", "lm-unit", "lm-html", "lm-video", "lm-quiz", "lm-raw"],
)
def test_blocks_load_through_entry_points(name: str) -> None:
    cls = XBlock.load_class(name)
    assert issubclass(cls, XBlock)


def test_tree_follows_the_course(tree: CourseTree) -> None:
    kinds = [(b.scope_ids.block_type, str(b.scope_ids.usage_id), depth) for b, depth in tree.walk()]
    assert kinds[0] == ("lm-course", "local-budget-basics", 0)
    assert ("lm-section", "intro_ch", 1) in kinds and ("lm-subsection", "intro_seq", 2) in kinds
    assert [k[1] for k in kinds if k[0] == "lm-unit"] == ["intro", "revenue", "process", "final"]
    assert [k[1] for k in kinds if k[0] == "lm-quiz"] == ["pre", "revenue-check", "process-quiz", "post"]
    final_seq = tree.block("final_seq")
    assert final_seq.graded and final_seq.format == "Post-test"
    assert not tree.block("intro_seq").graded
    assert tree.block("process_seq").format == "Graded"
    assert str(tree.where(tree.block("post"))).startswith("sample_courses/local-budget-basics/course.yaml:")
    assert tree.block("intro-html1").data.startswith(
        "<h3>ปีงบประมาณคืออะไร</h3>"
    )  # shifted below the unit title
    assert '<img src="/static/fiscal-year.png"' in tree.block("intro-html1").data
    assert tree.block("intro-video").subtitles == {"th": "/static/intro.th.vtt"}
    assert "static/intro.mp4" in tree.assets


def test_quiz_grades_and_publishes(tree: CourseTree) -> None:
    quiz = tree.block("post")
    quiz.scope_ids = ScopeIds("learner-1", *quiz.scope_ids[1:])
    wrong = {"q1": "a", "q2": "3", "q3": ["a"], "q4": False, "q5": "สภาจังหวัด"}
    status, body = post_json(quiz, "submit", {"responses": wrong})
    assert status == 200
    assert body["earned"] == 0 and body["possible"] == 5 and not body["passed"]
    assert body["attempts_left"] == 2
    assert body["questions"] == {}  # a graded quiz: no per-question marks before the key may show
    right = {"q1": "b", "q2": "๒", "q3": ["b", "a"], "q4": True, "q5": "  สภาเทศบาล "}
    status, body = post_json(quiz, "submit", {"responses": right})
    assert status == 200 and body["earned"] == 5 and body["passed"] and body["score"] == 1.0
    assert body["questions"]["q1"]["answer"] == ["b"]  # all correct: finished, answers revealed
    events = [(uid, kind, data) for uid, kind, data in tree.runtime.events if uid == "post"]
    assert events[-2:] == [
        ("post", "grade", {"value": 5.0, "max_value": 5.0}),
        ("post", "completion", {"completion": 1.0}),
    ]
    status, body = post_json(quiz, "submit", {"responses": wrong})
    assert status == 200 and body["best_earned"] == 5 and body["attempts_left"] == 0
    status, body = post_json(quiz, "submit", {"responses": right})
    assert status == 409 and body["error"] == "no attempts left"


def test_quiz_rejects_bad_requests(tree: CourseTree) -> None:
    quiz = tree.block("pre")
    assert post_json(quiz, "submit", {"answers": {}})[0] == 400
    request = Request.blank("/", method="GET")
    assert quiz.runtime.handle(quiz, "submit", request).status_int == 405
    request = Request.blank("/", method="POST", body=b"{not json")
    assert quiz.runtime.handle(quiz, "submit", request).status_int == 400


def test_quiz_view_has_hooks_and_no_answer_key(tree: CourseTree) -> None:
    quiz = tree.block("post")
    frag = tree.runtime.render(quiz, "student_view", {"lang": "th"})
    html = frag.body_html()
    root = etree.HTML(html)
    assert root.xpath('//*[@data-lm="submit"]')
    assert sorted(root.xpath("//@data-lm-question")) == ["q1", "q2", "q3", "q4", "q5"]
    assert sorted(root.xpath('//*[@data-lm-question="q1"]//@data-lm-choice')) == ["a", "b", "c"]
    assert root.xpath('//*[@data-lm-question="q4"]//@data-lm-choice') == ["true", "false"]
    assert root.xpath("//@data-lm-input") == ["q2", "q5"]
    for inp in root.xpath("//input"):  # every input has a label (WCAG 1.3.1)
        assert root.xpath(f'//label[@for="{inp.get("id")}"]'), inp.get("id")
    assert '"answer"' not in html and "สภาเทศบาล" not in html  # the key stays on the server
    assert root.xpath("//div[@data-init='LmQuizBlock']/@data-usage") == ["post"]
    english = tree.runtime.render(quiz, "student_view", {"lang": "en"}).body_html()
    assert ">Submit<" in english


def test_shuffle_is_stable_per_learner(tree: CourseTree) -> None:
    quiz = tree.block("post")
    orders = {}
    for user in ("a", "b", "c", "d", "a"):
        quiz.scope_ids = ScopeIds(user, *quiz.scope_ids[1:])
        orders.setdefault(user, []).append([c["id"] for c in quiz.choice_order(quiz.questions[2])])
    assert orders["a"][0] == orders["a"][1]
    assert len({tuple(o[0]) for o in orders.values()}) > 1


def test_export_writes_definition_fields_only_and_parses_back(tree: CourseTree) -> None:
    quiz = tree.block("post")
    quiz.scope_ids = ScopeIds("learner-9", *quiz.scope_ids[1:])
    post_json(quiz, "submit", {"responses": {"q1": "b"}})
    node = etree.Element("x")
    quiz.add_xml_to_node(node)
    xml = etree.tostring(node, encoding="unicode")
    for name in USER_STATE:
        assert f'{name}="' not in xml
    assert node.tag == "lm-quiz" and node.get("role") == "post-test" and node.get("attempts") == "3"
    runtime = TreeRuntime()
    parsed = runtime.get_block(runtime.parse_xml_string(xml))
    assert isinstance(parsed, QuizBlock)
    assert parsed.questions == quiz.questions
    assert parsed.role == "post-test" and parsed.shuffle is True and parsed.attempts == 3


def test_html_and_container_xml_round_trip(tree: CourseTree) -> None:
    unit = tree.block("intro")
    node = etree.Element("x")
    unit.add_xml_to_node(node)
    xml = etree.tostring(node, encoding="unicode")
    runtime = TreeRuntime()
    parsed = runtime.get_block(runtime.parse_xml_string(xml))
    assert parsed.display_name == "ความรู้เบื้องต้นเกี่ยวกับงบประมาณ"
    children = [runtime.get_block(c) for c in parsed.children]
    assert [c.scope_ids.block_type for c in children] == ["lm-quiz", "lm-html", "lm-video"]
    assert children[1].data == tree.block("intro-html1").data


def test_parse_refuses_entities() -> None:
    runtime = TreeRuntime()
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><lm-html>&e;</lm-html>'
    )
    with pytest.raises(etree.XMLSyntaxError, match="entity declarations are not allowed"):
        runtime.parse_xml_string(evil)


def test_video_completion_handler(tree: CourseTree) -> None:
    video = tree.block("intro-video")
    status, body = post_json(video, "watched_handler", {})
    assert status == 200 and body == {"watched": True}
    assert ("intro-video", "completion", {"completion": 1.0}) in tree.runtime.events
    html = tree.runtime.render(video, "student_view", {}).body_html()
    assert '<track kind="subtitles" src="/static/intro.th.vtt" srclang="th"' in html
