"""Property tests (Hypothesis): any valid course builds into valid packages and survives the OLX round trip.

A strategy draws course sources the way designers write them: Thai titles and text (with the characters
XML and YAML treat specially), the short form (units) or the full form (sections > subsections > units),
html blocks (Markdown), video blocks with small generated MP4 and WebVTT assets, and quizzes mixing the
five question types. For each drawn course:

1. ``check_course`` finds no errors;
2. it builds in every format (OLX stock and native, SCORM 1.2 and 2004) and every package validates with
   zero errors (``validators.validate_path``);
3. OLX import -> OLX export -> import gives the same source (``importers.compare.diff_sources``): the
   importer and exporter reach a fixed point.

Derandomised (the same examples on every run) so that CI is stable; the example count keeps the file
under a minute.
"""

from __future__ import annotations

import string
import unicodedata
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from localmooc_packager.exporters import get as exporter
from localmooc_packager.importers.compare import diff_sources
from localmooc_packager.importers.olx import import_olx
from localmooc_packager.source import check_course
from localmooc_packager.validators import validate_path

# Thai consonants, vowels, tone marks and digits; nikhahit (U+0E4D) is left out because ํ + า typed for
# ำ is a problem the checker reports on purpose (thai-sara-am).
THAI = "".join(chr(c) for c in range(0x0E01, 0x0E3B)) + "".join(
    chr(c) for c in range(0x0E40, 0x0E5C) if c != 0x0E4D
)
TEXT_ALPHABET = THAI + string.ascii_letters + string.digits + " &<>\"'.,()?!%/:-"

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _clean(text: str) -> str:
    return " ".join(text.split())


thai_text = (
    st.text(TEXT_ALPHABET, min_size=1, max_size=40)
    .map(_clean)
    .filter(lambda s: s != "" and unicodedata.normalize("NFC", s) == s and any(c in THAI for c in s))
)


@st.composite
def question(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    q: dict[str, Any] = {"type": kind, "prompt": draw(thai_text)}
    if kind in ("single-choice", "multiple-choice"):
        keys = "abcd"[: draw(st.integers(2, 4))]
        q["choices"] = {k: draw(thai_text) for k in keys}
        if kind == "single-choice":
            q["answer"] = draw(st.sampled_from(keys))
        else:
            q["answer"] = sorted(draw(st.sets(st.sampled_from(keys), min_size=1)))
    elif kind == "true-false":
        q["answer"] = draw(st.booleans())
    elif kind == "numeric":
        q["answer"] = draw(st.integers(-10_000, 10_000) | st.sampled_from([0.5, 2.25, 3.75, 1000.5]))
        if draw(st.booleans()):
            q["tolerance"] = draw(st.sampled_from([0, 1, "5%"]))
    else:
        q["answer"] = draw(st.lists(thai_text, min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        q["explain"] = draw(thai_text)
    return q


KINDS = ["single-choice", "multiple-choice", "true-false", "numeric", "short-text"]


@st.composite
def quiz(draw: st.DrawFn, block_id: str, role: str) -> dict[str, Any]:
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5))
    block: dict[str, Any] = {
        "type": "quiz",
        "id": block_id,
        "title": draw(thai_text),
        "role": role,
        "questions": [draw(question(k)) for k in kinds],
    }
    if role in ("graded", "post-test") and draw(st.booleans()):
        block["weight"] = draw(st.integers(1, 5))
    if draw(st.booleans()):
        block["attempts"] = draw(st.integers(0, 3))
    return block


def _vtt(text: str) -> str:
    return f"WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n{text}\n"


@st.composite
def course(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, bytes]]:
    """(course.yaml data, static files by name). Ids are counted, so they are unique by construction."""
    assets: dict[str, bytes] = {}
    counter = iter(range(1000))
    post_test_used = False

    def unit() -> dict[str, Any]:
        nonlocal post_test_used
        n = next(counter)
        blocks: list[dict[str, Any]] = []
        for kind in draw(st.lists(st.sampled_from(["html", "video", "quiz"]), min_size=1, max_size=3)):
            b = next(counter)
            if kind == "html":
                blocks.append({"type": "html", "body": f"## {draw(thai_text)}\n\n{draw(thai_text)}\n"})
            elif kind == "video":
                name = f"v{b}.mp4"
                # A tiny MP4 header and some bytes: packages bundle the file, nothing decodes it here.
                assets[name] = b"\x00\x00\x00\x18ftypmp42" + draw(st.binary(min_size=1, max_size=64))
                video: dict[str, Any] = {"type": "video", "id": f"vid{b}", "src": f"static/{name}"}
                if draw(st.booleans()):
                    assets[f"v{b}.th.vtt"] = _vtt(draw(thai_text)).encode()
                    video["subtitles"] = {"th": f"static/v{b}.th.vtt"}
                if draw(st.booleans()):
                    video["title"] = draw(thai_text)
                    video["minutes"] = draw(st.sampled_from([1, 2.5, 10]))
                blocks.append(video)
            else:
                roles = ["pre-test", "practice", "graded"] + ([] if post_test_used else ["post-test"])
                role = draw(st.sampled_from(roles))
                post_test_used |= role == "post-test"
                blocks.append(draw(quiz(f"quiz{b}", role)))
        return {"id": f"u{n}", "title": draw(thai_text), "blocks": blocks}

    data: dict[str, Any] = {
        "id": draw(st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)),
        "org": "DLA",
        "run": "2568_1",
        "title": draw(thai_text),
        "start": "2025-10-01",
        "end": "2026-09-30",
        "pass_threshold": draw(st.sampled_from([0.5, 0.6, 0.75, 1])),
    }
    if draw(st.booleans()):
        data["short_description"] = draw(thai_text)
    if draw(st.booleans()):  # short form
        data["units"] = [unit() for _ in range(draw(st.integers(1, 3)))]
    else:
        data["sections"] = [
            {
                "id": f"s{next(counter)}",
                "title": draw(thai_text),
                "subsections": [
                    {"id": f"ss{next(counter)}", "title": draw(thai_text), "units": [unit()]}
                    for _ in range(draw(st.integers(1, 2)))
                ],
            }
            for _ in range(draw(st.integers(1, 2)))
        ]
    return data, assets


