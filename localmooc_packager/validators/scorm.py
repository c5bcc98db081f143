"""Validate any SCORM package (ours or a third party's), given as a .zip or as an unpacked folder.

``validate_scorm(path, offline=False) -> Report`` collects every problem it can find in one run; see
docs/validate-scorm.md for the list of checks and their ``scorm-*`` codes. Zips are read in place through
``archive.open_archive`` (nothing is extracted; every member passes the same safety checks as an import), so
a hostile member is reported instead of being written somewhere. Locations are
``Location(<file relative to the package root>, <line>)``; line 0 means "the whole file".

Network URLs are judged the way a browser treats them: only a URL the browser fetches while showing a page
(script, stylesheet, image, frame, media, CSS ``url()``) is reported, as a warning, or as an error with
``offline=True``. Links, inert attributes, text, comments and JavaScript strings are not fetches.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

from ..archive import ArchiveView, archive_kind, describe_file, open_archive
from ..errors import InvalidInputError, Location, Report, Severity, UsageError, display_path
from ..safe import parse_xml_bytes
from .xsd import validate_manifest_xml

MANIFEST = "imsmanifest.xml"
# Reads are capped: a manifest or a page bigger than this is not a real course but a zip bomb or an accident.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_SCAN_BYTES = 8 * 1024 * 1024
# Tools that list only the launch file leave thousands of files unlisted; beyond this, one summary line.
MAX_UNLISTED_REPORTED = 50

XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ADLCP_12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
ADLCP_2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"

# schemaversion value -> the XSD set it is validated with. 3rd ed. and CAM 1.3 (2nd ed.) manifests use the
# same namespaces as the 4th edition, whose schemas accept them.
SCHEMA_VERSIONS: dict[str, str] = {
    "1.2": "1.2",
    "CAM 1.3": "2004",
    "2004 3rd Edition": "2004",
    "2004 4th Edition": "2004",
}
# Guessing the version from namespaces when schemaversion is missing or unknown.
NS_VERSIONS: dict[str, str] = {
    "http://www.imsproject.org/xsd/imscp_rootv1p1p2": "1.2",
    "http://www.imsglobal.org/xsd/imscp_v1p1": "2004",
}

SCAN_SUFFIXES = {".html", ".htm", ".xhtml", ".js", ".mjs", ".css", ".json"}
# Files packages carry without listing them in a resource; never worth a warning. SCORM 2004 packages
# carry the schema set with its sub-folders (common/, extend/, unique/, vocab/), as the golf examples do.
NEVER_LISTED = re.compile(r"\.(xsd|dtd)$", re.IGNORECASE)


# --------------------------------------------------------------------------------------------------------
# Reading the package: a zip or a folder behind the same small interface


@dataclass
class _Package:
    """Files of the package (posix paths relative to its root) and a way to read one."""

    name: str
    files: dict[str, str] = field(default_factory=dict)  # normalised path -> name in the archive/folder
    _view: ArchiveView | None = None
    _root: Path | None = None

    def read(self, path: str, limit: int) -> bytes | None:
        """The file's bytes, or None when it is larger than ``limit``."""
        real = self.files[path]
        if self._view is not None:
            return self._view.read(real, limit)
        assert self._root is not None
        with (self._root / real).open("rb") as fh:
            data = fh.read(limit + 1)
        return None if len(data) > limit else data

    def read_many(self, paths: list[str], limit: int) -> Iterator[tuple[str, bytes | Exception | None]]:
        """Each file's bytes (None when over ``limit``, the exception when unreadable), archive order."""
        if self._view is not None:
            names = {self.files[path]: path for path in paths}
            for name, data in self._view.read_many(names, limit):
                yield names[name], data
            return
        for path in sorted(paths):
            try:
                yield path, self.read(path, limit)
            except OSError as exc:
                yield path, exc

    def close(self) -> None:
        if self._view is not None:
            self._view.close()


_READ_ERRORS = (OSError, EOFError, zlib.error, RuntimeError, NotImplementedError, InvalidInputError)
# Refusals of a member that are about a second copy of a name rather than an unsafe name.
_DUPLICATE_REASONS = ("duplicate member", "only in letter case", "both a file and a directory")


