"""Progress of long commands (build, import, validate, samples) on stderr, with rich.

A bar only when stderr is a terminal and the user did not ask for `--quiet`: piped and logged output stays
exactly what it was, and stdout (where `--format json` goes) is never touched. Messages printed to stderr
while the bar runs appear above it. rich is imported only when a bar is shown.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


def wanted(quiet: bool = False) -> bool:
    """Whether to show progress: stderr is a terminal and not --quiet."""
    stream = sys.stderr
    return not quiet and stream is not None and hasattr(stream, "isatty") and stream.isatty()


class Progress:
    """``with Progress("building", total=3) as bar: ... bar.advance(detail="olx")``.

    ``total=None`` shows a spinner and the elapsed time for work that cannot count its steps.
    Does nothing at all when progress is not ``wanted``.
    """

    def __init__(self, label: str, total: int | None = None, quiet: bool = False) -> None:
        self.label = label
        self.total = total
        self.enabled = wanted(quiet)
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        console = Console(file=sys.stderr)
        columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
        if self.total is not None:
            columns += [BarColumn(), MofNCompleteColumn()]
        columns += [TimeElapsedColumn(), TextColumn("[dim]{task.fields[detail]}")]
        # stdout is never redirected: it may be a pipe carrying JSON while stderr is the terminal.
        self._bar = RichProgress(
            *columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=True
        )
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=self.total, detail="")
        return self

    def advance(self, steps: int = 1, detail: str = "") -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=steps, detail=detail)

    def detail(self, detail: str) -> None:
        """Say what is being worked on now, without counting a step."""
        if self._bar is not None:
            self._bar.update(self._task, detail=detail)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
