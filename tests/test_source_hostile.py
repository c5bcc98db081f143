"""Hostile course sources are refused quickly, in bounded memory, with a message and exit 1, writing nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT

HOSTILE = FIXTURES / "source-hostile"

CASES = {
    "alias-bomb": "more than 500000 values (an alias bomb?); refused [yaml-invalid]",
    "deep-nesting": "invalid YAML: exceeded maximum nesting depth [yaml-invalid]",
    "include-symlink": "units[0].include: 'units/evil.yaml' points outside the course folder [path-outside]",
    "symlink-out": "units[0].blocks[0].src: 'static/passwd.mp4' points outside the course folder [path-outside]",
}


# Runs the CLI in a fresh interpreter that reports its own peak RSS on exit (no /usr/bin/time needed).
_WRAP = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: sys.stderr.write("
    "f'\\nMAXRSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n'))\n"
    "from localmooc_packager.cli import main\n"
    "main(sys.argv[1:])\n"
)


def run_measured(args: list[str], cwd: Path) -> tuple[int, str, float, int]:
    """(exit code, stderr, seconds, peak RSS in MB) of one `localmooc` run."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAP, *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    seconds = time.perf_counter() - started
    err, _, rss_line = proc.stderr.rpartition("MAXRSS_KB ")
    return proc.returncode, err, seconds, int(rss_line.split()[0]) // 1024


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_source_refused_quickly(name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, err, seconds, rss = run_measured(
        ["build", str(HOSTILE / name), "--format", "olx", "-o", str(out)], ROOT
    )
    assert code == 1, err
    assert CASES[name] in err
    assert "Traceback" not in err
    assert seconds < 5, f"{seconds:.1f} s"
    assert rss < 300, f"{rss} MB"
    assert not out.exists() or not any(out.iterdir())