def _open_zip(path: Path, report: Report) -> _Package | None:
    where = Location(path.name)
    if archive_kind(path) != "zip":
        report.add(
            where,
            f"not a zip archive: it is {describe_file(path)} (SCORM packages are zip files)",
            "scorm-package-unreadable",
        )
        return None
    try:
        view = open_archive(path, keep=lambda rel: False, lenient=True)
    except InvalidInputError as exc:
        # The whole archive is refused (member count, declared sizes, a bomb) or is corrupt.
        report.add(where, str(exc).removeprefix(f"{display_path(path)}: "), "scorm-package-unreadable")
        return None
    for member, reason in view.refused:
        if any(r in reason for r in _DUPLICATE_REASONS):
            report.add(
                Location(member),
                f"duplicate member ({reason}): tools disagree on which copy wins",
                "scorm-duplicate-member",
            )
        else:
            report.add(Location(member), f"unsafe member, ignored: {reason}", "scorm-unsafe-path")
    return _Package(path.name, {name: name for name in view.files}, _view=view)


def _open_folder(path: Path, report: Report) -> _Package:
    pkg = _Package(path.name, _root=path)
    root = path.resolve()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for fname in sorted(filenames) + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            full = Path(dirpath) / fname
            rel = full.relative_to(path).as_posix()
            if full.is_symlink() and not full.resolve().is_relative_to(root):
                report.add(Location(rel), "symbolic link pointing outside the package", "scorm-unsafe-path")
                continue
            if full.is_file():
                pkg.files[rel] = rel
    return pkg


# --------------------------------------------------------------------------------------------------------
# Network URLs: only where a browser fetches them (documented in docs/validate-scorm.md)

_NET = r"(?:[hH][tT][tT][pP][sS]?:)?//[\w\-.~%\[\]:@]+[^\s\"'`<>()\\]*"
_NET_RE = re.compile(_NET)

# Element -> attributes whose URL the browser fetches while rendering the page (HTML Living Standard).
_FETCH_ATTRS: dict[str, tuple[str, ...]] = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "audio": ("src",),
    "video": ("src", "poster"),
    "track": ("src",),
    "input": ("src",),  # type=image
    "body": ("background",),
    "table": ("background",),
    "td": ("background",),
    "th": ("background",),
    # SVG inside HTML (the HTML parser keeps xlink:href as a plain attribute name)
    "image": ("href", "xlink:href"),
    "use": ("href", "xlink:href"),
    "feimage": ("href", "xlink:href"),
}
# <link rel=...> values whose href is fetched; others (canonical, alternate, license, author...) are not.
_LINK_FETCH_RELS = {
    "stylesheet",
    "icon",
    "apple-touch-icon",
    "mask-icon",
    "preload",
    "modulepreload",
    "manifest",
}
# Navigation: followed only when the learner clicks; it does not break the page.
_NAV_ATTRS: dict[str, tuple[str, ...]] = {"a": ("href",), "area": ("href",), "form": ("action",)}
# Flash-era <param name="movie" value="..."> is loaded by the plug-in.
_PARAM_FETCH = {"movie", "src", "url"}

