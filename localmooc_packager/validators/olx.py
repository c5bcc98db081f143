"""Validate an Open edX OLX course (a folder or a .tar.gz/.zip archive) before it goes near Studio.

It detects every ERROR class olxcleaner detects (see docs/validate-olx.md for the mapping) and more:

* policy.json values override XML attributes, as the platform applies them (olxcleaner keeps the XML value),
  so an invalid ``start`` in policy.json is reported at its line in policy.json;
* two course.xml in one input (Studio would pick one by directory order);
* unknown tags (the platform silently drops them) and non-ASCII url_names / file names;
* grading weights that do not sum to 1, GRADE_CUTOFFS outside (0, 1], and a sequential ``format`` that
  names no grader type (that subsection silently counts for nothing).

Speed: every file is read and parsed once, file existence is answered from one directory scan, all checks
run over one flat list of blocks, and dates are parsed once per distinct string.

Public API::

    validate_olx(path) -> Report
"""

from __future__ import annotations

import bisect
import functools
import gc
import html
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dateutil.parser
from lxml import etree

from ..archive import ArchiveView, is_archive, open_archive
from ..errors import InvalidInputError, Location, Report, Severity, UsageError, display_path
from ..olx_read import (
    _COURSE_POINTER_ATTRS,
    PLATFORM_DEFAULTS,
    STOCK,
    asset_name,
    asset_names,
    installed_xblocks,
    pointer_path,
    static_link_asset,
)
from ..safe import parse_json, parse_xml_root

WARNING = Severity.WARNING


@dataclass(frozen=True)
class _Kind:
    """How one tag behaves, following olxcleaner's object classes (objects/*.py)."""

    content: bool = False  # children are content (CAPA, HTML), not blocks
    can_be_empty: bool = False
    can_be_pointer: bool = True
    pointer_attrs: frozenset[str] = frozenset({"url_name"})
    display_name: bool | None = True  # True: required, None: optional, False: should be absent
    needs_url_name: bool = True
    children: frozenset[str] = frozenset()


# Components olxcleaner knows, which may sit in a vertical.
_COMPONENTS = frozenset(
    {"html", "video", "discussion", "problem", "lti", "lti_consumer", "drag-and-drop-v2", "openassessment"}
)
# Further block types built into the platform; accepted in a vertical and not looked inside.
_CORE_OPAQUE = frozenset(
    {
        "annotatable",
        "conditional",
        "done",
        "google-calendar",
        "google-document",
        "library_content",
        "poll",
        "poll_question",
        "split_test",
        "survey",
        "word_cloud",
    }
)

_KINDS: dict[str, _Kind] = {
    "course": _Kind(
        pointer_attrs=frozenset({"url_name", "course", "org"}), children=frozenset({"chapter", "wiki"})
    ),
    "chapter": _Kind(children=frozenset({"sequential"})),
    "sequential": _Kind(children=frozenset({"vertical"})),
    "vertical": _Kind(),  # children: components + xblocks, see _allowed()
    "html": _Kind(content=True),
    "problem": _Kind(content=True),
    "video": _Kind(content=True, can_be_empty=True),
    # Studio writes <wiki slug=.../> with neither display_name nor url_name.
    "wiki": _Kind(content=True, can_be_empty=True, display_name=None, needs_url_name=False),
    "openassessment": _Kind(content=True, can_be_pointer=False, display_name=False),
    "discussion": _Kind(can_be_empty=True, display_name=None, needs_url_name=False),
    "lti": _Kind(can_be_empty=True),
    "lti_consumer": _Kind(can_be_empty=True, can_be_pointer=False),
    "drag-and-drop-v2": _Kind(can_be_empty=True, can_be_pointer=False, display_name=None),
}
_OPAQUE = _Kind(content=True, can_be_empty=True, display_name=None)

_SHOW_ANSWER = frozenset(
    {
        "always",
        "answered",
        "attempted",
        "closed",
        "finished",
        "correct_or_past_due",
        "past_due",
        "never",
        "after_attempts",
    }
)
_RERANDOMIZE = frozenset({"always", "onreset", "never", "per_student"})
_SHOW_CORRECTNESS = frozenset({"always", "past_due", "never"})
_ENUMS = (
    ("rerandomize", _RERANDOMIZE),
    ("show_correctness", _SHOW_CORRECTNESS),
    ("showanswer", _SHOW_ANSWER),
)
_ENUM_NAMES = frozenset(name for name, _ in _ENUMS)
_DATE_NAMES = frozenset({"start", "due"})
_DATED = frozenset({"chapter", "sequential", "vertical", "problem"})
# Copied from the platform's xmodule.fields Timedelta, as olxcleaner does.
_GRACEPERIOD = re.compile(
    r"^((?P<days>\d+?) day(?:s?))?(\s)?((?P<hours>\d+?) hour(?:s?))?(\s)?"
    r"((?P<minutes>\d+?) minute(?:s)?)?(\s)?((?P<seconds>\d+?) second(?:s)?)?$"
)
_URL_NAME_BAD = re.compile(r"[/\\]|^\.\.?$|\x00")
# The attributes olxcleaner scans for internal links (utils.find_links), right before an opening quote.
_LINK_ATTR_BEFORE = re.compile(rb"\b(?:link|src|href|img|icon|preprocessorSrc)\s*=\s*\Z")
_DEFAULT_GRADERS = frozenset({"Homework"})  # olxcleaner's and the platform's default grading policy


def xblock_names() -> frozenset[str]:
    """Every installed ``xblock.v1`` entry point name (read once per process)."""
    return installed_xblocks()


# Shared by every block until it has attributes (locations) of its own; never filled, always replaced.
_NO_ATTRS: dict[str, object] = {}
_NO_LOCS: dict[str, _PolicyEntry] = {}


class _Block:
    """One loaded block. A plain slotted class: thousands are made, and dataclass factories cost more."""

    __slots__ = ("attr_loc", "attrs", "broken", "content", "files", "kind", "lines", "tag")

    def __init__(self, tag: str, kind: _Kind) -> None:
        self.tag = tag
        self.kind = kind
        self.files: list[str] = []  # [pointer file, definition file] or [definition file]
        self.lines: list[int] = []
        # Replaced, not filled: by the first element read (its attribute dict), by the policy entry.
        self.attrs: dict[str, object] = _NO_ATTRS
        # Attributes policy.json set: name -> the policy entry, located only when a message needs it.
        self.attr_loc: dict[str, _PolicyEntry] = _NO_LOCS
        self.content: etree._Element | None = None
        self.broken = False

    @property
    def loc(self) -> Location:
        """Where the block is defined."""
        return Location(self.files[-1], self.lines[-1]) if self.files else Location("")

    @property
    def first_loc(self) -> Location:
        """Where the block first appears (its pointer, if any)."""
        return Location(self.files[0], self.lines[0]) if self.files else Location("")

    def where(self, attr: str) -> Location:
        entry = self.attr_loc.get(attr)
        return entry.setting_loc(attr) if entry is not None else self.loc

    def __repr__(self) -> str:
        url = self.attrs.get("url_name")
        return f"<{self.tag} url_name='{url}'>" if url else f"<{self.tag}>"


