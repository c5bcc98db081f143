"""Hostile course sources are refused quickly, in bounded memory, with a message and exit 1, writing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from measure import run_measured

from conftest import FIXTURES, ROOT

HOSTILE = FIXTURES / "source-hostile"

CASES = {
    "alias-bomb": "more than 500000 values (an alias bomb?); refused [yaml-invalid]",
    "deep-nesting": "invalid YAML: exceeded maximum nesting depth [yaml-invalid]",
    "include-symlink": "units[1].include: 'units/evil.yaml' points outside the course folder [path-outside]",
    "symlink-out": "units[1].blocks[1].src: 'static/passwd.mp4' points outside the course folder [path-outside]",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_source_refused(name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, err, _, rss = run_measured(["build", str(HOSTILE / name), "--format", "olx", "-o", str(out)], ROOT)
    assert code == 1, err
    assert CASES[name] in err
    assert "Traceback" not in err
    assert rss < 300, f"{rss} MB"
    assert not out.exists() or not any(out.iterdir())