_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_CSS_RES = [
    re.compile(r"url\(\s*[\"']?\s*(" + _NET + r")"),
    re.compile(r"@import\s+[\"'](" + _NET + r")"),
]
_Q = r"[\"'`]"
# Calls that make the browser fetch their string argument. A URL anywhere else in a script is just a string.
_JS_RES = [
    ("fetch", re.compile(r"\bfetch\s*\(\s*" + _Q + "(" + _NET + ")")),
    (".open", re.compile(r"\.open\s*\(\s*" + _Q + r"[A-Za-z]+" + _Q + r"\s*,\s*" + _Q + "(" + _NET + ")")),
    (
        "import",
        re.compile(r"\bimport\s*(?:\(\s*)?(?:[\w*${}\s,]{1,300}?\s+from\s*)?" + _Q + "(" + _NET + ")"),
    ),
    ("importScripts", re.compile(r"\bimportScripts\s*\(\s*" + _Q + "(" + _NET + ")")),
    (
        "new",
        re.compile(
            r"\bnew\s+(?:WebSocket|EventSource|Worker|SharedWorker)\s*\(\s*" + _Q + "((?:wss?:)?" + _NET + ")"
        ),
    ),
    ("$.", re.compile(r"\$\.(?:getScript|getJSON|get|post|ajax)\s*\(\s*" + _Q + "(" + _NET + ")")),
]
# JS tokens: strings and template literals are kept whole so that '//' inside them is not a comment.
_JS_TOKENS = re.compile(
    r"""("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|(//[^\n]*|/\*.*?\*/)""", re.DOTALL
)
_JSON_RES = [re.compile(r"\"_?(?:src|poster|source)\"\s*:\s*\"(" + _NET + ")", re.IGNORECASE)]


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _is_url(ref: str) -> bool:
    """Has a scheme (http:, data:, javascript:, ...) or is protocol-relative: not a file of the package."""
    return ref.startswith("//") or _SCHEME.match(ref) is not None


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _blank(pattern: re.Pattern[str], text: str) -> str:
    """Drop what ``pattern`` matches but keep its newlines, so line numbers stay right."""
    return pattern.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def _js_without_comments(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        return m.group(1) if m.group(1) is not None else "\n" * m.group(2).count("\n")

    return _JS_TOKENS.sub(repl, text)


class _UrlScan:
    """Network fetches (and, offline, links) of one text file of the package, reported once per line+URL."""

    def __init__(self, rel: str, report: Report, offline: bool) -> None:
        self.rel = rel
        self.report = report
        self.offline = offline
        self.found: dict[tuple[int, str], str] = {}
        self.links: dict[tuple[int, str], str] = {}

    def fetch(self, line: int, url: str, how: str) -> None:
        self.found.setdefault((line, url), how)

    def link(self, line: int, url: str, how: str) -> None:
        self.links.setdefault((line, url), how)

    def css(self, text: str, first_line: int, how: str) -> None:
        text = _blank(_CSS_COMMENT, text)
        for pattern in _CSS_RES:
            for m in pattern.finditer(text):
                self.fetch(first_line + text.count("\n", 0, m.start(1)), m.group(1), how)

    def js(self, text: str, first_line: int) -> None:
        if "//" not in text:  # no network URL can be in it (every one holds '//')
            return
        text = _js_without_comments(text)
        if "//" not in text:
            return
        for keyword, pattern in _JS_RES:
            if keyword not in text:  # cheap test first: most scripts call none of these with a URL
                continue
            for m in pattern.finditer(text):
                self.fetch(
                    first_line + text.count("\n", 0, m.start(1)), m.group(1), "a script's fetch/import"
                )

    def finish(self) -> None:
        severity = Severity.ERROR if self.offline else Severity.WARNING
        for (line, url), how in sorted(self.found.items()):
            if self.offline:
                message = f"{how} loads {url} from the network: it fails offline, bundle the file instead"
            else:
                message = (
                    f"{how} loads {url} from the network: the page needs internet access (see --offline)"
                )
            self.report.add(Location(self.rel, line), message, "scorm-network-url", severity=severity)
        if self.offline:
            for (line, url), how in sorted(self.links.items()):
                self.report.add(
                    Location(self.rel, line),
                    f"{how} to {url} does not open offline (the page itself still works)",
                    "scorm-network-link",
                    severity=Severity.WARNING,
                )


_SCANNED_TAGS = frozenset({*_FETCH_ATTRS, "link", "param", *_NAV_ATTRS, "style", "script"})
_HTML_PARSER = etree.HTMLParser(recover=True, no_network=True, remove_comments=True, remove_pis=True)


def _scan_html(rel: str, data: bytes, scan: _UrlScan) -> None:
    try:
        root = etree.fromstring(data, _HTML_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return
    if root is None:
        return
    folder = posixpath.dirname(rel)
    # libxml2 lower-cases HTML tag names. One plain walk: cheaper than lxml's multi-tag or XPath filters.
    for el in root.iter():
        tag = el.tag
        style = el.get("style")
        if style and "url" in style.lower():
            scan.css(style, el.sourceline or 1, "a style attribute's CSS url()")
        if tag not in _SCANNED_TAGS:
            continue
        assert isinstance(tag, str)
        line = el.sourceline or 1
        fetched = _FETCH_ATTRS.get(tag, ())
        if tag == "link":
            rels = set((el.get("rel") or "").lower().split())
            if rels & _LINK_FETCH_RELS or any("icon" in r for r in rels):
                fetched = ("href",)
        elif tag == "param" and (el.get("name") or "").lower() in _PARAM_FETCH:
            fetched = ("value",)
        for attr in fetched:
            value = el.get(attr)
            if not value:
                continue
            refs = _srcset_urls(value) if attr == "srcset" else [value.strip()]
            for ref in refs:
                if _NET_RE.fullmatch(ref):
                    scan.fetch(line, ref, f"<{tag} {attr}>")
                elif _escapes(folder, ref):
                    scan.report.add(
                        Location(rel, line),
                        f"<{tag} {attr}={ref!r}> points outside the package",
                        "scorm-path-outside",
                    )
        for attr in _NAV_ATTRS.get(tag, ()):
            value = (el.get(attr) or "").strip()
            if _NET_RE.fullmatch(value):
                scan.link(line, value, f"<{tag} {attr}> link")
        if tag == "style" and el.text:
            scan.css(el.text, line, "CSS url()/@import in <style>")
        elif tag == "script" and el.text and not el.get("src"):
            kind = (el.get("type") or "").lower()
            if kind in ("", "module") or "javascript" in kind or "ecmascript" in kind:
                scan.js(el.text, line)


def _srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset: comma-separated candidates, each a URL and an optional descriptor."""
    return [c.split()[0] for c in value.split(",") if c.split()]


def _scan_text_file(rel: str, data: bytes, report: Report, offline: bool) -> None:
    suffix = posixpath.splitext(rel)[1].lower()
    scan = _UrlScan(rel, report, offline)
    if suffix in {".html", ".htm", ".xhtml"}:
        _scan_html(rel, data, scan)
    else:
        text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
        if suffix == ".css":
            scan.css(text, 1, "CSS url()/@import")
        elif suffix in {".js", ".mjs"}:
            scan.js(text, 1)
        elif suffix == ".json":
            for pattern in _JSON_RES:
                for m in pattern.finditer(text):
                    scan.fetch(_line_of(text, m.start(1)), m.group(1), "a JSON src/poster/source value")
    scan.finish()


@functools.lru_cache(maxsize=4096)  # pages of one package repeat the same references
def _escapes(folder: str, ref: str) -> bool:
    """A relative reference (no scheme) that climbs above the package root."""
    if ".." not in ref or _is_url(ref) or ref.startswith(("#", "/", "{", "$")):
        return False
    path = unquote(re.split(r"[?#]", ref, maxsplit=1)[0])
    joined = posixpath.normpath(posixpath.join(folder, path)) if path else folder
    return joined == ".." or joined.startswith("../")


# --------------------------------------------------------------------------------------------------------
# The manifest


def _local(el: etree._Element) -> str:
    tag = el.tag
    return tag[tag.rfind("}") + 1 :] if isinstance(tag, str) else ""  # cheaper than etree.QName


def _attr_any_case(el: etree._Element, name: str) -> str | None:
    """The name of an attribute whose local name matches ``name`` ignoring case and namespace."""
    for key in el.attrib:
        if etree.QName(key).localname.lower() == name.lower():
            return str(key)
    return None


def _ident(el: etree._Element, name: str) -> str | None:
    """An identifier, identifierref or default attribute as the schema sees it: xs:ID/xs:IDREF values have
    their whitespace collapsed, so ``"  SEQ01 "`` names ``SEQ01`` (ADL's LMS test packages rely on it)."""
    value = el.get(name)
    return None if value is None else " ".join(value.split())


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c) == name]


def _iter_named(root: etree._Element, *names: str) -> Iterator[etree._Element]:
    for el in root.iter(etree.Element):
        if _local(el) in names:
            yield el


@dataclass
class _ManifestCheck:
    pkg: _Package
    base: str  # folder of the manifest inside the package ("" at the root)
    where: str  # manifest path shown in locations
    report: Report
    offline: bool = False
    referenced: set[str] = field(default_factory=set)
    unknown_version_line: int = 0

    def add(self, el: etree._Element | None, message: str, code: str, warn: bool = False) -> None:
        line = el.sourceline or 0 if el is not None else 0
        severity = Severity.WARNING if warn else Severity.ERROR
        self.report.add(Location(self.where, line), message, code, severity=severity)

    def run(self, tree: etree._ElementTree) -> None:
        root = tree.getroot()
        version = self.detect_version(root)
        xsd_lines_done = self.check_identifiers(root)
        if version is not None:
            self.check_xsd(tree, version, xsd_lines_done)
        resources = self.check_resources(root)
        self.check_organizations(root, resources, version)
        if version == "1.2":
            self.check_mastery(root)
        self.check_manifest_urls(root)

    # ---- version

    def detect_version(self, root: etree._Element) -> str | None:
        metadata = next(iter(_children(root, "metadata")), None)
        sv = next(iter(_children(metadata, "schemaversion")), None) if metadata is not None else None
        guessed = self.guess_version(root)
        if sv is None:
            hint = f"; validated as SCORM {guessed} from its namespaces" if guessed else ""
            self.add(
                metadata if metadata is not None else root,
                f"<schemaversion> is missing (expected '1.2' or '2004 4th Edition'){hint}",
                "scorm-version-missing",
            )
            return guessed
        value = (sv.text or "").strip()
        version = SCHEMA_VERSIONS.get(value)
        if version is None:
            hint = f"; validated as SCORM {guessed} from its namespaces" if guessed else ""
            self.add(
                sv,
                f"unknown <schemaversion> {value!r}: expected '1.2', '2004 4th Edition', '2004 3rd Edition' "
                f"or 'CAM 1.3' (Open edX treats everything but exactly '1.2' as 2004){hint}",
                "scorm-version-unknown",
            )
            self.unknown_version_line = sv.sourceline or 0
            return guessed
        schema = next(iter(_children(metadata, "schema")), None) if metadata is not None else None
        if schema is None or (schema.text or "").strip() != "ADL SCORM":
            self.add(
                schema if schema is not None else metadata,
                "<schema> should be exactly 'ADL SCORM'",
                "scorm-schema-name",
                warn=True,
            )
        return version

    @staticmethod
    def guess_version(root: etree._Element) -> str | None:
        namespaces = {etree.QName(root).namespace, *root.nsmap.values()}
        if ADLCP_12 in namespaces:
            return "1.2"
        for ns, version in NS_VERSIONS.items():
            if etree.QName(root).namespace == ns:
                return version
        return None

    # ---- schema

    def check_xsd(self, tree: etree._ElementTree, version: str, duplicate_id_lines: set[int]) -> None:
        for issue in validate_manifest_xml(tree, version):
            # Already reported with a clearer message by our own checks.
            if issue.line == self.unknown_version_line and "schemaversion" in issue.message:
                continue
            if issue.line in duplicate_id_lines and "xs:ID" in issue.message:
                continue
            schema = "SCORM 1.2" if version == "1.2" else "SCORM 2004 4th Edition"
            self.report.add(
                Location(self.where, issue.line, issue.column),
                f"{schema} XSD: {issue.message}",
                "scorm-xsd",
            )

    # ---- identifiers

    def check_identifiers(self, root: etree._Element) -> set[int]:
        """Identifiers must be unique in the manifest; returns the lines of the duplicates."""
        seen: dict[str, etree._Element] = {}
        lines: set[int] = set()
        for el in _iter_named(root, "organization", "item", "resource"):
            ident = _ident(el, "identifier")
            if ident is None:
                continue
            if ident in seen:
                first = seen[ident]
                self.add(
                    el,
                    f"duplicate identifier {ident!r} on <{_local(el)}> "
                    f"(first used on <{_local(first)}> at line {first.sourceline})",
                    "scorm-duplicate-id",
                )
                lines.add(el.sourceline or 0)
            else:
                seen[ident] = el
        return lines

    # ---- resources and files

    def check_resources(self, root: etree._Element) -> dict[str, etree._Element]:
        resources: dict[str, etree._Element] = {}
        all_ids = {_ident(r, "identifier") for r in _iter_named(root, "resource")}
        for res_list in _children(root, "resources"):
            for res in _children(res_list, "resource"):
                ident = _ident(res, "identifier")
                if ident is not None and ident not in resources:
                    resources[ident] = res
                folder = _xml_base(root, res_list, res)
                done: set[str] = set()
                # An xml:base that is a URL makes every href remote: the URL scan reports the xml:base itself.
                if not _is_url(folder):
                    for el in [res, *_children(res, "file")]:
                        if el.get("href") is not None:
                            self.check_ref(el, folder, el.get("href", ""), done)
                for dep in _children(res, "dependency"):
                    ref = _ident(dep, "identifierref")
                    if ref is not None and ref not in all_ids:
                        self.add(
                            dep, f"<dependency identifierref={ref!r}> names no resource", "scorm-dangling-ref"
                        )
        for loc in _iter_named(root, "location"):
            if etree.QName(loc).namespace and "adlnet.org" in (etree.QName(loc).namespace or ""):
                self.check_ref(loc, "", (loc.text or "").strip(), set())
        return resources

    def check_ref(self, el: etree._Element, folder: str, href: str, done: set[str]) -> None:
        """One file reference, relative to the manifest's folder plus ``folder`` (xml:base): inside the
        package and present. URLs are left to the URL scan."""
        href = href.strip()
        if not href or _is_url(href):
            return
        path = unquote(re.split(r"[?#]", href, maxsplit=1)[0])
        if path.startswith("/") or "\\" in path:
            self.add(
                el,
                f"{href!r} is an absolute or Windows-style path; use a relative path",
                "scorm-path-outside",
            )
            return
        inside = posixpath.normpath(posixpath.join(folder, path))
        if inside == ".." or inside.startswith("../"):
            self.add(el, f"{href!r} resolves outside the package", "scorm-path-outside")
            return
        joined = posixpath.join(self.base, inside) if self.base else inside
        if joined in done:
            return
        done.add(joined)
        self.referenced.add(joined)
        if joined in self.pkg.files:
            return
        near = [f for f in self.pkg.files if f.lower() == joined.lower()]
        hint = f" (the package has {near[0]!r}: names are case-sensitive on the server)" if near else ""
        self.add(el, f"{href!r} is referenced but not in the package{hint}", "scorm-file-missing")

    # ---- organizations, items, launch

    def check_scormtype(self, res: etree._Element, item: etree._Element, version: str | None) -> None:
        """A launched resource needs its version's spelling: 1.2 adlcp:scormtype, 2004 adlcp:scormType."""
        if version is None:  # unknown version: any spelling will do
            attr = _attr_any_case(res, "scormtype") or "scormType"
        else:
            attr = f"{{{ADLCP_12}}}scormtype" if version == "1.2" else f"{{{ADLCP_2004}}}scormType"
        kind = res.get(attr)
        if kind in {"sco", "asset"}:
            return
        launched = f"resource {res.get('identifier')!r} is launched by item {item.get('identifier')!r} but"
        if kind is not None:
            return  # a value outside the enumeration: the XSD reports it
        variant = _attr_any_case(res, "scormtype")
        if variant is None:
            spelling = "adlcp:scormtype" if version == "1.2" else "adlcp:scormType"
            self.add(res, f"{launched} has no {spelling} ('sco' or 'asset')", "scorm-scormtype")
        elif version != "1.2":
            # The 1.2 XSD rejects a misspelling itself; the 2004 one lets it through (lax wildcard).
            self.add(
                res,
                f"{launched} its {etree.QName(variant).localname!r} attribute is not SCORM 2004's "
                "adlcp:scormType (namespace http://www.adlnet.org/xsd/adlcp_v1p3, capital T)",
                "scorm-scormtype",
            )

    def check_organizations(
        self, root: etree._Element, resources: dict[str, etree._Element], version: str | None
    ) -> None:
        orgs_el = next(iter(_children(root, "organizations")), None)
        orgs = _children(orgs_el, "organization") if orgs_el is not None else []
        launched: set[str] = set()
        for item in _iter_named(root, "item"):
            ref = _ident(item, "identifierref")
            if ref is None:
                continue
            res = resources.get(ref)
            if res is None:
                self.add(item, f"<item identifierref={ref!r}> names no resource", "scorm-dangling-ref")
                continue
            if ref in launched:
                continue
            launched.add(ref)
            self.check_scormtype(res, item, version)
            if res.get("href") is None:
                self.add(res, f"resource {ref!r} is launched by an item but has no href", "scorm-no-launch")
        if not orgs:
            self.add(
                orgs_el if orgs_el is not None else root,
                "no <organization>: LMSs need one to build the table of contents",
                "scorm-no-organization",
            )
            return
        default = _ident(orgs_el, "default") if orgs_el is not None else None
        org = orgs[0]
        if default is not None:
            match = [o for o in orgs if _ident(o, "identifier") == default]
            if not match:
                self.add(
                    orgs_el, f"default organization {default!r} does not exist", "scorm-default-organization"
                )
            else:
                org = match[0]
        launch_item = next(
            (i for i in _iter_named(org, "item") if _ident(i, "identifierref") in resources), None
        )
        if launch_item is None:
            self.add(org, "the default organization has no item that launches a resource", "scorm-no-launch")
            return
        launch = resources[_ident(launch_item, "identifierref") or ""]
        first = next((r for r in _iter_named(root, "resource") if r.get("href") is not None), None)
        if first is not None and launch.get("href") is not None and first is not launch:
            self.add(
                first,
                f"Open edX's SCORM player launches the first <resource href> ({first.get('href')!r}), "
                f"but the default organization starts with {launch.get('href')!r}; put resource "
                f"{launch.get('identifier')!r} first",
                "scorm-openedx-launch",
                warn=True,
            )

    def check_mastery(self, root: etree._Element) -> None:
        for el in _iter_named(root, "masteryscore"):
            text = (el.text or "").strip()
            try:
                value = float(text)
            except ValueError:
                value = -1.0
            if not 0 <= value <= 100:
                self.add(
                    el, f"adlcp:masteryscore {text!r} must be a number from 0 to 100", "scorm-mastery-score"
                )

    # ---- network URLs in the manifest

    def check_manifest_urls(self, root: etree._Element) -> None:
        """URLs the LMS loads: resource/file ``href``, ``xml:base`` and ``adlcp:location``. URLs elsewhere
        (namespaces, schemaLocation, objective ids, LOM metadata) are names, never fetched."""
        for el in root.iter(etree.Element):
            for key, value in el.attrib.items():
                if "//" not in value:  # cheap test first: no network URL without '//'
                    continue
                if (etree.QName(key).localname == "href" or key == XML_BASE) and _NET_RE.fullmatch(
                    value.strip()
                ):
                    name = "xml:base" if key == XML_BASE else "href"
                    self.flag_url(el, value.strip(), f"<{_local(el)} {name}>")
            if _local(el) == "location" and "adlnet.org" in (etree.QName(el).namespace or ""):
                text = (el.text or "").strip()
                if _NET_RE.fullmatch(text):
                    self.flag_url(el, text, "<adlcp:location>")

    def flag_url(self, el: etree._Element, url: str, where: str) -> None:
        if self.offline:
            message = f"{where} loads {url} from the network: it fails offline, bundle the file instead"
        else:
            message = (
                f"{where} loads {url} from the network: the package needs internet access (see --offline)"
            )
        self.add(el, message, "scorm-network-url", warn=not self.offline)


def _xml_base(*els: etree._Element) -> str:
    """The folder a resource's hrefs are relative to: xml:base of manifest, <resources> and <resource>."""
    folder = ""
    for el in els:
        base = el.get(XML_BASE)
        if base:
            folder = posixpath.join(folder, unquote(base))
    return folder


# --------------------------------------------------------------------------------------------------------


def _find_manifest(pkg: _Package, report: Report) -> str | None:
    """The manifest path; a nested one is reported (the classic "blank page") and used for further checks."""
    if MANIFEST in pkg.files:
        return MANIFEST
    candidates = sorted(
        (f for f in pkg.files if posixpath.basename(f).lower() == MANIFEST),
        key=lambda f: (f.count("/"), f),
    )
    if not candidates:
        report.add(Location(MANIFEST), "no imsmanifest.xml in the package", "scorm-manifest-missing")
        return None
    found = candidates[0]
    if "/" not in found:
        report.add(
            Location(found),
            f"the manifest is named {found!r}; it must be exactly 'imsmanifest.xml' "
            "(names are case-sensitive)",
            "scorm-manifest-missing",
        )
    else:
        report.add(
            Location(found),
            "imsmanifest.xml is inside a folder, not at the package root: LMSs will not find it (the classic "
            "SCORM 'blank page'); zip the contents of the folder, not the folder itself",
            "scorm-manifest-nested",
        )
    return found


def validate_scorm(path: Path, offline: bool = False) -> Report:
    """Check a SCORM 1.2/2004 package (a .zip or an unpacked folder); every problem goes into the Report.

    ``offline``: the package must play with no network at all, so a network fetch is an error (else a
    warning) and a link leaving the package is a warning (else not reported)."""
    path = Path(path)
    report = Report()
    if path.is_dir():
        pkg: _Package | None = _open_folder(path, report)
    elif path.is_file():
        pkg = _open_zip(path, report)
    else:
        raise UsageError(f"{path}: no such file or folder")
    if pkg is None:
        return report
    try:
        _validate_package(pkg, report, offline)
    finally:
        pkg.close()
    return report


def _validate_package(pkg: _Package, report: Report, offline: bool) -> None:
    manifest = _find_manifest(pkg, report)
    scanned = [rel for rel in pkg.files if posixpath.splitext(rel)[1].lower() in SCAN_SUFFIXES]
    for rel, data in pkg.read_many(scanned, MAX_SCAN_BYTES):
        if isinstance(data, Exception):
            report.add(Location(rel), f"cannot read this file: {data}", "scorm-package-unreadable")
        elif data is None:
            report.add(
                Location(rel),
                f"file larger than {MAX_SCAN_BYTES // (1024 * 1024)} MB, not checked",
                "scorm-file-too-large",
                severity=Severity.WARNING,
            )
        elif b"\x00" not in data:
            _scan_text_file(rel, data, report, offline)
    if manifest is None:
        return
    data = _read(pkg, manifest, MAX_MANIFEST_BYTES, report, Severity.ERROR)
    if data is None:
        return
    try:
        tree = parse_xml_bytes(data, manifest)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else 0)
        report.add(Location(manifest, line or 1), f"invalid XML: {exc.msg}", "scorm-xml-invalid")
        return
    base = posixpath.dirname(manifest)
    check = _ManifestCheck(pkg, base, manifest, report, offline)
    check.run(tree)
    _check_unlisted(pkg, base, manifest, check.referenced, report)


