"""Thai files in TIS-620 / windows-874: found with a suggestion, and `localmooc fix-encoding` converts them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from localmooc_packager.cli import main
from localmooc_packager.source import check_course
from localmooc_packager.source.encoding import looks_legacy_thai

from conftest import FIXTURES

LEGACY = FIXTURES / "source" / "legacy-encoding"


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0)


def test_fix_encoding_converts_after_a_backup_and_the_course_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    course = shutil.copytree(LEGACY, tmp_path / "course")
    files = [course / "units" / "budget.yaml", course / "units" / "notes.md"]
    originals = [f.read_bytes() for f in files]
    assert _run(["fix-encoding", *map(str, files)]) == 0
    out = capsys.readouterr().out
    assert out.count("converted from windows-874 (TIS-620) to UTF-8") == 2
    for file, original in zip(files, originals, strict=True):
        assert file.read_text(encoding="utf-8") == original.decode("cp874")
        assert file.with_name(file.name + ".bak").read_bytes() == original
    assert "“ท้องถิ่น”" in files[0].read_text(encoding="utf-8")  # windows-874 punctuation kept
    assert sorted(p.name for p in (course / "units").iterdir()) == [
        "budget.yaml",
        "budget.yaml.bak",
        "notes.md",
        "notes.md.bak",
    ]  # no temporary file left behind
    tree, report = check_course(course)
    assert tree is not None, [str(p) for p in report]

    # Run again: the files are UTF-8 now and stay as they are; the backups are not touched.
    assert _run(["fix-encoding", str(files[0])]) == 0
    assert "already UTF-8" in capsys.readouterr().out


def test_an_existing_backup_is_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "page.md"
    original = (LEGACY / "units" / "notes.md").read_bytes()
    file.write_bytes(original)
    (tmp_path / "page.md.bak").write_bytes(b"an older backup")
    assert _run(["fix-encoding", str(file)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert file.read_bytes() == original
    assert (tmp_path / "page.md.bak").read_bytes() == b"an older backup"


def test_latin1_and_binary_are_not_taken_for_thai(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latin1 = FIXTURES / "source" / "included-bad" / "units" / "latin1.yaml"
    assert not looks_legacy_thai(latin1.read_bytes())
    assert looks_legacy_thai((LEGACY / "units" / "budget.yaml").read_bytes())
    file = tmp_path / "latin1.yaml"
    file.write_bytes(latin1.read_bytes())
    assert _run(["fix-encoding", str(file)]) == 1
    assert "not Thai in TIS-620 / windows-874 either; left as it is" in capsys.readouterr().err
    assert file.read_bytes() == latin1.read_bytes()
    assert not (tmp_path / "latin1.yaml.bak").exists()
    assert _run(["fix-encoding", str(tmp_path / "missing.md")]) == 2
