"""Builds and imports killed outright (SIGKILL) at many points leave the old result or none, never half.

The rule (docs/robustness.md, "Faults"): a package path holds either the archive it held before or a
complete new one; temporary files are ``.<target>.<random>.part`` (hidden, never the target's name) and
the next build of the target removes the ones no live build holds. An import's output folder is absent
or complete; its temporary folders are hidden ``.<out>.import-*`` / ``.<out>.extract-*`` siblings, which
the next import to the same folder removes.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from localmooc_packager.exporters.archive import ZIP_EPOCH, ArchiveWriter, remove_stale_parts
from localmooc_packager.importers.compare import diff_sources

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from gen_course import generate  # noqa: E402

KILLS = 6  # kill points per scenario (twice that for builds); each costs a killed run and a full one
ARCHIVES = {
    "olx": "BENCH-synthetic-150-2569_1.olx.tar.gz",
    "scorm12": "BENCH-synthetic-150-2569_1.scorm12.zip",
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "localmooc_packager", *args]


def _run(cmd: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return time.perf_counter() - started


def _kill_points(seconds: float, count: int, seed: str) -> list[float]:
    """``count`` delays spread evenly over a run of ``seconds`` (jittered, fixed seed): early ones hit the
    start-up, late ones the final rename, the last few past the end of a typical run (run times vary on
    a busy machine, and some kills must land after the rename)."""
    rng = random.Random(seed)  # fixed for CI
    step = 1.3 * seconds / count
    return [step * (i + rng.random()) for i in range(count)]


def _kill_after(cmd: list[str], delay: float) -> int:
    """Start ``cmd``, SIGKILL it after ``delay`` seconds (if still running); returns its exit status."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=30)


def _kill_when(cmd: list[str], ready: Callable[[], bool]) -> bool:
    """Start ``cmd`` and SIGKILL it the moment ``ready()`` holds (polled every millisecond); returns
    whether it was killed (False: it exited first). Used to kill right after the rename, a window too
    short for timed kill points to hit reliably."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = False
    while proc.poll() is None:
        if ready():
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.001)
    proc.wait(timeout=30)
    return killed


@pytest.fixture(scope="module")
def big_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course that takes about a second to build: 150 units and 20 MB of incompressible assets."""
    return generate(tmp_path_factory.mktemp("faults") / "course", units=150, asset_mb=20)


def test_stale_part_files_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    import fcntl

    target = tmp_path / "course.scorm12.zip"
    stale = tmp_path / ".course.scorm12.zip.dead1234.part"
    stale.write_bytes(b"half an archive")
    live = tmp_path / ".course.scorm12.zip.live5678.part"
    live.write_bytes(b"being written")
    other = tmp_path / ".other.zip.dead9999.part"  # another target's file is not this build's business
    other.write_bytes(b"x")
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a build in progress holds it
        writer = ArchiveWriter(ZIP_EPOCH)
        writer.add_bytes("a.txt", "ก")
        writer.write_zip(target)
        leftovers = sorted(p.name for p in tmp_path.iterdir())
    finally:
        os.close(fd)
    assert leftovers == [
        ".course.scorm12.zip.live5678.part",
        ".other.zip.dead9999.part",
        "course.scorm12.zip",
    ]
    assert remove_stale_parts(target) == [live]  # unlocked now: its build has gone
    assert not live.exists() and other.exists()


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["olx", "scorm12"])
def test_killed_build_leaves_the_old_archive_or_a_complete_new_one(
    fmt: str, big_course: Path, tmp_path: Path
) -> None:
    # The "old" archive comes from an earlier version of the course (another title), so old and new
    # differ and the test can tell which one a killed build left.
    old_course = tmp_path / "old-course"
    shutil.copytree(big_course, old_course)
    yaml = old_course / "course.yaml"
    yaml.write_text(yaml.read_text(encoding="utf-8").replace("หลักสูตรทดสอบ", "หลักสูตรเดิม"), encoding="utf-8")
    reference = tmp_path / "reference"
    seconds = max(
        _run(_cli("build", str(old_course), "--format", fmt, "-o", str(reference / "old"))),
        _run(_cli("build", str(big_course), "--format", fmt, "-o", str(reference / "new"))),
    )
    name = ARCHIVES[fmt]
    old, new = _sha(reference / "old" / name), _sha(reference / "new" / name)
    assert old != new

    outcomes = {"old": 0, "new": 0, "none": 0}
    for i, delay in enumerate(_kill_points(seconds, KILLS * 2, f"build-{fmt}")):
        with_old = i % 2 == 0
        out = tmp_path / f"out{i}"
        out.mkdir()
        if with_old:
            shutil.copy2(reference / "old" / name, out / name)
        _kill_after(_cli("build", str(big_course), "--format", fmt, "-o", str(out)), delay)
        target = out / name
        if target.exists():
            digest = _sha(target)
            assert digest in (old, new) if with_old else digest == new, f"half an archive after {delay:.2f} s"
            outcomes["old" if digest == old else "new"] += 1
        else:
            assert not with_old, f"the old archive vanished after {delay:.2f} s"
            outcomes["none"] += 1
        # Anything else is a hidden temporary file of this target, never a file with its name.
        for extra in out.iterdir():
            assert extra == target or (extra.name.startswith(f".{name}.") and extra.name.endswith(".part"))
        # The next build completes and removes what the killed one left.
        _run(_cli("build", str(big_course), "--format", fmt, "-o", str(out)))
        assert sorted(p.name for p in out.iterdir()) == [name]
        assert _sha(target) == new
    # Timed kill points hit the run before the rename (the old archive or none was left).
    assert outcomes["old"] + outcomes["none"] > 0, outcomes
    # And right after the rename, before the process ends: the new archive is whole.
    out = tmp_path / "after-rename"
    out.mkdir()
    shutil.copy2(reference / "old" / name, out / name)
    old_inode = (out / name).stat().st_ino
    killed = _kill_when(
        _cli("build", str(big_course), "--format", fmt, "-o", str(out)),
        lambda: (out / name).stat().st_ino != old_inode,
    )
    assert _sha(out / name) == new
    assert killed or sorted(p.name for p in out.iterdir()) == [name]