class _JsonText:
    """Line numbers for keys in a JSON document, found by scanning its text (json has no positions).

    The scan runs on the first question only: a clean course asks none, and on a large policy.json (every
    problem of a quiz-heavy course has an entry) the scan costs more than parsing the JSON."""

    _STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)

    def __init__(self, text: str) -> None:
        self.text = text
        self._newlines: list[int] | None = None
        self._keys: dict[str, list[int]] | None = None

    @property
    def newlines(self) -> list[int]:
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        return self._newlines

    @property
    def keys(self) -> dict[str, list[int]]:
        if self._keys is None:
            text = self.text
            keys: dict[str, list[int]] = {}
            n = len(text)
            for m in self._STRING.finditer(text):
                end = m.end()
                while end < n and text[end] in " \t\r\n":
                    end += 1
                if end < n and text[end] == ":":
                    literal = m.group()
                    if "\\" in literal:
                        try:
                            key = json.loads(literal)
                        except ValueError:
                            continue
                    else:  # the document parsed, so a literal without escapes is its own text
                        key = literal[1:-1]
                    keys.setdefault(key, []).append(m.start())
            self._keys = keys
        return self._keys

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def key_pos(self, key: str, after: int = 0) -> int:
        """Offset of the first ``"key":`` at or after ``after``; -1 if absent."""
        positions = self.keys.get(key, ())
        i = bisect.bisect_left(positions, after)
        return positions[i] if i < len(positions) else -1

    def key_line(self, key: str, after: int = 0) -> int:
        pos = self.key_pos(key, after)
        return self.line(pos) if pos >= 0 else (self.line(after) if after else 1)

    def array_item_lines(self, key: str) -> list[int]:
        """Lines where each top-level item of the array value of ``key`` starts."""
        pos = self.key_pos(key)
        if pos < 0:
            return []
        text, n = self.text, len(self.text)
        i = text.find("[", pos)
        if i < 0:
            return []
        lines: list[int] = []
        depth, in_str, esc, expecting = 0, False, False, True
        while i < n:
            c = text[i]
            if in_str:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    in_str = False
            elif c == '"':
                if depth == 1 and expecting:
                    lines.append(self.line(i))
                    expecting = False
                in_str = True
            elif c in "[{":
                if depth == 1 and expecting:
                    lines.append(self.line(i))
                    expecting = False
                depth += 1
            elif c in "]}":
                depth -= 1
                if depth == 0:
                    break
            elif c == "," and depth == 1:
                expecting = True
            elif depth == 1 and expecting and not c.isspace():
                lines.append(self.line(i))
                expecting = False
            i += 1
        return lines


class _PolicyEntry:
    """One ``TYPE/URL_NAME`` entry of policy.json, located in its text only when a message names it."""

    __slots__ = ("jt", "key", "rel")

    def __init__(self, jt: _JsonText, rel: str, key: str) -> None:
        self.jt = jt
        self.rel = rel
        self.key = key

    def pos(self) -> int:
        return self.jt.key_pos(self.key)

    def loc(self) -> Location:
        pos = self.pos()
        return Location(self.rel, self.jt.line(pos) if pos >= 0 else 1)

    def setting_loc(self, name: str) -> Location:
        """Where setting ``name`` of this entry is (the entry's line when not found)."""
        pos = self.pos()
        vpos = self.jt.key_pos(name, pos + 1) if pos >= 0 else -1
        return Location(self.rel, self.jt.line(vpos)) if vpos >= 0 else self.loc()


_INVALID = object()
_COMMENT = etree.Comment
_READ_SIZE = 1 << 16
_Issue = Callable[..., None]


@functools.lru_cache(maxsize=4096)
def _parse_date_text(text: str) -> datetime | object:
    try:
        parsed = dateutil.parser.parse(text)
    except (ValueError, OverflowError):
        return _INVALID
    if parsed.tzinfo is None or parsed.tzinfo.utcoffset(parsed) is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _parse_date(value: object) -> datetime | object | None:
    """A UTC datetime, None when unset, or _INVALID (the platform's DateTime field uses dateutil too)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return _INVALID
    return _parse_date_text(value)


def _only_comments(node: etree._Element) -> bool:
    """True when every child is a comment with no text after it (an element with children may still be empty)."""
    for child in node:  # a plain loop: a generator costs more than the usual single iteration
        if child.tag is not _COMMENT:
            return False
        tail = child.tail
        if tail and not tail.isspace():
            return False
    return True


def _as_list(value: object) -> list[object]:
    """List fields come as JSON lists from policy.json and as JSON text from XML attributes."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return list(value) if isinstance(value, list) else []


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _differs(xml_value: str, policy_value: object) -> bool:
    """Whether a policy value changes an XML attribute (XML holds JSON text for non-string fields)."""
    if isinstance(policy_value, str):
        return xml_value != policy_value
    try:
        return json.loads(xml_value) != policy_value
    except ValueError:
        return True


def _non_ascii(text: str) -> bool:
    return not text.isascii()


