"""Open edX OLX (a Studio export: .tar.gz, .zip or a folder) -> this toolkit's course source.

The import maps what it can map without losing anything and keeps everything else verbatim:

* chapter -> section, sequential -> subsection (graded/format/start/due), vertical -> unit;
* html -> html block (body kept as HTML in ``html/<id>.html``), video -> video block when one source,
  WebVTT subtitles and a downloadable track say all there is to say, CAPA problems of the four simple
  response types -> a quiz of one question;
* every other block (other CAPA, scripts, LTI, discussion, third-party XBlocks, ...) -> an ``olx`` block
  holding the element as text, with copies of the definition files a pointer needs under ``olx/``;
* policy.json wins over XML attributes exactly as the platform applies it; settings not mapped onto a
  field go into the block's ``policy:`` dict (written back to policy.json on OLX export);
* about/ pages and other OLX files are copied under ``olx/`` and listed in the course's ``olx:``.

Nothing is dropped without a line in the ``ImportReport``. The output is written into a temporary folder
beside the target and renamed into place when complete; the temporary folders of an import that was
killed are removed by the next import to the same folder. See docs/import-olx.md.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import re
import shutil
import stat
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

try:
    import fcntl
except ImportError:  # Windows: no flock; temporary folders of killed imports are left for the user
    fcntl = None  # type: ignore[assignment]

from ..archive import extract_archive, is_archive, write_extracted
from ..errors import (
    InvalidInputError,
    Location,
    Problem,
    Report,
    Severity,
    UnsafeInputError,
    UsageError,
    display_path,
)
from ..olx_read import (
    EMBED_DIR,
    EMBED_MANIFEST,
    EMBED_SOURCE,
    LM_NS,
    STOCK,
    asset_name,
    asset_segment,
    grading_digest,
    is_pointer,
    lm,
    olx_digest,
    olx_digest_hashed,
    pointer_path,
    static_link_asset,
)
from ..safe import decode_text, parse_xml_bytes
from ..source import markup
from .yaml_write import writer as yaml_writer

__all__ = ["ImportReport", "KeptRaw", "Renamed", "import_olx"]

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PATH_RE = re.compile(r"^(?![/\\])(?!.*\.\.)[A-Za-z0-9_./-]+$")
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?)?$")
YOUTUBE_RE = re.compile(r"^[A-Za-z0-9_-]{11}$")
TOLERANCE_RE = re.compile(r"^\d+(\.\d+)?%$")

# Open edX's own value when a course has no grading_policy.json (CourseFields.grading_policy).
PLATFORM_PASS = 0.5
# The assignment type the OLX exporter gives a post-test's subsection.
POST_TEST_FORMAT = "Post-test"

# A course with more units than this gets one YAML file per section (sections/<id>.yaml): course.yaml stays
# a readable table of contents, and a change to one chapter is a diff in one file.
SPLIT_UNITS = 20

_LM_KEY = f"{{{LM_NS}}}"
# Blocks whose missing display_name the import records (policy display_name: None), so that an export
# leaves it out again instead of inventing one.
UNTITLED_KINDS = frozenset({"chapter", "sequential", "vertical", "html", "video", "problem"})
# Open edX's own names for blocks without a display_name, so that an export shows what Studio showed.
DEFAULT_TITLES = {"chapter": "Section", "sequential": "Subsection", "vertical": "Unit"}

# CAPA elements that are not HTML: a problem holding any other than the four mapped ones stays raw.
CAPA_TAGS = frozenset(
    {
        "multiplechoiceresponse",
        "choiceresponse",
        "numericalresponse",
        "stringresponse",
        "optionresponse",
        "formularesponse",
        "customresponse",
        "coderesponse",
        "symbolicresponse",
        "imageresponse",
        "jsmeresponse",
        "schematicresponse",
        "annotationresponse",
        "choicetextresponse",
        "truefalseresponse",
        "script",
        "solution",
        "demandhint",
        "label",
        "description",
        "responseparam",
        "text",
        "startouttext",
        "endouttext",
        "answer",
    }
)
MAPPED_RESPONSES = ("multiplechoiceresponse", "choiceresponse", "numericalresponse", "stringresponse")
# CAPA showanswer values with an exact quiz equivalent; any other value is kept in the quiz's policy.
SHOW_ANSWERS = {"always": "always", "never": "never", "finished": "after-last-attempt"}
SARA_AM, SARA_AM_TYPED = "\u0e33", "\u0e4d\u0e32"
# OLX folders an OLX export writes from the course itself; leftover files there are kept for reference only.
REGENERATED_FOLDERS = frozenset(
    {"policies", "course", "chapter", "sequential", "vertical", "html", "problem", "video", "about"}
)
# Studio's asset metadata (display names, locks): kept and written back as it is, since the platform
# reads it only for what it lists and uses defaults for any other file of static/.
ASSETS_JSON = "policies/assets.json"
# Video settings that only change the player's chrome; they are kept in the block's policy.
VIDEO_SETTINGS = frozenset({"download_video", "download_track", "show_captions", "youtube_is_available"})


class _Unmappable(Exception):
    """Internal: why a block cannot become a toolkit block; it is then kept raw."""


@dataclass(frozen=True)
class KeptRaw:
    """A block kept verbatim as an ``olx`` block."""

    tag: str
    url_name: str
    id: str
    location: Location
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: <{self.tag}> {self.url_name or '(no url_name)'} -> olx {self.id}: {self.reason}"


@dataclass(frozen=True)
class Renamed:
    """A url_name that is not a valid source id (or missing, or taken) and the id used instead."""

    tag: str
    url_name: str
    id: str
    location: Location

    def __str__(self) -> str:
        before = repr(self.url_name) if self.url_name else "(no url_name)"
        return f"{self.location}: <{self.tag}> {before} -> id {self.id!r}"


@dataclass
class ImportReport:
    """What one import did: every block kept raw and why, every renamed id, every warning."""

    source: Path
    out_dir: Path
    course_id: str = ""
    title: str = ""
    olx_components: int = 0  # components found in the verticals of the OLX
    structure: Counter[str] = field(default_factory=Counter)  # section/subsection/unit counts
    blocks: Counter[str] = field(default_factory=Counter)  # source blocks by type
    raw: list[KeptRaw] = field(default_factory=list)
    renamed: list[Renamed] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)  # runs of problems the OLX exporter made from one quiz
    problems: Report = field(default_factory=Report)  # import warnings, then the source check's problems
    static_files: int = 0
    assets_renamed: list[tuple[str, str]] = field(default_factory=list)  # static/ path -> path written
    olx_files: int = 0
    split: bool = False
    restored: bool = False  # the source embedded by the toolkit's own OLX export, restored as it was
    seconds: float = 0.0

    @property
    def warnings(self) -> list[Problem]:
        return self.problems.warnings

    @property
    def errors(self) -> list[Problem]:
        return self.problems.errors

    def warn(self, location: Location, message: str, code: str) -> None:
        self.problems.add(location, message, code, severity=Severity.WARNING)

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.blocks.items()))
        s = self.structure
        how = "restored the embedded source of" if self.restored else "imported"
        return (
            f"{how} {self.course_id!r} ({self.title}): {s['section']} sections, {s['subsection']} "
            f"subsections, {s['unit']} units, {sum(self.blocks.values())} blocks ({kinds}); "
            f"{len(self.raw)} kept raw, {len(self.renamed)} ids renamed, "
            f"{len(self.merged)} problem runs joined into quizzes, {self.static_files} static files "
            f"({len(self.assets_renamed)} renamed), "
            f"{len(self.warnings)} warnings, {len(self.errors)} errors in {self.seconds:.2f} s"
        )

    def __str__(self) -> str:
        lines = [self.summary(), f"source written to {display_path(self.out_dir)}"]
        if self.raw:
            lines.append(f"kept verbatim as olx blocks ({len(self.raw)}):")
            lines.extend(f"  {r}" for r in self.raw)
        if self.renamed:
            lines.append(f"ids that differ from the url_name ({len(self.renamed)}):")
            lines.extend(f"  {r}" for r in self.renamed)
        if self.assets_renamed:
            lines.append(
                f"static files written under the name Open edX stores them by ({len(self.assets_renamed)}):"
            )
            lines.extend(f"  {old} -> {new}" for old, new in self.assets_renamed)
        if self.merged:
            lines.append(f"problems joined back into the quiz they were exported from ({len(self.merged)}):")
            lines.extend(f"  {m}" for m in self.merged)
        if len(self.problems):
            lines.append(f"problems ({len(self.problems)}):")
            lines.extend(f"  {p}" for p in self.problems)
        return "\n".join(lines)


# ---------------------------------------------------------------- small helpers
def _xml_value(value: str) -> Any:
    """An XML attribute as a policy value: JSON lists and objects decoded, everything else kept as text."""
    if value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> str:
    """A setting (XML text or a policy.json value) as the text the XML would hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _olx_date(value: str) -> str | None:
    """An OLX date as the source writes it, the instant the platform reads; None when not a date.

    Open edX reads a date or date-time without a zone as UTC, while the source format takes a date
    alone as midnight in Bangkok: the zone is therefore always written (``2024-01-15`` ->
    ``2024-01-15T00:00:00Z``), in the form the OLX export writes it back.
    """
    text = value.strip()
    if not DATE_RE.match(text):
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _instant(when: str) -> datetime:
    """A date written by ``_olx_date`` as an aware datetime, for ordering checks."""
    return datetime.fromisoformat(when)


def _bool(value: Any) -> bool | None:
    text = _text(value).strip().lower()
    return {"true": True, "false": False}.get(text)


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _inner(node: etree._Element) -> str:
    parts = [node.text or ""]
    parts.extend(etree.tostring(child, encoding="unicode", with_tail=True) for child in node)
    return "".join(parts)


def _serialise(node: etree._Element) -> str:
    return etree.tostring(node, encoding="unicode", with_tail=False)


def _tag(node: etree._Element) -> str | None:
    """The local tag name of an element; None for comments and processing instructions."""
    if not isinstance(node.tag, str):
        return None
    return etree.QName(node).localname if node.tag.startswith("{") else node.tag


def _elements(node: etree._Element) -> list[etree._Element]:
    return [c for c in node if isinstance(c.tag, str)]


def _is_pointer(node: etree._Element, course: bool = False) -> bool:
    """The platform's rule (olx_read.is_pointer); ``course`` is kept for the callers' readability."""
    return is_pointer(node)


def _ascii_id(text: str, fallback: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", folded).strip("-._")[:64]
    return slug if slug and slug[0].isalnum() else fallback


def _prompt_ok(html: str) -> bool:
    """A prompt is kept only if rendering it as the source does (Markdown) gives it back unchanged."""
    return bool(html) and markup.render_inline(html) == html


def _block_ok(html: str) -> bool:
    return markup.render_markdown(html) == html


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


_Dumper.add_representer(str, _represent_str)


def _dump_yaml(data: Any, path: Path, header: str = "", dump: Callable[[Any], str] | None = None) -> None:
    """``data`` as ``yaml.dump`` writes it with _Dumper; ``dump`` is a yaml_write writer for it (one per
    import, which is faster and writes the same bytes)."""
    if dump is None:
        text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100_000)
    else:
        text = dump(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + text, encoding="utf-8")