def write_course(folder: Path, data: dict[str, Any], assets: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    (folder / "static").mkdir()
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    (folder / "course.yaml").write_text(text, encoding="utf-8")
    for name, content in assets.items():
        (folder / "static" / name).write_bytes(content)
    return folder


# Found by this test: the first question's prompt cannot be mapped back ("<" renders differently), so
# the import keeps it raw and the second question comes back as quiz "quiz2-q2"; exported again as problem
# "quiz2-q2-q1", the next import read it as quiz "quiz2" + question "q2-q1" (importers/olx.py split_group).
SPLIT_QUIZ_ID = (
    {
        "id": "a",
        "org": "DLA",
        "run": "2568_1",
        "title": "ก",
        "start": "2025-10-01",
        "end": "2026-09-30",
        "pass_threshold": 0.5,
        "units": [
            {
                "id": "u0",
                "title": "ก",
                "blocks": [
                    {
                        "type": "quiz",
                        "id": "quiz2",
                        "title": "ก",
                        "role": "pre-test",
                        "questions": [
                            {
                                "type": "single-choice",
                                "prompt": "<ก",
                                "choices": {"a": "ก", "b": "ข"},
                                "answer": "a",
                            },
                            {"type": "true-false", "prompt": "ก", "answer": False},
                        ],
                    }
                ],
            }
        ],
    },
    {},
)

BUILDS = [("olx", "stock"), ("olx", "native"), ("scorm12", None), ("scorm2004", None)]


@PROPERTY_SETTINGS
@given(drawn=course())
@example(drawn=SPLIT_QUIZ_ID)
def test_valid_courses_build_validate_and_round_trip(
    drawn: tuple[dict[str, Any], dict[str, bytes]], tmp_path_factory: Any
) -> None:
    data, assets = drawn
    work = tmp_path_factory.mktemp("prop")
    src = write_course(work / "src", data, assets)
    tree, report = check_course(src)
    assert report.errors == [], [str(p) for p in report.errors]
    assert tree is not None

    packages = {}
    for fmt, flavor in BUILDS:
        options = {"olx_flavor": flavor} if flavor else {}
        path = exporter(fmt).export(tree, work / "out", **options)
        kind, built = validate_path(path)
        assert kind == ("olx" if fmt == "olx" else "scorm")
        assert built.errors == [], (path.name, [str(p) for p in built.errors])
        packages[(fmt, flavor)] = path
    assert len({p.name for p in packages.values()}) == 4

    first = work / "import1"
    imported = import_olx(packages[("olx", "stock")], first)
    assert imported.errors == [], [str(p) for p in imported.errors]
    tree1, report1 = check_course(first)
    assert tree1 is not None, [str(p) for p in report1.errors]
    again = exporter("olx").export(tree1, work / "out2", olx_flavor="stock")
    second = work / "import2"
    assert import_olx(again, second).errors == []
    assert diff_sources(first, second) == []
