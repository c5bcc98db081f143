"""``open_package``: what a course source, OLX course or SCORM package holds, read in place.

Archives are read member by member from the zip or tar (nothing is extracted to disk), every XML file
through the safe parser. Only the files that describe the course are read (XML and JSON, each bounded),
so a package of gigabytes of video is opened as quickly as a small one.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from lxml import etree

from .api import OutlineEntry, PackageInfo
from .errors import InvalidInputError, Location, Problem, UsageError, display_path
from .safe import parse_xml_root

MAX_MEMBER = 16 * 1024 * 1024  # an XML/JSON file bigger than this is not a course description
MAX_TOTAL = 256 * 1024 * 1024  # all described files together
_WANTED = (".xml", ".json")


class Members:
    """The descriptive files of a folder or archive, by POSIX path relative to its root."""

    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.data: dict[str, bytes] = {}
        self.names: set[str] = set()  # every member, described or not
        self.problems: list[Problem] = []
        self.total = 0  # bytes of the described files kept

    def keep(self, name: str, size: int, read: Any) -> None:
        name = str(PurePosixPath(name.lstrip("/")))
        self.names.add(name)
        if not name.lower().endswith(_WANTED):
            return
        if size > MAX_MEMBER or self.total + size > MAX_TOTAL:
            self.problem(
                name, f"{size:,} bytes: too large to read as a course description", "package-too-large"
            )
            return
        data = read()
        if data is not None:
            self.data[name] = data[: MAX_MEMBER + 1]
            self.total += len(self.data[name])

    def problem(self, member: str, message: str, code: str, line: int = 0) -> None:
        self.problems.append(
            Problem(Location(f"{self.shown}/{member}" if member else self.shown, line), message, code)
        )

    def root_with(self, filename: str) -> str | None:
        """The folder holding ``filename``: the root, or a single top-level folder (Studio's `course/`)."""
        if filename in self.names:
            return ""
        tops = sorted(n for n in self.names if n.count("/") == 1 and n.endswith("/" + filename))
        return tops[0].rsplit("/", 1)[0] + "/" if tops else None

    def xml(self, name: str) -> etree._Element | None:
        data = self.data.get(name)
        if data is None:
            return None
        try:
            return parse_xml_root(data, f"{self.shown}/{name}")
        except etree.XMLSyntaxError as exc:
            self.problem(name, f"not well-formed XML: {exc.msg}", "xml-syntax", exc.lineno or 0)
            return None


def read_members(path: Path) -> Members:
    """The folder's or archive's descriptive files, read in place."""
    shown = display_path(path)
    members = Members(shown)
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and not p.is_symlink():
                rel = p.relative_to(path).as_posix()
                members.keep(rel, p.stat().st_size, p.read_bytes)
        return members
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if not info.is_dir():
                        members.keep(info.filename, info.file_size, lambda i=info: zf.read(i))
            return members
        if tarfile.is_tarfile(path):
            # One pass over the stream: a compressed tar has no random access worth having.
            with tarfile.open(path, "r:*") as tf:
                for member in tf:
                    if member.isfile():
                        members.keep(member.name, member.size, lambda m=member: _tar_read(tf, m))
            return members
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise InvalidInputError(f"{shown}: cannot read the archive: {exc}") from None
    raise UsageError(f"{shown}: not a folder, .zip or .tar.gz archive")


def _tar_read(tf: tarfile.TarFile, member: tarfile.TarInfo) -> bytes | None:
    f = tf.extractfile(member)
    return f.read() if f is not None else None


def open_package(path: Path) -> PackageInfo:
    if not path.exists():
        raise UsageError(f"{display_path(path)}: no such file or folder")
    if path.is_file() and path.name in ("course.yaml", "course.xml", "imsmanifest.xml"):
        path = path.parent
    if path.is_dir() and (path / "course.yaml").is_file():
        return _source(path)
    members = read_members(path)
    scorm_root = members.root_with("imsmanifest.xml")
    if scorm_root is not None:
        return _scorm(path, members, scorm_root)
    olx_root = members.root_with("course.xml")
    if olx_root is not None:
        return _olx(path, members, olx_root)
    raise UsageError(
        f"{display_path(path)}: not a course folder (no course.yaml), an OLX course (no course.xml) "
        "or a SCORM package (no imsmanifest.xml)"
    )


# --------------------------------------------------------------------------------------------------------
# Course source

_SOURCE_META = ("id", "org", "run", "language", "category", "start", "end", "hours", "pass_threshold")


def _source(path: Path) -> PackageInfo:
    from .source.checks import check
    from .source.reader import read_source

    source, report = read_source(path)
    if source is None:
        return PackageInfo(path, "source", "", {}, [], report.sorted())
    root = check(source, report)
    d = source.data
    meta = {k: str(d[k]) for k in _SOURCE_META if k in d and d[k] is not None}

    def entry(node: Any) -> OutlineEntry:
        kind = node.data.get("type", "block") if node.kind == "block" else node.kind
        return OutlineEntry(str(kind), node.id, node.title, [entry(c) for c in node.children])

    return PackageInfo(path, "source", root.title, meta, [entry(c) for c in root.children], report.sorted())


# --------------------------------------------------------------------------------------------------------
# OLX

_CONTAINERS = ("chapter", "sequential", "vertical")


def _olx(path: Path, m: Members, root: str) -> PackageInfo:
    course_xml = m.xml(root + "course.xml")
    if course_xml is None:
        return PackageInfo(path, "olx", "", {}, [], m.problems)
    meta = {k: course_xml.get(k, "") for k in ("org", "course", "url_name")}
    run = meta.pop("url_name")
    meta["run"] = run
    course = _resolve(m, root, course_xml, "course.xml")
    title = (course.get("display_name") if course is not None else None) or ""
    policy = m.data.get(f"{root}policies/{run}/policy.json")
    if policy is not None and not title:
        import json

        try:
            title = json.loads(policy).get(f"course/{run}", {}).get("display_name", "")
        except (ValueError, AttributeError):
            m.problem(f"policies/{run}/policy.json", "not valid JSON", "json-syntax")
    for key in ("language", "start", "end"):
        if course is not None and course.get(key):
            meta[key] = course.get(key, "")
    outline = [_olx_entry(m, root, child, 1) for child in course] if course is not None else []
    return PackageInfo(path, "olx", title, meta, [e for e in outline if e is not None], m.problems)


def _resolve(m: Members, root: str, el: etree._Element, where: str) -> etree._Element | None:
    """A pointer element (only url_name, no children) -> the element in ``<tag>/<url_name>.xml``."""
    tag = el.tag if isinstance(el.tag, str) else ""
    url_name = el.get("url_name")
    if not url_name or len(el) or set(el.attrib) - {"url_name", "org", "course"}:
        return el
    name = f"{tag}/{url_name}.xml"
    if root + name not in m.data:
        if root + name in m.names:
            return None  # there but not read (too large): reported already
        m.problem(
            where, f"<{tag} url_name={url_name!r}> points to {name}, which is missing", "olx-missing-file"
        )
        return None
    return m.xml(root + name)


def _olx_entry(m: Members, root: str, el: etree._Element, depth: int) -> OutlineEntry | None:
    if not isinstance(el.tag, str) or el.tag in ("wiki",):
        return None
    resolved = _resolve(m, root, el, f"{el.tag}s")
    if resolved is None:
        return None
    entry = OutlineEntry(el.tag, el.get("url_name", ""), resolved.get("display_name", ""))
    if el.tag in _CONTAINERS and depth < 8:
        entry.children = [e for c in resolved if (e := _olx_entry(m, root, c, depth + 1)) is not None]
    return entry


# --------------------------------------------------------------------------------------------------------
# SCORM


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _scorm(path: Path, m: Members, root: str) -> PackageInfo:
    manifest = m.xml(root + "imsmanifest.xml")
    if manifest is None:
        return PackageInfo(path, "scorm", "", {}, [], m.problems)
    meta: dict[str, str] = {"identifier": manifest.get("identifier", "")}
    for el in manifest.iter():
        if _local(el) == "schemaversion" and el.text:
            meta["schemaversion"] = el.text.strip()
            break
    orgs = next((c for c in manifest if _local(c) == "organizations"), None)
    org = None
    if orgs is not None:
        wanted = orgs.get("default")
        candidates = [o for o in orgs if _local(o) == "organization"]
        org = next(
            (o for o in candidates if o.get("identifier") == wanted), candidates[0] if candidates else None
        )
    title = _title(org) if org is not None else ""
    outline = [_scorm_item(i) for i in org if _local(i) == "item"] if org is not None else []
    if org is None:
        m.problem(
            "imsmanifest.xml", "no <organization>: an LMS has nothing to launch", "scorm-no-organization"
        )
    for res in manifest.iter():
        if _local(res) != "resource":
            continue
        for href in [res.get("href"), *(f.get("href") for f in res if _local(f) == "file")]:
            if href and "://" not in href:
                member = root + href.split("#", 1)[0].split("?", 1)[0]
                from urllib.parse import unquote

                if unquote(member) not in m.names:
                    m.problem(
                        "imsmanifest.xml",
                        f"{href} is listed but not in the package",
                        "scorm-file-missing",
                        res.sourceline or 0,
                    )
    return PackageInfo(path, "scorm", title, meta, outline, m.problems)


def _title(el: etree._Element) -> str:
    for child in el:
        if _local(child) == "title":
            return (child.text or "").strip()
    return ""


def _scorm_item(el: etree._Element) -> OutlineEntry:
    return OutlineEntry(
        "item", el.get("identifier", ""), _title(el), [_scorm_item(c) for c in el if _local(c) == "item"]
    )
