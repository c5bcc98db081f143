"""Run the `localmooc` CLI in a fresh interpreter and measure it: exit code, stderr, CPU seconds, peak RSS.

CPU seconds (user + system of the child), not wall-clock: a bound on the work done holds on a loaded
machine, where wall-clock time moves threefold with other tenants.

The child reports its own peak RSS on exit, read from /proc/self/status (VmHWM). Not ru_maxrss: Linux
carries that over from the parent through fork and exec, so a child of a big pytest process would report
the parent's size.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_WRAP = (
    "import atexit, os, re, sys\n"
    "def _hwm():\n"
    "    status = open('/proc/self/status').read()\n"
    "    return re.search(r'VmHWM:\\s+(\\d+)', status).group(1)\n"
    "def _cpu():\n"
    "    t = os.times()\n"
    "    return t.user + t.system\n"
    "atexit.register(lambda: sys.stderr.write(f'\\nCPU_S {_cpu():.3f} MAXRSS_KB {_hwm()}\\n'))\n"
    "from localmooc_packager.cli import main\n"
    "main(sys.argv[1:])\n"
)


def run_measured(args: list[str], cwd: Path, timeout: float = 60) -> tuple[int, str, float, int]:
    """(exit code, stderr, CPU seconds, peak RSS in MB) of one `localmooc ARGS` run."""
    proc = subprocess.run(
        [sys.executable, "-c", _WRAP, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    err, _, tail = proc.stderr.rpartition("CPU_S ")
    cpu, _, rss = tail.split()
    return proc.returncode, err, float(cpu), int(rss) // 1024
