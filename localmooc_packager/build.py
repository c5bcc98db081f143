"""The build pipeline: source folder -> checked source -> block tree -> one archive per format."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import exporters
from .source import load_course


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: a build allocates many long-lived objects (the source data,
    the block tree) that the collector would rescan again and again to find nothing (6-10 % of a build;
    peak memory unchanged, measured on 1,000 and 5,000 units). Whatever was enabled before is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_course(
    course_dir: Path, out_dir: Path, formats: list[str], **options: Any
) -> Iterator[tuple[Path, float]]:
    """Load ``course_dir`` once and export it in each of ``formats``; yields (archive, seconds) per format.

    Raises ``InvalidInputError`` (with every problem) before anything is written when the course is invalid,
    and ``UsageError`` for an unknown format.
    """
    chosen = [exporters.get(name) for name in formats]  # unknown names fail before any work
    with gc_paused():
        tree = load_course(course_dir)
    for exporter in chosen:
        started = time.perf_counter()
        with gc_paused():  # not across the yield: the caller's code runs with its own settings
            path = exporter.export(tree, out_dir, **options)
        yield path, time.perf_counter() - started
