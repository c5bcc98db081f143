"""Validate any SCORM package (ours or a third party's), given as a .zip or as an unpacked folder.

``validate_scorm(path) -> Report`` collects every problem it can find in one run; see docs/validate-scorm.md
for the list of checks and their ``scorm-*`` codes. Zips are read in place (nothing is extracted), so a
hostile member name can be reported instead of being written somewhere. Locations are
``Location(<file relative to the package root>, <line>)``; line 0 means "the whole file".
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

from ..errors import Location, Report, Severity, UsageError
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
# Files packages carry without listing them in a resource; never worth a warning.
NEVER_LISTED = re.compile(r"^[^/]+\.(xsd|dtd)$", re.IGNORECASE)


# --------------------------------------------------------------------------------------------------------
# Reading the package: a zip or a folder behind the same small interface


@dataclass
class _Package:
    """Files of the package (posix paths relative to its root) and a way to read one."""

    name: str
    files: dict[str, str] = field(default_factory=dict)  # normalised path -> name in the zip/folder
    _zip: zipfile.ZipFile | None = None
    _root: Path | None = None

    def read(self, path: str, limit: int) -> bytes | None:
        """The file's bytes, or None when it is larger than ``limit``."""
        real = self.files[path]
        if self._zip is not None:
            with self._zip.open(real) as fh:
                data = fh.read(limit + 1)
        else:
            assert self._root is not None
            with (self._root / real).open("rb") as fh:
                data = fh.read(limit + 1)
        return None if len(data) > limit else data

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


_READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError)


def _unsafe_reason(name: str) -> str | None:
    if "\\" in name:
        return "contains a backslash (some unzip tools treat it as a folder separator)"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "contains '..' and would be written outside the package (zip slip)"
    if "\x00" in name:
        return "contains a NUL byte"
    return None


def _open_zip(path: Path, report: Report) -> _Package | None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        report.add(Location(path.name), f"not a readable zip file: {exc}", "scorm-package-unreadable")
        return None
    pkg = _Package(path.name, _zip=zf)
    for info in zf.infolist():
        name = info.filename
        if info.is_dir():
            continue
        reason = _unsafe_reason(name)
        if reason is None and stat.S_ISLNK(info.external_attr >> 16):
            reason = "is a symbolic link"
        if reason:
            report.add(Location(name), f"unsafe member name: {name!r} {reason}", "scorm-unsafe-path")
            continue
        key = posixpath.normpath(name)
        if key in pkg.files:
            report.add(
                Location(name),
                "duplicate member: the zip holds this name twice and tools disagree on which one wins",
                "scorm-duplicate-member",
            )
            continue
        pkg.files[key] = name
    return pkg


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
# Network URL heuristic for .html/.htm/.js/.css/.json files (documented in docs/validate-scorm.md)

