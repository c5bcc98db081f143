"""validate_scorm on real fixture packages (from tests/fixtures/scorm/make_fixtures.py) and offline XSDs."""

from __future__ import annotations

import socket
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from localmooc_packager.errors import Severity, UsageError
from localmooc_packager.safe import parse_xml_bytes
from localmooc_packager.validators import xsd
from localmooc_packager.validators.scorm import validate_scorm

FIXTURES = Path(__file__).parent / "fixtures" / "scorm"
W = Severity.WARNING

# fixture -> exact set of (code, file, line[, severity]); severity defaults to error.
EXPECTED: dict[str, set[tuple]] = {
    "valid-scorm12.zip": set(),
    "valid-scorm2004.zip": set(),
    "nested-manifest.zip": {("scorm-manifest-nested", "course/imsmanifest.xml", 0)},
    "missing-launch.zip": {("scorm-file-missing", "imsmanifest.xml", 28)},
    "datafromlms-in-12.zip": {("scorm-xsd", "imsmanifest.xml", 20)},
    "duplicate-ids.zip": {("scorm-duplicate-id", "imsmanifest.xml", 18)},
    "dangling-identifierref.zip": {("scorm-dangling-ref", "imsmanifest.xml", 18)},
    "cdn-script.zip": {("scorm-network-url", "page2.html", 8, W)},
    "zip-slip.zip": {("scorm-unsafe-path", "../../evil.html", 0)},
    "bad-schemaversion.zip": {("scorm-version-unknown", "imsmanifest.xml", 9)},
    "invalid-xml.zip": {("scorm-xml-invalid", "imsmanifest.xml", 22)},
    "assorted-12.zip": {
        ("scorm-default-organization", "imsmanifest.xml", 11),
        ("scorm-mastery-score", "imsmanifest.xml", 16),
        ("scorm-openedx-launch", "imsmanifest.xml", 24, W),
        ("scorm-file-missing", "imsmanifest.xml", 34),
        ("scorm-path-outside", "imsmanifest.xml", 35),
        ("scorm-network-url", "imsmanifest.xml", 36, W),
        ("scorm-path-outside", "index.html", 14),
        ("scorm-file-unlisted", "notes.txt", 0, W),
        ("scorm-file-unlisted", "style.css", 0, W),
        ("scorm-network-url", "scorm.js", 14, W),
        ("scorm-network-url", "style.css", 1, W),
    },
    "assorted-2004.zip": {
        ("scorm-xsd", "imsmanifest.xml", 22),
        ("scorm-scormtype", "imsmanifest.xml", 40),
        ("scorm-dangling-ref", "imsmanifest.xml", 42),
    },
}


# Under --offline a network fetch is an error and a link leaving the package a warning.
OFFLINE_CHANGES: dict[str, tuple[set[tuple], set[tuple]]] = {
    # fixture: (removed from EXPECTED, added)
    "cdn-script.zip": ({("scorm-network-url", "page2.html", 8, W)}, {("scorm-network-url", "page2.html", 8)}),
    "assorted-12.zip": (
        {
            ("scorm-network-url", "imsmanifest.xml", 36, W),
            ("scorm-network-url", "scorm.js", 14, W),
            ("scorm-network-url", "style.css", 1, W),
        },
        {
            ("scorm-network-url", "imsmanifest.xml", 36),
            ("scorm-network-url", "scorm.js", 14),
            ("scorm-network-url", "style.css", 1),
            ("scorm-network-link", "index.html", 13, W),
        },
    ),
}


def _found(report) -> set[tuple]:
    return {
        (p.code, p.location.file, p.location.line, *([W] if p.severity is W else [])) for p in report.problems
    }


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_fixture_problems(fixture: str) -> None:
    report = validate_scorm(FIXTURES / fixture)
    assert _found(report) == EXPECTED[fixture], "\n".join(map(str, report))
    assert len(report.problems) == len(EXPECTED[fixture]), "a problem was reported twice"


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_fixture_problems_offline(fixture: str) -> None:
    removed, added = OFFLINE_CHANGES.get(fixture, (set(), set()))
    report = validate_scorm(FIXTURES / fixture, offline=True)
    assert _found(report) == (EXPECTED[fixture] - removed) | added, "\n".join(map(str, report))


