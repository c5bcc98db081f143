"""The `localmooc` command through click's CliRunner and a real subprocess: exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from localmooc_packager.cli import cli, main

from conftest import FIXTURES, ROOT


def run(args: list[str]) -> tuple[int, str, str]:
    """Run main() as the console script does; returns (exit code, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "localmooc_packager", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_validate_sample_ok() -> None:
    code, out, err = run(["validate", "sample_courses/local-budget-basics"])
    assert code == 0, err
    assert out.strip() == "sample_courses/local-budget-basics (source): valid (0 errors, 0 warnings)"
    assert err == ""


def test_validate_invalid_exit_1_with_located_messages() -> None:
    code, out, err = run(["validate", "tests/fixtures/source/quiz-answer-unknown"])
    assert code == 1
    assert "INVALID (4 errors, 0 warnings)" in out
    first = err.splitlines()[0]
    assert first.startswith("tests/fixtures/source/quiz-answer-unknown/course.yaml:16:21: ")
    assert first.endswith("[quiz-answer-unknown]")


def test_validate_json_format() -> None:
    code, out, _ = run(["validate", "--format", "json", "tests/fixtures/source/duplicate-ids"])
    assert code == 1
    data = json.loads(out)
    assert data["errors"] == 3 and data["warnings"] == 0
    assert {p["code"] for p in data["problems"]} == {"id-duplicate", "quiz-question-id-duplicate"}
    assert all(p["line"] > 0 and p["column"] > 0 for p in data["problems"])


def test_strict_fails_on_warnings(tmp_path: Path) -> None:
    course = tmp_path / "c"
    course.mkdir()
    (course / "course.yaml").write_text(
        "id: c\norg: DLA\nrun: r1\ntitle: ก\nstart: 2022-01-01\nunits:\n"
        "  - {id: u, title: ข, blocks: [{type: html, body: ค}]}\n",
        encoding="utf-8",
    )
    assert run(["validate", str(course)])[0] == 0
    code, _, err = run(["validate", "--strict", str(course)])
    assert code == 1
    assert "[course-end-missing]" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "no/such/folder"], "error: no/such/folder: no such file or folder"),
        (["validate", "tests/fixtures/source/not-a-course"], "not a course folder (no course.yaml)"),
        (["validate"], "Missing argument 'PATHS...'"),
        (["build", "sample_courses/local-budget-basics", "--format", "pdf"], "unknown format 'pdf'"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    code, out, err = run(args)
    assert code == 2, (out, err)
    assert message in err
    assert "Traceback" not in err


def test_binary_and_bad_encoding_never_traceback(tmp_path: Path) -> None:
    course = tmp_path / "bin"
    course.mkdir()
    (course / "course.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    code, _, err = run(["validate", str(course)])
    assert code == 1
    assert "binary data (NUL byte) where text was expected [file-encoding]" in err
    (course / "course.yaml").write_bytes("title: ไทย\n".encode("tis-620"))
    code, _, err = run(["validate", str(course)])
    assert code == 1
    assert "course.yaml:1:8: not valid UTF-8 (byte 0xe4): the file looks like Thai saved as TIS-620" in err
    assert "Traceback" not in err


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    course = tmp_path / "crlf"
    course.mkdir()
    text = "id: c\norg: DLA\nrun: r1\ntitle: หลักสูตร\nunits:\n  - {id: u, title: ข, blocks: [{type: html, body: ค}]}\n"
    (course / "course.yaml").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    code, _, err = run(["validate", str(course)])
    assert code == 0, err


def test_new_scaffolds_a_valid_course(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "my-course"
    result = runner.invoke(cli, ["new", str(target), "--title", "หลักสูตร: ทดลอง"])
    assert result.exit_code == 0, result.output
    assert (target / "course.yaml").read_text(encoding="utf-8").count('title: "หลักสูตร: ทดลอง"') == 1
    assert run(["validate", "--strict", str(target)])[0] == 0
    # A second run must not overwrite what is there.
    code, _, err = run(["new", str(target)])
    assert code == 2
    assert "exists and is not empty" in err


def test_new_rejects_non_ascii_id(tmp_path: Path) -> None:
    code, _, err = run(["new", str(tmp_path / "x"), "--id", "หลักสูตร"])
    assert code == 2
    assert "course id 'หลักสูตร'" in err


def test_main_maps_invalid_build_to_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            ["build", str(FIXTURES / "source" / "quiz-answer-unknown"), "--format", "olx", "-o", "/tmp/never"]
        )
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "[quiz-answer-unknown]" in err
    assert "the course has 4 error(s)" in err
    assert not Path("/tmp/never").exists()


def test_public_api(sample_course: Path, tmp_path: Path) -> None:
    import localmooc_packager as lm

    assert sorted(lm.__all__) == sorted(set(lm.__all__))
    for name in lm.__all__:
        assert getattr(lm, name) is not None
    tree, report = lm.check_course(sample_course)
    assert isinstance(tree, lm.CourseTree) and report.ok(strict=True)
    built = [package.path for package in lm.build_course(sample_course, tmp_path, ["olx"])]
    kind, built_report = lm.validate_path(built[0])
    assert kind == "olx" and built_report.ok(strict=True)
