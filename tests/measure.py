"""Run the `localmooc` CLI in a fresh interpreter and measure it: exit code, stderr, seconds, peak RSS.

The child reports its own ru_maxrss on exit, so no /usr/bin/time is needed and other children of the
test process do not count.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

_WRAP = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: sys.stderr.write("
    "f'\\nMAXRSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n'))\n"
    "from localmooc_packager.cli import main\n"
    "main(sys.argv[1:])\n"
)


def run_measured(args: list[str], cwd: Path, timeout: float = 60) -> tuple[int, str, float, int]:
    """(exit code, stderr, seconds, peak RSS in MB) of one `localmooc ARGS` run."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAP, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    seconds = time.perf_counter() - started
    err, _, rss_line = proc.stderr.rpartition("MAXRSS_KB ")
    return proc.returncode, err, seconds, int(rss_line.split()[0]) // 1024