_NET = r"(?:[hH][tT][tT][pP][sS]?:)?//[\w\-.~%\[\]:@]+[^\s\"'`<>()\\]*"
_NET_RE = re.compile(_NET)
_TAG_RE = re.compile(r"<([A-Za-z][\w:-]*)\b([^<>]*)>")
_ATTR_RE = re.compile(
    r"(?<![\w:-])((?:data-)?src|href|xlink:href|data|poster|action|background)\s*=\s*"
    r"(?:\\?\"([^\"\\]*)\\?\"|\\?'([^'\\]*)\\?'|([^\s>\"'\\]+))",
    re.IGNORECASE,
)
# Navigation, not a load: works only online but does not break the page.
_LINK_TAGS = {"a", "area", "form"}
_CSS_RES = [
    re.compile(r"url\(\s*[\"']?(" + _NET + r")"),
    re.compile(r"@import\s+[\"'](" + _NET + r")"),
]
_Q = r"[\"'`]"
_JS_RES = [
    re.compile(r"\bfetch\s*\(\s*" + _Q + "(" + _NET + ")"),
    re.compile(r"\.open\s*\(\s*" + _Q + r"[A-Za-z]+" + _Q + r"\s*,\s*" + _Q + "(" + _NET + ")"),
    re.compile(r"\bimport\s*(?:\(\s*)?(?:[\w*${}\s,]+?\s+from\s*)?" + _Q + "(" + _NET + ")"),
    re.compile(r"\bimportScripts\s*\(\s*" + _Q + "(" + _NET + ")"),
    re.compile(r"\.(?:src|href)\s*=\s*" + _Q + "(" + _NET + ")"),
    re.compile(r"\bsetAttribute\s*\(\s*[\"'](?:src|href)[\"']\s*,\s*" + _Q + "(" + _NET + ")"),
    re.compile(r"\bnew\s+(?:WebSocket|EventSource|Worker)\s*\(\s*" + _Q + "((?:wss?:)?" + _NET + ")"),
    re.compile(r"\$\.(?:getScript|getJSON|get|post|ajax)\s*\(\s*" + _Q + "(" + _NET + ")"),
]
_JSON_RES = [re.compile(r"\"_?(?:src|href|url|poster|source)\"\s*:\s*\"(" + _NET + ")", re.IGNORECASE)]
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)


def _is_url(ref: str) -> bool:
    """Has a scheme (http:, data:, javascript:, ...) or is protocol-relative: not a file of the package."""
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", ref)) or ref.startswith("//")


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _blank_comments(text: str) -> str:
    """Drop HTML comments but keep their newlines, so line numbers stay right."""
    return _COMMENT_RE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def _scan_text_file(rel: str, text: str, report: Report) -> None:
    suffix = posixpath.splitext(rel)[1].lower()
    found: dict[tuple[int, str], tuple[str, Severity]] = {}

    def flag(pos: int, url: str, how: str, severity: Severity = Severity.ERROR) -> None:
        key = (_line_of(text, pos), url)
        if key not in found or severity is Severity.ERROR:
            found[key] = (how, severity)

    is_html = suffix in {".html", ".htm", ".xhtml"}
    scan = _blank_comments(text) if is_html else text
    if suffix != ".css":
        # Markup: in pages, and in strings of scripts/JSON that build markup (document.write, innerHTML).
        for tag in _TAG_RE.finditer(scan):
            tag_name = tag.group(1).lower()
            for attr in _ATTR_RE.finditer(tag.group(2)):
                gi = next(i for i in (2, 3, 4) if attr.group(i) is not None)
                value, pos = attr.group(gi), tag.start(2) + attr.start(gi)
                stripped = value.strip()
                if _NET_RE.fullmatch(stripped):
                    if tag_name in _LINK_TAGS:
                        flag(pos, stripped, f"<{tag_name} {attr.group(1)}> link", Severity.WARNING)
                    else:
                        flag(pos, stripped, f"<{tag_name} {attr.group(1)}>")
                elif is_html and _escapes(posixpath.dirname(rel), stripped):
                    report.add(
                        Location(rel, _line_of(text, pos)),
                        f"<{tag_name} {attr.group(1)}={stripped!r}> points outside the package",
                        "scorm-path-outside",
                    )
    patterns: list[tuple[re.Pattern[str], str]] = []
    if suffix == ".css" or is_html:
        patterns += [(p, "CSS url()/@import") for p in _CSS_RES]
    if suffix in {".js", ".mjs"} or is_html:
        patterns += [(p, "script load (fetch/XMLHttpRequest/import/src)") for p in _JS_RES]
    if suffix == ".json":
        patterns += [(p, "JSON src/href/url value") for p in _JSON_RES]
    for pattern, how in patterns:
        for m in pattern.finditer(scan):
            flag(m.start(1), m.group(1), how)
    for (line, url), (how, severity) in sorted(found.items()):
        if severity is Severity.WARNING:
            message = f"{how} to network URL {url}: it works only online"
        else:
            message = (
                f"network URL {url} in {how}: offline LMSs and strict CSPs block it, bundle the file instead"
            )
        report.add(Location(rel, line), message, "scorm-network-url", severity=severity)