def test_every_fixture_is_in_the_table() -> None:
    assert {p.name for p in FIXTURES.glob("*.zip")} == set(EXPECTED)


def test_messages_say_why() -> None:
    nested = validate_scorm(FIXTURES / "nested-manifest.zip").problems[0]
    assert "blank page" in nested.message
    xsd_problem = validate_scorm(FIXTURES / "datafromlms-in-12.zip").problems[0]
    assert "adlcp:dataFromLMS" in xsd_problem.message
    assert "SCORM 1.2" in xsd_problem.message
    assorted = validate_scorm(FIXTURES / "assorted-12.zip").problems
    case = [p for p in assorted if p.code == "scorm-file-missing"]
    assert "'style.css'" in case[0].message


def _unzip(fixture: str, target: Path) -> Path:
    with zipfile.ZipFile(FIXTURES / fixture) as zf:
        zf.extractall(target)
    return target


@pytest.mark.parametrize("fixture", ["valid-scorm12.zip", "valid-scorm2004.zip", "assorted-12.zip"])
def test_unpacked_folder_gives_the_same_result(fixture: str, tmp_path: Path) -> None:
    folder = _unzip(fixture, tmp_path / "pkg")
    assert _found(validate_scorm(folder)) == EXPECTED[fixture]


def test_unpacked_nested_folder(tmp_path: Path) -> None:
    folder = _unzip("nested-manifest.zip", tmp_path / "pkg")
    assert _found(validate_scorm(folder)) == EXPECTED["nested-manifest.zip"]


def test_folder_symlink_out_of_the_package_is_unsafe(tmp_path: Path) -> None:
    folder = _unzip("valid-scorm12.zip", tmp_path / "pkg")
    (tmp_path / "secret.txt").write_text("x")
    (folder / "leak.txt").symlink_to(tmp_path / "secret.txt")
    assert _found(validate_scorm(folder)) == {("scorm-unsafe-path", "leak.txt", 0)}


def test_duplicate_zip_member(tmp_path: Path) -> None:
    target = tmp_path / "dup.zip"
    with zipfile.ZipFile(FIXTURES / "valid-scorm12.zip") as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        with pytest.warns(UserWarning, match="Duplicate name"):
            dst.writestr("index.html", "<p>second copy</p>")
        dst.writestr("dir\\page.html", "<p>backslash</p>")
    assert _found(validate_scorm(target)) == {
        ("scorm-duplicate-member", "index.html", 0),
        ("scorm-unsafe-path", "dir\\page.html", 0),
    }


def test_not_a_zip_and_no_such_path(tmp_path: Path) -> None:
    bogus = tmp_path / "course.zip"
    bogus.write_text("not a zip")
    assert _found(validate_scorm(bogus)) == {("scorm-package-unreadable", "course.zip", 0)}
    with pytest.raises(UsageError):
        validate_scorm(tmp_path / "missing.zip")


def test_network_heuristic_ignores_namespaces_and_local_files(tmp_path: Path) -> None:
    folder = _unzip("valid-scorm12.zip", tmp_path / "pkg")
    (folder / "index.html").write_text(
        '<html xmlns="http://www.w3.org/1999/xhtml">\n'
        '<svg xmlns="http://www.w3.org/2000/svg"><use href="#icon"/></svg>\n'
        '<img src="img/logo.png"><script>var ns = "http://www.w3.org/2000/svg";</script>\n'
        '<div style="background: url(//cdn.example.com/bg.png)"></div>\n'
        '<script>import("https://esm.sh/x"); xhr.open("GET", "http://api.example.com/a");</script>\n'
        "</html>\n",
        encoding="utf-8",
    )
    (folder / "data.json").write_text(
        '{"title": "http://example.com/id", "_src": "https://v.example.com/a.mp4"}'
    )
    found = {p for p in _found(validate_scorm(folder)) if p[0] == "scorm-network-url"}
    assert found == {
        ("scorm-network-url", "index.html", 4, W),
        ("scorm-network-url", "index.html", 5, W),
        ("scorm-network-url", "data.json", 1, W),
    }


