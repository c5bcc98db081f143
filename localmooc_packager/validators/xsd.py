"""Offline XML Schema validation against the official SCORM 1.2, SCORM 2004 4th ed. and cmi5 XSDs.

The XSDs are the project's own copy in ``localmooc_schemas`` (``schemas/xsd``; provenance in its SOURCES.md).
Each SCORM version is validated with its ``_driver.xsd``, which imports every namespace a manifest may use:
lxml ignores ``xsi:schemaLocation`` and IMS CP uses strict wildcards, so the root schema alone is not enough.

SCORM 2004's ``imscp_v1p1.xsd`` imports ``http://www.w3.org/2001/xml.xsd``. Instead of ``XML_CATALOG_FILES``
(libxml2 reads it once, before anything else in the process imports lxml) the schema parser carries an
:class:`etree.Resolver` that maps the remote URLs listed in ``catalog.xml`` to the local files and refuses
every other network URL, and the parser itself has ``no_network=True``. Nothing is ever fetched.

Public API::

    validate_manifest_xml(tree, version) -> list[XsdIssue]     # version: "1.2" | "2004"
    validate_xml(tree, schema) -> list[XsdIssue]               # schema: "scorm12" | "scorm2004" | "cmi5"
    load_schema(schema) -> etree.XMLSchema                     # compiled once per process
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal, NamedTuple

from lxml import etree

from ..errors import LocalMoocError

SchemaName = Literal["scorm12", "scorm2004", "cmi5"]

# Entry point of each schema set, relative to the xsd folder.
SCHEMA_FILES: dict[str, str] = {
    "scorm12": "scorm12/_driver.xsd",
    "scorm2004": "scorm2004/_driver.xsd",
    "cmi5": "cmi5/CourseStructure.xsd",
}

# Clark-notation namespaces shortened to the usual prefixes so that messages stay readable.
_PREFIXES: dict[str, str] = {
    "http://www.imsproject.org/xsd/imscp_rootv1p1p2": "imscp",
    "http://www.adlnet.org/xsd/adlcp_rootv1p2": "adlcp",
    "http://www.imsglobal.org/xsd/imsmd_rootv1p2p1": "imsmd",
    "http://www.imsglobal.org/xsd/imscp_v1p1": "imscp",
    "http://www.adlnet.org/xsd/adlcp_v1p3": "adlcp",
    "http://www.adlnet.org/xsd/adlseq_v1p3": "adlseq",
    "http://www.adlnet.org/xsd/adlnav_v1p3": "adlnav",
    "http://www.imsglobal.org/xsd/imsss": "imsss",
    "http://ltsc.ieee.org/xsd/LOM": "lom",
    "http://www.w3.org/XML/1998/namespace": "xml",
    "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd": "cmi5",
}


class XsdIssue(NamedTuple):
    """One schema violation in the validated document; ``line`` is 1-based (0 when libxml2 has none)."""

    line: int
    column: int
    message: str


class SchemaLoadError(LocalMoocError):
    """The bundled XSDs could not be compiled: an installation problem, not a problem of the input."""


def xsd_dir() -> Path:
    """The folder holding the bundled XSDs (``localmooc_schemas/xsd``)."""
    from localmooc_schemas import schema_dir

    return schema_dir() / "xsd"


def _catalog_map(base: Path) -> dict[str, Path]:
    """Remote URL -> local file, read from catalog.xml so that the mapping has one source of truth."""
    ns = "{urn:oasis:names:tc:entity:xmlns:xml:catalog}"
    root = etree.parse(str(base / "catalog.xml"), etree.XMLParser(no_network=True, resolve_entities=False))
    mapping: dict[str, Path] = {}
    for el in root.getroot():
        if el.tag == f"{ns}system":
            mapping[el.get("systemId", "")] = base / el.get("uri", "")
        elif el.tag == f"{ns}uri":
            mapping[el.get("name", "")] = base / el.get("uri", "")
    return mapping


class LocalSchemaResolver(etree.Resolver):
    """Serves remote schema locations from local copies; ``requested`` records every remote URL asked for."""

    def __init__(self, mapping: dict[str, Path]) -> None:
        super().__init__()
        self.mapping = mapping
        self.requested: list[str] = []

    def resolve(self, system_url: str, public_id: str | None, context: object):  # type: ignore[override]
        if "://" not in system_url:
            return None  # a local file: libxml2 reads it itself
        self.requested.append(system_url)
        local = self.mapping.get(system_url)
        if local is None:
            # Never fall through to libxml2 for a remote URL, even though no_network would stop it too.
            raise SchemaLoadError(f"schema import of {system_url} has no local copy in catalog.xml")
        return self.resolve_filename(str(local), context)


@functools.cache
def schema_resolver() -> LocalSchemaResolver:
    """The resolver shared by every schema compiled in this process (tests inspect ``requested``)."""
    return LocalSchemaResolver(_catalog_map(xsd_dir()))


@functools.cache
def load_schema(schema: SchemaName) -> etree.XMLSchema:
    """Compile one bundled schema set; cached because compiling SCORM 2004 takes a noticeable time."""
    path = xsd_dir() / SCHEMA_FILES[schema]
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    parser.resolvers.add(schema_resolver())
    try:
        return etree.XMLSchema(etree.parse(str(path), parser))
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise SchemaLoadError(f"cannot load the bundled XSD {path}: {exc}") from exc


def short_names(message: str) -> str:
    """Replace ``{namespace}name`` in libxml2 messages with ``prefix:name``."""
    for uri, prefix in _PREFIXES.items():
        message = message.replace("{" + uri + "}", prefix + ":")
    return message


def validate_xml(tree: etree._ElementTree | etree._Element, schema: SchemaName) -> list[XsdIssue]:
    """Validate a parsed document against a bundled schema; returns every violation in document order."""
    xsd = load_schema(schema)
    doc = tree if isinstance(tree, etree._ElementTree) else tree.getroottree()
    if xsd.validate(doc):
        return []
    issues = [XsdIssue(e.line, e.column, short_names(e.message)) for e in xsd.error_log]
    return sorted(issues, key=lambda i: (i.line, i.column))


def validate_manifest_xml(tree: etree._ElementTree | etree._Element, version: str) -> list[XsdIssue]:
    """Validate an imsmanifest.xml: ``version`` "1.2" uses SCORM 1.2, anything starting "2004" the 4th ed."""
    if version == "1.2":
        return validate_xml(tree, "scorm12")
    if version.startswith("2004"):
        return validate_xml(tree, "scorm2004")
    raise ValueError(f"unknown SCORM version {version!r}")
