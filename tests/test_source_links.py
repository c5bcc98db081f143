"""Links and images in bodies: every form that reaches a file in static/ becomes `/static/NAME`, in every
package; tests/test_source_fixtures.py holds the exact messages for the ones that do not resolve."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from localmooc_packager.build import build_course
from localmooc_packager.source import load_course
from localmooc_packager.source.links import CourseFiles, links, resolve

from conftest import FIXTURES

VALID = FIXTURES / "source" / "links-valid"


def _bodies(course: Path) -> str:
    tree = load_course(course)
    out = []
    for block, _ in tree.walk():
        kind = block.scope_ids.block_type
        if kind == "lm-html":
            out.append(block.data)
        elif kind == "lm-quiz":
            out.extend(q.get("prompt", "") + q.get("explain", "") for q in block.questions)
    return "\n".join(out)


def test_every_written_form_becomes_the_canonical_static_path() -> None:
    html = _bodies(VALID)
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls == [
        "/static/waste-bins.png",  # ../static/ from units/bins.md, with a title
        "/static/img/compost.png",  # an <img> in Markdown
        "/static/waste-bins.png",  # percent-encoded
        "/static/img/compost.png",  # a reference-style link definition
        "/static/waste-bins.png",  # static/ in an inline body
        "/static/img/compost.png?v=2#top",  # ./static/ with a query and a fragment
        "/static/img/compost.png",  # a path through another folder
        "/static/img/compost.png",  # a quiz prompt
        "/static/img/compost.png",  # a quiz explanation in the /static/ form already
    ]
    assert "nothing.png" in html  # inside a code span: text, not a link


def test_packages_carry_the_images_the_bodies_name(tmp_path: Path) -> None:
    written = {p.name: p for p, _ in build_course(VALID, tmp_path, ["scorm12", "olx"])}
    scorm = next(p for n, p in written.items() if n.endswith(".zip"))
    with zipfile.ZipFile(scorm) as zf:
        names = set(zf.namelist())
        page = zf.read("index.html").decode("utf-8")
    srcs = set(re.findall(r'src="([^"?#]+)', page)) - {"player.js"}
    assert len(srcs) == 2, srcs
    assert (
        sorted(src for src in srcs if src not in names) == []
    )  # each image the page loads is inside the package


def test_links_skip_code_and_other_schemes() -> None:
    text = "`<img src=a.png>`\n\n```\n![](b.png)\n```\n[m](mailto:x@y.th) [t](#top) ![](c.png)"
    assert [(link.url, link.line, link.column) for link in links(text, markdown=True)] == [
        ("mailto:x@y.th", 6, 5),
        ("#top", 6, 24),
        ("c.png", 6, 34),
    ]
    files = CourseFiles(VALID)
    assert resolve("mailto:x@y.th", "units", files) is None
    assert resolve("/jump_to_id/abc", "units", files) is None
    resolved = resolve("../static/waste-bins.png", "units", files)
    assert resolved is not None and resolved.canonical == "/static/waste-bins.png"


def test_a_followed_link_that_names_no_file_warns_and_a_missing_file_or_image_is_an_error(
    tmp_path: Path,
) -> None:
    """Studio exports link block ids and bare words (`href="07c8...`, `href="Edx.org Read The Docs"`): the
    platform resolves them against the page's address, so they warn. A link that names a file (an extension
    or a folder) and every embedded image must still reach a course file."""
    import shutil

    from localmooc_packager.source import check_course

    course = tmp_path / "c"
    shutil.copytree(VALID, course)
    page = (
        '<p><a href="07c8d8e217e04f8ca2f10bbd3cb36980">XBlocks</a> '
        '<a href="Edx.org Read The Docs">docs</a> '
        '<a href="handout.pdf">handout</a> <img src="chart" alt="แผนภูมิ"></p>\n'
    )
    (course / "units" / "links.html").write_text(page, encoding="utf-8")
    text = (course / "course.yaml").read_text(encoding="utf-8")
    text = text.replace("    blocks:\n", "    blocks:\n      - {type: html, file: units/links.html}\n", 1)
    (course / "course.yaml").write_text(text, encoding="utf-8")
    _, report = check_course(course)
    found = [(p.code, p.severity.value, p.location.column) for p in report if "links.html" in p.location.file]
    assert found == [
        ("link-not-a-file", "warning", 13),  # a block id
        ("link-not-a-file", "warning", 68),  # a word with a dot, not a file type
        ("asset-missing", "error", 109),  # handout.pdf names a file, and there is none
        ("asset-missing", "error", 144),  # an image must be a course file, whatever its name
    ]
