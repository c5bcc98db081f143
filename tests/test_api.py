"""The public library API: its surface (help, __all__, types), path arguments, eagerness, argument errors,
open_package on every kind of package, and every example of docs/api.md run as written."""

from __future__ import annotations

import io
import os
import pydoc
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import localmooc_packager as lm

from conftest import ROOT

SAMPLE = ROOT / "sample_courses" / "local-budget-basics"
FUNCTIONS = [
    "check_course",
    "load_course",
    "build_course",
    "validate_path",
    "open_package",
    "import_olx",
    "open_store",
    "list_formats",
    "list_blocks",
    "new_xblock",
]


def test_help_starts_with_the_public_functions() -> None:
    text = pydoc.render_doc(lm, renderer=pydoc.plaintext)
    lines = text.splitlines()
    head = "\n".join(lines[:30])
    for name in FUNCTIONS:
        assert f"    {name}(" in head, name
    # The whole page stays readable: the functions are documented, not only listed.
    functions = text.split("\nFUNCTIONS\n", 1)[1]
    for name in FUNCTIONS:
        assert f"\n    {name}(" in functions, name


def test_all_is_sorted_unique_and_importable() -> None:
    assert lm.__all__ == sorted(set(lm.__all__))
    for name in lm.__all__:
        assert getattr(lm, name) is not None
    assert set(FUNCTIONS) <= set(lm.__all__)
    assert (Path(lm.__file__).parent / "py.typed").is_file()


def test_import_is_light() -> None:
    """`import localmooc_packager` does not pull in XBlock, lxml or SQLAlchemy (the CLI starts fast)."""
    code = "import sys, localmooc_packager; print(sorted(m for m in ('xblock', 'lxml', 'sqlalchemy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


class OwnPath(os.PathLike[str]):
    def __init__(self, path: Path) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return str(self.path)


@pytest.mark.parametrize("convert", [str, Path, OwnPath], ids=["str", "Path", "PathLike"])
def test_every_path_parameter_takes_str_and_pathlike(tmp_path: Path, convert: type) -> None:
    tree = lm.load_course(convert(SAMPLE))
    assert tree.course.display_name
    assert lm.check_course(convert(SAMPLE / "course.yaml"))[1].ok(strict=True)
    built = lm.build_course(convert(SAMPLE), convert(tmp_path / "out"), "olx")
    assert [b.format for b in built] == ["olx"] and built[0].path.is_file()
    assert lm.validate_path(convert(built[0].path))[0] == "olx"
    assert lm.open_package(convert(built[0].path)).kind == "olx"
    assert lm.import_olx(convert(built[0].path), convert(tmp_path / "imported")).errors == []


