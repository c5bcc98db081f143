"""Real third-party SCORM packages (tests/fixtures/scorm/real, provenance in SOURCES.md) validate cleanly.

Rustici's golf examples play in every LMS, and ADL's SCORM 2004 4th edition LMS test packages are the
conformance suite's own content: any error reported on them is a false alarm of ours, except for the one
file ADL's build compiles (``LMSTest.jar``), which the repository does not hold.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from pathlib import Path

import pytest

from localmooc_packager.errors import Severity
from localmooc_packager.validators.scorm import validate_scorm

REAL = Path(__file__).parent / "fixtures" / "scorm" / "real"
GOLF = sorted((REAL / "golf").glob("*.zip"))
ADL_ZIP = REAL / "adl" / "adl-scorm2004-4ed-lms-test-courses.zip"
COURSES = "LMSRTE/Courses/"


W = Severity.WARNING
# The 4th edition example loads jQuery from Google's CDN: valid (it plays in any LMS that is online), a
# warning by default and an error with --offline. It also carries a stray copy of a schema named .xsx.
CDN = {
    ("scorm-network-url", "shared/launchpage.html", 11),
    ("scorm-network-url", "shared/launchpage.html", 12),
}
WARNINGS: dict[str, set[tuple]] = {
    "SequencingPostTestRollup4thEd_SCORM20044thEdition.zip": CDN
    | {("scorm-file-unlisted", "adlcp_v1p3.xsx", 0)},
}
OFFLINE_ERRORS: dict[str, set[tuple]] = {"SequencingPostTestRollup4thEd_SCORM20044thEdition.zip": CDN}


def _where(problems: list) -> set[tuple]:
    return {(p.code, p.location.file, p.location.line) for p in problems}


def test_the_corpus_is_there_and_modest() -> None:
    assert len(GOLF) == 9
    versions = set()
    for package in GOLF:
        with zipfile.ZipFile(package) as zf:
            manifest = zf.read("imsmanifest.xml").decode("utf-8", "replace")
        versions |= {
            v for v in ("1.2", "CAM 1.3", "2004 3rd Edition", "2004 4th Edition") if f">{v}<" in manifest
        }
    assert versions == {"1.2", "CAM 1.3", "2004 3rd Edition", "2004 4th Edition"}
    total = sum(p.stat().st_size for p in REAL.rglob("*") if p.is_file())
    assert total < 4_500_000


@pytest.mark.parametrize("package", GOLF, ids=lambda p: p.name)
def test_golf_example_is_valid(package: Path) -> None:
    report = validate_scorm(package)
    assert report.errors == [], "\n".join(map(str, report))
    # Creative Commons links written by document.write and schema files in sub-folders are fine.
    assert _where(report.warnings) == WARNINGS.get(package.name, set()), "\n".join(map(str, report))


@pytest.mark.parametrize("package", GOLF, ids=lambda p: p.name)
def test_golf_example_offline(package: Path) -> None:
    report = validate_scorm(package, offline=True)
    assert _where(report.errors) == OFFLINE_ERRORS.get(package.name, set()), "\n".join(map(str, report))


@pytest.mark.parametrize("package", GOLF[:3], ids=lambda p: p.name)
def test_golf_example_unpacked_gives_the_same_report(package: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(package) as zf:
        zf.extractall(tmp_path)
    assert validate_scorm(tmp_path).problems == validate_scorm(package).problems


def _adl_packages() -> dict[str, bytes]:
    """Each LMS test package zipped as ADL's buildTestPackages.xml assembles it: the package folder, plus
    common/ (the shared scripts), includes/ (the style sheet) and resources/ (the SCO depot)."""
    with zipfile.ZipFile(ADL_ZIP) as zf:
        files = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    shared: dict[str, bytes] = {}
    for name, data in files.items():
        base = posixpath.basename(name)
        if name.startswith("scripts/") or name == f"{COURSES}scripts/lmsrtefunctions.js":
            shared[f"common/{base}"] = data
        elif name.startswith(f"{COURSES}includes/"):
            shared[f"includes/{base}"] = data
        elif name.startswith(f"{COURSES}SCODepot/"):
            shared[f"resources/{base}"] = data
    names = sorted({n[len(COURSES) :].split("/")[0] for n in files if n.endswith("/imsmanifest.xml")})
    packages = {}
    for name in names:
        own = {
            n[len(COURSES) + len(name) + 1 :]: d
            for n, d in files.items()
            if n.startswith(f"{COURSES}{name}/")
        }
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as out:
            for rel, data in sorted({**shared, **own}.items()):
                out.writestr(rel, data)
        packages[name] = buf.getvalue()
    return packages


def test_adl_lms_test_packages_have_no_false_alarms(tmp_path: Path) -> None:
    packages = _adl_packages()
    assert len(packages) == 189
    unexpected = []
    for name, data in packages.items():
        path = tmp_path / f"{name}.zip"
        path.write_bytes(data)
        for problem in validate_scorm(path, offline=True):
            jar = problem.code == "scorm-file-missing" and "LMSTest.jar'" in problem.message
            if problem.severity is Severity.ERROR and not jar:
                unexpected.append(f"{name}: {problem}")
    assert unexpected == []


def test_adl_whitespace_around_identifiers_is_collapsed(tmp_path: Path) -> None:
    """OB-02b writes identifier="   SEQ01     " and identifierref="SEQ01": xs:ID collapses whitespace."""
    path = tmp_path / "ob.zip"
    path.write_bytes(_adl_packages()["LMSTestPackage_OB-02b"])
    with zipfile.ZipFile(path) as zf:
        assert b'identifier="   SEQ01     "' in zf.read("imsmanifest.xml")
    codes = {p.code for p in validate_scorm(path).errors}
    assert codes == {"scorm-file-missing"}