# ---------------------------------------------------------------- finding the course
def _graded_quizzes(course: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(subsection, quiz) for every quiz that counts (graded or post-test) in a graded subsection."""
    for section in course["sections"]:
        for sub in section["subsections"]:
            if not sub.get("graded"):
                continue
            for unit in sub["units"]:
                for block in unit["blocks"]:
                    if block.get("type") == "quiz" and block.get("role") in ("graded", "post-test"):
                        yield sub, block


def _graders(policy: dict[str, Any] | None) -> dict[str, tuple[Fraction, int, int]] | None:
    """{assignment type: (weight, min_count, drop_count)} of a well-formed GRADER list, else None."""
    if not policy or not isinstance(policy.get("GRADER"), list):
        return None
    out: dict[str, tuple[Fraction, int, int]] = {}
    for entry in policy["GRADER"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            return None
        weight, min_count, drops = (entry.get(k, 0) for k in ("weight", "min_count", "drop_count"))
        if not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
            for v in (weight, min_count, drops)
        ):
            return None
        # Exporters round weights (ours to 12 digits): 0.230769230769 is 3/13.
        out[entry["type"]] = (Fraction(str(weight)).limit_denominator(10_000), int(min_count), int(drops))
    return out


def _whole_proportion(shares: list[Fraction]) -> list[int | float]:
    """The smallest whole numbers in the proportion of ``shares``; percentages when those get too large."""
    scale = 1
    for share in shares:
        scale = math.lcm(scale, share.denominator)
    whole = [int(share * scale) for share in shares]
    common = 0
    for n in whole:
        common = math.gcd(common, n)
    if common and max(whole) // common <= 1000:
        return [n // common for n in whole]
    total = sum(shares)
    return [round(float(share * 100 / total), 6) for share in shares]


def find_course_root(base: Path) -> Path:
    """The folder holding course.xml: ``base`` itself or its one top-level folder (as Studio exports)."""
    if (base / "course.xml").is_file():
        return base
    found = [
        child
        for child in sorted(base.iterdir())
        if child.is_dir() and not child.is_symlink() and (child / "course.xml").is_file()
    ]
    if not found:
        raise InvalidInputError(
            f"{display_path(base)}: no course.xml at the top or in a top-level folder; is it an OLX export?"
        )
    if len(found) > 1:
        names = ", ".join(f"{p.name}/course.xml" for p in found)
        raise InvalidInputError(f"{display_path(base)}: {len(found)} courses ({names}); import one at a time")
    return found[0]


# ---------------------------------------------------------------- the importer
@dataclass
class _Def:
    """One block's definition: the element, where it was read, its effective settings."""

    tag: str
    url_name: str
    node: etree._Element  # the definition element (the pointed-to file's root for a pointer)
    usage: etree._Element  # the element as written in its parent
    file: str  # OLX-relative file holding ``node``
    pointer: bool
    attrs: dict[str, Any]  # XML attributes (text) with policy.json values applied over them
    policy: dict[str, Any]  # the policy.json entry (already in attrs)
    carried: dict[str, str] = field(default_factory=dict)  # the toolkit's own attributes (olx_read.LM_NS)

    def where(self) -> Location:
        return Location(self.file, self.node.sourceline or 0)


class _Importer:
    def __init__(self, root: Path, out: Path, report: ImportReport, move_static: bool) -> None:
        self.root = root
        self.out = out
        self.report = report
        self.move_static = move_static
        self.used_files: set[str] = set()  # OLX files consumed by the mapping (not copied to olx/)
        self.ids: set[str] = set()
        self.ids_folded: set[str] = set()  # ids case-folded: html/<id>.html must not clash on macOS
        self.policy: dict[str, dict[str, Any]] = {}
        self.policy_used: set[str] = set()
        self.graded = False
        self.kept: set[str] = set()  # source paths of copied OLX files
        self.derived_static: set[str] = set()  # static files an OLX export makes again (SRT from VTT)
        self.derived_pending: list[str] = []  # ... found for the video being mapped
        self.words = {"explain": "คำอธิบาย", "question": "ข้อ"}  # set from the course language in run()
        self.solution: etree._Element | None = None  # the solution found inside the current response
        self.grading_policy: dict[str, Any] | None = None
        self.static_plan: dict[str, str] = {}  # static/ file of the OLX -> where the source holds it
        self.static_out: dict[str, str] = {}  # the source's static/ paths -> the OLX file each comes from
        self.asset_names: dict[str, str] = {}  # Open edX asset name -> source path of that file
        self.html_dir_made = False

    # ---- files
    def read(self, rel: str) -> etree._Element:
        path = self.root / rel
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InvalidInputError(f"{rel}: file not found (a pointer names it)") from None
        except OSError as exc:
            raise InvalidInputError(f"{rel}: cannot read file: {exc.strerror}") from None
        try:
            node = parse_xml_bytes(data, rel).getroot()
        except etree.XMLSyntaxError as exc:
            line = exc.lineno or 1
            report = Report()
            report.add(Location(rel, line), f"invalid XML: {exc.msg}", "xml-invalid")
            raise InvalidInputError(f"{rel}:{line}: invalid XML: {exc.msg}", report) from None
        self.used_files.add(rel)
        return node

    def pointer_file(self, tag: str, url_name: str) -> str:
        rel = pointer_path(tag, url_name)  # the rule the validator follows too
        if rel is None:
            raise UnsafeInputError(f"url_name {url_name!r} of <{tag}> would point outside the course")
        return rel

    def definition(self, usage: etree._Element, file: str, course: bool = False) -> _Def:
        tag = _tag(usage) or ""
        url_name = usage.get("url_name", "")
        pointer = _is_pointer(usage, course) and bool(url_name)
        node, where = usage, file
        if pointer:
            where = self.pointer_file(tag, url_name)
            node = self.read(where)
            if _tag(node) != tag:
                raise InvalidInputError(f"{where}: <{_tag(node)}> where a <{tag}> was pointed at")
        attrs: dict[str, Any] = {}
        carried: dict[str, str] = {}
        for k, v in node.items():
            if k.startswith(_LM_KEY):
                carried[k[len(_LM_KEY) :]] = v
            elif k != "url_name":
                attrs[k] = v
        if carried:  # read: off the element, so no declaration of the namespace leaks into kept markup
            for k in [k for k in node.attrib if k.startswith(_LM_KEY)]:
                del node.attrib[k]
            etree.cleanup_namespaces(node)
        if not pointer:
            attrs.pop("url_name", None)
        key = f"{tag}/{url_name}"
        entry = self.policy.get(key, {}) if url_name else {}
        if entry:
            self.policy_used.add(key)
            if any(k.startswith(_LM_KEY) for k in entry):
                carried.update({k[len(_LM_KEY) :]: str(v) for k, v in entry.items() if k.startswith(_LM_KEY)})
                entry = {k: v for k, v in entry.items() if not k.startswith(_LM_KEY)}
        attrs.update(entry)  # the platform applies policy.json over the XML attributes
        return _Def(tag, url_name, node, usage, where, pointer, attrs, dict(entry), carried)

    def new_id(self, d: _Def, fallback: str) -> str:
        url = d.url_name
        wanted = url if ID_RE.match(url) else _ascii_id(url, fallback)
        candidate, n = wanted, 1
        while candidate in self.ids or candidate.casefold() in self.ids_folded:
            n += 1
            suffix = f"-{n}"
            candidate = wanted[: 64 - len(suffix)] + suffix
        self.ids.add(candidate)
        self.ids_folded.add(candidate.casefold())
        if candidate != url:
            self.report.renamed.append(Renamed(d.tag, url, candidate, d.where()))
        return candidate

    # ---- policies
    def load_policy(self, run: str) -> None:
        rel = f"policies/{run}/policy.json"
        path = self.root / rel
        if not path.is_file():
            self.report.warn(
                Location(rel), "no policy.json; only the XML attributes apply", "import-no-policy"
            )
            return
        try:
            data = json.loads(decode_text(path.read_bytes(), rel))
        except json.JSONDecodeError as exc:
            report = Report()
            report.add(Location(rel, exc.lineno, exc.colno), f"invalid JSON: {exc.msg}", "json-invalid")
            raise InvalidInputError(f"{rel}:{exc.lineno}: invalid JSON: {exc.msg}", report) from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise InvalidInputError(f"{rel}: must map 'TYPE/URL_NAME' to an object of settings")
        self.policy = data
        self.used_files.add(rel)

    # ---- the whole course
    def plan_static(self) -> None:
        """Where each static/ file goes: every path segment cleaned as Open edX cleans asset names.

        Studio stores ``static/a photo.png`` as the asset ``a_photo.png`` (olx_read.asset_name) and serves
        it only under that name, so ``/static/a_photo.png`` is what course pages link to. The source keeps
        the file under the cleaned name; sub-folders stay, as ``/static/sub/x.png`` links need them.
        """
        static = self.root / "static"
        if not static.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(static):
            dirnames.sort()
            here = Path(dirpath)
            for name in sorted(filenames):
                src = here / name
                if src.is_symlink():
                    continue
                rel = src.relative_to(self.root).as_posix()
                out = "/".join(asset_segment(part) for part in rel.split("/"))
                if out in self.static_out:
                    self.report.warn(
                        Location(rel),
                        f"Open edX stores this file under the same name as another one ({out}); "
                        "only the first is kept, as on the platform",
                        "import-static-clash",
                    )
                    continue
                self.static_plan[rel] = out
                self.static_out[out] = rel
                self.asset_names.setdefault(asset_name(rel.removeprefix("static/")), out)
                if out != rel:
                    self.report.assets_renamed.append((rel, out))

    def body_links(self, body: str) -> None:
        """Every /static/ link of an html body must reach its file by path, as in the source format.

        A link that only Open edX's asset-name lookup resolves (``/static/a photo.png``, or
        ``/static/sub_x.png`` for ``static/sub/x.png``) or that is broken on the platform too keeps the
        block verbatim, so that nothing is rewritten; the reason names the asset the link needs.
        """
        for url in _static_links(body):
            name = markup.static_name(url)
            if name is None or not url.startswith("/static/") or name in self.static_out:
                continue
            asset = static_link_asset(url)
            if asset in self.asset_names:
                raise _Unmappable(
                    f"links to {url}, which Open edX resolves by asset name to {self.asset_names[asset]}; "
                    "kept verbatim rather than rewritten"
                )
            raise _Unmappable(
                f"links to {url}, which is broken on the platform too: no file in static/ has the asset "
                f"name '{asset}' the link needs"
            )

    def run(self) -> dict[str, Any]:
        self.plan_static()
        pointer = self.read("course.xml")
        if _tag(pointer) != "course":
            raise InvalidInputError(f"course.xml: the root element is <{_tag(pointer)}>, not <course>")
        run = pointer.get("url_name", "")
        if not run:
            raise InvalidInputError("course.xml: <course> has no url_name (the run name)")
        self.pointer_file("course", run)  # refuse traversal before any policy path is built from it
        self.load_policy(run)
        d = self.definition(pointer, "course.xml", course=True)
        org = pointer.get("org") or _text(d.attrs.pop("org", ""))
        number = pointer.get("course") or _text(d.attrs.pop("course", ""))
        d.attrs.pop("org", None)
        d.attrs.pop("course", None)
        course: dict[str, Any] = {}
        course["id"] = self.course_id(number, d)
        course["org"] = self.ascii_setting(org, "org", d)
        course["run"] = self.ascii_setting(run, "run", d)
        title = _text(d.attrs.get("display_name", ""))
        if not title:
            title = number or run
            self.report.warn(
                d.where(), "the course has no display_name; its number is the title", "import-title"
            )
        course["title"] = title
        self.report.course_id, self.report.title = course["id"], title
        self.course_settings(course, d)
        self.course_carried(course, d)
        from localmooc_xblocks.base import ui  # the words the OLX exporter writes, to recognise its output

        self.words = ui({"lang": course.get("language", "th")})
        sections = []
        for child in d.node:
            tag = _tag(child)
            if tag is None:
                continue
            if tag == "chapter":
                section = self.chapter(child, d.file, len(sections) + 1)
                if section is not None:
                    sections.append(section)
            elif tag == "wiki" and set(child.keys()) <= {"slug"}:
                course.setdefault("policy", {})["wiki_slug"] = child.get("slug", "")
            else:
                raise InvalidInputError(
                    f"{d.file}:{child.sourceline}: <{tag}> directly in the course; only chapters belong there"
                )
        if not sections:
            raise InvalidInputError(f"{d.file}: the course has no chapters; nothing to import")
        course["sections"] = sections
        self.post_test(course)
        self.quiz_weights(course)
        self.advanced_modules(course)
        self.unused_policy()
        return course

    def advanced_modules(self, course: dict[str, Any]) -> None:
        """Add the non-stock types of the kept blocks to ``advanced_modules``, as the OLX export does.

        Studio offers only listed types; the OLX export lists every type in use, so the import states
        the same list and a round trip keeps it.
        """
        from ..exporters.olx import STOCK_TYPES

        used = {r.tag for r in self.report.raw if r.tag not in STOCK_TYPES}
        if not used:
            return
        policy = dict(course.get("policy") or {})
        listed = policy.get("advanced_modules")
        if listed is not None and not isinstance(listed, list):
            return  # not a list: kept as it is
        policy["advanced_modules"] = sorted(set(map(str, listed or [])) | used)
        policy = dict(sorted(policy.items()))
        if "policy" in course:
            course["policy"] = policy
            return
        # Where course_settings puts it: before the outline, so course.yaml reads settings first.
        items = list(course.items())
        at = next(i for i, (key, _value) in enumerate(items) if key == "sections")
        course.clear()
        course.update([*items[:at], ("policy", policy), *items[at:]])

    def course_carried(self, course: dict[str, Any], d: _Def) -> None:
        """Source fields the OLX export carries in the toolkit's namespace (see docs/export-olx.md)."""
        from ..exporters.olx import DEFAULT_START, iso_datetime, one_year_after

        c = d.carried
        if not c:
            return
        fields: dict[str, Any] = {}
        try:
            if "category" in c:
                fields["category"] = c["category"]
            if "audience" in c:
                fields["audience"] = json.loads(c["audience"])
            if "hours" in c:
                fields["hours"] = _number(c["hours"])
            if "certificate" in c:
                fields["certificate"] = json.loads(c["certificate"])
        except ValueError as exc:
            self.report.warn(
                d.where(), f"unreadable localmooc attribute ({exc}); not imported", "import-carried"
            )
            return
        for key in ("start", "end", "enrollment_start", "enrollment_end"):
            form = c.get(key)
            if not form or key not in course:
                continue
            try:
                same = _instant(iso_datetime(form, end_of_day=key.endswith("end"))) == _instant(course[key])
            except ValueError:
                same = False
            if same:  # else the date was changed in Studio: the OLX value stands
                course[key] = form
        if "end" not in c and "end" in course:
            # The export gives a course without an end one year after its start (olxcleaner requires an
            # end): that end is not the source's, unless it was changed since.
            start = iso_datetime(c["start"]) if "start" in c else DEFAULT_START
            if _instant(course["end"]) == _instant(one_year_after(start)):
                course.pop("end")
        policy = course.get("policy") or {}
        cert = fields.get("certificate")
        if isinstance(cert, dict):
            # What the OLX export derives from the certificate rules: not kept twice.
            derived = {
                "cert_html_view_enabled": bool(cert),
                "certificates_display_behavior": "early_no_info",
                "cert_name_long": cert.get("title") or course.get("title"),
            }
            for key, value in derived.items():
                if policy.get(key) == value:
                    policy.pop(key)
        # Insert before the outline and the settings, in the order of the source format.
        items = [(k, v) for k, v in course.items() if k not in fields]
        at = next(
            (
                i
                for i, (key, _v) in enumerate(items)
                if key in ("start", "end", "pass_threshold", "policy", "sections")
            ),
            len(items),
        )
        course.clear()
        course.update([*items[:at], *fields.items(), *items[at:]])
        if "policy" in course and not course["policy"]:
            course.pop("policy")

    def course_id(self, number: str, d: _Def) -> str:
        value = number if ID_RE.match(number) else _ascii_id(number, "course")
        if value != number:
            self.report.renamed.append(Renamed("course", number, value, d.where()))
        self.ids.add(value)
        self.ids_folded.add(value.casefold())
        return value

    def ascii_setting(self, value: str, name: str, d: _Def) -> str:
        if ID_RE.match(value):
            return value
        fixed = _ascii_id(value, name)
        self.report.renamed.append(Renamed(f"course {name}", value, fixed, d.where()))
        return fixed

    def course_settings(self, course: dict[str, Any], d: _Def) -> None:
        a = d.attrs
        mapped = ["display_name"]
        for key in ("start", "end", "enrollment_start", "enrollment_end"):
            if key in a:
                value = _text(a[key])
                when = _olx_date(value)
                if when is not None:
                    course[key] = when
                    mapped.append(key)
                elif a[key] is not None:
                    self.report.warn(
                        d.where(), f"course {key} {value!r} is not an ISO date; kept in policy", "import-date"
                    )
        # Dates out of order would fail the source check; they stay in policy, where the platform reads them.
        for first, second in (("start", "end"), ("enrollment_start", "enrollment_end")):
            if first in course and second in course and _instant(course[first]) >= _instant(course[second]):
                course.pop(second)
                mapped.remove(second)
                self.report.warn(
                    d.where(), f"course {second} is not after {first}; kept in policy", "import-date"
                )
        language = _text(a.get("language", ""))
        if LANG_RE.match(language):
            course["language"] = language
            mapped.append("language")
        elif a.get("language") is None:
            a["language"] = None  # none in the OLX: kept as null, so the export writes none either
        image = _text(a.get("course_image", ""))
        rel = "static/" + image.removeprefix("/static/")
        if image and PATH_RE.match(rel) and rel in self.static_out:
            course["image"] = rel
            mapped.append("course_image")
        elif "course_image" in a and a["course_image"] == "":
            mapped.append("course_image")  # no image: what the OLX export writes for a course without one
        if a.get("cert_html_view_enabled") in (False, "false"):
            # The platform's default, and what the OLX export writes for a course without certificate rules.
            mapped.append("cert_html_view_enabled")
        self.grading_policy = self.load_grading_policy(course["run"])
        cutoffs = self.grade_cutoffs()
        if cutoffs is not None:
            course["pass_threshold"] = cutoffs
        about = self.root / "about"
        if about.is_dir():
            pages = {}
            for page in sorted(about.iterdir()):
                if page.is_file() and page.suffix == ".html" and PATH_RE.match(page.name):
                    pages[page.stem] = self.keep_olx_file(f"about/{page.name}")
            if pages:
                course["olx"] = {"about": pages}
        policy = self.settings_policy(d, tuple(mapped))
        if policy.get("advanced_modules") == []:
            policy.pop("advanced_modules")  # nothing listed: what the OLX export writes by itself
        elif isinstance(policy.get("advanced_modules"), list):
            # A set to the platform; sorted as the OLX exporter writes it, so a round trip is stable.
            policy["advanced_modules"] = sorted(policy["advanced_modules"], key=str)
        if policy:
            course["policy"] = policy

    def load_grading_policy(self, run: str) -> dict[str, Any] | None:
        """grading_policy.json (the file itself is also kept verbatim under olx/); None when absent."""
        path = self.root / "policies" / run / "grading_policy.json"
        if not path.is_file():
            return None
        try:
            data = json.loads(decode_text(path.read_bytes(), str(path)))
        except (ValueError, InvalidInputError):
            self.report.warn(
                Location(f"policies/{run}/grading_policy.json"), "invalid JSON", "import-grading"
            )
            return {}
        return data if isinstance(data, dict) else {}

    def grade_cutoffs(self) -> float | None:
        """The one pass mark of grading_policy.json."""
        data = self.grading_policy
        if data is None:
            return PLATFORM_PASS  # the platform grades such a course with its default policy
        cutoffs = data.get("GRADE_CUTOFFS")
        if isinstance(cutoffs, dict) and len(cutoffs) == 1:
            value = next(iter(cutoffs.values()))
            if isinstance(value, int | float) and 0 < value <= 1:
                return value
        return None

    def post_test(self, course: dict[str, Any]) -> None:
        """The one graded quiz of the subsections formatted "Post-test" (the assignment type the OLX exporter
        writes for a post-test) is the course's post-test, which decides pass/fail."""
        quizzes = list(_graded_quizzes(course))
        if any(q.get("role") == "post-test" for _sub, q in quizzes):
            return
        candidates = [q for sub, q in quizzes if sub.get("format") == POST_TEST_FORMAT]
        if len(candidates) == 1:
            candidates[0]["role"] = "post-test"

    def quiz_weights(self, course: dict[str, Any]) -> None:
        """Quiz weights that grade as Open edX grades the course with its grading_policy.json.

        Open edX splits an assignment type's weight equally over its subsections (at least ``min_count``)
        and, inside a subsection, over the problems by their points. A quiz's share of the course grade is
        therefore weight(type) / subsections(type) * points(quiz) / points(subsection). Shares are written as
        the smallest whole numbers in the same proportion when there are such (0.3 and 1 come back as 3
        and 10), and left out when all are equal (the default, 1).
        """
        graders = _graders(self.grading_policy)
        if graders is None:
            return
        where = Location(f"policies/{course['run']}/grading_policy.json")
        by_sub: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        for sub, quiz in _graded_quizzes(course):
            by_sub.setdefault(id(sub), (sub, []))[1].append(quiz)
        count: dict[str, int] = {}
        for sub, _quizzes in by_sub.values():
            kind = sub.get("format", "")
            count[kind] = count.get(kind, 0) + 1
        shares: list[tuple[dict[str, Any], Fraction]] = []
        for sub, quizzes in by_sub.values():
            kind = sub.get("format", "")
            if kind not in graders:
                self.report.warn(
                    where,
                    f"subsection {sub['id']}: assignment type {kind!r} has no grader, so Open edX does not "
                    "count its quizzes; they get weight 0",
                    "import-grading",
                )
                shares.extend((q, Fraction(0)) for q in quizzes)
                continue
            weight, min_count, drops = graders[kind]
            if drops:
                self.report.warn(
                    where,
                    f"assignment type {kind!r} drops its {drops} lowest score(s); the source format has no "
                    "such rule, so every quiz counts",
                    "import-grading",
                )
            points = [sum(Fraction(str(x.get("points", 1))) for x in q["questions"]) for q in quizzes]
            total = sum(points)
            per_sub = weight / max(min_count, count[kind])
            shares.extend((q, per_sub * p / total) for q, p in zip(quizzes, points, strict=True))
        values = {share for _q, share in shares}
        if len(values) < 2:
            return  # all equal (or one quiz): the default weight says it
        whole = _whole_proportion([share for _q, share in shares])
        for (quiz, _share), value in zip(shares, whole, strict=True):
            items = list(quiz.items())
            at = next(i for i, (key, _v) in enumerate(items) if key == "role") + 1  # weight right after role
            quiz.clear()
            quiz.update([*items[:at], ("weight", value), *items[at:]])

    def unused_policy(self) -> None:
        for key in sorted(set(self.policy) - self.policy_used):
            if key.startswith("course/"):
                continue
            self.report.warn(
                Location(f"policies/{self.report.course_id}"),
                f"policy.json entry {key!r} refers to no block in the course; it is not kept",
                "import-policy-orphan",
            )

    # ---- structure
    def settings_policy(self, d: _Def, mapped: tuple[str, ...]) -> dict[str, Any]:
        """Settings of a block not mapped onto a source field: XML text decoded, policy values as they are."""
        out: dict[str, Any] = {}
        for key, value in d.attrs.items():
            if key in mapped:
                continue
            out[key] = d.policy[key] if key in d.policy else _xml_value(_text(value))
        if "display_name" in mapped and d.tag in UNTITLED_KINDS and d.attrs.get("display_name") in (None, ""):
            # None (no attribute) or "": the export writes exactly that instead of inventing a title.
            out["display_name"] = d.attrs.get("display_name")
        return dict(sorted(out.items()))  # as policy.json is written: a round trip keeps the order

    def title(self, d: _Def) -> str:
        title = _text(d.attrs.get("display_name", ""))
        if title:
            return title
        self.report.warn(
            d.where(),
            f"<{d.tag}> has no display_name; Open edX shows it as {DEFAULT_TITLES[d.tag]!r}",
            "import-title",
        )
        return DEFAULT_TITLES[d.tag]

    def structure_children(self, d: _Def, tag: str) -> list[etree._Element]:
        out = []
        for child in d.node:
            ctag = _tag(child)
            if ctag is None:
                continue
            if ctag != tag:
                raise InvalidInputError(
                    f"{d.file}:{child.sourceline}: <{ctag}> inside a <{d.tag}>; only <{tag}> belongs there"
                )
            out.append(child)
        if (d.node.text or "").strip():
            self.report.warn(
                d.where(), f"text directly inside <{d.tag}> is ignored by Open edX; not kept", "import-text"
            )
        return out

    def empty(self, d: _Def, what: str) -> None:
        # The source format has no empty containers (the check refuses them); Open edX shows nothing for one.
        self.report.warn(
            d.where(), f"<{d.tag}> {d.url_name or ''} has no {what}; left out of the source", "import-empty"
        )

    def chapter(self, usage: etree._Element, file: str, n: int) -> dict[str, Any] | None:
        d = self.definition(usage, file)
        section: dict[str, Any] = {"id": self.new_id(d, f"section{n}"), "title": self.title(d)}
        start = _olx_date(_text(d.attrs.get("start", "")))
        if start is not None:
            section["start"] = start
        policy = self.settings_policy(
            d, ("display_name", "start") if "start" in section else ("display_name",)
        )
        subs = [
            self.sequential(c, d.file, f"{section['id']}-sub{i}")
            for i, c in enumerate(self.structure_children(d, "sequential"), 1)
        ]
        section["subsections"] = [s for s in subs if s is not None]
        if not section["subsections"]:
            self.empty(d, "subsections")
            return None
        if policy:
            section["policy"] = policy
        self.report.structure["section"] += 1
        return section

    def sequential(self, usage: etree._Element, file: str, fallback: str) -> dict[str, Any] | None:
        d = self.definition(usage, file)
        sub: dict[str, Any] = {"id": self.new_id(d, fallback), "title": self.title(d)}
        mapped = ["display_name"]
        graded = _bool(d.attrs.get("graded", "false"))
        if graded is not None:
            sub["graded"] = graded
            mapped.append("graded")
        fmt = _text(d.attrs.get("format", ""))
        if fmt:
            sub["format"] = fmt
            mapped.append("format")
        for key in ("start", "due"):
            when = _olx_date(_text(d.attrs.get(key, "")))
            if when is not None:
                sub[key] = when
                mapped.append(key)
        policy = self.settings_policy(d, tuple(mapped))
        self.graded = bool(sub.get("graded"))
        units = [
            self.vertical(c, d.file, f"{sub['id']}-unit{i}")
            for i, c in enumerate(self.structure_children(d, "vertical"), 1)
        ]
        sub["units"] = [u for u in units if u is not None]
        if not sub["units"]:
            self.empty(d, "units")
            return None
        if policy:
            sub["policy"] = policy
        self.report.structure["subsection"] += 1
        return sub

    def vertical(self, usage: etree._Element, file: str, fallback: str) -> dict[str, Any] | None:
        d = self.definition(usage, file)
        unit: dict[str, Any] = {"id": self.new_id(d, fallback), "title": self.title(d)}
        policy = self.settings_policy(d, ("display_name",))
        blocks = []
        for child in d.node:
            tag = _tag(child)
            if tag is None:
                continue
            self.report.olx_components += 1
            blocks.append(self.component(child, d.file, unit["id"], len(blocks) + 1))
        if (d.node.text or "").strip():
            self.report.warn(
                d.where(), "text directly inside <vertical> is ignored by Open edX; not kept", "import-text"
            )
        if not blocks:
            self.empty(d, "components")
            return None
        unit["blocks"] = self.merge_split_quizzes(blocks, d)
        if policy:
            unit["policy"] = policy
        self.report.structure["unit"] += 1
        return unit

    def merge_split_quizzes(self, blocks: list[dict[str, Any]], d: _Def) -> list[dict[str, Any]]:
        """Problems the OLX exporter made from one quiz (``Q-<question id>`` named ``T (<question> n)``,
        n = 1, 2, ... in a row, same settings) become that quiz again: exporting it gives the same OLX."""
        out: list[dict[str, Any]] = []
        i = 0
        while i < len(blocks):
            found = self.carried_group(blocks, i) or self.split_group(blocks, i)
            if found is None:
                out.append(blocks[i])
                i += 1
                continue
            title, quiz_id, qids = found
            run = blocks[i : i + len(qids)]
            merged: dict[str, Any] = {"type": "quiz", "id": quiz_id}
            role = run[0].get("role", "practice")
            # The exporter names an untitled quiz after its role: the title gives the role back (a pre-test
            # is exported as practice, a post-test as graded) and is not kept.
            for named, exported_as in (("pre-test", "practice"), ("post-test", "graded"), (role, role)):
                if title == self.words.get(named) and role == exported_as:
                    title, role = "", named
                    break
            if title:
                merged["title"] = title
            merged.update({k: v for k, v in run[0].items() if k not in ("type", "id", "title", "questions")})
            merged["role"] = role
            merged.pop("shuffle", None)
            # The exporter marks shuffling on single-choice questions only.
            if any(b.get("shuffle") for b in run):
                merged["shuffle"] = True
            questions = []
            for n, (qid, b) in enumerate(zip(qids, run, strict=True), 1):
                q = dict(b["questions"][0])
                if qid != f"q{n}":
                    q = {"type": q.pop("type"), "id": qid, **q}
                questions.append(q)
                self.ids.discard(b["id"])
                self.ids_folded.discard(b["id"].casefold())
            merged["questions"] = questions
            merged.pop("_carried", None)
            if "policy" in merged:
                merged["policy"] = merged.pop("policy")  # after the questions, as for every block
            self.ids.add(quiz_id)
            self.ids_folded.add(quiz_id.casefold())
            names = ", ".join(b["id"] for b in run)
            self.report.merged.append(f"{d.file}: problems {names} -> quiz {quiz_id}")
            self.report.blocks["quiz"] -= len(run) - 1
            out.append(merged)
            i += len(run)
        for block in out:
            block.pop("_carried", None)
        return out

    def carried_group(self, blocks: list[dict[str, Any]], i: int) -> tuple[str, str, list[str]] | None:
        """(title, quiz id, question ids) of the run of problems the OLX export marked as one quiz
        (``localmooc:quiz`` / ``localmooc:question``), else None. Exact where split_group has to guess."""
        first = blocks[i]
        if "_carried" not in first:
            return None
        quiz_id = first["_carried"][0]
        run = []
        for b in blocks[i:]:
            if b.get("_carried", ("",))[0] != quiz_id or len(b.get("questions", [])) != 1:
                break
            run.append(b)
        qids = [b["_carried"][1] for b in run]
        taken = {b["id"] for b in run}
        if (
            not ID_RE.match(quiz_id)
            or (quiz_id in self.ids and quiz_id not in taken)
            or len(set(qids)) != len(qids)
            or not all(ID_RE.match(q) for q in qids)
            or any(b.get(k) != first.get(k) for b in run for k in ("role", "attempts", "show_answers"))
        ):
            return None
        title = first.get("title", "")
        if len(run) > 1:
            word = re.escape(self.words["question"])
            m = re.fullmatch(rf"(.*) \({word} 1\)", title, re.S)
            title = m.group(1) if m else title
        return title, quiz_id, qids

    def split_group(self, blocks: list[dict[str, Any]], i: int) -> tuple[str, str, list[str]] | None:
        """(title, quiz id, question ids) when blocks[i:] start a run the exporter made, else None."""
        settings = ("role", "attempts", "show_answers", "policy")
        word = self.words["question"]
        first = blocks[i]
        if first.get("type") != "quiz" or len(first.get("questions", [])) != 1:
            return None
        m = re.fullmatch(rf"(.*) \({re.escape(word)} 1\)", first.get("title", ""), re.S)
        if not m:
            return None
        title = m.group(1)
        # "a-b-q1" may be quiz "a" + question "b-q1" or quiz "a-b" + question "q1": take the reading that
        # explains the longest run of problems, then the one with the exporter's default question ids
        # (q1, q2, ...), then the longest quiz id. (The first reading alone turned quiz "a-b" with one
        # question into quiz "a" on the next round trip: tests/test_properties.py found it.)
        best: tuple[tuple[int, bool, int], str, list[str]] | None = None
        for cut in [p for p, ch in enumerate(first["id"]) if ch == "-"]:
            quiz_id, qid = first["id"][:cut], first["id"][cut + 1 :]
            if not ID_RE.match(quiz_id) or not ID_RE.match(qid) or quiz_id in self.ids:
                continue
            qids = [qid]
            for b in blocks[i + 1 :]:
                if (
                    b.get("type") != "quiz"
                    or len(b.get("questions", [])) != 1
                    or b.get("title") != f"{title} ({word} {len(qids) + 1})"
                    or not b["id"].startswith(quiz_id + "-")
                    or any(b.get(k) != first.get(k) for k in settings)
                ):
                    break
                qids.append(b["id"][len(quiz_id) + 1 :])
            if len(set(qids)) == len(qids):
                default = qids == [f"q{n}" for n in range(1, len(qids) + 1)]
                rank = (len(qids), default, cut)
                if best is None or rank > best[0]:
                    best = rank, quiz_id, qids
        if best is None:
            return None
        _rank, quiz_id, qids = best
        return title, quiz_id, qids

    # ---- components
    def component(self, usage: etree._Element, file: str, unit_id: str, n: int) -> dict[str, Any]:
        tag = _tag(usage) or "block"
        fallback = _ascii_id(f"{unit_id}-{tag}{n}", f"block{n}")
        try:
            d = self.definition(usage, file)
        except InvalidInputError as exc:
            if usage.get("url_name") and _is_pointer(usage):
                # A pointer to a missing or broken file: keep the pointer itself so nothing is lost.
                d = _Def(tag, usage.get("url_name", ""), usage, usage, file, False, {}, {})
                return self.raw(d, self.new_id(d, fallback), str(exc))
            raise
        block_id = self.new_id(d, fallback)
        try:
            if tag == "html":
                block = self.html(d, block_id)
            elif tag == "video":
                block = self.video(d, block_id)
            elif tag == "problem":
                block = self.problem(d, block_id)
            else:
                package = STOCK.package(tag)
                stock = f" (installed with Open edX by {package})" if package else ""
                raise _Unmappable(f"<{tag}>{stock} has no toolkit equivalent")
        except _Unmappable as exc:
            return self.raw(d, block_id, str(exc))
        self.report.blocks[block["type"]] += 1
        return block

    def raw(self, d: _Def, block_id: str, reason: str) -> dict[str, Any]:
        block: dict[str, Any] = {"type": "olx", "id": block_id}
        title = _text(d.attrs.get("display_name", ""))
        if title:
            block["title"] = title
        files: list[str] = []
        usage = d.usage
        if d.pointer:
            needed = self.definition_files(d.file, d.node)
            if all(PATH_RE.match(f) for f in needed):
                files = [self.keep_olx_file(f) for f in needed]
            else:
                # A file name the source cannot hold (non-ASCII): the definition goes inline instead.
                usage = d.node
                self.report.warn(
                    d.where(), "definition file name is not ASCII; kept inline", "import-raw-inline"
                )
        else:
            for rel in self.definition_files(d.file, d.node, include_self=False):
                if PATH_RE.match(rel):
                    files.append(self.keep_olx_file(rel))
        block["xml"] = _serialise(usage)
        if files:
            block["files"] = files
        if d.policy:
            block["policy"] = dict(sorted(d.policy.items()))
        self.report.raw.append(KeptRaw(d.tag, d.url_name, block_id, d.where(), reason))
        self.report.blocks["olx"] += 1
        return block

    def definition_files(self, file: str, node: etree._Element, include_self: bool = True) -> list[str]:
        """``file`` plus every file its element tree points at (child pointers, html bodies), recursively."""
        out = [file] if include_self else []
        stack = [node]
        seen = {file}
        while stack:
            element = stack.pop()
            for child in element.iter():
                tag = _tag(child)
                if tag is None:
                    continue
                if tag == "html" and child.get("filename"):
                    body = f"html/{child.get('filename')}.html"
                    if body not in seen and (self.root / body).is_file():
                        seen.add(body)
                        out.append(body)
                if child is not element and _is_pointer(child):
                    try:
                        rel = self.pointer_file(tag, child.get("url_name", ""))
                    except UnsafeInputError:
                        continue
                    if rel not in seen and (self.root / rel).is_file():
                        seen.add(rel)
                        out.append(rel)
                        stack.append(self.read(rel))
        return out

    def keep_olx_file(self, rel: str, folder: str = "") -> str:
        """Copy an OLX file byte for byte into the source at FOLDER/REL; returns the source-relative path.

        Files an OLX export writes back (raw blocks' definitions, ``olx.files``) keep their OLX path, as
        the exporter copies them to the same path; reference copies go under ``olx/``.
        """
        dest = f"{folder}{rel}"
        target = self.out / dest
        if dest not in self.kept:
            if target.exists() or dest in ("course.yaml",) or dest.startswith("sections/"):
                raise InvalidInputError(f"{rel}: the file would overwrite a file of the imported source")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.root / rel, target)
            self.kept.add(dest)
            self.report.olx_files += 1
        self.used_files.add(rel)
        return dest

    # ---- html
    def html(self, d: _Def, block_id: str) -> dict[str, Any]:
        filename = _text(d.attrs.get("filename", ""))
        target = self.out / "html" / f"{block_id}.html"
        if filename:
            rel = f"html/{filename}.html"
            if filename.startswith("/") or ".." in filename:
                raise _Unmappable(f"its body file {rel} is missing")
            try:
                data = (self.root / rel).read_bytes()  # byte for byte: Thai text stays exactly as written
            except OSError:  # missing, or not a file
                raise _Unmappable(f"its body file {rel} is missing") from None
            self.used_files.add(rel)
        else:
            if _elements(d.node) and any(
                _tag(c) in ("problem", "video", "vertical") for c in _elements(d.node)
            ):
                raise _Unmappable("the html holds block elements")
            # As write_text wrote it (newlines as the platform's), now that it is written once, as bytes.
            data = (_inner(d.node).strip() + "\n").replace("\n", os.linesep).encode("utf-8")
        try:
            self.body_links(decode_text(data, str(target)))
        except InvalidInputError as exc:
            raise _Unmappable(f"its body is not UTF-8 text ({exc})") from None
        if not self.html_dir_made:  # one mkdir for the import, not one per block
            target.parent.mkdir(parents=True, exist_ok=True)
            self.html_dir_made = True
        target.write_bytes(data)  # written once it is known to map
        block: dict[str, Any] = {"type": "html", "id": block_id}
        title = _text(d.attrs.get("display_name", ""))
        if title:
            block["title"] = title
        block["file"] = f"html/{block_id}.html"
        block["format"] = "html"
        policy = self.settings_policy(d, ("display_name", "filename"))
        if policy:
            block["policy"] = policy
        return block

    # ---- video
    def static_ref(self, url: str) -> str | None:
        """'/static/NAME' of an asset the source holds at static/NAME -> 'static/NAME', else None."""
        name = markup.static_name(url)
        if name is None or url != "/" + name or not PATH_RE.match(name) or name not in self.static_out:
            return None
        return name

    def srt_from_vtt(self, srt: str) -> str | None:
        """static/X.vtt when static/X.srt is exactly what the OLX exporter makes of it (then X.srt is
        not copied: the export writes it again), else None."""
        from ..exporters.olx import vtt_to_srt

        vtt = srt[: -len(".srt")] + ".vtt"
        if vtt not in self.static_out:
            return None
        try:
            made = vtt_to_srt(decode_text((self.root / self.static_out[vtt]).read_bytes(), vtt))
        except InvalidInputError:
            return None
        if made.encode("utf-8") != (self.root / self.static_out[srt]).read_bytes():
            return None
        self.derived_pending.append(self.static_out[srt])
        return vtt

    def video(self, d: _Def, block_id: str) -> dict[str, Any]:
        self.derived_pending = []
        block = self.video_block(d, block_id)
        self.derived_static.update(self.derived_pending)  # only a mapped video makes its SRT redundant
        return block

    def video_block(self, d: _Def, block_id: str) -> dict[str, Any]:
        a = d.attrs
        sources: list[str] = []
        raw_sources = a.get("html5_sources", "[]")
        listed = raw_sources if isinstance(raw_sources, list) else _xml_value(_text(raw_sources) or "[]")
        if not isinstance(listed, list):
            raise _Unmappable("html5_sources is not a list")
        sources.extend(str(s) for s in listed)
        transcripts: dict[str, str] = {}
        raw_tr = a.get("transcripts", "{}")
        tr = raw_tr if isinstance(raw_tr, dict) else _xml_value(_text(raw_tr) or "{}")
        if not isinstance(tr, dict):
            raise _Unmappable("transcripts is not an object")
        transcripts.update({str(k): str(v) for k, v in tr.items()})
        track = _text(a.get("track", ""))
        handout = _text(a.get("handout", ""))
        for child in d.node:
            tag = _tag(child)
            if tag is None:
                continue
            if tag == "source" and set(child.keys()) == {"src"}:
                if child.get("src") not in sources:
                    sources.append(child.get("src", ""))
            elif tag == "transcript" and set(child.keys()) == {"language", "src"}:
                lang, src = child.get("language", ""), child.get("src", "")
                if transcripts.get(lang, src) != src:
                    raise _Unmappable(f"two transcripts for {lang!r}")
                transcripts[lang] = src
            elif tag == "track" and set(child.keys()) == {"src"} and track in ("", child.get("src")):
                track = child.get("src", "")
            elif tag == "handout" and set(child.keys()) == {"src"} and handout in ("", child.get("src")):
                handout = child.get("src", "")
            else:
                raise _Unmappable(f"<{tag}> inside the video has no toolkit equivalent")
        if _text(a.get("sub", "")):
            raise _Unmappable("an SRT 'sub' transcript (not WebVTT)")
        if _text(a.get("edx_video_id", "")):
            raise _Unmappable("a platform-hosted video (edx_video_id)")
        if track and handout:
            raise _Unmappable("both a downloadable track and a handout")
        for key in ("start_time", "end_time"):
            if _text(a.get(key, "00:00:00")) not in ("", "00:00:00", "0"):
                raise _Unmappable(f"a clip ({key})")
        for speed in ("0_75", "1_25", "1_5"):
            if _text(a.get(f"youtube_id_{speed}", "")):
                raise _Unmappable("YouTube ids for several speeds")
        youtube = _text(a.get("youtube_id_1_0", ""))
        yt_attr = _text(a.get("youtube", ""))
        if yt_attr and yt_attr != f"1.00:{youtube}":
            raise _Unmappable(f"youtube={yt_attr!r} says more than one YouTube id")
        block: dict[str, Any] = {"type": "video", "id": block_id}
        title = _text(a.get("display_name", ""))
        if title:
            block["title"] = title
        if youtube and sources:
            raise _Unmappable("both a YouTube id and file sources")
        if youtube:
            if not YOUTUBE_RE.match(youtube):
                raise _Unmappable(f"YouTube id {youtube!r} is not 11 characters")
            block["youtube"] = youtube
        elif len(sources) == 1:
            src = sources[0]
            static = self.static_ref(src)
            if static:
                block["src"] = static
            elif src.startswith(("http://", "https://")):
                block["url"] = src
            else:
                raise _Unmappable(f"source {src!r} is neither a course file nor a web address")
        else:
            raise _Unmappable(f"{len(sources)} sources (the toolkit's video has one)")
        subtitles = {}
        for lang, name in sorted(transcripts.items()):
            static = self.static_ref("/static/" + name.removeprefix("/static/"))
            if static is not None and static.endswith(".srt"):
                static = self.srt_from_vtt(static)
            if not LANG_RE.match(lang) or static is None or not static.endswith(".vtt"):
                raise _Unmappable(f"transcript {name!r} ({lang}) is not a WebVTT file in static/")
            if (
                not (self.root / self.static_out[static])
                .read_bytes()[:16]
                .lstrip(b"\xef\xbb\xbf")
                .startswith(b"WEBVTT")
            ):
                raise _Unmappable(f"transcript {name!r} does not start with WEBVTT")
            subtitles[lang] = static
        if subtitles:
            block["subtitles"] = subtitles
        if track or handout:
            # Open edX offers both for download; the toolkit's video has one downloadable file.
            static = self.static_ref(track or handout)
            if static is None:
                raise _Unmappable(f"downloadable file {track or handout!r} is not a course file")
            block["transcript"] = static
        mapped = {
            "display_name",
            "html5_sources",
            "transcripts",
            "track",
            "sub",
            "edx_video_id",
            "handout",
            "start_time",
            "end_time",
            "youtube",
            "youtube_id_1_0",
            "youtube_id_0_75",
            "youtube_id_1_25",
            "youtube_id_1_5",
        }
        unknown = set(a) - mapped - VIDEO_SETTINGS
        if unknown:
            raise _Unmappable(f"video settings {', '.join(sorted(unknown))}")
        minutes = _number(d.carried.get("minutes", ""))
        if minutes:  # the length the source stated, carried by the OLX export
            block["minutes"] = minutes
        policy = self.settings_policy(d, tuple(mapped))
        if policy:
            block["policy"] = policy
        return block

    # ---- problems
    def problem(self, d: _Def, block_id: str) -> dict[str, Any]:
        node = d.node
        if (node.text or "").strip():
            raise _Unmappable("text directly inside <problem>")
        before: list[etree._Element] = []
        response: etree._Element | None = None
        solution: etree._Element | None = None
        for child in node:
            tag = _tag(child)
            if tag is None:
                raise _Unmappable("a comment or processing instruction inside the problem")
            if (child.tail or "").strip():
                raise _Unmappable("loose text inside the problem")
            if tag in MAPPED_RESPONSES and response is None:
                response = child
            elif tag == "solution" and response is not None and solution is None:
                solution = child  # older exports put it after the response
            elif tag in CAPA_TAGS:
                raise _Unmappable(f"<{tag}> is not one simple question")
            elif response is None and not any(_tag(e) in CAPA_TAGS for e in child.iter() if _tag(e)):
                before.append(child)
            else:
                raise _Unmappable(f"<{tag}> after the question")
        if response is None:
            raise _Unmappable("no multiple-choice, checkbox, numerical or text response")
        self.solution = None
        question, shuffle = self.question(response, before)
        if self.solution is not None:
            if solution is not None:
                raise _Unmappable("two solutions")
            solution = self.solution
        if solution is not None:
            if solution.keys():
                raise _Unmappable("a solution with attributes")
            explain = self.explain(solution)
            if not explain or not _block_ok(explain):
                raise _Unmappable("its solution does not survive as Markdown")
            question["explain"] = explain
        quiz: dict[str, Any] = {"type": "quiz", "id": block_id}
        a = d.attrs
        title = _text(a.get("display_name", ""))
        if title:
            quiz["title"] = title
        quiz["role"] = "graded" if self.graded else "practice"
        mapped = ["display_name"]
        attempts = _text(a.get("max_attempts", ""))
        number = _number(attempts)
        if isinstance(number, int) and number >= 0:
            if number:
                quiz["attempts"] = number
            mapped.append("max_attempts")
        elif attempts in ("", "null"):
            mapped.append("max_attempts")  # empty: the course default (unlimited), as the quiz's default
        if shuffle:
            quiz["shuffle"] = True
        show = SHOW_ANSWERS.get(_text(a.get("showanswer", "")))
        if show:
            if show != "after-last-attempt":  # the quiz's default, as "finished" is Open edX's
                quiz["show_answers"] = show
            mapped.append("showanswer")
        weight = _text(a.get("weight", ""))
        if weight not in ("", "null"):
            points = _number(weight)
            if points is not None and points > 0:
                # CAPA's weight is the problem's points; one question carries them all.
                if points != 1:
                    question["points"] = points
                mapped.append("weight")
            elif points == 0 and self.graded:
                # Worth nothing in a graded subsection: it never counts, which is what practice means (the
                # OLX exporter writes pre-tests and practice quizzes in graded subsections this way).
                quiz["role"] = "practice"
                mapped.append("weight")
        if "markdown" in a and _text(a["markdown"]) not in ("", "null"):
            mapped.append("markdown")
            self.report.warn(
                d.where(),
                f"problem {d.url_name}: Studio's simple-editor text (markdown) is not kept; "
                "the quiz is its source now",
                "import-problem-markdown",
            )
        elif "markdown" in a:
            mapped.append("markdown")
        quiz["questions"] = [question]
        policy = self.settings_policy(d, tuple(mapped))
        if policy:
            quiz["policy"] = policy
        if "quiz" in d.carried and "question" in d.carried:
            quiz["_carried"] = (d.carried["quiz"], d.carried["question"])  # read by merge_split_quizzes
        return quiz

    def explain(self, solution: etree._Element) -> str:
        """The solution's HTML; Studio's frame (a detailed-solution div headed by the word the OLX exporter
        writes for the course language) is left out, since the exporter writes it back around the text."""
        items = _elements(solution)
        if (
            len(items) == 1
            and not (solution.text or "").strip()
            and not (items[0].tail or "").strip()
            and _tag(items[0]) == "div"
            and dict(items[0].attrib) == {"class": "detailed-solution"}
            and len(items[0])
            and _tag(items[0][0]) == "p"
            and not items[0][0].attrib
            and not len(items[0][0])
            and (items[0][0].text or "").strip() == self.words["explain"]
            and not (items[0].text or "").strip()
        ):
            div = items[0]
            rest = [(div[0].tail or "")]
            rest.extend(etree.tostring(c, encoding="unicode", with_tail=True) for c in div[1:])
            return "".join(rest).strip()
        return _inner(solution).strip()

    def question(self, response: etree._Element, before: list[etree._Element]) -> tuple[dict[str, Any], bool]:
        tag = _tag(response)
        label: etree._Element | None = None
        description: etree._Element | None = None
        body: list[etree._Element] = []
        if (response.text or "").strip():
            raise _Unmappable("loose text inside the response")
        for child in response:
            ctag = _tag(child)
            if ctag is None:
                raise _Unmappable("a comment inside the response")
            if (child.tail or "").strip():
                raise _Unmappable("loose text inside the response")
            if ctag == "label" and label is None and not body:
                label = child
            elif ctag == "description" and description is None and not body:
                description = child
            elif ctag == "solution" and self.solution is None:
                self.solution = child  # Studio writes the solution inside the response
            elif self.solution is not None:
                raise _Unmappable(f"<{ctag}> after the solution")
            else:
                body.append(child)
        parts = [_serialise(e).strip() for e in before]
        for el in (label, description):
            if el is not None:
                if el.keys():
                    raise _Unmappable(f"<{_tag(el)}> with attributes")
                inner = _inner(el).strip()
                if inner:
                    parts.append(inner if not parts and el is label else f"<p>{inner}</p>")
        if len(parts) > 1 and label is not None and parts[0] == _inner(label).strip():
            parts[0] = f"<p>{parts[0]}</p>"
        prompt = "\n".join(parts)
        if not prompt:
            raise _Unmappable("the question has no label or prompt")
        if not _prompt_ok(prompt):
            raise _Unmappable("its prompt does not survive as Markdown")
        if tag in ("multiplechoiceresponse", "choiceresponse"):
            return self.choices(response, body, prompt)
        if tag == "numericalresponse":
            return self.numeric(response, body, prompt), False
        return self.text_answer(response, body, prompt), False

    def choices(
        self, response: etree._Element, body: list[etree._Element], prompt: str
    ) -> tuple[dict[str, Any], bool]:
        multiple = _tag(response) == "choiceresponse"
        group_tag = "checkboxgroup" if multiple else "choicegroup"
        if response.keys():
            raise _Unmappable(f"<{_tag(response)}> attributes {', '.join(response.keys())}")
        if len(body) != 1 or _tag(body[0]) != group_tag:
            raise _Unmappable(f"anything but one <{group_tag}> in the response")
        group = body[0]
        allowed = {"type", "shuffle"} if not multiple else {"type"}
        if set(group.keys()) - allowed or group.get("type", "MultipleChoice") != "MultipleChoice":
            raise _Unmappable(f"<{group_tag}> attributes {', '.join(group.keys())}")
        shuffle = _bool(group.get("shuffle", "false"))
        if shuffle is None:
            raise _Unmappable("shuffle is neither true nor false")
        if (group.text or "").strip():
            raise _Unmappable("loose text in the choices")
        choices: dict[str, str] = {}
        answer: list[str] = []
        feedback: dict[str, str] = {}
        elements = list(group)
        named = [c.get("name") for c in elements if isinstance(c.tag, str)]
        use_names = any(named)
        for i, choice in enumerate(elements):
            if _tag(choice) != "choice" or (choice.tail or "").strip():
                raise _Unmappable("something other than <choice> in the choices")
            if set(choice.keys()) - {"correct", "name"}:
                raise _Unmappable(f"choice attributes {', '.join(choice.keys())}")
            correct = choice.get("correct", "false")
            if correct not in ("true", "false"):
                raise _Unmappable(f"correct={correct!r}")
            cid = (
                choice.get("name")
                if use_names
                else "abcdefghijklmnopqrstuvwxyz"[i]
                if i < 26
                else f"c{i + 1}"
            )
            if not cid or not re.match(r"^[A-Za-z0-9_-]{1,32}$", cid) or cid in choices:
                raise _Unmappable("choice names that cannot be ids")
            hints = list(choice)
            if len(hints) > 1 or (
                hints and (_tag(hints[0]) != "choicehint" or (hints[0].tail or "").strip())
            ):
                raise _Unmappable("markup inside a choice")
            text = (choice.text or "").strip()
            if not text:
                raise _Unmappable("an empty choice")
            choices[cid] = text
            if correct == "true":
                answer.append(cid)
            if hints:
                hint = hints[0]
                ok_attrs = {"selected"} if multiple else set()
                if set(hint.keys()) - ok_attrs or (multiple and hint.get("selected") != "true") or len(hint):
                    raise _Unmappable("a choice hint other than plain feedback on the picked choice")
                note = (hint.text or "").strip()
                if note:
                    feedback[cid] = note
        if len(choices) < 2:
            raise _Unmappable("fewer than two choices")
        if not answer or (not multiple and len(answer) != 1):
            raise _Unmappable(f"{len(answer)} correct choices")
        if not multiple and not shuffle and not feedback and list(choices) == ["true", "false"]:
            # What the OLX exporter writes for a true-false question (choices named true/false, in that
            # order, never shuffled, no per-choice feedback, which true-false has not).
            tf: dict[str, Any] = {"type": "true-false", "prompt": prompt, "answer": answer[0] == "true"}
            labels = {k: v for k, v in choices.items() if v != self.words[k]}
            if labels:
                tf["labels"] = labels
            return tf, False
        q: dict[str, Any] = {
            "type": "multiple-choice" if multiple else "single-choice",
            "prompt": prompt,
            "choices": choices,
            "answer": answer if multiple else answer[0],
        }
        if feedback:
            q["feedback"] = feedback
        return q, bool(shuffle)

    def numeric(self, response: etree._Element, body: list[etree._Element], prompt: str) -> dict[str, Any]:
        if set(response.keys()) != {"answer"}:
            raise _Unmappable(f"<numericalresponse> attributes {', '.join(response.keys())}")
        answer = _number(response.get("answer", "").strip())
        if answer is None:
            raise _Unmappable(f"answer {response.get('answer')!r} is not a plain number")
        q: dict[str, Any] = {"type": "numeric", "prompt": prompt, "answer": answer}
        inputs = 0
        for el in body:
            tag = _tag(el)
            if (
                tag == "responseparam"
                and set(el.keys()) == {"type", "default"}
                and el.get("type") == "tolerance"
            ):
                tol = el.get("default", "").strip()
                if TOLERANCE_RE.match(tol):
                    if tol.rstrip("%").strip("0.") != "":
                        q["tolerance"] = tol
                else:
                    value = _number(tol)
                    if value is None or value < 0:
                        raise _Unmappable(f"tolerance {tol!r}")
                    if value:
                        q["tolerance"] = value
            elif tag == "formulaequationinput" and set(el.keys()) <= {"size"} and not len(el):
                inputs += 1
            else:
                raise _Unmappable(f"<{tag}> in the numerical response")
        if inputs != 1:
            raise _Unmappable(f"{inputs} input fields")
        return q

    def text_answer(
        self, response: etree._Element, body: list[etree._Element], prompt: str
    ) -> dict[str, Any]:
        if set(response.keys()) - {"answer", "type"}:
            raise _Unmappable(f"<stringresponse> attributes {', '.join(response.keys())}")
        kind = response.get("type", "").strip().lower()
        if kind not in ("", "ci"):
            raise _Unmappable(f"stringresponse type={kind!r}")
        answers = [response.get("answer", "")]
        inputs = 0
        for el in body:
            tag = _tag(el)
            if tag == "additional_answer" and set(el.keys()) == {"answer"} and not len(el):
                answers.append(el.get("answer", ""))
            elif tag == "textline" and set(el.keys()) <= {"size"} and not len(el):
                inputs += 1
            else:
                raise _Unmappable(f"<{tag}> in the text response")
        if inputs != 1:
            raise _Unmappable(f"{inputs} input fields")
        if any(not a.strip() for a in answers):
            raise _Unmappable("an empty accepted answer")
        # Sara am typed as nikhahit + sara aa: the quiz accepts both spellings of every answer by itself
        # (and the OLX export lists both again), so the typed duplicate is not an answer of its own.
        answers = [
            x for x in answers if not (SARA_AM_TYPED in x and x.replace(SARA_AM_TYPED, SARA_AM) in answers)
        ]
        q: dict[str, Any] = {"type": "short-text", "prompt": prompt, "answer": answers}
        if kind == "":
            q["case_sensitive"] = True  # CAPA compares case unless type="ci"
        return q

    # ---- files kept as they are
    def copy_static(self) -> None:
        static = self.root / "static"
        if not static.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(static):
            dirnames.sort()
            here = Path(dirpath)
            for name in sorted(filenames):
                src = here / name
                rel = src.relative_to(self.root).as_posix()
                if rel in self.derived_static:
                    self.report.warn(
                        Location(rel),
                        "SRT made from the WebVTT beside it; the OLX export makes it again",
                        "import-srt",
                    )
                    continue
                if src.is_symlink():
                    self.report.warn(
                        Location(rel), "symbolic link in static/; not copied", "import-static-link"
                    )
                    continue
                out = self.static_plan.get(rel)
                if out is None:
                    continue  # same Open edX name as an earlier file (reported when planned)
                if not PATH_RE.match(out):
                    self.report.warn(
                        Location(rel),
                        "asset name is not ASCII; copied under the name Open edX stores it by, but "
                        "other packages may break on it",
                        "import-static-name",
                    )
                dest = self.out / out
                dest.parent.mkdir(parents=True, exist_ok=True)
                if self.move_static:
                    os.replace(src, dest)  # our own extraction folder: moving saves copying large videos
                else:
                    shutil.copyfile(src, dest)
                self.report.static_files += 1

    def assets_json_is_regenerated(self) -> bool:
        """policies/assets.json is exactly what the OLX export writes for this static/ (so not kept)."""
        from ..exporters.olx import asset_entry

        try:
            kept = json.loads(decode_text((self.root / ASSETS_JSON).read_bytes(), ASSETS_JSON))
        except (InvalidInputError, ValueError):
            return False
        names = [rel.removeprefix("static/") for rel in self.static_plan]
        if not isinstance(kept, dict) or set(kept) != {n.replace("/", "_") for n in names}:
            return False
        return all(kept[n.replace("/", "_")] in (asset_entry(n), asset_entry(n, subrip=True)) for n in names)

    def other_files(self) -> list[str]:
        """OLX files the mapping did not use (tabs, info, drafts...), kept verbatim for the OLX export.

        Files the OLX exporter writes itself (policies/, outline and component definitions nothing points
        at) would clash with its output: they are kept under olx/ for reference only, with a warning.
        """
        kept = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            rel_dir = here.relative_to(self.root).as_posix()
            if rel_dir == "static" or rel_dir.startswith("static/") or rel_dir == EMBED_DIR:
                dirnames[:] = []  # static/ is copied on its own; the embedded source is not OLX
                continue
            dirnames.sort()
            for name in sorted(filenames):
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"  # Path.relative_to walks parents
                if rel in self.used_files or (here / name).is_symlink():
                    continue
                if rel == "course.xml":
                    continue
                if not PATH_RE.match(rel):
                    self.report.warn(Location(rel), "file name is not ASCII; not kept", "import-file-name")
                    continue
                if rel == ASSETS_JSON and self.assets_json_is_regenerated():
                    self.report.warn(
                        Location(rel),
                        "what the OLX export writes from static/; not kept",
                        "import-reference-copy",
                    )
                    continue
                if rel.split("/", 1)[0] in REGENERATED_FOLDERS and rel != ASSETS_JSON:
                    copy = self.keep_olx_file(rel, "olx/")
                    why = (
                        "the OLX export writes its own (grading from the quizzes, assets from static/)"
                        if rel.startswith("policies/")
                        else "no block points at it"
                    )
                    self.report.warn(
                        Location(rel), f"kept for reference as {copy}: {why}", "import-reference-copy"
                    )
                    continue
                kept.append(self.keep_olx_file(rel))
        return kept