# What a browser fetches while showing the page (line -> URL); everything else in FETCH_PAGE is inert.
FETCH_PAGE = """<!DOCTYPE html>
<html><head>
<link rel="stylesheet" href="https://cdn.example.com/a.css">
<link rel="icon" href="//cdn.example.com/favicon.ico">
<link rel="canonical" href="https://example.com/page">
<link rel="license" href="http://creativecommons.org/licenses/by/3.0/">
<style>/* url(http://comment.example.com/x.png) */ body { background: url('https://cdn.example.com/bg.png') }
@import "https://cdn.example.com/more.css";</style>
<script src="https://cdn.example.com/jquery.js"></script>
<script>
  // fetch("https://comment.example.com/x")
  var cc = '<span href="http://purl.org/dc/dcmitype/InteractiveResource">';
  document.write('<img src="http://string.example.com/in-a-js-string.png">');
  fetch("https://api.example.com/progress");
</script>
<script type="text/template"><img src="https://template.example.com/x.png"></script>
</head><body>
<!-- <img src="https://comment.example.com/y.png"> -->
<span href="http://purl.org/dc/dcmitype/Text">inert</span>
<p>Text about https://text.example.com/ is not a fetch.</p>
<a href="https://www.dla.go.th/">link</a>
<img srcset="img/a.png 1x, https://cdn.example.com/b.png 2x" src="img/a.png">
<iframe src="https://www.youtube.com/embed/x"></iframe>
<video poster="https://cdn.example.com/p.jpg"><source src="https://cdn.example.com/v.mp4">
<track src="https://cdn.example.com/v.vtt"></video>
<object data="https://cdn.example.com/x.swf"></object>
<div style="background-image: url(https://cdn.example.com/d.png)"></div>
<form action="https://forms.example.com/post"></form>
</body></html>
"""
FETCHED = {
    3: "https://cdn.example.com/a.css",
    4: "//cdn.example.com/favicon.ico",
    7: "https://cdn.example.com/bg.png",
    8: "https://cdn.example.com/more.css",
    9: "https://cdn.example.com/jquery.js",
    14: "https://api.example.com/progress",
    22: "https://cdn.example.com/b.png",
    23: "https://www.youtube.com/embed/x",
    24: "https://cdn.example.com/v.mp4",
    25: "https://cdn.example.com/v.vtt",
    26: "https://cdn.example.com/x.swf",
    27: "https://cdn.example.com/d.png",
}


def _page_problems(tmp_path: Path, offline: bool) -> set[tuple]:
    folder = _unzip("valid-scorm12.zip", tmp_path / "pkg")
    (folder / "index.html").write_text(FETCH_PAGE, encoding="utf-8")
    report = validate_scorm(folder, offline=offline)
    return {
        (p.code, p.location.line, p.severity, p.message.split(" loads ")[-1].split(" ")[0])
        for p in report
        if p.location.file == "index.html"
    }


def test_only_what_a_browser_fetches_is_a_network_problem(tmp_path: Path) -> None:
    problems = _page_problems(tmp_path, offline=False)
    assert {(line, url) for code, line, _, url in problems} == set(FETCHED.items()) | {
        (24, "https://cdn.example.com/p.jpg")
    }
    assert {code for code, *_ in problems} == {"scorm-network-url"}
    assert {severity for _, _, severity, _ in problems} == {W}


def test_offline_makes_fetches_errors_and_reports_links(tmp_path: Path) -> None:
    problems = _page_problems(tmp_path, offline=True)
    fetches = {(line, sev) for code, line, sev, _ in problems if code == "scorm-network-url"}
    assert fetches == {(line, Severity.ERROR) for line in [*FETCHED, 24]}
    links = {(line, sev) for code, line, sev, _ in problems if code == "scorm-network-link"}
    assert links == {(21, W), (28, W)}


def test_js_file_strings_are_not_fetches_but_calls_are(tmp_path: Path) -> None:
    folder = _unzip("valid-scorm12.zip", tmp_path / "pkg")
    (folder / "golf.js").write_text(
        "document.write('<span href=\"http://purl.org/dc/dcmitype/InteractiveResource\">');\n"
        "var home = 'https://www.scorm.com';  // fetch('https://comment.example.com')\n"
        "/* importScripts('https://comment.example.com/w.js') */\n"
        "var url = 'http://a.example.com//b'; fetch(\"https://api.example.com/x\");\n",
        encoding="utf-8",
    )
    found = {(p.location.line, p.severity) for p in validate_scorm(folder) if p.code == "scorm-network-url"}
    assert found == {(4, W)}


