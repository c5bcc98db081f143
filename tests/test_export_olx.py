"""The OLX exporter on real courses: archive members, determinism, olxcleaner, CAPA content, grading, state."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import textwrap
import unicodedata
from datetime import date
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import olxcleaner
import pytest
from lxml import etree
from xblock.core import XBlock
from xblock.fields import Dict, Scope

from localmooc_packager import grading
from localmooc_packager.exporters import get, olx
from localmooc_packager.exporters.archive import ArchiveWriter, GzipStream
from localmooc_packager.exporters.olx import OlxExporter, iso_datetime, one_year_after, vtt_to_srt
from localmooc_packager.olx_read import lm
from localmooc_packager.source import load_course
from localmooc_packager.tree import TreeRuntime
from localmooc_xblocks.raw import RawOlxBlock

from conftest import sample_courses

STEM = "DLA-local-budget-basics-2564_2"
STATE_FIELDS = ("responses", "attempts_used", "earned", "best_earned", "results", "watched", "value")
OUTLINE = [
    "about/overview.html",
    "about/short_description.html",
    "chapter/final_ch.xml",
    "chapter/intro_ch.xml",
    "chapter/process_ch.xml",
    "chapter/revenue_ch.xml",
    "course.xml",
    "course/2564_2.xml",
]
POLICIES_AND_STATIC = [
    "localmooc/manifest.json",  # the course source, for an exact re-import (docs/export-olx.md)
    "localmooc/source.tar.gz",
    "policies/2564_2/grading_policy.json",
    "policies/2564_2/policy.json",
    "policies/assets.json",
    "sequential/final_seq.xml",
    "sequential/intro_seq.xml",
    "sequential/process_seq.xml",
    "sequential/revenue_seq.xml",
    "static/course-card.png",
    "static/fiscal-year.png",
    "static/intro.mp4",
]
VERTICALS = ["vertical/final.xml", "vertical/intro.xml", "vertical/process.xml", "vertical/revenue.xml"]
STOCK_ONLY = [
    "html/intro-html1.html",
    "html/intro-html1.xml",
    "html/process-html1.html",
    "html/process-html1.xml",
    "html/revenue-html1.html",
    "html/revenue-html1.xml",
    *(f"problem/post-q{i}.xml" for i in range(1, 6)),
    "problem/pre-q1.xml",
    "problem/pre-q2.xml",
    "problem/process-quiz-q1.xml",
    "problem/revenue-check-q1.xml",
    "static/intro.th.srt",
    "video/intro-video.xml",
]


def build(course: Path, out: Path, flavor: str = "stock") -> Path:
    return OlxExporter().export(load_course(course), out, olx_flavor=flavor)


def members(archive: Path) -> dict[str, bytes]:
    """Regular files by name relative to the single top folder (which the test also checks)."""
    with tarfile.open(archive) as tar:
        tops = {m.name.split("/")[0] for m in tar.getmembers()}
        assert tops == {STEM} or len(tops) == 1
        top = tops.pop()
        out = {}
        for m in tar.getmembers():
            if m.isfile():
                f = tar.extractfile(m)
                assert f is not None
                out[m.name.removeprefix(top + "/")] = f.read()
        return out


def extract(archive: Path, dest: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    (root,) = list(dest.iterdir())
    return root


def xml(data: bytes) -> etree._Element:
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    return etree.fromstring(data)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def olxcleaner_findings(root: Path) -> list[str]:
    allowed = sorted({ep.name for ep in entry_points(group="xblock.v1")} | {"wiki"})
    course, errors, _url_names = olxcleaner.validate(str(root), steps=8, ignore=[], allowed_xblocks=allowed)
    assert course is not None
    return [f"{type(e).__name__} {e.filename}: {e.description}" for e in errors.errors]


# ---- a generated course exercising every mapping
def write_course(root: Path, *, end: bool = True, big_asset: int = 0) -> Path:
    """A short-form course with every question type, a YouTube video, kept OLX and a third-party block."""
    (root / "static").mkdir(parents=True)
    (root / "problem").mkdir(parents=True)
    (root / "static" / "card.png").write_bytes(b"\x89PNG\r\n\x1a\n fixture")
    (root / "static" / "sub.th.vtt").write_text(
        "WEBVTT\n\nNOTE ทดสอบ\n\ncue-1\n00:01.500 --> 00:00:04.000 align:start\n<v ผู้สอน>สวัสดี</v> &amp; <b>ยินดีต้อนรับ</b>\n",
        encoding="utf-8",
    )
    (root / "static" / "notes.txt").write_text("บทถอดความ\n", encoding="utf-8")
    (root / "problem" / "kept-problem.xml").write_text(
        '<problem display_name="ข้อที่นำเข้า"><stringresponse answer="ก"><label>ตอบ ก</label>'
        "<textline/></stringresponse></problem>\n",
        encoding="utf-8",
    )
    if big_asset:
        with (root / "static" / "big.mp4").open("wb") as f:
            f.truncate(big_asset)  # sparse: costs no disk, still read in full by the build
    course = f"""\
        id: gen
        org: DLA
        run: T1
        title: หลักสูตรทดสอบ
        description: คำอธิบาย **หลักสูตร**
        start: 2024-02-29
        {"end: 2024-12-31" if end else ""}
        pass_threshold: 0.5
        image: static/card.png
        policy: {{days_early_for_beta: 3}}
        units:
          - id: u1
            title: หน่วยที่ 1
            policy: {{visible_to_staff_only: false}}
            blocks:
              - type: html
                id: h1
                body: "สวัสดี ![ภาพ](static/card.png)"
              - type: video
                id: yt
                title: วิดีโอ YouTube
                youtube: dQw4w9WgXcQ
              - type: video
                id: local
                title: วิดีโอพร้อมคำบรรยาย
                url: https://example.org/v.mp4
                subtitles: {{th: static/sub.th.vtt}}
                transcript: static/notes.txt
              - type: olx
                id: kept
                xml: '<problem url_name="kept-problem"/>'
                files: [problem/kept-problem.xml]
              - type: olx
                id: kept2
                xml: '<discussion url_name="talk" display_name="กระดานสนทนา" discussion_category="ทั่วไป" discussion_target="หน่วย 1" discussion_id="d1"/>'
              - type: slider_demo
                id: slider
                min_value: 3
                max_value: 9
              - type: quiz
                id: practice
                title: แบบฝึกหัด
                role: practice
                show_answers: always
                questions:
                  - type: single-choice
                    prompt: เลือก ข
                    choices: {{a: ก, b: ข}}
                    answer: b
          - id: u2
            title: แบบทดสอบหลังเรียน
            blocks:
              - type: quiz
                id: final
                title: แบบทดสอบหลังเรียน
                role: post-test
                attempts: 2
                show_answers: never
                shuffle: true
                questions:
                  - type: numeric
                    prompt: สองบวกสอง
                    answer: 4
                    tolerance: 5%
                    points: 2
                  - type: numeric
                    prompt: ค่าพาย
                    answer: 3.14
                    tolerance: 0.01
                  - type: short-text
                    prompt: น้ำในภาษาอังกฤษ
                    answer: [Water, H2O]
                  - type: short-text
                    prompt: คำที่มีสระอำ
                    answer: [กำนัน]
                    case_sensitive: true
                  - type: true-false
                    prompt: ข้อนี้จริง
                    answer: false
                    labels: {{"true": ใช่, "false": ไม่ใช่}}
                  - type: single-choice
                    prompt: ข้อใด *ถูก*
                    choices: {{a: ผิด, b: ถูก}}
                    answer: b
                    feedback: {{a: ลองอีกครั้ง}}
                    explain: เพราะ **ถูก**
        """
    (root / "course.yaml").write_text(textwrap.dedent(course), encoding="utf-8")
    return root


@pytest.fixture
def gen_course(tmp_path: Path) -> Path:
    return write_course(tmp_path / "gen")


# ---- archive layout
def test_registered_as_entry_point() -> None:
    assert isinstance(get("olx"), OlxExporter)


def test_sample_member_list_stock(sample_course: Path, tmp_path: Path) -> None:
    archive = build(sample_course, tmp_path)
    assert archive.name == f"{STEM}.olx.tar.gz"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    files = sorted(members(archive))
    assert files == sorted(OUTLINE + POLICIES_AND_STATIC + VERTICALS + STOCK_ONLY + ["static/intro.th.vtt"])
    assert all(n == STEM or n.startswith(STEM + "/") for n in names)


def test_sample_member_list_native(sample_course: Path, tmp_path: Path) -> None:
    archive = build(sample_course, tmp_path, "native")
    assert archive.name == f"{STEM}-native.olx.tar.gz"
    assert sorted(members(archive)) == sorted(
        OUTLINE + POLICIES_AND_STATIC + VERTICALS + ["static/intro.th.vtt"]
    )


def test_course_pointer_and_outline(sample_course: Path, tmp_path: Path) -> None:
    files = members(build(sample_course, tmp_path))
    pointer = xml(files["course.xml"])
    assert dict(pointer.attrib) == {"url_name": "2564_2", "org": "DLA", "course": "local-budget-basics"}
    assert [c.get("url_name") for c in xml(files["course/2564_2.xml"])] == [
        "intro_ch",
        "revenue_ch",
        "process_ch",
        "final_ch",
    ]
    final = xml(files["sequential/final_seq.xml"])
    assert (final.get("graded"), final.get("format")) == ("true", "Post-test")
    process = xml(files["sequential/process_seq.xml"])
    assert (process.get("graded"), process.get("format")) == ("true", "Graded")
    intro = xml(files["sequential/intro_seq.xml"])
    assert intro.get("graded") is None and intro.get("format") is None
    assert [(c.tag, c.get("url_name")) for c in xml(files["vertical/intro.xml"])] == [
        ("problem", "pre-q1"),
        ("problem", "pre-q2"),
        ("html", "intro-html1"),
        ("video", "intro-video"),
    ]
    # Every XML member: UTF-8 declaration, attributes in sorted order.
    for name, data in files.items():
        if name.endswith(".xml"):
            for el in xml(data).iter():
                if isinstance(el.tag, str):
                    assert list(el.attrib) == sorted(el.attrib), name


def test_html_body_byte_stable_and_static_links_kept(sample_course: Path, tmp_path: Path) -> None:
    tree = load_course(sample_course)
    files = members(OlxExporter().export(tree, tmp_path))
    body = tree.block("intro-html1").data
    assert files["html/intro-html1.html"] == (body + "\n").encode("utf-8")
    assert b'src="/static/fiscal-year.png"' in files["html/intro-html1.html"]
    pointer = xml(files["html/intro-html1.xml"])
    assert dict(pointer.attrib) == {"filename": "intro-html1", "display_name": "ปีงบประมาณคืออะไร"}


def test_video_stock_form(sample_course: Path, gen_course: Path, tmp_path: Path) -> None:
    video = xml(members(build(sample_course, tmp_path / "a"))["video/intro-video.xml"])
    assert video.get("youtube_id_1_0") == ""
    assert json.loads(video.get("html5_sources")) == ["/static/intro.mp4"]
    assert json.loads(video.get("transcripts")) == {"th": "intro.th.srt"}
    assert [(t.get("language"), t.get("src")) for t in video.iter("transcript")] == [("th", "intro.th.srt")]
    files = members(build(gen_course, tmp_path / "b"))
    yt = xml(files["video/yt.xml"])
    assert (yt.get("youtube_id_1_0"), json.loads(yt.get("html5_sources"))) == ("dQw4w9WgXcQ", [])
    local = xml(files["video/local.xml"])
    assert json.loads(local.get("html5_sources")) == ["https://example.org/v.mp4"]
    # The downloadable transcript is the video block's track, offered for download (parse_video_xml
    # reads <track src> and download_track); <handout> would show it as a course handout instead.
    assert [t.get("src") for t in local.iter("track")] == ["/static/notes.txt"]
    assert local.get("download_track") == "true"
    assert local.find("handout") is None and yt.find("track") is None and yt.get("download_track") is None
    assert files["static/notes.txt"] == "บทถอดความ\n".encode()
    assert files["static/sub.th.srt"].decode() == "1\n00:00:01,500 --> 00:00:04,000\nสวัสดี & <b>ยินดีต้อนรับ</b>\n"


def test_vtt_to_srt_sample_subtitles(sample_course: Path) -> None:
    vtt = (sample_course / "static" / "intro.th.vtt").read_text(encoding="utf-8")
    assert vtt_to_srt(vtt) == (
        "1\n00:00:00,000 --> 00:00:03,000\nยินดีต้อนรับสู่หลักสูตรงบประมาณท้องถิ่นเบื้องต้น\n\n"
        "2\n00:00:03,000 --> 00:00:06,000\nหลักสูตรนี้ใช้เวลาเรียนประมาณ 3 ชั่วโมง\n"
    )


# ---- determinism
def test_two_builds_identical(sample_course: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for flavor in ("stock", "native"):
        a = sha256(build(sample_course, tmp_path / f"a-{flavor}", flavor))
        b = sha256(build(sample_course, tmp_path / f"b-{flavor}", flavor))
        assert a == b
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    c = build(sample_course, tmp_path / "c")
    d = build(sample_course, tmp_path / "d")
    assert sha256(c) == sha256(d)
    with tarfile.open(c) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1700000000}


def test_build_time_is_newest_source_mtime(gen_course: Path, tmp_path: Path) -> None:
    import os

    os.utime(gen_course / "course.yaml", (1_650_000_000, 1_650_000_000))
    for p in gen_course.rglob("*"):
        if p.is_file() and p.name != "course.yaml":
            os.utime(p, (1_600_000_000, 1_600_000_000))
    # An earlier build inside the course folder must not move the time.
    first = build(gen_course, gen_course / "build")
    second = build(gen_course, gen_course / "build")
    with tarfile.open(second) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1_650_000_000}
    assert first == second


# ---- olxcleaner as a real client
@pytest.mark.parametrize("flavor", ["stock", "native"])
@pytest.mark.parametrize("course", sample_courses(), ids=lambda p: p.name)
def test_olxcleaner_clean_on_every_sample(course: Path, flavor: str, tmp_path: Path) -> None:
    root = extract(build(course, tmp_path / "out", flavor), tmp_path / "x")
    assert olxcleaner_findings(root) == []


@pytest.mark.parametrize("flavor", ["stock", "native"])
def test_olxcleaner_clean_on_generated_course(gen_course: Path, flavor: str, tmp_path: Path) -> None:
    root = extract(build(gen_course, tmp_path / "out", flavor), tmp_path / "x")
    assert olxcleaner_findings(root) == []


def test_olxcleaner_sees_what_we_break(sample_course: Path, tmp_path: Path) -> None:
    """The check above can fail: a missing end date is an olxcleaner error."""
    root = extract(build(sample_course, tmp_path / "out"), tmp_path / "x")
    policy_path = root / "policies" / "2564_2" / "policy.json"
    policy = json.loads(policy_path.read_text(encoding="utf-8"))
    del policy["course/2564_2"]["end"]
    policy_path.write_text(json.dumps(policy), encoding="utf-8")
    assert any(f.startswith("InvalidSetting") for f in olxcleaner_findings(root))


# ---- learner state never leaves
def test_no_learner_state_in_archive(gen_course: Path, sample_course: Path, tmp_path: Path) -> None:
    pattern = re.compile(rb"\b(" + b"|".join(f.encode() for f in STATE_FIELDS) + rb")\b")
    for course in (sample_course, gen_course):
        tree = load_course(course)
        for block, _depth in tree.walk():
            kind = block.scope_ids.block_type
            if kind == "lm-quiz":
                block.responses = {"q1": "a"}
                block.results = {"q1": True}
                block.attempts_used = 2
                block.earned = 1.0
                block.best_earned = 1.0
            elif kind == "lm-video":
                block.watched = True
            elif kind == "slider_demo":
                block.value = 7
            block.save()
        assert tree.block("post" if course == sample_course else "final").attempts_used == 2
        for flavor in ("stock", "native"):
            files = members(
                OlxExporter().export(tree, tmp_path / f"{course.name}-{flavor}", olx_flavor=flavor)
            )
            for name, data in files.items():
                if name.endswith((".xml", ".json", ".html")):
                    assert not pattern.search(data), (name, pattern.search(data))


# ---- CAPA
def test_capa_problems(gen_course: Path, tmp_path: Path) -> None:
    files = members(build(gen_course, tmp_path))
    names = [c.get("url_name") for c in xml(files["vertical/u2.xml"])]
    assert names == [f"final-q{i}" for i in range(1, 7)]
    p = {i: xml(files[f"problem/final-q{i}.xml"]) for i in range(1, 7)}
    for el in p.values():
        assert (el.get("max_attempts"), el.get("showanswer")) == ("2", "never")
    # numeric: tolerance as a percentage, absolute tolerance as a number, weight = points
    assert p[1].get("weight") == "2"
    resp = p[1].find("numericalresponse")
    assert resp.get("answer") == "4"
    assert resp.find("responseparam").attrib == {"default": "5%", "type": "tolerance"}
    assert resp.find("label").text == "สองบวกสอง"
    assert resp.find("formulaequationinput") is not None
    assert p[2].find("numericalresponse/responseparam").get("default") == "0.01"
    # short text: case-insensitive, extra answers; sara am also as typed (nikhahit + sara aa)
    s = p[3].find("stringresponse")
    assert (s.get("answer"), s.get("type")) == ("Water", "ci")
    assert [a.get("answer") for a in s.iter("additional_answer")] == ["H2O"]
    s = p[4].find("stringresponse")
    assert s.get("type") is None
    assert s.get("answer") == "กำนัน"
    assert unicodedata.normalize("NFC", s.get("answer")) == s.get("answer")
    assert unicodedata.normalize("NFKC", s.get("answer")) != s.get("answer")  # NFKC would split sara am
    assert [a.get("answer") for a in s.iter("additional_answer")] == ["ก\u0e4d\u0e32นัน"]
    # true-false: two choices with the course's labels, the right one flagged
    tf = p[5].find("multiplechoiceresponse/choicegroup")
    assert [(c.get("name"), c.text, c.get("correct")) for c in tf] == [
        ("true", "ใช่", "false"),
        ("false", "ไม่ใช่", "true"),
    ]
    assert tf.get("shuffle") is None
    # single choice: shuffle, choicehint, prompt HTML, solution
    sc = p[6].find("multiplechoiceresponse")
    assert (
        etree.tostring(sc.find("label"), encoding="unicode", with_tail=False)
        == "<label>ข้อใด <em>ถูก</em></label>"
    )
    group = sc.find("choicegroup")
    assert (group.get("type"), group.get("shuffle")) == ("MultipleChoice", "true")
    assert [(c.get("correct"), c.text) for c in group] == [("false", "ผิด"), ("true", "ถูก")]
    assert group[0].find("choicehint").text == "ลองอีกครั้ง"
    solution = p[6].find("solution/div")
    assert solution.get("class") == "detailed-solution"
    assert (
        etree.tostring(solution[1], encoding="unicode", with_tail=False) == "<p>เพราะ <strong>ถูก</strong></p>"
    )


def test_capa_sample_choices_and_thai_text(sample_course: Path, tmp_path: Path) -> None:
    tree = load_course(sample_course)
    files = members(OlxExporter().export(tree, tmp_path))
    quiz = tree.block("post")
    for n, q in enumerate(quiz.questions, 1):
        problem = xml(files[f"problem/post-q{n}.xml"])
        label = problem.find(".//label")
        assert label.text == q["prompt"]
        assert problem.get("display_name") == f"แบบทดสอบหลังเรียน (ข้อ {n})"
        for text in problem.itertext():
            assert unicodedata.normalize("NFC", text) == text
        if q["type"] in ("single-choice", "multiple-choice"):
            flags = {c.get("name"): c.get("correct") == "true" for c in problem.iter("choice")}
            assert flags == {c["id"]: c["id"] in q["answer"] for c in q["choices"]}
            assert [c.text for c in problem.iter("choice")] == [c["text"] for c in q["choices"]]
    mc = xml(files["problem/post-q3.xml"])
    assert mc.find("choiceresponse/checkboxgroup") is not None
    hint = mc.find(".//choice[@name='c']/choicehint")
    assert (hint.get("selected"), hint.text) == ("true", quiz.questions[2]["feedback"]["c"])
    pre = xml(files["problem/pre-q1.xml"])
    assert (pre.get("max_attempts"), pre.get("showanswer")) == ("", "finished")


def test_practice_in_graded_subsection_weighs_nothing(tmp_path: Path) -> None:
    tree = load_course(write_course(tmp_path / "c"))
    files = members(OlxExporter().export(tree, tmp_path / "before"))
    assert xml(files["problem/practice-q1.xml"]).get("weight") == "1"  # ungraded subsection: as written
    # Move the practice quiz into the post-test's unit (a graded subsection): there it must not count.
    u1, u2 = tree.block("u1"), tree.block("u2")
    u1.children = [c for c in u1.children if c != "practice"]
    u2.children = [*u2.children, "practice"]
    u1.save()
    u2.save()
    files = members(OlxExporter().export(tree, tmp_path / "after"))
    assert [c.get("url_name") for c in xml(files["vertical/u2.xml"])][-1] == "practice-q1"
    assert xml(files["problem/practice-q1.xml"]).get("weight") == "0"
    assert xml(files["problem/final-q1.xml"]).get("weight") == "2"


# ---- kept OLX and third-party XBlocks
def test_raw_olx_and_third_party_inline(gen_course: Path, tmp_path: Path) -> None:
    for flavor in ("stock", "native"):
        files = members(build(gen_course, tmp_path / flavor, flavor))
        unit = xml(files["vertical/u1.xml"])
        kept = unit.find("problem[@url_name='kept-problem']")
        assert kept is not None and dict(kept.attrib) == {"url_name": "kept-problem"}
        talk = unit.find("discussion")
        assert talk.get("display_name") == "กระดานสนทนา"
        assert files["problem/kept-problem.xml"] == (gen_course / "problem/kept-problem.xml").read_bytes()
        slider = unit.find("slider_demo")
        assert dict(slider.attrib) == {"url_name": "slider", "min_value": "3", "max_value": "9"}
        policy = json.loads(files["policies/T1/policy.json"])
        modules = policy["course/T1"]["advanced_modules"]
        expected = ["slider_demo"] + (["lm-html", "lm-quiz", "lm-video"] if flavor == "native" else [])
        assert modules == sorted(expected)


def test_native_quiz_parses_back_equal(sample_course: Path, tmp_path: Path) -> None:
    tree = load_course(sample_course)
    files = members(OlxExporter().export(tree, tmp_path, olx_flavor="native"))
    for unit, quiz_id in (("final", "post"), ("intro", "pre"), ("process", "process-quiz")):
        (quiz_el,) = xml(files[f"vertical/{unit}.xml"]).findall("lm-quiz")
        assert quiz_el.get("url_name") == quiz_id
        runtime = TreeRuntime()
        usage = runtime.parse_xml_string(etree.tostring(quiz_el))
        parsed = runtime.get_block(usage)
        original = tree.block(quiz_id)
        assert parsed.questions == original.questions
        for field in ("role", "attempts", "shuffle", "show_answers", "weight", "display_name"):
            assert getattr(parsed, field) == getattr(original, field), field
    (html_el,) = xml(files["vertical/intro.xml"]).findall("lm-html")
    runtime = TreeRuntime()
    assert (
        runtime.get_block(runtime.parse_xml_string(etree.tostring(html_el))).data
        == tree.block("intro-html1").data
    )


# ---- policies
def test_grading_policy_matches_grading_rules(sample_course: Path, tmp_path: Path) -> None:
    tree = load_course(sample_course)
    files = members(OlxExporter().export(tree, tmp_path))
    policy = json.loads(files["policies/2564_2/grading_policy.json"])
    rules = grading.course_grading(tree)
    assert policy["GRADE_CUTOFFS"] == {"Pass": rules.pass_threshold} == {"Pass": 0.7}
    graders = {g["type"]: g for g in policy["GRADER"]}
    assert sum(g["weight"] for g in policy["GRADER"]) == pytest.approx(1, abs=1e-9)
    by_role = {q.role: q.weight for q in rules.quizzes}
    assert graders["Post-test"]["weight"] == pytest.approx(by_role["post-test"]) == pytest.approx(1 / 1.3)
    assert graders["Graded"]["weight"] == pytest.approx(by_role["graded"])
    for g in graders.values():
        assert (g["min_count"], g["drop_count"]) == (1, 0)
    assert {g["short_label"] for g in graders.values()} == {"Post", "Quiz"}


def test_grading_policy_without_graded_quiz(tmp_path: Path) -> None:
    course = write_course(tmp_path / "c")
    text = (course / "course.yaml").read_text(encoding="utf-8").replace("role: post-test", "role: practice")
    (course / "course.yaml").write_text(text.replace("pass_threshold: 0.5\n", ""), encoding="utf-8")
    root = extract(build(course, tmp_path / "out"), tmp_path / "x")
    policy = json.loads((root / "policies/T1/grading_policy.json").read_text(encoding="utf-8"))
    assert policy["GRADER"] == [
        {"type": "Graded", "min_count": 1, "drop_count": 0, "short_label": "Quiz", "weight": 1.0}
    ]
    assert olxcleaner_findings(root) == []


def test_policy_json(sample_course: Path, gen_course: Path, tmp_path: Path) -> None:
    settings = json.loads(members(build(sample_course, tmp_path / "a"))["policies/2564_2/policy.json"])
    # Each CAPA problem names the quiz and question it comes from, in the toolkit's namespace.
    problems = {key: settings.pop(key) for key in list(settings) if key.startswith("problem/")}
    assert problems["problem/post-q1"] == {lm("quiz"): "post", lm("question"): "q1"}
    assert all(set(entry) == {lm("quiz"), lm("question")} for entry in problems.values())
    assert settings == {
        "course/2564_2": {
            "advanced_modules": [],
            "cert_html_view_enabled": True,
            "cert_name_long": "งบประมาณท้องถิ่นเบื้องต้น",
            "certificates_display_behavior": "early_no_info",
            "course_image": "course-card.png",
            "display_name": "งบประมาณท้องถิ่นเบื้องต้น",
            # Bare dates are Bangkok days: the course opens at 00:00 and closes at 23:59:59 Thai time.
            "end": "2021-09-30T16:59:59Z",
            "language": "th",
            "start": "2021-03-18T17:00:00Z",
        }
    }
    files = members(build(gen_course, tmp_path / "b"))
    settings = json.loads(files["policies/T1/policy.json"])
    assert settings["course/T1"]["days_early_for_beta"] == 3  # the course's kept policy
    assert settings["vertical/u1"] == {"visible_to_staff_only": False}  # a block's kept policy
    assert settings["course/T1"]["cert_html_view_enabled"] is False
    assets = json.loads(files["policies/assets.json"])
    assert assets["card.png"] == {
        "contentType": "image/png",
        "displayname": "card.png",
        "import_path": "card.png",
        "locked": False,
    }
    about = files["about/overview.html"].decode()
    assert about == "<p>คำอธิบาย <strong>หลักสูตร</strong></p>\n"


def test_block_policy_over_xml(gen_course: Path, tmp_path: Path) -> None:
    """Kept settings the XML also states go to policy.json unless the XML holds exactly that string:
    the platform applies policy.json over the XML, so a differing value must win there."""
    text = (gen_course / "course.yaml").read_text(encoding="utf-8")
    policy = '{showanswer: past_due, max_attempts: "2", weight: 2, rerandomize: never}'
    assert "\n        shuffle: true\n" in text
    text = text.replace("\n        shuffle: true\n", f"\n        shuffle: true\n        policy: {policy}\n")
    (gen_course / "course.yaml").write_text(text, encoding="utf-8")
    files = members(build(gen_course, tmp_path))
    settings = json.loads(files["policies/T1/policy.json"])
    problem = xml(files["problem/final-q1.xml"])
    assert (problem.get("showanswer"), problem.get("max_attempts"), problem.get("weight")) == (
        "never",
        "2",
        "2",
    )
    # past_due differs from the XML's "never"; "2" is what the XML says; 2 (a number) is not the
    # string the XML holds, so it is kept and an import reads back the same type.
    expected = {"showanswer": "past_due", "weight": 2, "rerandomize": "never", lm("quiz"): "final"}
    assert settings["problem/final-q1"] == {**expected, lm("question"): "q1"}
    assert settings["problem/final-q6"] == {**expected, lm("question"): "q6"}  # every problem of the quiz


def test_cert_html_view_enabled(gen_course: Path, tmp_path: Path) -> None:
    def cert_setting(course: Path, out: str) -> object:
        settings = json.loads(members(build(course, tmp_path / out))["policies/T1/policy.json"])
        return settings["course/T1"]["cert_html_view_enabled"]

    assert cert_setting(gen_course, "none") is False  # no certificate rules, nothing kept
    text = (gen_course / "course.yaml").read_text(encoding="utf-8")
    kept = text.replace(
        "policy: {days_early_for_beta: 3}", "policy: {days_early_for_beta: 3, cert_html_view_enabled: true}"
    )
    (gen_course / "course.yaml").write_text(kept, encoding="utf-8")
    assert cert_setting(gen_course, "kept") is True  # an imported value is not overwritten
    rules = text.replace("pass_threshold: 0.5\n", "pass_threshold: 0.5\ncertificate: {requires: [pass]}\n")
    rules = rules.replace("policy: {days_early_for_beta: 3}", "policy: {cert_html_view_enabled: false}")
    (gen_course / "course.yaml").write_text(rules, encoding="utf-8")
    assert cert_setting(gen_course, "rules") is True  # certificate rules decide


def test_kept_olx_policy_goes_to_policy_json(gen_course: Path, tmp_path: Path) -> None:
    # RawOlxBlock has no `policy` field yet, so the loader drops a kept block's policy; this stand-in
    # has one, as the exporter expects.
    class RawWithPolicy(RawOlxBlock):
        policy = Dict(scope=Scope.settings, default={})

    text = (gen_course / "course.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "files: [problem/kept-problem.xml]",
        "files: [problem/kept-problem.xml]\n        policy: {max_attempts: 5}",
    )
    text = text.replace(
        'discussion_id="d1"/>\'',
        'discussion_id="d1"/>\'\n        policy: {discussion_category: ทั่วไป, discussion_sort_alpha: true}',
    )
    (gen_course / "course.yaml").write_text(text, encoding="utf-8")

    @XBlock.register_temp_plugin(RawWithPolicy, "lm-raw", group="xblock.v1.overrides")
    def export() -> dict[str, bytes]:
        return members(build(gen_course, tmp_path))

    settings = json.loads(export()["policies/T1/policy.json"])
    assert settings["problem/kept-problem"] == {"max_attempts": 5}
    # A kept element is written as it was, so its policy entry is written whole, even where the
    # element states the same value: an import keeps a kept block's policy.json entry as it is.
    assert settings["discussion/talk"] == {"discussion_category": "ทั่วไป", "discussion_sort_alpha": True}


def test_end_date_defaults_to_a_year_after_start(tmp_path: Path) -> None:
    course = write_course(tmp_path / "c", end=False)
    settings = json.loads(members(build(course, tmp_path / "out"))["policies/T1/policy.json"])["course/T1"]
    assert (settings["start"], settings["end"]) == ("2024-02-28T17:00:00Z", "2025-02-28T17:00:00Z")
    # 29 February a year on is 28 February.
    assert one_year_after("2024-02-29T08:00:00Z") == "2025-02-28T08:00:00Z"


@pytest.mark.parametrize(
    ("given", "expected", "closing"),
    [
        # A date alone is a day in Bangkok (+07:00): it starts at 17:00 UTC the day before and a closing
        # date ends at 23:59:59 Bangkok time, 16:59:59 UTC.
        ("2021-03-19", "2021-03-18T17:00:00Z", "2021-03-19T16:59:59Z"),
        ("2021-01-01", "2020-12-31T17:00:00Z", "2021-01-01T16:59:59Z"),
        ("2021-03-19 08:30", "2021-03-19T01:30:00Z", "2021-03-19T01:30:00Z"),  # no zone: Bangkok time
        ("2021-03-19T08:30:00+07:00", "2021-03-19T08:30:00+07:00", "2021-03-19T08:30:00+07:00"),
        ("2021-03-19T08:30:00Z", "2021-03-19T08:30:00Z", "2021-03-19T08:30:00Z"),
        ("2021-03-19T08:30+0700", "2021-03-19T08:30:00+07:00", "2021-03-19T08:30:00+07:00"),
    ],
)
def test_iso_datetime(given: str, expected: str, closing: str) -> None:
    assert iso_datetime(given) == expected
    assert iso_datetime(given, end_of_day=True) == closing
    if len(given) == 10:  # a date object (YAML reads bare dates as such) means the same day
        assert iso_datetime(date.fromisoformat(given)) == expected
        assert iso_datetime(date.fromisoformat(given), end_of_day=True) == closing


def test_outline_dates_and_ungraded_format(tmp_path: Path) -> None:
    """Section and subsection dates follow the same Bangkok rule; an ungraded subsection keeps its format."""
    course = tmp_path / "full"
    course.mkdir()
    (course / "course.yaml").write_text(
        textwrap.dedent(
            """\
            id: full
            org: DLA
            run: F1
            title: หลักสูตรเต็มรูปแบบ
            start: 2024-01-01
            sections:
              - id: s1
                title: บทที่ 1
                start: 2024-04-01
                subsections:
                  - id: reading
                    title: บทอ่าน
                    format: Homework
                    start: 2024-04-02
                    due: 2024-04-30
                    units:
                      - id: u1
                        title: หน่วยที่ 1
                        blocks:
                          - {type: html, id: h1, body: สวัสดี}
                  - id: exam
                    title: สอบ
                    graded: true
                    due: 2024-05-01T16:30:00+07:00
                    units:
                      - id: u2
                        title: หน่วยที่ 2
                        blocks:
                          - type: quiz
                            id: q
                            role: graded
                            questions:
                              - {type: true-false, prompt: จริงไหม, answer: true}
            """
        ),
        encoding="utf-8",
    )
    files = members(build(course, tmp_path / "out"))
    assert xml(files["chapter/s1.xml"]).get("start") == "2024-03-31T17:00:00Z"
    reading = xml(files["sequential/reading.xml"])
    assert (reading.get("start"), reading.get("due")) == ("2024-04-01T17:00:00Z", "2024-04-30T16:59:59Z")
    assert (reading.get("format"), reading.get("graded")) == ("Homework", None)
    exam = xml(files["sequential/exam.xml"])
    assert (exam.get("format"), exam.get("graded"), exam.get("due")) == (
        "Graded",
        "true",
        "2024-05-01T16:30:00+07:00",
    )
    # Only graded subsections count: the ungraded format adds no grader.
    grading_policy = json.loads(files["policies/F1/grading_policy.json"])
    assert [g["type"] for g in grading_policy["GRADER"]] == ["Graded"]
    course_policy = json.loads(files["policies/F1/policy.json"])["course/F1"]
    assert (course_policy["start"], course_policy["end"]) == ("2023-12-31T17:00:00Z", "2024-12-31T17:00:00Z")


def test_unknown_flavour_is_a_usage_error(sample_course: Path, tmp_path: Path) -> None:
    from localmooc_packager.errors import UsageError

    with pytest.raises(UsageError, match="unknown OLX flavour 'mongo'"):
        build(sample_course, tmp_path, "mongo")
    assert list(tmp_path.iterdir()) == []


def test_cli_builds_both_flavours(sample_course: Path, tmp_path: Path) -> None:
    for extra in ([], ["--olx-flavor", "native"]):
        done = subprocess.run(
            [sys.executable, "-m", "localmooc_packager", "build", str(sample_course), "--format", "olx",
             "-o", str(tmp_path), *extra],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{STEM}-native.olx.tar.gz", f"{STEM}.olx.tar.gz"]


# ---- streaming
def _peak_rss_kib(course: Path, out: Path) -> tuple[int, str]:
    """Peak RSS (KiB) of a fresh interpreter that builds ``course``, and the archive it wrote."""
    script = textwrap.dedent(
        rf"""
        import re
        from pathlib import Path
        from localmooc_packager.exporters.olx import OlxExporter
        from localmooc_packager.source import load_course
        path = OlxExporter().export(load_course(Path({str(course)!r})), Path({str(out)!r}))
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) pytest parent through exec.
        peak = re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1)
        print(peak, path)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    peak_kib, archive = done.stdout.split()
    return int(peak_kib), archive


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_asset_size(tmp_path: Path) -> None:
    """The property is memory independent of asset size: the same course built with a tiny asset and
    with a 200 MB one peaks within 30 MiB of each other (imports and the machine's load move the
    absolute number, which is only checked to be sane)."""
    size = 200 * 1024 * 1024
    small, _ = _peak_rss_kib(write_course(tmp_path / "small", big_asset=1024), tmp_path / "out-small")
    big, archive = _peak_rss_kib(write_course(tmp_path / "big", big_asset=size), tmp_path / "out-big")
    assert big - small < 30 * 1024, (
        f"peak RSS {small // 1024} MiB with a 1 KiB asset, {big // 1024} MiB with 200 MB"
    )
    assert big < 300 * 1024, f"peak RSS {big // 1024} MiB"
    with tarfile.open(archive) as tar:
        assert tar.getmember("DLA-gen-T1/static/big.mp4").size == size