_QUOTED_LINK = re.compile(r"""\b(?:src|href|poster|data)\s*=\s*(?:"(/static/[^"]*)"|'(/static/[^']*)')""")
_CSS_LINK = re.compile(r"""url\(\s*["']?(/static/[^"')]*)""")


def _static_links(body: str) -> list[str]:
    """Every /static/ link of an HTML body, whole (a quoted value may hold spaces: ``a photo.png``)."""
    found = [a or b for a, b in _QUOTED_LINK.findall(body)]
    found.extend(_CSS_LINK.findall(body))
    return found


def _olx_members(root: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the files an embedded source stands for: all but static/ and the embed folder."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        if rel_dir in ("static", EMBED_DIR):
            dirnames[:] = []
            continue
        for name in filenames:
            path = here / name
            if not path.is_symlink():
                yield (name if rel_dir == "." else f"{rel_dir}/{name}", path.read_bytes())


def _restore_embedded(
    root: Path,
    out: Path,
    report: ImportReport,
    move_static: bool = False,
    digest: Callable[[], str] | None = None,
    count: bool = True,
) -> bool:
    """Restore the course source the toolkit's OLX export embedded, when the OLX is unchanged since.

    The manifest holds a digest of the OLX the export made from that source; any change to it (a Studio
    round trip drops the embed folder altogether) means the OLX is imported as any other. ``digest`` gives
    that digest of the OLX at ``root`` when it was computed without the files on disk (_Extraction).
    Returns True when the source was restored into ``out``; without ``count`` the caller counts it.
    """
    manifest_path, blob = root / EMBED_MANIFEST, root / EMBED_SOURCE
    if not (manifest_path.is_file() and blob.is_file()):
        return False
    try:
        manifest = json.loads(decode_text(manifest_path.read_bytes(), EMBED_MANIFEST))
    except (InvalidInputError, ValueError):
        manifest = None
    static = manifest.get("static") if isinstance(manifest, dict) and manifest.get("format") == 1 else None
    if not isinstance(static, list) or not all(
        isinstance(rel, str) and rel.startswith("static/") and PATH_RE.match(rel) for rel in static
    ):
        report.warn(Location(EMBED_MANIFEST), "unreadable manifest; the OLX is imported", "import-embedded")
        return False
    found = digest() if digest is not None else olx_digest(_olx_members(root))
    if found != manifest.get("olx_sha256"):
        report.warn(
            Location(EMBED_MANIFEST),
            "the OLX was changed after the toolkit exported it; imported from the OLX, not from the "
            "source embedded with it",
            "import-embedded-stale",
        )
        return False
    extract_archive(blob, out)  # refuses links, traversal and bombs like any other archive
    made: set[str] = set()  # folders of out made so far: one mkdir each, not one per file
    for rel in static:
        src, dest = os.path.join(root, rel), os.path.join(out, rel)
        try:
            regular = stat.S_ISREG(os.lstat(src).st_mode)  # a file, not a link (is_file, not is_symlink)
        except OSError:
            regular = False
        if regular:
            folder = os.path.dirname(dest)
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            if move_static:
                os.replace(src, dest)  # our own extraction folder, as _Importer.copy_static
            else:
                shutil.copyfile(src, dest)
            report.static_files += 1
        else:
            report.warn(
                Location(rel), "listed in the embedded source but not in the archive", "import-embedded"
            )
    report.restored = True
    if count:
        _count_source(out, report)
    return True


def _count_source(out: Path, report: ImportReport) -> None:
    """The report's counts for a restored source, read from the source itself."""
    from ..source.reader import read_source

    tree, _problems = read_source(out)
    _count_data(tree.data if tree is not None else None, report)


def _count_data(data: Any, report: ImportReport) -> None:
    """The report's counts from a source's data as read_source gives it (includes spliced in)."""
    if not isinstance(data, dict):
        return
    report.course_id, report.title = str(data.get("id", "")), str(data.get("title", ""))
    sections = data.get("sections") or [
        {"subsections": [{"units": [unit]}]} for unit in data.get("units") or []
    ]
    for section in sections:
        report.structure["section"] += 1
        for sub in section.get("subsections") or []:
            report.structure["subsection"] += 1
            for unit in sub.get("units") or []:
                report.structure["unit"] += 1
                for block in unit.get("blocks") or []:
                    report.blocks[str(block.get("type", "block"))] += 1


# Members the first pass over an archive writes: static/ and the embed folder, whether the course is at the
# top of the archive or in its one top-level folder (the root is known only once every name is seen).
_FIRST_PASS = frozenset({"static", EMBED_DIR})


def _first_pass(rel: str) -> bool:
    parts = rel.split("/", 2)
    return (len(parts) > 1 and parts[0] in _FIRST_PASS) or (len(parts) > 2 and parts[1] in _FIRST_PASS)


# The OLX files (static/ aside) a first pass keeps in memory, so that an import from the OLX needs no
# second pass over the archive; past this, memory stays flat and the second pass reads them again.
HELD_BYTES = 32 * 1024 * 1024


class _Hashing:
    """An archive.Sink: the sha256 of what is written to it, and the bytes while ``held`` has room."""

    __slots__ = ("held", "parts", "sha")

    def __init__(self, held: list[int]) -> None:
        self.sha = hashlib.sha256()
        self.held = held  # bytes still free for holding, shared by one extraction's files (-1: gave up)
        self.parts: list[bytes] | None = [] if held[0] >= 0 else None

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        if self.parts is not None:
            self.held[0] -= len(data)
            if self.held[0] >= 0:
                self.parts.append(data)
            else:
                self.held[0] = -1
                self.parts = None


class _Extraction:
    """An archive extracted for import in two passes, so that restoring an embedded source writes no OLX.

    The first pass checks every member (names, types, limits, as any extraction) and writes only static/
    and the embed folder; the other files are hashed as they stream by, which is all that the embedded
    source's digest check needs. When the source is not restored, :meth:`complete` writes the rest: each
    file is written once either way, and a restore costs none of the OLX's files (tar writes them all).
    """

    def __init__(self, archive: Path, dest: Path) -> None:
        self.archive = archive
        self.dest = dest
        # Each file the first pass did not write: its sink while it streams, then (from the next member
        # on) its 32-byte digest, which is all a restore needs of it (a sink is ten times the size).
        self.hashes: dict[str, _Hashing | bytes] = {}
        self.held_parts: dict[str, list[bytes]] = {}  # what the sinks held, while holding
        self.held = [HELD_BYTES]
        self.last: str | None = None
        extract_archive(archive, dest, select=self._select, sink=self._hash)
        self._done()

    def _done(self) -> None:
        """Keep only the digest (and any held bytes) of the member streamed last."""
        if self.last is not None:
            sink = self.hashes[self.last]
            assert isinstance(sink, _Hashing)
            self.hashes[self.last] = sink.sha.digest()
            if sink.parts is not None:
                self.held_parts[self.last] = sink.parts
            self.last = None

    def _select(self, rel: str) -> bool:
        if (rel == EMBED_MANIFEST or rel.endswith(f"/{EMBED_MANIFEST}")) and self.held[0] >= 0:
            # An embedded source, most likely restored: stop holding the OLX (a stale one is read again).
            self.held[0] = -1
            self._done()
            self.held_parts.clear()
        return _first_pass(rel)

    def _hash(self, rel: str) -> _Hashing:
        self._done()
        sink = self.hashes[rel] = _Hashing(self.held)
        self.last = rel
        return sink

    def root(self) -> str | None:
        """The course root as find_course_root finds it ("" or "top/"); None when it would refuse."""
        if "course.xml" in self.hashes:  # the first pass never writes course.xml
            return ""
        tops = {
            rel.split("/", 1)[0] for rel in self.hashes if rel.count("/") == 1 and rel.endswith("/course.xml")
        }
        return f"{tops.pop()}/" if len(tops) == 1 else None

    def digest(self, prefix: str) -> str:
        """olx_digest of the OLX at ``dest/prefix``, as _olx_members would read it from disk."""
        members = [
            (rel[len(prefix) :], h.hex())  # type: ignore[union-attr]  # all digests after __init__
            for rel, h in self.hashes.items()
            if rel.startswith(prefix)
        ]
        if not prefix:  # a folder of the course named like static/ (sub/static/x) was written: read it back
            root = self.dest
            for dirpath, dirnames, filenames in os.walk(root):
                rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
                if rel_dir in ("static", EMBED_DIR):
                    dirnames[:] = []
                    continue
                for name in filenames:
                    path = os.path.join(dirpath, name)
                    with open(path, "rb") as f:
                        content = f.read()
                    rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                    members.append((rel, hashlib.sha256(content).hexdigest()))
        return olx_digest_hashed(members)

    def complete(self) -> None:
        """Write the files the first pass did not (the OLX is imported from disk): from memory when it
        held them all, else in a second pass over the archive."""
        names, held = list(self.hashes), self.held_parts
        self.hashes, self.held_parts = {}, {}
        if self.held[0] >= 0:
            write_extracted(self.archive, self.dest, ((rel, b"".join(held.get(rel, ()))) for rel in names))
        else:
            extract_archive(self.archive, self.dest, select=lambda rel: not _first_pass(rel))


def _prepare_out(out_dir: Path) -> Path:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UsageError(f"{display_path(out_dir)} exists and is not empty; choose a new folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.import-", dir=out_dir.parent))