@pytest.mark.slow
def test_killed_import_leaves_no_folder_or_a_complete_one(big_course: Path, tmp_path: Path) -> None:
    archive_dir = tmp_path / "built"
    _run(_cli("build", str(big_course), "--format", "olx", "-o", str(archive_dir)))
    archive = archive_dir / ARCHIVES["olx"]
    reference = tmp_path / "reference"
    seconds = _run(_cli("import", str(archive), "-o", str(reference)))

    complete = absent = stale = 0
    for i, delay in enumerate(_kill_points(seconds, KILLS, "import")):
        work = tmp_path / f"run{i}"
        work.mkdir()
        out = work / "src"
        _kill_after(_cli("import", str(archive), "-o", str(out)), delay)
        leftovers = [p for p in work.iterdir() if p != out]
        for extra in leftovers:
            assert extra.name.startswith((".src.import-", ".src.extract-")), extra
        if out.exists():
            assert diff_sources(reference, out) == [], f"half an import after {delay:.2f} s"
            complete += 1
        else:
            absent += 1
            stale += bool(leftovers)
            # Importing again to the same folder works and removes what the killed import left.
            _run(_cli("import", str(archive), "-o", str(out)))
            assert [p.name for p in work.iterdir()] == ["src"]
            assert diff_sources(reference, out) == []
    # Timed kill points hit the run before the rename (whether one also lands while the temporary
    # folders exist depends on the machine's speed: that case is made certain below).
    assert absent > 0, (complete, absent, stale)
    # Killed the moment a temporary folder appears: no output folder, and the next import cleans up.
    work = tmp_path / "mid-import"
    work.mkdir()
    out = work / "src"
    temporary = (".src.import-", ".src.extract-")
    killed = _kill_when(
        _cli("import", str(archive), "-o", str(out)),
        lambda: any(p.name.startswith(temporary) for p in work.iterdir()),
    )
    assert killed, "the import ended before its temporary folder was seen"
    assert not out.exists()
    assert [p for p in work.iterdir() if p.name.startswith(temporary)]
    _run(_cli("import", str(archive), "-o", str(out)))
    assert [p.name for p in work.iterdir()] == ["src"]
    assert diff_sources(reference, out) == []
    # Killed right after the rename: the output is whole.
    out = tmp_path / "after-rename" / "src"
    _kill_when(_cli("import", str(archive), "-o", str(out)), lambda: (out / "course.yaml").exists())
    assert diff_sources(reference, out) == []
