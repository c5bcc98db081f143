"""Reading untrusted files safely: XML without entities or network, text that must be UTF-8.

Every reader in the toolkit goes through these functions so that one place decides what is refused.
"""

from __future__ import annotations

import json
import math
import re
import threading
from itertools import accumulate
from pathlib import Path
from typing import Any

from lxml import etree

from .errors import InvalidInputError, Location, Report, display_path

# Deeper nesting than this is refused: no real course comes near it, and it bounds recursion in readers.
MAX_XML_DEPTH = 256


def xml_parser() -> etree.XMLParser:
    """A parser that never resolves entities, never touches the network and keeps line numbers."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        collect_ids=False,
    )


def _check_depth(root: etree._Element, where: str) -> None:
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_XML_DEPTH:
            raise etree.XMLSyntaxError(
                f"elements nested deeper than {MAX_XML_DEPTH} levels", None, node.sourceline or 0, 0, where
            )
        stack.extend((child, depth + 1) for child in node)


def _refuse_entities(tree: etree._ElementTree) -> None:
    """DOCTYPEs with entity declarations are refused outright: OLX and manifests never need them."""
    dtd = tree.docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        msg = "entity declarations are not allowed (DOCTYPE with <!ENTITY>)"
        raise etree.XMLSyntaxError(msg, None, 1, 0, "")


_local = threading.local()

# Each level of nesting takes at least 7 bytes ("<a>" + "</a>"), so shorter input cannot be too deep.
_MIN_BYTES_PER_LEVEL = 7


def _shared_parser() -> etree.XMLParser:
    """One parser per thread: building a parser costs more than parsing a small OLX file."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = xml_parser()
    return parser


def parse_xml_bytes(data: bytes, where: str) -> etree._ElementTree:
    """Parse XML from bytes; raises ``etree.XMLSyntaxError`` (with a line) on bad or unsafe input."""
    return etree.ElementTree(parse_xml_root(data, where))


def parse_xml_root(data: bytes, where: str, named: bool = True) -> etree._Element:
    """Like :func:`parse_xml_bytes` but returns the root element (for readers that parse thousands of files).

    ``named=False`` does not give the document ``where`` as its URL (a little cheaper per file): the
    same tree and the same errors (message, line), but ``str()`` of an error names no file."""
    root = etree.fromstring(data, _shared_parser(), base_url=where if named else None)
    # Fast path for ASCII-compatible input without a DOCTYPE (nearly every file); anything else
    # (UTF-16, EBCDIC, or a DOCTYPE) gets the full entity check.
    if b"<!DOCTYPE" in data or not data[:1] or data[:1] not in b"<\xef \t\r\n":
        _refuse_entities(root.getroottree())
    if len(data) > _MIN_BYTES_PER_LEVEL * MAX_XML_DEPTH:
        _check_depth(root, where)
    return root


def parse_xml_file(path: Path, report: Report, shown: str | None = None) -> etree._ElementTree | None:
    """Parse an XML file; on failure add an ``xml-invalid`` problem with its line and return None."""
    shown = shown or display_path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.add(Location(shown), f"cannot read file: {exc.strerror}", "file-unreadable")
        return None
    try:
        return parse_xml_bytes(data, shown)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else 0)
        col = exc.position[1] if exc.position and len(exc.position) > 1 else 0
        report.add(Location(shown, line or 1, col), f"invalid XML: {exc.msg}", "xml-invalid")
        return None


def read_text(path: Path, shown: str | None = None) -> str:
    """Read a text file that must be UTF-8 (a BOM is dropped, CRLF becomes LF); refuse binary content."""
    shown = shown or display_path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"{shown}: file not found") from None
    except OSError as exc:
        raise InvalidInputError(f"{shown}: cannot read file: {exc.strerror}") from None
    return decode_text(data, shown)


def decode_text(data: bytes, shown: str) -> str:
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise InvalidInputError(f"{shown}:{line}: binary data (NUL byte) where text was expected")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        msg = f"{shown}:{line}:{col}: not valid UTF-8 (byte 0x{data[exc.start]:02x})"
        raise InvalidInputError(msg) from None
    return text.replace("\r\n", "\n")


MAX_JSON_DEPTH = 64
MAX_JSON_NUMBER_DIGITS = 64


def _json_number(text: str) -> int | float:
    if len(text) > MAX_JSON_NUMBER_DIGITS:
        raise ValueError(f"number with {len(text)} digits")
    if text.lstrip("-").isdigit():
        return int(text)
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text} is out of range")
    return number


def _json_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


# A string literal (an unterminated one runs to the end), and runs of anything but brackets.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.S)
_JSON_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_JSON_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _json_depth(text: str) -> int:
    """The deepest nesting of brackets outside string literals, in which a backslash escapes the next
    character. No Python step per character (a 1 MB policy.json): string literals and then everything
    but brackets are cut out in C, and only the brackets left are counted."""
    # Without escapes every quote opens or closes a string: str.split is twice as fast as the expression.
    outside = _JSON_STRING.sub("", text) if "\\" in text else "".join(text.split('"')[::2])
    brackets = _JSON_NOT_BRACKET.sub("", outside)
    return max(accumulate(map(_JSON_DEPTH_STEP.__getitem__, brackets), initial=0))


def parse_json(text: str, shown: str) -> Any:
    """JSON from an untrusted file: no NaN/Infinity, numbers of at most 64 digits, nesting of at most 64.

    Raises ``InvalidInputError`` with ``file:line:col`` on anything else.
    """
    if _json_depth(text) > MAX_JSON_DEPTH:  # checked first: json.loads would recurse on deep nesting
        raise InvalidInputError(f"{shown}: JSON nested deeper than {MAX_JSON_DEPTH} levels; refused")
    try:
        return json.loads(
            text, parse_int=_json_number, parse_float=_json_number, parse_constant=_json_constant
        )
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{shown}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except ValueError as exc:
        raise InvalidInputError(f"{shown}: invalid JSON: {exc}") from None