def _hold(folder: Path, held: list[int]) -> Path:
    """Lock ``folder`` (a flock on the folder itself) until the import ends: it marks the folder as in use."""
    if fcntl is not None:
        fd = os.open(folder, os.O_RDONLY)
        held.append(fd)
        fcntl.flock(fd, fcntl.LOCK_EX)
    return folder


def _remove_stale(out_dir: Path) -> None:
    """Remove the temporary folders of earlier imports to ``out_dir`` that were killed (SIGKILL, power cut).

    Stale means nobody holds its lock: the kernel drops a flock when its process dies, however it dies,
    so an import still running keeps its folders.
    """
    if fcntl is None:
        return
    for kind in ("import", "extract"):
        for folder in out_dir.parent.glob(f".{glob.escape(out_dir.name)}.{kind}-*"):
            try:
                fd = os.open(folder, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # locked: a running import's
                continue
            else:
                shutil.rmtree(folder, ignore_errors=True)
            finally:
                os.close(fd)


def _keep_grading(
    root: Path, out: Path, course: dict[str, Any], report: ImportReport, checked: list[Report] | None = None
) -> bool:
    """Keep the course's grading_policy.json when the OLX export would not make the same from the source.

    The source format grades quizzes by weight and a pass mark; a Studio course may grade problems the
    import kept raw, drop the lowest scores or have letter grades. Then the original file is kept at its
    path (``olx.files``) and the fingerprint of the policy the export would make is recorded in the
    course policy (``{urn:x-localmooc:olx}grading``): the export writes the original back while the
    source still makes that policy, i.e. while nobody changed its grading. Returns True when kept.
    The check of ``out`` this takes is appended to ``checked``.
    """
    from ..exporters.olx import grading_policy
    from ..source import check_course

    rel = f"policies/{course['run']}/grading_policy.json"
    if not (root / rel).is_file():
        return False
    try:
        original = json.loads(decode_text((root / rel).read_bytes(), rel))
        tree, problems = check_course(out)  # what source.load_course does, keeping the report
        if checked is not None:
            checked.append(problems)
        if tree is None:
            return False  # the source's own check reports why it does not load
        made = grading_policy(tree)
    except (InvalidInputError, ValueError):
        return False  # the source's own check reports why it does not load
    if made == original:
        return False  # the export makes exactly this again
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / rel, out / rel)
    reference = out / "olx" / rel
    if reference.is_file():  # no reference copy: the file itself is kept
        reference.unlink()
        report.problems.problems = [
            p
            for p in report.problems.problems
            if not (p.code == "import-reference-copy" and p.location.file == rel)
        ]
    olx = course.setdefault("olx", {})
    olx["files"] = sorted({*olx.get("files", []), rel})
    course["olx"] = course.pop("olx")
    policy = course.get("policy") or {}
    policy[lm("grading")] = grading_digest(made)
    if "policy" not in course:
        items = list(course.items())
        at = next(i for i, (key, _v) in enumerate(items) if key == "sections")
        course.clear()
        course.update([*items[:at], ("policy", policy), *items[at:]])
    else:
        course["policy"] = policy
    report.warn(
        Location(rel),
        "kept and written back by the OLX export while the source's quizzes grade as they do now "
        "(the source format cannot say all of it)",
        "import-grading",
    )
    return True


