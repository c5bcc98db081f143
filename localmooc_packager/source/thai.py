"""Thai typing problems that look right on screen but break search, answer matching and line breaking.

The rules follow what `pythainlp.util.normalize` repairs (our own code, no dependency): sara am typed as
nikhahit + sara aa, a tone mark typed before the vowel it sits with, a mark typed twice, two sara e typed for
sara ae, and a mark with no consonant under it (a dotted circle ◌ as its base is fine: that is how a mark is shown alone). Each is reported at its own line and column of the file,
so a problem inside a YAML block scalar or a Markdown file points at the character itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# Marks that sit above or below a consonant: vowels ั ิ ี ึ ื ุ ู ฺ ็, tone marks ่ ้ ๊ ๋, ์ ํ ๎.
_MARKS = "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"
_TONES = "\u0e48-\u0e4b"
_VOWELS_ON = "\u0e31\u0e34-\u0e3a"  # above and below vowels, which come before the tone mark
_CONSONANTS = "\u0e01-\u0e2e"

_PROBLEM = re.compile(
    rf"(?P<am>\u0e4d[{_TONES}]?\u0e32)"
    rf"|(?P<order>[{_TONES}][{_VOWELS_ON}]|\u0e33[{_TONES}])"
    rf"|(?P<twice>(?P<twice_mark>[{_MARKS}])(?P=twice_mark)|[{_TONES}]{{2}}|[\u0e31\u0e34-\u0e37\u0e47]{{2}}|[\u0e38-\u0e3a]{{2}})"
    r"|(?P<ee>\u0e40\u0e40)"
    rf"|(?P<alone>(?:^|(?<=[^{_CONSONANTS}{_MARKS}\u25cc]))[{_MARKS}])",
    re.MULTILINE,
)


def _class_table() -> bytes:
    """windows-874 byte -> the class letter of its Thai character (x for anything else)."""
    table = bytearray(b"x" * 256)
    classes = {
        "c": range(0x0E01, 0x0E2F),  # consonants
        "u": [0x0E31, 0x0E34, 0x0E35, 0x0E36, 0x0E37, 0x0E47],  # vowels and maitaikhu above
        "l": [0x0E38, 0x0E39, 0x0E3A],  # vowels below
        "t": range(0x0E48, 0x0E4C),  # tone marks
        "m": [0x0E4C, 0x0E4E],  # thanthakhat, yamakkan
        "n": [0x0E4D],  # nikhahit
        "a": [0x0E32],
        "o": [0x0E33],
        "e": [0x0E40],
    }
    for letter, points in classes.items():
        for point in points:
            table[chr(point).encode("cp874")[0]] = ord(letter)
    return bytes(table)


_CLASSES = _class_table()
# Every problem shows as one of these pairs of classes (a superset: the regex then decides), or as a mark
# after a character that is neither a consonant nor a mark.
_SUSPECT_PAIRS = (b"na", b"nt", b"tu", b"tl", b"tt", b"ot", b"uu", b"ll", b"mm", b"nn", b"ee")
# The same pairs in one scan (eleven substring searches cost more, and a generator over them dominates
# on the many short texts: titles in SVG files, YAML files of a few lines)
_SUSPECT_PAIR = re.compile(b"n[atn]|t[ult]|ot|uu|ll|mm|ee")
assert set(_SUSPECT_PAIRS) == {
    pair for a in b"xcultmnaoe" for b in b"xcultmnaoe" if _SUSPECT_PAIR.fullmatch(pair := bytes((a, b)))
}
# classes -> m (a mark), c (a consonant) or x (anything else)
_ALONE = bytes(ord("m") if chr(b) in "ultmn" else ord("c") if chr(b) == "c" else ord("x") for b in range(256))


def _suspect(text: str) -> bool:
    """A fast test (byte-level, no regex) whether ``text`` may hold a problem: Thai prose is dense with
    marks, where a regex scan costs a microsecond a mark. Each Thai character is one windows-874 byte,
    so classes can be compared with byte searches."""
    classes = text.replace("\u25cc", "\u0e01").encode("cp874", "replace").translate(_CLASSES)
    if _SUSPECT_PAIR.search(classes):
        return True
    bases = classes.translate(_ALONE)
    return bases[:1] == b"m" or b"xm" in bases


def _last_thai(data: bytes) -> int:
    """``max(data.rfind(b"\\xe0\\xb8"), data.rfind(b"\\xe0\\xb9"))``: a backward search for a two-byte needle
    has no fast path in CPython (~10 us on an SVG whose Thai title is at its start), one for a single
    byte is memrchr."""
    end = len(data)
    while (at := data.rfind(b"\xe0", 0, end)) >= 0:
        if data[at + 1 : at + 2] in (b"\xb8", b"\xb9"):
            return at
        end = at
    return -1


def utf8_suspect(data: bytes) -> bool:
    """``_suspect`` for UTF-8 bytes not yet decoded: False guarantees that the decoded text has no problem.

    Every problem involves Thai letters (U+0E00-U+0E7F, UTF-8 E0 B8 xx / E0 B9 xx), so a file without
    them (most SVG, CSS, XML) is not decoded at all, and one with a Thai title among kilobytes of markup
    is tested only from its first Thai letter to its last: what lies outside is neither a mark nor a
    letter a mark could stack on, and a mark at the start of that window counts as one after a non-letter.
    """
    first = [i for i in (data.find(b"\xe0\xb8"), data.find(b"\xe0\xb9")) if i >= 0]
    if not first:
        return False
    end = _last_thai(data) + 3
    try:
        window = data[min(first) : end].decode("utf-8")
    except UnicodeDecodeError:
        return True  # the full decode decides (and refuses it)
    return _suspect(window)


# Every code this module reports (docs/validation.md documents each; tests/test_docs_codes.py checks it).
CODES = ("thai-sara-am", "thai-mark-order", "thai-mark-repeated", "thai-sara-e-twice", "thai-mark-alone")


@dataclass(frozen=True)
class ThaiProblem:
    offset: int  # in the text, in characters
    line: int  # 1-based
    column: int  # 1-based, in characters
    code: str
    message: str


def _shown(chars: str) -> str:
    """Marks on a dotted circle (◌่), as Thai keyboards' help and dictionaries print them."""
    return " + ".join(f"\u25cc{c}" if re.match(f"[{_MARKS}]", c) else c for c in chars)