# ---- the XSDs themselves


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Python-level guard: any socket connect fails the test. libxml2's own HTTP client is covered by
    ``no_network=True`` on the schema parser and by the resolver recording every remote URL asked for."""
    attempts: list[tuple] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append((address,))
        raise OSError(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def test_official_xsds_load_offline(no_network: list[tuple]) -> None:
    xsd.load_schema.cache_clear()
    xsd.schema_resolver.cache_clear()
    for name in ("scorm12", "scorm2004", "cmi5"):
        assert isinstance(xsd.load_schema(name), etree.XMLSchema)
    resolver = xsd.schema_resolver()
    assert resolver.requested == ["http://www.w3.org/2001/xml.xsd"]
    assert resolver.mapping["http://www.w3.org/2001/xml.xsd"].is_file()
    assert xsd.xsd_dir().is_relative_to(Path(__file__).parents[1] / "schemas")
    assert no_network == []
    # Cached per process: the same compiled object comes back.
    assert xsd.load_schema("scorm2004") is xsd.load_schema("scorm2004")


def test_xml_xsd_import_needs_the_resolver() -> None:
    """Without the resolver the 2004 schemas cannot compile offline, so the test above proves it was used."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    doc = etree.parse(str(xsd.xsd_dir() / "scorm2004" / "_driver.xsd"), parser)
    with pytest.raises(etree.XMLSchemaParseError):
        etree.XMLSchema(doc)


def test_unmapped_remote_import_is_refused(tmp_path: Path, no_network: list[tuple]) -> None:
    schema = tmp_path / "remote.xsd"
    schema.write_text(
        '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        '<xsd:import namespace="urn:x" schemaLocation="http://example.com/x.xsd"/></xsd:schema>'
    )
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(xsd.schema_resolver())
    with pytest.raises((etree.XMLSchemaParseError, xsd.SchemaLoadError)):
        etree.XMLSchema(etree.parse(str(schema), parser))
    assert "http://example.com/x.xsd" in xsd.schema_resolver().requested
    assert no_network == []


def test_validate_manifest_xml_api() -> None:
    with zipfile.ZipFile(FIXTURES / "datafromlms-in-12.zip") as zf:
        tree = parse_xml_bytes(zf.read("imsmanifest.xml"), "imsmanifest.xml")
    issues = xsd.validate_manifest_xml(tree, "1.2")
    assert [(i.line, "adlcp:dataFromLMS" in i.message) for i in issues] == [(20, True)]
    # The same manifest is not a 2004 manifest at all.
    assert xsd.validate_manifest_xml(tree, "2004 4th Edition")
    with pytest.raises(ValueError):
        xsd.validate_manifest_xml(tree, "1.3")


def test_cmi5_course_structure() -> None:
    doc = (
        '<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">'
        '<course id="https://example.org/c"><title><langstring lang="th">หลักสูตร</langstring></title>'
        '<description><langstring lang="th">คำอธิบาย</langstring></description></course>'
        '<au id="https://example.org/c/au1"><title><langstring lang="th">บท</langstring></title>'
        '<description><langstring lang="th">บท</langstring></description><url>au1/index.html</url></au>'
        "</courseStructure>"
    )
    assert xsd.validate_xml(parse_xml_bytes(doc.encode(), "cmi5.xml"), "cmi5") == []
    bad = doc.replace("<url>au1/index.html</url>", "")
    assert [i.line for i in xsd.validate_xml(parse_xml_bytes(bad.encode(), "cmi5.xml"), "cmi5")] == [1]


def test_zip_bomb_in_a_package_refuses_the_package(tmp_path: Path) -> None:
    target = tmp_path / "bomb.zip"
    with zipfile.ZipFile(FIXTURES / "valid-scorm12.zip") as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("media/zeros.bin", bytes(4 * 1024 * 1024), zipfile.ZIP_DEFLATED)
    problems = validate_scorm(target).problems
    assert [(p.code, p.location.file) for p in problems] == [("scorm-package-unreadable", "bomb.zip")]
    assert "member 'media/zeros.bin' refused: compression ratio above 200:1 (zip bomb)" in problems[0].message