def _closing_check(out_dir: Path, count: ImportReport | None) -> Report:
    """source.check_course of the written source; with ``count``, the restored source's counts are taken
    from the same reading (read_source once, not once to count and once to check)."""
    from ..source.checks import check
    from ..source.loader import build_tree
    from ..source.reader import read_source

    source, problems = read_source(out_dir)
    if count is not None:
        _count_data(source.data if source is not None else None, count)
    if source is None:
        return problems
    outline_root = check(source, problems)
    if not problems.errors:
        build_tree(source, outline_root)
    return problems


def _write_source(course: dict[str, Any], tmp: Path, report: ImportReport) -> None:
    header = "# Imported from Open edX OLX by `localmooc import`; see docs/import-olx.md.\n"
    units = report.structure["unit"]
    dump = yaml_writer(_Dumper)
    if units > SPLIT_UNITS:
        report.split = True
        items = []
        for section in course["sections"]:
            rel = f"sections/{section['id']}.yaml"
            _dump_yaml(section, tmp / rel, dump=dump)
            items.append({"include": rel})
        course = {**course, "sections": items}
    _dump_yaml(course, tmp / "course.yaml", header, dump=dump)


def import_olx(source: Path, out_dir: Path, check: bool = True) -> ImportReport:
    """Import a Studio export (.tar.gz, .zip or folder) into a new course source folder ``out_dir``.

    Raises UsageError when ``out_dir`` is not new or empty or ``source`` does not exist, InvalidInputError
    (or UnsafeInputError) when the export cannot be read; then nothing is left behind. With ``check`` the
    written source is checked and its problems are added to the report.
    """
    started = time.perf_counter()
    source, out_dir = Path(source), Path(out_dir)
    if not source.exists():
        raise UsageError(f"{display_path(source)}: no such file or folder")
    if source.is_file() and not is_archive(source):
        raise InvalidInputError(f"{display_path(source)}: not a folder, .tar.gz or .zip archive")
    held: list[int] = []  # locked folder descriptors, closed when the import ends
    tmp = _hold(_prepare_out(out_dir), held)
    report = ImportReport(source, out_dir)
    extracted: Path | None = None
    checked: list[Report] = []  # the check of the written source _keep_grading made, if any
    try:
        _remove_stale(out_dir)  # after locking our own folder, which is therefore never taken for stale
        restored = False
        if source.is_dir():
            base, move = source, False
            root = find_course_root(base)
            restored = _restore_embedded(root, tmp, report, count=not check)
        else:
            extracted = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.extract-", dir=out_dir.parent))
            _hold(extracted, held)
            extraction = _Extraction(source, extracted)
            base, move = extracted, True
            prefix = extraction.root()
            if prefix is not None:
                restored = _restore_embedded(
                    base / prefix,
                    tmp,
                    report,
                    move_static=True,
                    digest=lambda: extraction.digest(prefix),
                    count=not check,
                )
            if not restored:
                extraction.complete()
                root = find_course_root(base)
        if restored and check and not (tmp / "course.yaml").is_file():
            _count_source(tmp, report)  # refuses it as before: nothing is put in place
        if not restored:
            importer = _Importer(root, tmp, report, move_static=move)
            course = importer.run()
            importer.copy_static()
            files = importer.other_files()
            if files:
                course.setdefault("olx", {})["files"] = files
            if "olx" in course:  # keep `olx:` last in course.yaml, after the outline
                course["olx"] = course.pop("olx")
            _write_source(course, tmp, report)
            if _keep_grading(root, tmp, course, report, checked):
                _write_source(course, tmp, report)
                checked.clear()  # the source changed since that check
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if extracted is not None:
            shutil.rmtree(extracted, ignore_errors=True)
        for fd in held:
            os.close(fd)
    # The files _keep_grading found clean were moved into place as they were: clean again. (Only a clean
    # check stands for the closing one: its problems would name the temporary folder.)
    clean = bool(checked) and not checked[0].problems
    if check and not clean:
        report.problems.extend(_closing_check(out_dir, report if report.restored else None).problems)
    report.seconds = time.perf_counter() - started
    return report
