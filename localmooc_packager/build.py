"""The build pipeline: source folder -> checked source -> block tree -> one archive per format."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import exporters
from .source import load_course


def build_course(
    course_dir: Path, out_dir: Path, formats: list[str], **options: Any
) -> Iterator[tuple[Path, float]]:
    """Load ``course_dir`` once and export it in each of ``formats``; yields (archive, seconds) per format.

    Raises ``InvalidInputError`` (with every problem) before anything is written when the course is invalid,
    and ``UsageError`` for an unknown format.
    """
    chosen = [exporters.get(name) for name in formats]  # unknown names fail before any work
    tree = load_course(course_dir)
    for exporter in chosen:
        started = time.perf_counter()
        path = exporter.export(tree, out_dir, **options)
        yield path, time.perf_counter() - started