def _tarfile_reference(writer: ArchiveWriter, target: Path, top: str) -> None:
    """The same archive written by Python's tarfile, the reference ArchiveWriter's fast path must match."""
    prefix = f"{top}/"
    with (
        target.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for folder in writer._folders(prefix):
            tar.addfile(writer._tarinfo(folder, 0, tarfile.DIRTYPE))
        for name in writer.names():
            member = writer.members[name]
            data = member.data if member.data is not None else member.source.read_bytes()  # type: ignore[union-attr]
            tar.addfile(writer._tarinfo(prefix + name, member.size, tarfile.REGTYPE), io.BytesIO(data))


def test_tar_writer_matches_tarfile_byte_for_byte(tmp_path: Path) -> None:
    """ArchiveWriter fills tar headers from a template; the bytes equal tarfile's, fallback headers included."""
    for course in sample_courses():
        writer = ArchiveWriter(1_700_000_000)
        olx._OlxBuilder(load_course(course).cached(), writer, "stock").build()
        writer.add_bytes("static/" + "ก" * 40 + ".txt", b"x" * 700)  # not ASCII: a PAX header
        writer.add_bytes("static/" + "a" * 120 + ".txt", b"y" * 512)  # over 100 bytes: a PAX header
        writer.add_bytes("static/empty.txt", b"")
        writer.write_tar_gz(tmp_path / "fast.tar.gz", top="TOP")
        _tarfile_reference(writer, tmp_path / "reference.tar.gz", "TOP")
        # The tar streams are the same bytes; the gzip around them is compressed in chunks (GzipStream).
        fast = gzip.decompress((tmp_path / "fast.tar.gz").read_bytes())
        assert fast == gzip.decompress((tmp_path / "reference.tar.gz").read_bytes()), course.name


@pytest.mark.parametrize("size", [0, 1, GzipStream.CHUNK - 1, GzipStream.CHUNK, 3 * GzipStream.CHUNK + 7])
def test_gzip_stream_is_gzip_and_independent_of_threads(size: int, tmp_path: Path) -> None:
    # Thai text and incompressible bytes, written in uneven pieces across chunk boundaries
    data = (("งบประมาณรายจ่าย " * 9000).encode() + os.urandom(size))[:size]
    outputs = []
    for threads in (1, 2, 4):
        target = tmp_path / f"t{threads}.gz"
        with target.open("wb") as raw, GzipStream(raw, threads=threads) as gz:
            for start in range(0, size, 50_000):
                gz.write(data[start : start + 50_000])
            assert gz.tell() == size
        outputs.append(target.read_bytes())
        assert subprocess.run(["gzip", "-t", str(target)], check=False).returncode == 0  # the real gunzip
    assert outputs[0] == outputs[1] == outputs[2]
    assert gzip.decompress(outputs[0]) == data
    reference = gzip.compress(data, compresslevel=6, mtime=0)
    assert len(outputs[0]) <= len(reference) * 1.01 + 64  # chunking costs next to nothing in size


# ---- plain files from a template
@pytest.mark.parametrize(
    "value",
    ["", "บทที่ ๑ การคลัง", "a&b<c>d\"e'f", "line\nbreak\r\tend", "]]> &amp; \x7f \u2028 \ufffd", "ำ ํา"],
)
def test_plain_xml_is_what_lxml_writes(value: str) -> None:
    for children in ([], [("html", "h1")], [("problem", value or "p"), ("video", "v-1")]):
        attrib = {"display_name": value, "filename": "x", "start": value}
        el = etree.Element("vertical", attrib)
        for tag, url_name in children:
            etree.SubElement(el, tag, url_name=url_name)
        assert olx.plain_xml("vertical", attrib, children) == olx.xml_bytes(el)


def test_plain_xml_refuses_what_xml_cannot_hold() -> None:
    for bad in ("bell\x07", "\ud800", "\ufffe"):
        with pytest.raises(ValueError):
            olx.plain_xml("chapter", {"display_name": bad}, [])
        with pytest.raises(ValueError):
            olx.plain_xml("chapter", {"display_name": "ok"}, [("sequential", bad)])


# ---- CAPA problems from a template
_CAPA_TEXTS = [
    "",
    " ",
    "ข้อ 1 การคลัง",
    "a&b<c>d\"e'f",
    "line\nbreak\r\tend",
    " lead and trail \n",
    "]]> &amp; \x7f \x85 \u2028 \ufffd",
    "ำ ํา",
    "<p>ย่อหน้าเดียว</p>",
    "<p> </p>",
    "<p></p>",
    "<p>a > b \"q\" 'q'</p>",
    "<p>one</p>\n<p>two</p>",
    "<p>x</p>\n",
    "<p>with <strong>bold</strong> and <br> a break</p>",
    "text &amp; entity",
    "<p>a\rb</p>",
    "bell\x07",
]


def _random_question(rng: random.Random, n: int) -> dict[str, Any]:
    def text() -> str:
        return rng.choice(_CAPA_TEXTS)

    kind = rng.choice(["single-choice", "multiple-choice", "true-false", "numeric", "short-text"])
    q: dict[str, Any] = {"id": f"q{n}", "type": kind, "prompt": text()}
    if kind in ("single-choice", "multiple-choice"):
        q["choices"] = [{"id": cid, "text": text()} for cid in "abcd"[: rng.randint(2, 4)]]
        q["answer"] = [c["id"] for c in q["choices"] if rng.random() < 0.5]
    elif kind == "true-false":
        q["answer"] = rng.random() < 0.5
        if rng.random() < 0.3:
            q["labels"] = {"true": text(), "false": "ไม่ใช่"}
    elif kind == "numeric":
        q["answer"] = rng.choice([2503, 0.5, -1, 1e-05])
        q["tolerance"] = rng.choice([None, 0, 0.1, "5%"])
    else:
        q["answer"] = rng.sample(["สถ.", "คำ", "A&B", "ok"], rng.randint(1, 3))
        q["case_sensitive"] = rng.random() < 0.5
    if rng.random() < 0.5:
        q["feedback"] = {cid: text() for cid in ("a", "b", "true") if rng.random() < 0.5}
    if rng.random() < 0.7:
        q["explain"] = text()
    return q


def test_capa_template_is_what_lxml_writes() -> None:
    """problem_xml writes from a template what the lxml tree (capa_question + xml_bytes) writes, or falls
    back to that tree (and its errors) where the template does not apply."""
    rng = random.Random(17)
    templated = 0
    for n in range(3000):
        q = _random_question(rng, n)
        words = olx._ui_words(rng.choice(["th", "en"]))
        attrib = {
            "display_name": rng.choice(_CAPA_TEXTS[:8]),
            "max_attempts": "",
            "showanswer": "x",
            "weight": "1",
        }
        shuffle = rng.random() < 0.5
        try:
            el = etree.Element("problem", attrib)
            olx.capa_question(el, q, shuffle=shuffle, words=words)
            expected: bytes | type[Exception] = olx.xml_bytes(el)
        except (ValueError, TypeError) as exc:
            expected = type(exc)
        if isinstance(expected, bytes):
            assert olx.problem_xml(attrib, q, shuffle, words) == expected, q
        else:
            with pytest.raises(expected):
                olx.problem_xml(attrib, q, shuffle, words)
        templated += olx.capa_template(attrib, q, shuffle, words) is not None
    assert templated > 500  # the template, not only the fallback, was compared


def test_chunked_member_is_written_as_its_bytes(tmp_path: Path) -> None:
    """ArchiveWriter.add_chunks (a member made while the archive is written) gives the bytes add_bytes does."""
    data = ("งบประมาณ " * 20000).encode()
    pieces = [data[i : i + 7000] for i in range(0, len(data), 7000)]
    for write in ("write_zip", "write_tar_gz"):
        made = []
        for chunked in (False, True):
            writer = ArchiveWriter(1700000000)
            writer.add_bytes("a.txt", b"first")
            if chunked:
                writer.add_chunks("page.html", lambda: iter(pieces))
            else:
                writer.add_bytes("page.html", data)
            writer.add_bytes("z.css", b"last")
            target = tmp_path / f"{write}-{chunked}"
            getattr(writer, write)(target)
            made.append(target.read_bytes())
        assert made[0] == made[1], write
