"""Every hostile archive under tests/fixtures/hostile/ through the commands users run on archives.

`localmooc validate` and `localmooc import` must each refuse it with a message and exit status 1, never a
traceback, in under 5 s and 300 MB, writing nothing outside their target (a canary folder beside the
target and the fixture folder itself stay untouched).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from measure import run_measured

from conftest import FIXTURES, ROOT

HOSTILE = FIXTURES / "hostile"
ARCHIVES = sorted(p for p in HOSTILE.iterdir() if p.suffix in (".zip", ".tar", ".gz"))


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


def test_there_are_hostile_fixtures() -> None:
    assert len(ARCHIVES) >= 20


@pytest.mark.parametrize("archive", ARCHIVES, ids=lambda p: p.name)
@pytest.mark.parametrize("command", ["validate", "import"])
def test_hostile_archive_refused(archive: Path, command: str, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("ต้องไม่เปลี่ยน", encoding="utf-8")
    before = _snapshot(canary), _snapshot(HOSTILE)
    target = tmp_path / "work" / "out"
    args = (
        ["validate", str(archive)] if command == "validate" else ["import", str(archive), "-o", str(target)]
    )
    code, err, _, rss = run_measured(args, ROOT)
    assert code == 1, err
    assert "Traceback" not in err
    assert archive.name in err or "invalid XML" in err, err
    assert rss < 300, f"{rss} MB"
    assert (_snapshot(canary), _snapshot(HOSTILE)) == before
    assert not target.exists()
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != canary]
    assert leftovers == []
