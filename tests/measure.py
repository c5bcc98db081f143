"""Run the `localmooc` CLI in a fresh interpreter and measure it: exit code, stderr, seconds, peak RSS.

The child reports its own peak RSS on exit, read from /proc/self/status (VmHWM). Not ru_maxrss: Linux
carries that over from the parent through fork and exec, so a child of a big pytest process would report
the parent's size.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

_WRAP = (
    "import atexit, re, sys\n"
    "def _hwm():\n"
    "    status = open('/proc/self/status').read()\n"
    "    return re.search(r'VmHWM:\\s+(\\d+)', status).group(1)\n"
    "atexit.register(lambda: sys.stderr.write(f'\\nMAXRSS_KB {_hwm()}\\n'))\n"
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