class _Validator:
    def __init__(self, root: Path, report: Report, view: ArchiveView | None = None, prefix: str = "") -> None:
        self.root = root
        self.root_s = os.fspath(root)
        self.root_fd: int | None = None  # the course folder, open while run_all reads it
        # An archive is read in place: its files come from ``view`` (names below ``prefix``), not the disk.
        self.view = view
        self.prefix = prefix
        self.report = report
        self.files: set[str] = set()
        self.good_static: set[bytes] = set()  # /static/ links (as written) known to name an asset
        self.xblocks = xblock_names()
        self.vertical_children = _COMPONENTS | _CORE_OPAQUE | self.xblocks | {"wiki"}
        self.html_parser = etree.HTMLParser(recover=False, no_network=True)
        self.blocks: list[_Block] = []  # every block that loaded, in pre-order
        self.urls: dict[str, _Block] = {}  # url_name -> first block with it
        self.link_files: dict[str, bytes] = {}  # files whose bytes mention /static/ or /jump_to_id/
        self.jump_links: list[tuple[str, str, int, _Block]] = []  # resolved once all url_names are known
        self.run = ""
        self.graders: frozenset[str] = _DEFAULT_GRADERS
        self.undeclared: list[_Block] = []  # components no installed XBlock provides; judged after the policy
        self.assets: set[str] = set()  # the names Studio stores static/ files under (olx_read.asset_name)

    # -- reporting
    def add(self, loc: Location, message: str, code: str, severity: Severity = Severity.ERROR) -> None:
        self.report.add(loc, message, code, severity=severity)

    # -- files
    def scan(self) -> None:
        """Index every regular file once; all existence checks are set look-ups afterwards."""
        if self.view is not None:
            self.scan_archive(self.view)
            return
        stack = [("", str(self.root))]
        files = self.files
        while stack:
            rel_dir, abs_dir = stack.pop()
            with os.scandir(abs_dir) as it:
                for entry in it:
                    rel = f"{rel_dir}{entry.name}"
                    if entry.is_file(follow_symlinks=False):
                        files.add(rel)
                    elif entry.is_dir(follow_symlinks=False):
                        stack.append((rel + "/", entry.path))
                    elif entry.is_symlink():
                        self.add(
                            Location(rel),
                            "symbolic link ignored (the platform import refuses links)",
                            "olx-file-symlink",
                            WARNING,
                        )
                    if not entry.name.isascii():
                        self.add(
                            Location(rel),
                            "non-ASCII file name; Open edX has repeatedly broken on these "
                            "(keep Thai in display_name and content)",
                            "olx-file-name-non-ascii",
                            WARNING,
                        )

    def scan_archive(self, view: ArchiveView) -> None:
        # Links never get this far: the archive reader refuses them.
        n = len(self.prefix)
        for name in view.files:
            if name.startswith(self.prefix):
                rel = name[n:]
                self.files.add(rel)
                if not rel.isascii():
                    self.add(
                        Location(rel),
                        "non-ASCII file name; Open edX has repeatedly broken on these "
                        "(keep Thai in display_name and content)",
                        "olx-file-name-non-ascii",
                        WARNING,
                    )

    def read_bytes(self, rel: str) -> bytes:
        if self.view is not None:
            return self.view.read(self.prefix + rel) or b""
        # Plain os calls: pathlib and buffered files cost more than the read itself on small OLX files.
        # Opened relative to the course folder: the kernel walks two path components, not the whole path.
        root_fd = self.root_fd
        fd = (
            os.open(rel, os.O_RDONLY, dir_fd=root_fd)
            if root_fd is not None
            else os.open(f"{self.root_s}/{rel}", os.O_RDONLY)
        )
        try:
            data = os.read(fd, _READ_SIZE)
            if len(data) == _READ_SIZE:  # a large file: read on to the end
                chunks = [data]
                while chunk := os.read(fd, _READ_SIZE):
                    chunks.append(chunk)
                data = b"".join(chunks)
        finally:
            os.close(fd)
        return data

    def read_xml(self, rel: str) -> etree._Element | None:
        try:
            data = self.read_bytes(rel)
        except OSError as exc:
            self.add(Location(rel), f"cannot read file: {exc.strerror}", "olx-file-unreadable")
            return None
        try:
            try:
                root = parse_xml_root(data, rel, named=False)
            except (etree.XMLSyntaxError, ValueError):
                root = parse_xml_root(data, rel)  # again with its name: the error exactly as ever
            if b"/static/" in data or b"/jump_to_id/" in data:
                self.link_files[rel] = data
            return root
        except (etree.XMLSyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", 0) or 1
            msg = getattr(exc, "msg", None) or str(exc)
            self.add(Location(rel, line), f"invalid XML: {msg}", "olx-xml-invalid")
            return None

    def read_json(self, rel: str) -> tuple[object, _JsonText] | None:
        """Returns (value, text index); None when the file is missing or invalid (already reported)."""
        if rel not in self.files:
            self.add(Location(rel), f"policy file '{rel}' not found", "olx-policy-missing")
            return None
        data = self.read_bytes(rel)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            self.add(Location(rel, line), "not valid UTF-8", "olx-policy-invalid-json")
            return None
        try:
            # safe.parse_json bounds nesting and numbers (json.loads alone recurses on deep nesting).
            return parse_json(text, rel), _JsonText(text)
        except InvalidInputError as exc:
            where = re.match(rf"{re.escape(rel)}:(\d+):(\d+): (.*)", str(exc), re.S)
            if where:
                line, col, msg = int(where[1]), int(where[2]), where[3]
            else:
                line, col, msg = 1, 0, str(exc).removeprefix(f"{rel}: ")
            self.add(Location(rel, line, col), msg, "olx-policy-invalid-json")
        return None

    # -- structure
    def load(self) -> _Block | None:
        if "course.xml" not in self.files:
            self.add(
                Location("course.xml"), "course.xml not found at the course root", "olx-course-xml-missing"
            )
            return None
        node = self.read_xml("course.xml")
        if node is None:
            return None
        course = _Block("course", _KINDS["course"])
        self.read(course, node, "course.xml", via_pointer=False)
        return course

    def check_url_name(self, url: str, fname: str, line: int) -> bool:
        if url.isascii() and "/" not in url and "\\" not in url and ".." not in url and "\x00" not in url:
            return True  # the common case, without the regular expression
        loc = Location(fname, line)
        if _URL_NAME_BAD.search(url) or ".." in url.split(":"):
            self.add(
                loc, f"url_name '{url}' must not contain '/', '\\' or '..' segments", "olx-url-name-invalid"
            )
            return False
        if _non_ascii(url):
            self.add(
                loc,
                f"non-ASCII url_name '{url}'; keep url_names ASCII (Thai belongs in display_name)",
                "olx-url-name-non-ascii",
                WARNING,
            )
        return True

    def read(self, block: _Block, node: etree._Element, fname: str, via_pointer: bool) -> None:
        """Load ``block`` from ``node`` (in ``fname``), following pointers and recursing into children."""
        line = node.sourceline or 1
        tag = block.tag
        ntag = node.tag
        if ntag != tag and ntag != STOCK.aliases.get(tag):  # videosequence/X.xml may hold <sequential>
            self.add(
                Location(fname, line),
                f"file should hold a <{tag}> but opens with <{ntag}>",
                "olx-tag-mismatch",
            )
            block.broken = True
            return
        kind = block.kind
        attrib = dict(node.items())
        if not block.attrs:  # a new block: its attributes are this element's (no copy)
            block.attrs = attrib
        elif attrib:
            block.attrs.update(attrib)
        block.files.append(fname)
        block.lines.append(line)
        n_children = len(node)
        text = node.text
        # olx_read.is_pointer, from what is at hand (the element's tag, text and attribute dict): its
        # attribute names are distinct, so they are exactly ``url_name`` when the dict has one key, that.
        if (
            kind.can_be_pointer
            and not n_children
            and not (text and text.strip())
            and (
                (len(attrib) == 1 and "url_name" in attrib)
                if ntag != "course"
                else (len(attrib) == 3 and _COURSE_POINTER_ATTRS.issuperset(attrib))
            )
        ):
            self.follow(block, attrib["url_name"], fname, line, via_pointer)
            return
        # Empty: no child elements (comments aside) and no text; olxcleaner's and the platform's notion.
        empty = (not text or text.isspace()) and (not n_children or _only_comments(node))
        if tag == "html" and "filename" in block.attrs and self.read_html(block, fname, line, empty):
            if not block.broken:
                self.register(block)
            return
        if empty and n_children and attrib.keys() == kind.pointer_attrs:
            # Only comments inside: olxcleaner calls it a pointer, the platform does not (is_pointer_tag
            # wants no child node at all) and loads an empty block of that url_name instead.
            self.add(
                Location(fname, line),
                f"{block} holds a comment, so the platform does not read it as a pointer: "
                f"{tag}/{attrib['url_name']}.xml is not used and the block is empty",
                "olx-pointer-comment",
                WARNING,
            )
            self.register(block)
            return
        if empty and not kind.can_be_empty and "url_name" in attrib:
            self.add(
                Location(fname, line),
                f"{block} looks like a pointer but has other attributes too "
                f"({', '.join(sorted(set(attrib) - kind.pointer_attrs))})",
                "olx-pointer-invalid",
            )
            block.broken = True
            return
        self.register(block)  # before the children: pre-order, like olxcleaner's traverse
        url = attrib.get("url_name")
        if url is not None:
            if via_pointer:
                if url != fname.rsplit("/", 1)[-1][:-4]:
                    self.add(
                        Location(fname, line),
                        f"url_name '{url}' differs from the file name",
                        "olx-url-name-mismatch",
                        WARNING,
                    )
            elif kind.can_be_pointer and f"{tag}/{url}.xml" in self.files:
                self.add(
                    Location(fname, line),
                    f"{block} is inline, yet {tag}/{url}.xml exists and is unused",
                    "olx-possible-pointer",
                    WARNING,
                )
        if empty and not kind.can_be_empty:
            self.add(Location(fname, line), f"{block} is unexpectedly empty", "olx-empty-tag", WARNING)
            return
        if kind.content:
            data = self.link_files.get(fname)
            if data is not None:
                if via_pointer:  # the whole file is this block
                    self.scan_links(block, data, fname)
                else:  # inline in a parent's file: only this element's part (lines counted from its own)
                    self.scan_links(block, etree.tostring(node), fname, line)
            if tag == "openassessment":
                block.content = node  # its assessment dates are checked once the course dates are known
            return
        self.read_children(block, node, fname)

    def follow(self, block: _Block, url: str, fname: str, line: int, via_pointer: bool) -> None:
        """Load the definition a pointer element names (TAG/URL_NAME.xml)."""
        if via_pointer:
            if url == fname.rsplit("/", 1)[-1][:-4]:
                self.add(Location(fname, line), f"{block} points to itself", "olx-pointer-self")
            else:
                self.add(
                    Location(fname, line),
                    f"{block} was reached through a pointer and points on to "
                    f"'{url}'; a pointer target must hold the definition",
                    "olx-pointer-chained",
                )
            block.broken = True
            return
        if not self.check_url_name(url, fname, line):
            block.broken = True
            return
        tag = block.tag
        target = pointer_path(tag, url)  # the rule the importer follows too
        if target is None:
            self.add(
                Location(fname, line),
                f"url_name '{url}' has an empty or '.' segment; it names no file",
                "olx-url-name-invalid",
            )
            block.broken = True
            return
        if target not in self.files:
            self.add(
                Location(fname, line),
                f"{block} points to {target}, which does not exist",
                "olx-pointer-dangling",
            )
            block.broken = True
            return
        if tag in self.xblocks and tag not in _KINDS:
            self.add(
                Location(fname, line),
                f"<{tag}> is written as a pointer; third-party XBlocks "
                "only import reliably inline (openedx-platform#36390)",
                "olx-xblock-pointer",
                WARNING,
            )
        root = self.read_xml(target)
        if root is None:
            block.broken = True
            return
        self.read(block, root, target, True)  # via a pointer

    def read_children(self, block: _Block, node: etree._Element, fname: str) -> None:
        text = node.text
        stray = text.strip() if text and not text.isspace() else ""
        tag = block.tag
        allowed = self.vertical_children if tag == "vertical" else block.kind.children
        aliases = STOCK.aliases
        for child in node:  # one pass: lxml builds a Python proxy for every child on every iteration
            tail = child.tail
            if tail and not stray and not tail.isspace():
                stray = tail.strip()
            ctag = child.tag
            if ctag in allowed or aliases.get(ctag) in allowed:
                self.read(_Block(ctag, _KINDS.get(aliases.get(ctag, ctag), _OPAQUE)), child, fname, False)
            elif not isinstance(ctag, str):  # comments and processing instructions
                continue
            elif tag == "vertical" and ctag not in _KINDS and ctag not in STOCK.aliases:
                # Stock Open edX or the course's advanced_modules may provide it: judged after the policy.
                new = _Block(ctag, _OPAQUE)
                self.read(new, child, fname, False)
                self.undeclared.append(new)
            elif ctag in _KINDS or ctag in _CORE_OPAQUE or ctag in self.xblocks or ctag in STOCK:
                self.add(
                    Location(fname, child.sourceline or 1),
                    f"<{ctag}> is not allowed inside <{tag}> "
                    f"(allowed: {', '.join(sorted(allowed & set(_KINDS))) or 'nothing'})",
                    "olx-tag-unexpected",
                )
            else:
                self.add(
                    Location(fname, child.sourceline or 1),
                    f"unknown tag <{ctag}> inside <{tag}>: no such block type exists "
                    "there, and the platform would silently drop it",
                    "olx-tag-unknown",
                )
        if stray:
            self.add(
                Location(fname, node.sourceline or 1),
                f"{block} must not contain text ('{stray[:20]}...')",
                "olx-content-unexpected",
            )

    def read_html(self, block: _Block, fname: str, line: int, empty: bool) -> bool:
        """Follow an html block's ``filename``; True when the html file defines the block."""
        name = str(block.attrs["filename"]).replace(":", "/")
        target = f"html/{name}.html"
        if not empty:
            if target in self.files:
                self.add(
                    Location(fname, line),
                    f"{block} has inline content, yet {target} exists and is unused",
                    "olx-possible-pointer",
                    WARNING,
                )
            return False
        if target not in self.files or ".." in name.split("/"):
            self.add(
                Location(fname, line),
                f"{block} names the file {target}, which does not exist",
                "olx-html-file-missing",
            )
            return True
        data = self.read_bytes(target)
        try:
            # utf-8-sig by hand: that codec is a Python function around this C one (positions alike).
            text = (data[3:] if data.startswith(b"\xef\xbb\xbf") else data).decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            self.add(
                Location(target, line),
                f"invalid HTML: not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                "olx-html-invalid",
            )
            block.broken = True
            return True
        try:
            # The same strict libxml2 HTML parse olxcleaner applies (stray end tags, encoding declarations).
            etree.fromstring(text, self.html_parser)
        except (etree.XMLSyntaxError, ValueError) as exc:
            # Studio imports it anyway (HtmlBlock only logs "Couldn't parse html"); browsers repair it.
            msg = getattr(exc, "msg", None) or str(exc)
            line = getattr(exc, "lineno", 0) or 1
            self.add(Location(target, line), f"malformed HTML: {msg}", "olx-html-malformed", WARNING)
        if b"/static/" in data or b"/jump_to_id/" in data:
            self.scan_links(block, data, target)
        return True

    # -- url_names and policies
    def register(self, block: _Block) -> None:
        """Record a block that loaded (in pre-order, as olxcleaner's traverse meets them) and its url_name."""
        self.blocks.append(block)
        url = block.attrs.get("url_name")
        if url is None:
            if block.kind.needs_url_name and block.tag in _KINDS:
                self.add(
                    block.first_loc,
                    f"{block} has no url_name; the platform invents a random one",
                    "olx-url-name-missing",
                    WARNING,
                )
            return
        url = str(url)
        first = self.urls.setdefault(url, block)
        if first is not block:
            self.add(
                block.first_loc,
                f"duplicate url_name '{url}': <{block.tag}> here and <{first.tag}> at {first.first_loc}",
                "olx-url-name-duplicate",
            )
        elif len(block.files) == 1:  # pointers were checked when followed
            self.check_url_name(url, block.files[0], block.lines[0])

    def merge_policy(self, url_names: dict[str, _Block]) -> None:
        rel = f"policies/{self.run}/policy.json"
        loaded = self.read_json(rel)
        if loaded is None:
            return
        policy, jt = loaded
        if not isinstance(policy, dict):
            self.add(
                Location(rel, 1),
                "policy.json must be an object mapping 'TYPE/URL_NAME' to settings",
                "olx-policy-format",
            )
            return
        for key, settings in policy.items():
            entry = _PolicyEntry(jt, rel, key)
            objtype, sep, url = key.partition("/")
            if not sep:
                self.add(
                    entry.loc(),
                    f"policy key '{key}' is not of the form 'TYPE/URL_NAME'",
                    "olx-policy-key-invalid",
                )
                continue
            block = url_names.get(url)
            if block is None:
                self.add(
                    entry.loc(),
                    f"policy entry '{key}' refers to no block in the course",
                    "olx-policy-ref-missing",
                    WARNING,
                )
                continue
            if block.tag != objtype:
                self.add(
                    entry.loc(),
                    f"policy entry '{key}' names a <{objtype}>, but url_name '{url}' is a <{block.tag}>",
                    "olx-policy-wrong-type",
                )
                continue
            if not isinstance(settings, dict):
                self.add(
                    entry.loc(),
                    f"policy entry '{key}' is not an object of settings",
                    "olx-policy-entry-invalid",
                )
                continue
            attrs = block.attrs
            if settings.keys() & attrs.keys():  # only a setting the XML has too can override it
                for name, value in settings.items():
                    old = attrs.get(name)
                    if (
                        old is not None
                        and not isinstance(old, dict | list)
                        and (
                            str(old) != str(value)
                            if not isinstance(value, bool)
                            else str(old).lower() != str(value).lower()
                        )
                    ):
                        self.add(
                            entry.setting_loc(name),
                            f"'{name}' in policy.json overrides the XML value '{old}' at {block.where(name)} "
                            "(the platform uses the policy value)",
                            "olx-policy-overrides-xml",
                            WARNING,
                        )
            # The platform applies policy.json over the XML attributes: validate what it will use.
            attrs.update(settings)
            if block.attr_loc:
                block.attr_loc.update(dict.fromkeys(settings, entry))
            else:
                block.attr_loc = dict.fromkeys(settings, entry)

    def grading_policy(self) -> None:
        rel = f"policies/{self.run}/grading_policy.json"
        loaded = self.read_json(rel)
        if loaded is None:
            return
        policy, jt = loaded

        def issue(line: int, msg: str, code: str = "olx-grading-invalid") -> None:
            self.add(Location(rel, line), msg, code)

        if not isinstance(policy, dict):
            issue(1, "grading_policy.json must be an object with GRADER and GRADE_CUTOFFS")
            return
        graders = policy.get("GRADER")
        if "GRADER" not in policy:
            issue(1, "'GRADER' entry not found in grading policy")
        elif not isinstance(graders, list):
            issue(jt.key_line("GRADER"), "'GRADER' is not a list")
        else:
            self.graders = self.check_graders(graders, jt, issue)
        self.check_cutoffs(policy, jt, issue)

    def check_graders(self, graders: list[object], jt: _JsonText, issue: _Issue) -> frozenset[str]:
        lines = jt.array_item_lines("GRADER")
        types: set[str] = set()
        weights = 0.0
        if not graders:
            issue(jt.key_line("GRADER"), "GRADER entry in grading policy should not be empty")
        for idx, entry in enumerate(graders):
            line = lines[idx] if idx < len(lines) else jt.key_line("GRADER")
            n = idx + 1
            if not isinstance(entry, dict):
                issue(line, f"GRADER entry {n} is not an object")
                continue
            for name, low in (("drop_count", 0), ("min_count", 1)):
                value = entry.get(name)
                if name not in entry:
                    issue(line, f"'{name}' setting is omitted for GRADER entry {n}")
                elif not isinstance(value, int) or isinstance(value, bool):
                    issue(line, f"'{name}' setting is not an integer for GRADER entry {n}")
                elif value < low:
                    issue(line, f"'{name}' setting is below {low} for GRADER entry {n}")
            if "short_label" in entry and not isinstance(entry["short_label"], str):
                issue(line, f"'short_label' setting is not a string for GRADER entry {n}")
            gtype = entry.get("type")
            if "type" not in entry:
                issue(line, f"'type' setting is omitted for GRADER entry {n}")
            elif not isinstance(gtype, str):
                issue(line, f"'type' setting is not a string for GRADER entry {n}")
            elif gtype in types:
                issue(line, f"assessment type '{gtype}' appears more than once in GRADER")
            else:
                types.add(gtype)
            weight = entry.get("weight")
            if "weight" not in entry:
                issue(line, f"'weight' setting is omitted for GRADER entry {n}")
            elif not _is_number(weight) or not 0 <= weight <= 1:  # type: ignore[operator]
                issue(line, f"'weight' setting is not a number between 0 and 1 for GRADER entry {n}")
            else:
                weights += weight  # type: ignore[operator]
        if graders and abs(weights - 1) > 1e-8:
            issue(
                jt.key_line("GRADER"),
                f"GRADER weights add up to {weights:g}, not 1",
                "olx-grading-weights-sum",
            )
        return frozenset(types)

    def check_cutoffs(self, policy: dict[str, object], jt: _JsonText, issue: _Issue) -> None:
        if "GRADE_CUTOFFS" not in policy:
            issue(1, "'GRADE_CUTOFFS' entry not found in grading policy")
            return
        cutoffs = policy["GRADE_CUTOFFS"]
        start = jt.key_pos("GRADE_CUTOFFS")
        base_line = jt.line(start) if start >= 0 else 1
        if not isinstance(cutoffs, dict):
            issue(base_line, "'GRADE_CUTOFFS' is not an object")
            return
        clean = True
        for grade, value in cutoffs.items():
            line = jt.key_line(grade, max(start, 0))
            if grade not in ("Pass", "A", "B", "C", "D"):
                clean = False
                issue(line, f"'{grade}' is not allowed in GRADE_CUTOFFS (use 'Pass' or 'A'..'D')")
            elif not _is_number(value):
                issue(line, f"GRADE_CUTOFFS '{grade}' is not a number")
            elif not 0 < value <= 1:  # type: ignore[operator]
                # olxcleaner accepts 0 and negative values; the platform then passes every learner.
                issue(line, f"GRADE_CUTOFFS '{grade}' is {value}, outside (0, 1]", "olx-grading-cutoff-range")
        if not clean:
            return
        if not cutoffs:
            issue(base_line, "GRADE_CUTOFFS should not be empty")
        elif "Pass" in cutoffs and len(cutoffs) > 1:
            issue(base_line, "GRADE_CUTOFFS should have either 'Pass' or letters, not both")
        elif "Pass" not in cutoffs:
            letters = ["A", "B", "C", "D"]
            last = max(letters.index(g) for g in cutoffs)
            if last == 0:
                issue(base_line, "GRADE_CUTOFFS should use 'Pass' instead of only 'A'")
            current = 1.1
            for grade in letters[: last + 1]:
                value = cutoffs.get(grade)
                if grade not in cutoffs:
                    issue(base_line, f"GRADE_CUTOFFS is missing '{grade}'")
                elif _is_number(value):
                    if value >= current:  # type: ignore[operator]
                        issue(jt.key_line(grade, max(start, 0)), f"GRADE_CUTOFFS '{grade}' is not decreasing")
                    else:
                        current = value  # type: ignore[assignment]

    # -- per-block settings
    def date(self, block: _Block, name: str, required: bool = False) -> datetime | None:
        value = block.attrs.get(name)
        parsed = _parse_date(value)
        if parsed is _INVALID:
            self.add(
                block.where(name), f"{block} has an invalid date for '{name}': {value!r}", "olx-date-invalid"
            )
            return None
        if parsed is None and required:
            # Only the course start is asked for, and only as a warning: without one the platform
            # uses its default (CourseFields.start, 2030-01-01), so learners cannot enter until then.
            self.add(
                block.where(name),
                f"{block} has no '{name}' date; the platform then opens it on 2030-01-01",
                "olx-date-missing",
                WARNING,
            )
        return parsed  # type: ignore[return-value]

    def order(
        self,
        block: _Block,
        first: datetime | None,
        second: datetime | None,
        msg: str,
        attr: str,
        same_ok: bool = False,
        severity: Severity = WARNING,
    ) -> None:
        if first is None or second is None:
            return
        if first > second or (first == second and not same_ok):
            self.add(block.where(attr), f"{block}: {msg}", "olx-date-order", severity)

    def require(self, block: _Block, name: str) -> None:
        if name in PLATFORM_DEFAULTS.get(block.tag, ()):
            return  # the platform supplies a value
        if block.attrs.get(name) is None:
            self.add(block.loc, f"{block} has no '{name}' setting", "olx-setting-missing")

    def check_blocks(self, course: _Block) -> None:
        c_start = self.date(course, "start", required=True)
        c_end = self.date(course, "end")  # no end: the course never closes (CourseFields.end is None)
        self.order(
            course, c_start, c_end, "course start must be before its end", "end", severity=Severity.ERROR
        )
        en_start = self.date(course, "enrollment_start")
        en_end = self.date(course, "enrollment_end")
        self.order(
            course,
            en_start,
            en_end,
            "enrollment_start must be before enrollment_end",
            "enrollment_end",
            severity=Severity.ERROR,
        )
        for name in ("org", "course"):
            self.require(course, name)
        image = course.attrs.get("course_image")
        if isinstance(image, str) and image and asset_name(image) not in self.assets:
            self.add(
                course.where("course_image"),
                f"course_image '{image}' is not in static/",
                "olx-static-missing",
                WARNING,
            )
        if image is not None and not isinstance(image, str):
            self.add(
                course.where("course_image"),
                f"course_image {image!r} is not a file name",
                "olx-setting-invalid",
            )
        for name in ("advanced_modules", "lti_passports"):
            value = course.attrs.get(name)
            if value is not None and not _as_list(value) and value not in ([], "[]"):
                self.add(course.where(name), f"'{name}' {value!r} is not a list", "olx-setting-invalid")
        grace = course.attrs.get("graceperiod")
        if grace is not None and not (isinstance(grace, str) and _GRACEPERIOD.match(grace)):
            self.add(
                course.where("graceperiod"),
                f"graceperiod {grace!r} is not like '2 days 3 hours'",
                "olx-setting-invalid",
            )
        advanced = {str(m) for m in _as_list(course.attrs.get("advanced_modules"))}
        passports = [p for p in _as_list(course.attrs.get("lti_passports")) if isinstance(p, str)]
        timed = str(course.attrs.get("enable_timed_exams", "")).lower() == "true"
        discussion_ids: dict[str, _Block] = {}
        used_xblocks: dict[str, _Block] = {}

        for block in self.blocks:
            tag, attrs = block.tag, block.attrs
            # Set intersections on the keys (in C) keep the common case, no such setting, cheap.
            if attrs.keys() & _ENUM_NAMES:
                for name, allowed in _ENUMS:
                    value = attrs.get(name)
                    if value is not None and (not isinstance(value, str) or value not in allowed):
                        self.add(
                            block.where(name),
                            f"{block} has an invalid setting {name}={value!r}",
                            "olx-setting-invalid",
                        )
            if tag in _DATED and attrs.keys() & _DATE_NAMES:
                start = self.date(block, "start")
                due = self.date(block, "due")
                self.order(
                    block, c_start, start, "start date is before the course start", "start", same_ok=True
                )
                self.order(block, start, c_end, "start date is not before the course end", "start")
                self.order(block, c_start, due, "due date is not after the course start", "due")
                self.order(block, start, due, "start date is not before the due date", "due")
                self.order(block, due, c_end, "due date is after the course end", "due", same_ok=True)
            if tag in ("course", "problem"):
                attempts = attrs.get("attempts")
                if attempts not in (None, ""):
                    try:
                        ok = int(attempts) >= 1  # type: ignore[call-overload]
                    except (TypeError, ValueError):
                        ok = False
                    if not ok:
                        self.add(
                            block.where("attempts"),
                            f"{block} should have a positive number of attempts",
                            "olx-setting-invalid",
                        )
            if tag == "problem":
                weight = attrs.get("weight")
                if weight not in (None, ""):
                    try:
                        ok = float(weight) >= 0  # type: ignore[arg-type]
                    except (TypeError, ValueError):
                        ok = False
                    if not ok:
                        self.add(
                            block.where("weight"),
                            f"{block} has a negative or non-numeric weight {weight!r}",
                            "olx-setting-invalid",
                        )
            elif tag == "sequential":
                if str(attrs.get("is_time_limited", "")).lower() == "true" and not timed:
                    self.add(
                        block.where("is_time_limited"),
                        f"{block} is a timed exam, but the course policy lacks 'enable_timed_exams': true",
                        "olx-setting-invalid",
                    )
                fmt = attrs.get("format")
                if fmt not in (None, "") and (not isinstance(fmt, str) or fmt not in self.graders):
                    self.add(
                        block.where("format"),
                        f"{block} has format {fmt!r}, which names no grader type in "
                        f"the grading policy ({', '.join(sorted(self.graders)) or 'none'}); it would count "
                        "for nothing",
                        "olx-grading-format-unknown",
                    )
            elif tag == "discussion":
                # discussion_id, _category and _target have platform defaults (PLATFORM_DEFAULTS).
                disc = attrs.get("discussion_id")
                if disc:
                    first = discussion_ids.setdefault(str(disc), block)
                    if first is not block:
                        self.add(
                            block.where("discussion_id"),
                            f"discussion_id '{disc}' is also used by {first} at "
                            f"{first.loc}; learners would see each other's threads vanish",
                            "olx-discussion-id-duplicate",
                        )
            elif tag in ("lti", "lti_consumer"):
                self.check_lti(block, advanced, passports)
            elif tag == "drag-and-drop-v2":
                data = attrs.get("data")
                if data is not None:
                    try:
                        parsed = json.loads(data) if isinstance(data, str) else data
                    except ValueError as exc:
                        parsed = None
                        self.add(
                            block.where("data"),
                            f"{block} has invalid JSON in 'data': {exc}",
                            "olx-setting-invalid",
                        )
                    if parsed is not None and not isinstance(parsed, dict):
                        self.add(
                            block.where("data"), f"{block} 'data' is not a JSON object", "olx-setting-invalid"
                        )
            elif tag == "openassessment":
                self.check_ora(block, c_start, c_end)
            if tag in self.xblocks and tag not in _KINDS:
                used_xblocks.setdefault(tag, block)
            if block.kind.display_name is True and attrs.get("display_name") in (None, ""):
                self.add(block.loc, f"{block} has no display_name", "olx-display-name-missing", WARNING)
        for tag, block in sorted(used_xblocks.items()):
            if tag not in advanced:
                self.add(
                    block.loc,
                    f"<{tag}> is used but not listed in the course's advanced_modules; Studio will "
                    "not offer it for new components",
                    "olx-advanced-module-missing",
                    WARNING,
                )

    def check_block_types(self, course: _Block) -> None:
        """Components no installed XBlock provides: stock Open edX or advanced_modules may, else an error."""
        advanced = {str(m) for m in _as_list(course.attrs.get("advanced_modules"))}
        for block in self.undeclared:
            tag = block.tag
            package = STOCK.package(tag)
            if tag in STOCK.platform:
                continue  # built into edx-platform itself
            if package or tag in advanced:
                where = (
                    "a stock Open edX installs it" if package else "the course lists it in advanced_modules"
                )
                pip = f"pip install {package}" if package else "install the XBlock that provides it"
                self.add(
                    block.first_loc,
                    f"<{tag}>: {where}, but it is not installed here ({pip}); checked as opaque content",
                    "olx-xblock-not-installed",
                    WARNING,
                )
                continue
            self.add(
                block.first_loc,
                f"unknown tag <{tag}>: no stock Open edX block type and not in the course's advanced_modules; "
                "the platform would silently drop it",
                "olx-tag-unknown",
            )

    def check_lti(self, block: _Block, advanced: set[str], passports: list[str]) -> None:
        self.require(block, "lti_id")
        if not block.attrs.get("hide_launch"):
            self.require(block, "launch_url")
        lti_id = block.attrs.get("lti_id")
        if lti_id and not any(p.startswith(f"{lti_id}:") for p in passports):
            self.add(
                block.where("lti_id"),
                f"course policy has no 'lti_passports' entry for '{lti_id}'",
                "olx-lti-passport-missing",
            )
        if block.tag not in advanced:
            self.add(
                block.loc,
                f"course policy's advanced_modules lacks '{block.tag}', required for {block}",
                "olx-lti-module-missing",
            )

    def check_ora(self, block: _Block, c_start: datetime | None, c_end: datetime | None) -> None:
        # ORA's own defaults apply when these are left out (openassessment/xblock/defaults.py).
        start = self.date(block, "submission_start")
        due = self.date(block, "submission_due")
        self.order(
            block, c_start, start, "submission_start is before the course start", "submission_start", True
        )
        self.order(block, start, c_end, "submission_start is not before the course end", "submission_start")
        self.order(block, start, due, "submission_start is not before submission_due", "submission_due")
        self.order(block, due, c_end, "submission_due is after the course end", "submission_due", True)
        if block.content is None:
            return
        for i, node in enumerate(block.content.iterfind("assessments/assessment"), 1):
            loc = Location(block.files[-1], node.sourceline or 0)
            dates = []
            for name in ("start", "due"):
                value = node.get(name)
                parsed = _parse_date(value)
                if parsed is _INVALID:
                    self.add(
                        loc,
                        f"{block} assessment {i} has an invalid {name} date {value!r}",
                        "olx-date-invalid",
                    )
                    parsed = None
                dates.append(parsed)
            if dates[0] and dates[1] and dates[0] >= dates[1]:  # type: ignore[operator]
                self.add(loc, f"{block} assessment {i}: start is not before due", "olx-date-order", WARNING)

    # -- links
    def scan_links(self, block: _Block, data: bytes, fname: str, first_line: int = 1) -> None:
        """Check /static/ links now and queue /jump_to_id/ ones (resolved once every url_name is known).

        Works on the raw bytes of the block's definition: bytes.find for the two prefixes (in C), then a look
        back for ``ATTR="`` with one of the attributes olxcleaner scans. Far cheaper than walking the tree.
        """
        good = self.good_static
        attr_before = _LINK_ATTR_BEFORE.search
        for marker in (b"/static/", b"/jump_to_id/"):
            pos = data.find(marker)
            counted, line = 0, first_line  # lines counted up to ``counted``: each byte once per marker
            while pos > 0:
                quote = data[pos - 1 : pos]
                end = data.find(quote, pos) if quote in (b'"', b"'") else -1
                # A link known good needs no look at its attribute: whatever that is, nothing is reported.
                if (
                    end > 0
                    and (raw := data[pos:end]) not in good
                    and attr_before(data, max(0, pos - 40), pos - 1)
                ):
                    line += data.count(b"\n", counted, pos)
                    counted = pos
                    self.found_link(block, raw, fname, line)
                pos = data.find(marker, pos + 1)

    def found_link(self, block: _Block, raw: bytes, fname: str, line: int) -> None:
        link = raw.decode("utf-8", "replace")
        if b"&" in raw:
            link = html.unescape(link)
        if link.startswith("/static/"):
            name = static_link_asset(link)
            if name in self.assets:
                self.good_static.add(raw)
            else:
                self.add(
                    Location(fname, line),
                    f"{block} links to {link}, which is broken on the platform too: it serves "
                    f"/static/{name} only for a file static/X whose asset name is '{name}'",
                    "olx-static-missing",
                    WARNING,
                )
        else:
            target = link[12:].split("?", 1)[0].split("#", 1)[0]
            self.jump_links.append((target, fname, line, block))

    def index_static(self) -> None:
        """The asset names of static/, and every plain ``/static/FILE`` link as known good.

        Such a link (no ``&``, ``?`` or ``#`` to decode or cut) reaches exactly the asset of static/FILE, so
        found_link would accept it: marking them all here spares that for each link of an asset-heavy course.
        Both in one pass over the names joined by NULs (no file name holds one).
        """
        names = [rel[7:] for rel in self.files if rel.startswith("static/")]
        if not names:
            return
        self.assets.update(asset_names(names))
        joined = "\x00".join(names)
        if (
            "&" not in joined
            and "?" not in joined
            and "#" not in joined
            and joined.count("\x00") == len(names) - 1
        ):
            try:
                self.good_static.update(
                    ("/static/" + joined.replace("\x00", "\x00/static/")).encode().split(b"\x00")
                )
                return
            except UnicodeEncodeError:  # an undecodable name (surrogate escapes): checked per link
                pass
        good = self.good_static
        for name in names:
            if "&" not in name and "?" not in name and "#" not in name:
                try:
                    link = f"/static/{name}".encode()
                except UnicodeEncodeError:
                    continue
                good.add(link)

    def check_jump_links(self, url_names: dict[str, _Block]) -> None:
        for target, fname, line, block in self.jump_links:
            if target not in url_names and not block.broken:
                self.add(
                    Location(fname, line),
                    f"{block} links to url_name '{target}', which does not exist",
                    "olx-jump-link-broken",
                    WARNING,
                )

    def run_all(self) -> None:
        self.scan()
        if self.view is None and os.open in os.supports_dir_fd:
            try:
                self.root_fd = os.open(self.root_s, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            except OSError:  # listed a moment ago: then files are opened by their full path
                self.root_fd = None
        try:
            self.check_all()
        finally:
            if self.root_fd is not None:
                os.close(self.root_fd)
                self.root_fd = None

    def check_all(self) -> None:
        self.index_static()
        course = self.load()
        if course is None:
            return
        url_names = self.urls
        run = course.attrs.get("url_name")
        if not run:
            self.add(
                course.first_loc,
                "the course has no url_name (run name); it names course/RUN.xml and policies/RUN/",
                "olx-run-name-missing",
            )
        else:
            self.run = str(run)
            self.merge_policy(url_names)
            self.grading_policy()
        if course.broken:
            return
        self.check_blocks(course)
        self.check_block_types(course)
        self.check_jump_links(url_names)


def _course_xml_files(base: Path) -> list[str]:
    """Every course.xml below ``base`` (relative posix paths), shallowest first, as os.walk meets them."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        if "course.xml" in filenames:
            rel = os.path.relpath(os.path.join(dirpath, "course.xml"), base)
            found.append(rel.replace(os.sep, "/"))
    return sorted(found, key=lambda r: (r.count("/"), r))


def _validate_tree(base: Path, report: Report, shown: Path, view: ArchiveView | None = None) -> None:
    """``shown``: the path as given, displayed (display_path resolves it) only in a message."""
    if view is not None:
        found = [f for f in view.files if f == "course.xml" or f.endswith("/course.xml")]
        candidates = sorted(found, key=lambda r: (r.count("/"), r))
    elif (base / "course.xml").is_file():
        candidates = ["course.xml"]
    else:
        candidates = _course_xml_files(base)
    if len(candidates) > 1:
        report.add(
            Location(candidates[1]),
            f"{display_path(shown)} holds {len(candidates)} course.xml files "
            f"({', '.join(candidates)}); Studio would import whichever it meets first",
            "olx-course-xml-ambiguous",
        )
    if not candidates:
        report.add(
            Location("course.xml"),
            f"{display_path(shown)}: no course.xml found (neither at the root nor in one top-level folder)",
            "olx-course-xml-missing",
        )
        return
    root_rel = candidates[0].rpartition("/")[0]
    # The walk allocates ~20 short-lived objects per block and none form cycles: pausing the cyclic
    # collector saves its repeated scans (a few per cent); reference counting still frees everything.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        prefix = f"{root_rel}/" if root_rel else ""
        _Validator(base / root_rel if root_rel else base, report, view, prefix).run_all()
    finally:
        if was_enabled:
            gc.enable()


def validate_olx(path: Path) -> Report:
    """Validate the OLX course in ``path`` (a folder or a .tar.gz/.tgz/.tar/.zip archive).

    Problems carry file names relative to the course root (the folder holding course.xml). An unsafe
    archive raises UnsafeInputError, a corrupt one InvalidInputError; a missing path raises UsageError.
    """
    path = Path(path)
    report = Report()
    if path.is_dir():
        _validate_tree(path, report, path)
    elif path.is_file() and is_archive(path):
        # Read in place (no extraction): the same safety checks as import, nothing written to disk.
        with open_archive(path) as view:
            _validate_tree(path, report, path, view)
    elif path.exists():
        raise UsageError(f"{display_path(path)}: not a folder or a .tar.gz/.zip archive")
    else:
        raise UsageError(f"{display_path(path)}: no such file or folder")
    return report