def _escapes(folder: str, ref: str) -> bool:
    """A relative reference (no scheme) that climbs above the package root."""
    if not ref or _is_url(ref) or ref.startswith(("#", "/", "{", "$")):
        return False
    path = unquote(re.split(r"[?#]", ref, maxsplit=1)[0])
    joined = posixpath.normpath(posixpath.join(folder, path)) if path else folder
    return joined == ".." or joined.startswith("../")


# --------------------------------------------------------------------------------------------------------
# The manifest


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _attr_any_case(el: etree._Element, name: str) -> str | None:
    """The name of an attribute whose local name matches ``name`` ignoring case and namespace."""
    for key in el.attrib:
        if etree.QName(key).localname.lower() == name.lower():
            return str(key)
    return None


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
            ident = el.get("identifier")
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
        all_ids = {r.get("identifier") for r in _iter_named(root, "resource")}
        for res_list in _children(root, "resources"):
            for res in _children(res_list, "resource"):
                ident = res.get("identifier")
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
                    ref = dep.get("identifierref")
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
            ref = item.get("identifierref")
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
        default = orgs_el.get("default") if orgs_el is not None else None
        org = orgs[0]
        if default is not None:
            match = [o for o in orgs if o.get("identifier") == default]
            if not match:
                self.add(
                    orgs_el, f"default organization {default!r} does not exist", "scorm-default-organization"
                )
            else:
                org = match[0]
        launch_item = next((i for i in _iter_named(org, "item") if i.get("identifierref") in resources), None)
        if launch_item is None:
            self.add(org, "the default organization has no item that launches a resource", "scorm-no-launch")
            return
        launch = resources[launch_item.get("identifierref", "")]
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
        for el in root.iter(etree.Element):
            for key, value in el.attrib.items():
                qn = etree.QName(key)
                if qn.namespace == XSI:
                    continue  # schemaLocation hints name schemas, they are not loaded by players
                if _NET_RE.fullmatch(value.strip()):
                    load = qn.localname == "href" or key == XML_BASE
                    name = "xml:base" if key == XML_BASE else qn.localname
                    self.flag_url(el, value.strip(), f"attribute {name}", load)
            text = (el.text or "").strip()
            if _NET_RE.fullmatch(text):
                load = _local(el) == "location" and "adlnet.org" in (etree.QName(el).namespace or "")
                self.flag_url(el, text, f"<{_local(el)}>", load)

    def flag_url(self, el: etree._Element, url: str, where: str, load: bool) -> None:
        if load:
            message = f"network URL {url} in {where}: offline LMSs cannot load it, bundle the file instead"
        else:
            message = f"network URL {url} in {where} (metadata, not loaded by players)"
        self.add(el, message, "scorm-network-url", warn=not load)


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


def validate_scorm(path: Path) -> Report:
    """Check a SCORM 1.2/2004 package (a .zip or an unpacked folder); every problem goes into the Report."""
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
        _validate_package(pkg, report)
    finally:
        pkg.close()
    return report


def _validate_package(pkg: _Package, report: Report) -> None:
    manifest = _find_manifest(pkg, report)
    for rel in sorted(pkg.files):
        if posixpath.splitext(rel)[1].lower() not in SCAN_SUFFIXES:
            continue
        data = _read(pkg, rel, MAX_SCAN_BYTES, report, Severity.WARNING)
        if data is not None and b"\x00" not in data:
            _scan_text_file(rel, data.decode("utf-8", errors="replace").replace("\r\n", "\n"), report)
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
    check = _ManifestCheck(pkg, base, manifest, report)
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
        and not NEVER_LISTED.match(f[len(prefix) :])
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