def _describe(kind: str, found: str, before: str) -> tuple[str, str]:
    if kind == "am":
        tone = found[1:-1]
        fix = f"{_shown(tone)} + ำ" if tone else "ำ"
        return (
            "thai-sara-am",
            f"Thai sara am typed as nikhahit + sara aa ({_shown(found)}); retype it as {fix}",
        )
    if kind == "order":
        return (
            "thai-mark-order",
            f"{_shown(found)} typed in the wrong order; retype it as {_shown(found[::-1])}",
        )
    if kind == "twice":
        return "thai-mark-repeated", f"two marks stacked on one letter ({_shown(found)}); delete one"
    if kind == "ee":
        return "thai-sara-e-twice", "two sara e (เ + เ) typed for sara ae; retype it as แ"
    after = f" (it follows {before!r})" if before.strip() else ""
    return "thai-mark-alone", f"the mark {_shown(found)} has no consonant under it{after}; retype the word"


def thai_problems(text: str) -> Iterator[ThaiProblem]:
    """Every Thai typing problem in ``text``, in order."""
    if not _suspect(text):
        return
    for m in _PROBLEM.finditer(text):
        kind = next(k for k in ("am", "order", "twice", "ee", "alone") if m.group(k) is not None)
        start = m.start()
        line_start = text.rfind("\n", 0, start) + 1
        code, message = _describe(kind, m.group(), text[start - 1 : start] if start else "")
        yield ThaiProblem(start, text.count("\n", 0, start) + 1, start - line_start + 1, code, message)
