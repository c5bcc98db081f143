"""The YAML the import writes: PyYAML's output for plain data, byte for byte, without PyYAML's per-node cost.

``yaml.dump`` builds a node for every value and runs the resolver's regular expressions on every string
twice (PyYAML's representer and serializer are Python even over libyaml's emitter), which made writing
the source a large share of an import. :func:`dump` lays out block mappings and sequences itself, as
PyYAML does (sequences in mappings unindented, ``{}`` and ``[]`` for empty ones), writes the strings
that are plain beyond doubt directly, and asks PyYAML for every other scalar once (quoted strings,
numbers, literal blocks, which it re-indents to their place). Data it does not know (other types,
non-string keys, strings with line breaks other than ``\\n``) goes to ``yaml.dump`` as a whole.
tests/test_yaml_write.py compares it with ``yaml.dump`` on every shape of data the import writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

# Strings PyYAML writes plain (unquoted) in block context and reads back as strings: a letter, digit-free
# start (no number, date or indicator), then letters (Thai included), digits, spaces (not last, never
# before '#'), '_', '.', '/', '(', ')', '-'. Short enough that no line folding applies.
_PLAIN = re.compile(r"[A-Za-z_\u0e01-\u0e5b][A-Za-z0-9_\u0e01-\u0e5b ./()-]{0,199}(?<! )")
# ... except the words YAML 1.1 reads as booleans or null.
_WORDS = frozenset(
    f(w)
    for w in ("yes", "no", "true", "false", "on", "off", "null", "y", "n")
    for f in (str.lower, str.title, str.upper)
)
# Line breaks other than \n change how PyYAML writes a literal block; such data goes to yaml.dump whole.
_ODD_BREAKS = re.compile("[\r\x85\u2028\u2029]")


class _Fallback(Exception):
    """Internal: data this writer does not lay out itself."""


class Writer:
    """Writes data as ``yaml.dump(data, Dumper=dumper, allow_unicode=True, sort_keys=False, width=width)``.

    One writer keeps what PyYAML said of each scalar, so a course's repeated values cost one call each.
    """

    def __init__(self, dumper: type[yaml.SafeDumper], width: int = 100_000) -> None:
        self.dumper = dumper
        self.width = width
        self.scalars: dict[tuple[type, Any], str] = {}

    def dump(self, data: Any) -> str:
        if not isinstance(data, dict) or not data:
            return self.pyyaml(data)
        out: list[str] = []
        try:
            self.mapping(data, 0, out)
        except _Fallback:
            return self.pyyaml(data)
        return "".join(out)

    def pyyaml(self, data: Any) -> str:
        text: str = yaml.dump(data, Dumper=self.dumper, allow_unicode=True, sort_keys=False, width=self.width)
        return text

    # ---- scalars
    def scalar(self, value: Any, column: int) -> str:
        """``value`` as PyYAML writes it after ``key: `` at ``column`` (the key's column)."""
        kind = type(value)
        if kind is str:
            if _PLAIN.fullmatch(value) and value not in _WORDS:
                return str(value)
            if _ODD_BREAKS.search(value):
                raise _Fallback
        elif kind not in (int, float, bool, type(None)):
            raise _Fallback
        key = (kind, value)
        text = self.scalars.get(key)
        if text is None:
            text = self.pyyaml({"k": value})[len("k: ") : -1]
            literal = text.startswith("|")
            if ("\n" in text and not literal) or text.endswith("\n...") or len(text) > self.width // 2:
                raise _Fallback  # over several lines or folded: its layout depends on the place
            self.scalars[key] = text
        if column and "\n" in text:  # a literal block: PyYAML indents it two past the key's column
            pad = " " * column
            head, _, body = text.partition("\n")
            text = head + "\n" + "\n".join(pad + line if line else line for line in body.split("\n"))
        return text

    # ---- collections
    def mapping(self, data: dict[Any, Any], column: int, out: list[str], first: str = "") -> None:
        """A non-empty mapping at ``column``; ``first`` is written before its first key instead of indent
        (``- `` when it is a sequence item)."""
        indent = " " * column
        lead = first
        for key, value in data.items():
            if type(key) is not str:
                raise _Fallback
            if not key or len(key) >= 128 or "\n" in key:
                raise _Fallback  # not a simple key: PyYAML writes '? key'
            shown = self.scalar(key, column)
            out.append(f"{lead or indent}{shown}:")
            lead = ""
            self.value(value, column, out, in_mapping=True)

    def value(self, value: Any, column: int, out: list[str], in_mapping: bool) -> None:
        """What follows ``key:`` (in_mapping) or ``-`` at ``column``, up to and including its newline."""
        kind = type(value)
        if kind is dict:
            if not value:
                out.append(" {}\n")
            elif in_mapping:
                out.append("\n")
                self.mapping(value, column + 2, out)
            else:
                self.mapping(value, column + 2, out, first=" ")
        elif kind is list:
            if not value:
                out.append(" []\n")
            elif in_mapping:  # PyYAML does not indent a sequence in a mapping
                out.append("\n")
                self.sequence(value, column, out)
            else:
                self.sequence(value, column + 2, out, first=" ")
        else:
            out.append(" " + self.scalar(value, column) + "\n")

    def sequence(self, data: list[Any], column: int, out: list[str], first: str = "") -> None:
        indent = " " * column
        lead = first
        for item in data:
            out.append(f"{lead or indent}-")
            lead = ""
            self.value(item, column, out, in_mapping=False)


def writer(dumper: type[yaml.SafeDumper], width: int = 100_000) -> Callable[[Any], str]:
    """A ``dump(data) -> str`` function with its own scalar cache (one per import)."""
    return Writer(dumper, width).dump