def test_build_course_is_eager(tmp_path: Path) -> None:
    result = lm.build_course(SAMPLE, tmp_path, ["olx", "scorm12"])  # not iterated: already written
    assert isinstance(result, list)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(b.path.name for b in result)
    assert [b.format for b in result] == ["olx", "scorm12"] and all(b.seconds >= 0 for b in result)
    path, seconds = result[0]  # unpacks as the (path, seconds) pairs of earlier versions
    assert path == result[0].path and seconds == result[0].seconds
    every = lm.build_course(SAMPLE, tmp_path / "all")
    assert [b.format for b in every] == ["olx", "scorm12", "scorm2004"]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda t: lm.build_course(SAMPLE, t, []),
            lm.UsageError,
            "formats is empty: give at least one format",
        ),
        (
            lambda t: lm.build_course(SAMPLE, t, ["pdf"]),
            lm.UsageError,
            "unknown format 'pdf'; available: olx",
        ),
        (lambda t: lm.build_course(SAMPLE, t, [1]), lm.UsageError, "formats must be a format name or a list"),
        (lambda t: lm.build_course("", t), lm.UsageError, "course_dir is empty"),
        (
            lambda t: lm.load_course(None),
            lm.UsageError,
            "course_dir must be a path (str or os.PathLike), not NoneType",
        ),
        (lambda t: lm.load_course(t / "nope"), lm.UsageError, "nope: no such folder"),
        (lambda t: lm.check_course(42), lm.UsageError, "not int"),
        (
            lambda t: lm.validate_path(SAMPLE, "pdf"),
            lm.UsageError,
            "kind 'pdf': use one of source, olx, scorm",
        ),
        (lambda t: lm.open_package(t / "nope.zip"), lm.UsageError, "nope.zip: no such file or folder"),
        (lambda t: lm.open_store("runtime.db"), lm.UsageError, "give a SQLAlchemy URL such as sqlite:///"),
        (lambda t: lm.new_xblock("Flash Cards", t), lm.UsageError, "use lower-case ASCII letters and digits"),
        (lambda t: lm.new_xblock("quiz", t), lm.UsageError, "'quiz' is a built-in block type"),
    ],
)
def test_bad_arguments_raise_the_packages_errors(
    tmp_path: Path, call: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as exc:
        call(tmp_path)  # type: ignore[operator]
    assert message in str(exc.value)
    assert isinstance(exc.value, lm.LocalMoocError) and exc.value.exit_code == 2
    assert not (tmp_path / "olx").exists()


def test_an_invalid_course_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(lm.InvalidInputError) as exc:
        lm.build_course(ROOT / "tests" / "fixtures" / "source" / "quiz-answer-unknown", tmp_path / "out")
    assert len(exc.value.report.errors) == 4 and not (tmp_path / "out").exists()


# ---- open_package


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("built")
    return {b.format: b.path for b in lm.build_course(SAMPLE, out)}


def test_open_package_reads_a_source_folder() -> None:
    info = lm.open_package(SAMPLE)
    assert info.kind == "source" and info.ok and info.problems == []
    assert info.title == lm.load_course(SAMPLE).course.display_name
    assert info.metadata["id"] == "local-budget-basics" and info.metadata["org"] == "DLA"
    kinds = [e.kind for top in info.outline for e in top.walk()]
    assert kinds[0] == "section" and "unit" in kinds and "quiz" in kinds


def test_open_package_reads_olx_and_scorm_archives_in_place(
    built: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # anything written to a temp folder would show up here
    tree = lm.load_course(SAMPLE)
    units = [b.display_name for b, _ in tree.walk() if b.scope_ids.block_type == "lm-unit"]
    olx = lm.open_package(built["olx"])
    assert olx.kind == "olx" and olx.ok and olx.title == tree.course.display_name
    assert olx.metadata["org"] == "DLA" and olx.metadata["course"] == "local-budget-basics"
    assert [e.title for ch in olx.outline for e in ch.walk() if e.kind == "vertical"] == units
    for name in ("scorm12", "scorm2004"):
        scorm = lm.open_package(built[name])
        assert scorm.kind == "scorm" and scorm.ok, scorm.problems
        assert scorm.title == tree.course.display_name
        assert scorm.metadata["schemaversion"] == ("1.2" if name == "scorm12" else "2004 4th Edition")
        assert [e.kind for e in scorm.outline] == ["item"]
    assert list(tmp_path.iterdir()) == []


def test_open_package_reads_a_zipped_olx_under_a_top_folder(built: dict[str, Path], tmp_path: Path) -> None:
    zipped = tmp_path / "course.zip"
    with tarfile.open(built["olx"]) as tar, zipfile.ZipFile(zipped, "w") as zf:
        for member in tar.getmembers():
            f = tar.extractfile(member) if member.isfile() else None
            if f is not None:
                zf.writestr("course/" + member.name.split("/", 1)[1], f.read())
    info = lm.open_package(zipped)
    assert info.kind == "olx" and info.ok and info.metadata["course"] == "local-budget-basics"


def test_open_package_returns_the_problems_of_a_broken_package(
    built: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(built["scorm12"]) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            if info.filename != "player.js":
                dst.writestr(info, src.read(info))
    scorm = lm.open_package(broken)
    assert not scorm.ok
    assert [(p.code, p.message) for p in scorm.problems] == [
        ("scorm-file-missing", "player.js is listed but not in the package")
    ]
    bad_olx = tmp_path / "bad-olx.zip"
    with zipfile.ZipFile(bad_olx, "w") as zf:
        zf.writestr("course.xml", '<course url_name="r1" org="DLA" course="c"/>')
        zf.writestr(
            "course/r1.xml", '<course display_name="ก"><chapter url_name="ch1"/><chapter url_name="x"'
        )
    info = lm.open_package(bad_olx)
    assert info.kind == "olx" and [p.code for p in info.problems] == ["xml-syntax"]
    assert str(info.problems[0].location).startswith(f"{bad_olx}/course/r1.xml:1")


def test_open_package_refuses_what_is_not_a_package(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(lm.UsageError, match=re.escape("not a folder, .zip or .tar.gz archive")):
        lm.open_package(tmp_path / "notes.txt")
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "x")
    with pytest.raises(lm.UsageError, match=re.escape("no course.xml")):
        lm.open_package(empty)


# ---- docs/api.md


def doc_examples() -> list[str]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_every_example_in_docs_api_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    examples = doc_examples()
    assert len(examples) >= 8
    shutil.copytree(SAMPLE, tmp_path / "my-course")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_api"}
    out = io.StringIO()
    for i, code in enumerate(examples):
        with redirect_stdout(out):
            try:
                exec(compile(code, f"docs/api.md example {i + 1}", "exec"), namespace)
            except Exception as exc:
                pytest.fail(f"docs/api.md example {i + 1} failed: {type(exc).__name__}: {exc}\n{code}")
    printed = out.getvalue()
    assert "formats is empty: give at least one format (olx, scorm12, scorm2004), or None for all" in printed
    assert "['olx', 'scorm12', 'scorm2004']" in printed


def test_open_package_does_not_read_oversized_descriptions(tmp_path: Path) -> None:
    """A bomb-like member (16 MiB + 1 of XML, a few KB compressed) is reported, never read into memory."""
    from localmooc_packager.packages import MAX_MEMBER

    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("course.xml", '<course url_name="r1" org="DLA" course="c"/>')
        zf.writestr("course/r1.xml", b"<course>" + b" " * MAX_MEMBER + b"</course>")
    assert archive.stat().st_size < 100_000
    info = lm.open_package(archive)
    assert [(p.code, str(p.location)) for p in info.problems] == [
        ("package-too-large", f"{archive}/course/r1.xml")
    ]
    assert info.outline == [] and not info.ok
