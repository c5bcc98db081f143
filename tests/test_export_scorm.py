"""SCORM 1.2 / 2004 export without a browser: manifest, members, determinism, offline, course data."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from localmooc_packager import exporters
from localmooc_packager.build import build_course
from localmooc_packager.exporters.scorm import Scorm12Exporter, Scorm2004Exporter
from localmooc_packager.grading import course_grading
from localmooc_packager.source import load_course
from localmooc_packager.validators.scorm import validate_scorm

from conftest import sample_courses

EXPORTERS = {"scorm12": Scorm12Exporter, "scorm2004": Scorm2004Exporter}
SAMPLE = Path(__file__).resolve().parent.parent / "sample_courses" / "local-budget-basics"
NETWORK = re.compile(rb"(?i)(?:(?:https?|wss?|ftp):)?//[a-z0-9\[][^\s\"'<>()]*")
IMSSS = "http://www.imsglobal.org/xsd/imsss"


def _build(course: Path, name: str, out: Path) -> Path:
    return EXPORTERS[name]().export(load_course(course), out)


def _manifest(package: Path) -> etree._Element:
    with zipfile.ZipFile(package) as zf:
        return etree.fromstring(zf.read("imsmanifest.xml"))


def _page_data(package: Path) -> dict:
    with zipfile.ZipFile(package) as zf:
        page = zf.read("index.html").decode()
    m = re.search(r'<script type="application/json" id="lm-data">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1))


@pytest.mark.parametrize("name", sorted(EXPORTERS))
@pytest.mark.parametrize("course", sample_courses(), ids=lambda p: p.name)
def test_every_sample_validates_without_any_problem(course: Path, name: str, tmp_path: Path) -> None:
    package = _build(course, name, tmp_path)
    report = validate_scorm(package)
    assert [str(p) for p in report.problems] == []


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_exact_member_list_and_every_file_listed(name: str, tmp_path: Path) -> None:
    package = _build(SAMPLE, name, tmp_path)
    assert package.name == f"DLA-local-budget-basics-2564_2.{name}.zip"
    with zipfile.ZipFile(package) as zf:
        names = zf.namelist()
    assert names == [
        "imsmanifest.xml",
        "index.html",
        "lm.css",
        "player.css",
        "player.js",
        "static/course-card.png",
        "static/fiscal-year.png",
        "static/intro.mp4",
        "static/intro.th.vtt",
    ]
    root = _manifest(package)
    listed = [f.get("href") for f in root.iter("{*}file")]
    assert sorted(listed) == sorted(n for n in names if n != "imsmanifest.xml")


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_two_builds_are_byte_identical(name: str, tmp_path: Path) -> None:
    first = _build(SAMPLE, name, tmp_path / "a").read_bytes()
    second = _build(SAMPLE, name, tmp_path / "b").read_bytes()
    assert first == second


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_no_member_names_a_network_url(name: str, tmp_path: Path) -> None:
    package = _build(SAMPLE, name, tmp_path)
    with zipfile.ZipFile(package) as zf:
        found = {
            n: NETWORK.findall(zf.read(n))
            for n in zf.namelist()
            if n.endswith((".html", ".js", ".css", ".vtt"))
        }
    # In the manifest, namespace declarations are names, not loads: check every value and text instead.
    root = _manifest(package)
    found["imsmanifest.xml"] = [
        v
        for el in root.iter()
        for v in [*el.attrib.values(), el.text or ""]
        if NETWORK.search(v.strip().encode())
    ]
    assert {n: urls for n, urls in found.items() if urls} == {}


def test_scorm12_manifest(tmp_path: Path) -> None:
    root = _manifest(_build(SAMPLE, "scorm12", tmp_path))
    ns = {
        "cp": "http://www.imsproject.org/xsd/imscp_rootv1p1p2",
        "adlcp": "http://www.adlnet.org/xsd/adlcp_rootv1p2",
    }
    assert root.findtext("cp:metadata/cp:schema", namespaces=ns) == "ADL SCORM"
    assert root.findtext("cp:metadata/cp:schemaversion", namespaces=ns) == "1.2"
    assert len(root.findall("cp:organizations/cp:organization", ns)) == 1
    items = root.findall(".//cp:item", ns)
    assert len(items) == 1  # the whole course is one SCO
    assert items[0].findtext("adlcp:masteryscore", namespaces=ns) == "70"  # pass_threshold 0.7
    resources = root.findall("cp:resources/cp:resource", ns)
    assert resources[0].get("identifier") == items[0].get("identifierref")
    assert resources[0].get("href") == "index.html"
    assert resources[0].get(f"{{{ns['adlcp']}}}scormtype") == "sco"


def test_scorm2004_manifest(tmp_path: Path) -> None:
    root = _manifest(_build(SAMPLE, "scorm2004", tmp_path))
    ns = {"cp": "http://www.imsglobal.org/xsd/imscp_v1p1", "adlcp": "http://www.adlnet.org/xsd/adlcp_v1p3"}
    assert root.findtext("cp:metadata/cp:schemaversion", namespaces=ns) == "2004 4th Edition"
    assert root.findtext("cp:metadata/cp:schema", namespaces=ns) == "ADL SCORM"
    items = root.findall(".//cp:item", ns)
    assert len(items) == 1
    primary = items[0].find(f"{{{IMSSS}}}sequencing/{{{IMSSS}}}objectives/{{{IMSSS}}}primaryObjective")
    assert primary is not None and primary.get("satisfiedByMeasure") == "true"
    assert primary.findtext(f"{{{IMSSS}}}minNormalizedMeasure") == "0.7"
    first = root.find("cp:resources/cp:resource", ns)
    assert first is not None
    assert (first.get("href"), first.get(f"{{{ns['adlcp']}}}scormType")) == ("index.html", "sco")
    assert first.get("identifier") == items[0].get("identifierref")


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_player_page_uses_the_blocks_markup_and_relative_assets(name: str, tmp_path: Path) -> None:
    package = _build(SAMPLE, name, tmp_path)
    with zipfile.ZipFile(package) as zf:
        page = zf.read("index.html").decode()
    assert page.startswith('<!DOCTYPE html>\n<html lang="th"')
    assert [m for m in re.findall(r'data-lm-unit="([^"]+)"', page)] == [
        "intro",
        "revenue",
        "process",
        "final",
    ]
    for hook in (
        'data-lm="next"',
        'data-lm="prev"',
        'data-lm="submit"',
        'data-lm-quiz="post"',
        'data-lm-question="q3" data-lm-qtype="multiple-choice"',
        'data-lm-input="q5"',
        'data-lm-choice="b"',
    ):
        assert hook in page
    assert 'src="static/fiscal-year.png"' in page and 'src="static/intro.mp4"' in page
    assert "/static/" not in page
    assert "json/xblock-args" not in page  # the runtime's init blobs are not shipped
    assert '<h1 class="lm-course-title">' in page and '<h2 class="lm-title">' in page


def test_course_data_carries_key_and_grading_rules(tmp_path: Path) -> None:
    data = _page_data(_build(SAMPLE, "scorm12", tmp_path))
    grading = course_grading(load_course(SAMPLE))
    assert data["scorm"] == "1.2"
    assert data["grading"] == {
        "threshold": 0.7,
        "post_test": "post",
        "weights": {q.id: q.weight for q in grading.quizzes},
    }
    assert set(data["grading"]["weights"]) == {"process-quiz", "post"}  # pre-test and practice never count
    post = next(q for q in data["quizzes"] if q["id"] == "post")
    assert (post["role"], post["attempts"], post["unit"]) == ("post-test", 3, 3)
    by_id = {q["id"]: q for q in post["questions"]}
    assert by_id["q1"]["choices"] == ["a", "b", "c"] and by_id["q1"]["answer"] == ["b"]
    assert by_id["q4"]["answer"] is True and by_id["q5"]["answer"] == ["สภาเทศบาล"]
    assert re.fullmatch(r"[0-9a-f]{6}", data["fingerprint"])


def test_registered_as_exporters_and_built_by_the_pipeline(tmp_path: Path) -> None:
    assert isinstance(exporters.get("scorm12"), Scorm12Exporter)
    assert isinstance(exporters.get("scorm2004"), Scorm2004Exporter)
    built = [b.path.name for b in build_course(SAMPLE, tmp_path, ["scorm12", "scorm2004"], olx_flavor="x")]
    assert built == [
        "DLA-local-budget-basics-2564_2.scorm12.zip",
        "DLA-local-budget-basics-2564_2.scorm2004.zip",
    ]


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_a_build_inside_the_course_folder_does_not_change_the_next(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The package time is the newest source file's: an earlier build written inside the course folder, or
    a hidden file (an editor's swap file, .git), is not a source file."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    course = tmp_path / "course"
    shutil.copytree(SAMPLE, course)
    first = _build(course, name, course / "dist").read_bytes()
    (course / ".notes.swp").write_text("later")
    second = _build(course, name, course / "dist").read_bytes()
    assert first == second


def test_export_leaves_the_course_values_as_they_were(tmp_path: Path) -> None:
    """The units render from values read once per block and shared read-only: nothing is written back."""
    tree = load_course(SAMPLE)
    before = json.dumps(tree.runtime.tree_data.course, sort_keys=True, default=str)
    Scorm12Exporter().export(tree, tmp_path)
    Scorm2004Exporter().export(tree, tmp_path)
    assert json.dumps(tree.runtime.tree_data.course, sort_keys=True, default=str) == before
    assert "get_block" not in vars(tree.runtime) and "service" not in vars(tree.runtime)  # runtime restored
