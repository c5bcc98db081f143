"""Progress bars on a terminal only, and the small CLI promises around them (json per course, folders of
courses, --format choices). The terminal is a real pseudo-terminal (the pty module), not a mock."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from conftest import FIXTURES, ROOT, sample_courses

BAR_ROWS = ("━", "validating", "building")


def run_with_tty_stderr(args: list[str], timeout: float = 120) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal and stdout on a pipe: (exit code, stdout, terminal)."""
    leader, follower = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "localmooc_packager", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(follower)
    seen = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    assert proc.stdout is not None
    out = proc.stdout.read().decode("utf-8")
    return proc.wait(timeout=10), out, seen.decode("utf-8", "replace")


def run_piped(args: list[str]) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "localmooc_packager", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, TERM="xterm-256color"),
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_validate_shows_a_bar_on_a_terminal_only() -> None:
    args = ["validate", "sample_courses"]
    n = len(sample_courses())
    code, out, terminal = run_with_tty_stderr(args)
    assert code == 0, terminal
    assert "validating" in terminal and "━" in terminal and f"{n}/{n}" in terminal
    assert "\x1b[" in terminal  # drawn and erased with terminal control sequences
    assert out.count("valid (0 errors, 0 warnings)") == n

    code, piped_out, piped_err = run_piped(args)
    assert code == 0 and piped_out == out
    assert piped_err == ""  # nothing at all on a pipe

    code, out, terminal = run_with_tty_stderr([*args, "--quiet"])
    assert code == 0 and not any(mark in terminal for mark in BAR_ROWS)


def test_json_stdout_is_the_same_with_a_bar(tmp_path: Path) -> None:
    args = ["validate", "--format", "json", "sample_courses", "tests/fixtures/source/follow-on"]
    code, out, terminal = run_with_tty_stderr(args)
    assert code == 1 and "validating" in terminal
    piped = run_piped(args)
    assert piped[0] == 1 and piped[1] == out and piped[2] == ""
    json.loads(out)


def test_build_shows_a_bar_on_a_terminal(tmp_path: Path) -> None:
    code, out, terminal = run_with_tty_stderr(
        [
            "build",
            "sample_courses/local-budget-basics",
            "--format",
            "olx",
            "--format",
            "scorm12",
            "-o",
            str(tmp_path),
        ]
    )
    assert code == 0, terminal
    assert "building sample_courses/local-budget-basics" in terminal and "2/2" in terminal
    assert out.count("wrote ") == 2


def test_validate_json_names_each_course_and_validates_a_folder_of_courses() -> None:
    code, out, err = run_piped(
        ["validate", "--format", "json", "sample_courses", "tests/fixtures/source/follow-on"]
    )
    assert code == 1 and err == ""
    data = json.loads(out)  # one JSON document, however many paths
    assert [(c["path"], c["valid"]) for c in data["courses"]] == [
        *((f"sample_courses/{p.name}", True) for p in sample_courses()),
        ("tests/fixtures/source/follow-on", False),
    ]
    assert data["errors"] == 4 and data["valid"] is False
    assert {p["course"] for p in data["problems"]} == {"tests/fixtures/source/follow-on"}
    assert all(p["file"].startswith(p["course"] + "/") for p in data["problems"])


def test_build_format_lists_the_registered_exporters() -> None:
    code, out, _ = run_piped(["build", "--help"])
    assert code == 0
    assert "[olx|scorm12|scorm2004]" in out.replace("\n", "").replace(" ", "")
    code, _, err = run_piped(["build", "sample_courses/local-budget-basics", "--format", "pdf"])
    assert code == 2 and "unknown format 'pdf'; available: olx, scorm12, scorm2004" in err


def test_import_shows_activity_on_a_terminal(tmp_path: Path) -> None:
    source = FIXTURES / "studio" / "studio_export"
    code, out, terminal = run_with_tty_stderr(["import", str(source), "-o", str(tmp_path / "a")])
    assert code == 0, terminal
    assert "importing" in terminal and "check it with: localmooc validate" in out
    code, out, err = run_piped(["import", str(source), "-o", str(tmp_path / "b"), "--quiet"])
    assert code == 0 and "importing" not in err
