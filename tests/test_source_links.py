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
