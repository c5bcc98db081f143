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
    "cdn-script.zip": {("scorm-network-url", "page2.html", 8)},
    "zip-slip.zip": {("scorm-unsafe-path", "../../evil.html", 0)},
    "bad-schemaversion.zip": {("scorm-version-unknown", "imsmanifest.xml", 9)},
    "invalid-xml.zip": {("scorm-xml-invalid", "imsmanifest.xml", 22)},
    "assorted-12.zip": {
        ("scorm-default-organization", "imsmanifest.xml", 11),
        ("scorm-mastery-score", "imsmanifest.xml", 16),
        ("scorm-openedx-launch", "imsmanifest.xml", 24, W),
        ("scorm-file-missing", "imsmanifest.xml", 34),
        ("scorm-path-outside", "imsmanifest.xml", 35),
        ("scorm-network-url", "imsmanifest.xml", 36),
        ("scorm-network-url", "index.html", 12, W),
        ("scorm-path-outside", "index.html", 13),
        ("scorm-file-unlisted", "notes.txt", 0, W),
        ("scorm-file-unlisted", "style.css", 0, W),
        ("scorm-network-url", "scorm.js", 14),
        ("scorm-network-url", "style.css", 1),
    },
    "assorted-2004.zip": {
        ("scorm-xsd", "imsmanifest.xml", 22),
        ("scorm-scormtype", "imsmanifest.xml", 40),
        ("scorm-dangling-ref", "imsmanifest.xml", 42),
    },
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
        ("scorm-network-url", "index.html", 4),
        ("scorm-network-url", "index.html", 5),
        ("scorm-network-url", "data.json", 1),
    }


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