def _read(pkg: _Package, rel: str, limit: int, report: Report, severity: Severity) -> bytes | None:
    try:
        data = pkg.read(rel, limit)
    except _READ_ERRORS as exc:
        report.add(Location(rel), f"cannot read this file: {exc}", "scorm-package-unreadable")
        return None
    if data is None:
        report.add(
            Location(rel),
            f"file larger than {limit // (1024 * 1024)} MB, not checked",
            "scorm-file-too-large",
            severity=severity,
        )
    return data


def _check_unlisted(pkg: _Package, base: str, manifest: str, referenced: set[str], report: Report) -> None:
    prefix = f"{base}/" if base else ""
    unlisted = [
        f
        for f in sorted(pkg.files)
        if f.startswith(prefix)
        and f != manifest
        and f not in referenced
        and not NEVER_LISTED.search(f[len(prefix) :])
    ]
    for rel in unlisted[:MAX_UNLISTED_REPORTED]:
        report.add(
            Location(rel),
            "file not listed in any <resource> of the manifest (some LMSs do not serve unlisted files)",
            "scorm-file-unlisted",
            severity=Severity.WARNING,
        )
    if len(unlisted) > MAX_UNLISTED_REPORTED:
        report.add(
            Location(manifest),
            f"{len(unlisted) - MAX_UNLISTED_REPORTED} more files are not listed in any <resource>",
            "scorm-file-unlisted",
            severity=Severity.WARNING,
        )
