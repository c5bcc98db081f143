"""The exception root and the Problem record every reader and validator reports with.

Readers collect :class:`Problem` objects into a :class:`Report` and keep going, so a designer sees every
problem in one run; only when a stage cannot continue does it raise an exception derived from
:class:`LocalMoocError`. The CLI maps the exceptions to messages and exit codes in one place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A place in a file. ``line`` and ``column`` are 1-based; 0 means unknown."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        text = self.file
        if self.line:
            text += f":{self.line}"
            if self.column:
                text += f":{self.column}"
        return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where, which data path, what, and a stable code."""

    location: Location
    message: str
    code: str
    path: str = ""
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.location}: "
        what = f"{self.path}: " if self.path else ""
        level = "warning: " if self.severity is Severity.WARNING else ""
        return f"{where}{level}{what}{self.message} [{self.code}]"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "path": self.path,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class Report:
    """Problems collected by one run of a reader or validator."""

    problems: list[Problem] = field(default_factory=list)

    def add(
        self,
        location: Location,
        message: str,
        code: str,
        path: str = "",
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.problems.append(Problem(location, message, code, path, severity))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.sorted())

    def __len__(self) -> int:
        return len(self.problems)

    def sorted(self) -> list[Problem]:
        return sorted(
            self.problems,
            key=lambda p: (p.location.file, p.location.line, p.location.column, p.path, p.code),
        )

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    def ok(self, strict: bool = False) -> bool:
        return not self.errors and not (strict and self.warnings)

    def to_json(self) -> str:
        return json.dumps(
            {
                "errors": len(self.errors),
                "warnings": len(self.warnings),
                "problems": [p.to_dict() for p in self.sorted()],
            },
            ensure_ascii=False,
            indent=2,
        )


def display_path(path: Path | str, base: Path | None = None) -> str:
    """A path as users typed it: relative to ``base`` (default: the working directory) when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to((base or Path.cwd()).resolve()))
    except ValueError:
        return str(p)


class LazyDisplayPath:
    """``display_path(path)``, computed when the text is first needed (an f-string of a message): a file read
    without a problem never pays for resolving its path."""

    __slots__ = ("_path", "_text")

    def __init__(self, path: Path | str) -> None:
        self._path = path
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = display_path(self._path)
        return self._text


class DisplayPaths:
    """``display_path`` and ``realpath`` for the many files of one run, with one file-system resolution per
    folder instead of one per file: the working directory and each folder are resolved once and kept for the
    life of this object (one validation; the files do not move meanwhile).

    ``plain=True`` says the caller knows the last component is no symbolic link (the course's file listing
    says so, or the path is already resolved); otherwise one ``lstat`` checks it.
    """

    def __init__(self, base: Path | None = None) -> None:
        self._base = base
        self._base_real: str | None = None
        self._folders: dict[str, str] = {}
        self._unsure: set[str] = set()

    def real_folder(self, folder: Path | str) -> str:
        """``os.path.realpath(folder)``, once per folder: from its parent's (resolved once too) and one
        ``lstat`` of its own name, where ``realpath`` would look at every component again."""
        text = os.fspath(folder) or "."
        real = self._folders.get(text)
        if real is not None:
            return real
        pending = [text]  # this folder and its parents not resolved yet, innermost first (no recursion:
        while True:  # a path may have thousands of components)
            parent = self._plain_parent(pending[-1])
            if parent is None or parent in self._folders:
                break
            pending.append(parent)
        for text in reversed(pending):
            self._folders[text] = self._resolve(text)
        return self._folders[pending[0]]

    @staticmethod
    def _plain_parent(text: str) -> str | None:
        """The parent of ``text`` when its last component is a name (not `.`, `..` or empty)."""
        parent, name = os.path.split(text)
        return parent if parent and name not in ("", ".", "..") and parent != text else None

    def _resolve(self, text: str) -> str:
        parent = self._plain_parent(text)
        base = self._folders[parent] if parent is not None else None
        joined = (
            os.path.join(base, os.path.basename(text))
            if base is not None and base not in self._unsure
            else None
        )
        if joined is not None and not os.path.islink(joined):
            return joined
        target = joined if joined is not None else text
        try:
            return os.path.realpath(target, strict=True)
        except OSError:  # a missing target or a loop of links: realpath's own answer, and no shortcut
            real = os.path.realpath(target)  # below it (realpath stops resolving there)
            self._unsure.add(real)
            return real

    def real(self, path: Path | str, plain: bool = False) -> str:
        """``os.path.realpath(path)`` (what ``Path.resolve()`` returns)."""
        text = os.fspath(path)
        folder, name = os.path.split(text)
        if not name or name in (".", ".."):
            return self.real_folder(text)
        joined = os.path.join(self.real_folder(folder), name)
        if not plain and os.path.islink(joined):
            return os.path.realpath(joined)
        return joined

    def show(self, path: Path | str, plain: bool = False) -> str:
        """``display_path(path, base)``."""
        if self._base_real is None:
            self._base_real = os.path.realpath(self._base or Path.cwd())
        base, real = self._base_real, self.real(path, plain)
        if real == base:
            return "."
        prefix = base if base.endswith("/") else base + "/"
        return real[len(prefix) :] if real.startswith(prefix) else str(Path(path))


class LocalMoocError(Exception):
    """Root of every error this toolkit raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(LocalMoocError):
    """The command was called wrongly (a missing folder, an unknown format)."""

    exit_code = 2


class InvalidInputError(LocalMoocError):
    """An input has problems; ``report`` lists every one of them."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report or Report()


class UnsafeInputError(InvalidInputError):
    """An input was refused because reading it could harm the machine (path traversal, bombs, entities)."""


class BuildError(LocalMoocError):
    """An export could not be completed; nothing was written in place of the target."""
