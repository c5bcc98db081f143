"""Open edX's own rules for reading OLX, shared by the OLX validator and the OLX importer.

Each rule follows the platform's source, so that the two readers agree with each other and with Studio:

* :func:`is_pointer` - edx-platform ``xmodule/xml_block.py`` ``is_pointer_tag``: no child nodes at all
  (a comment is a child), no text, and exactly ``url_name`` (a course: ``url_name``, ``org``, ``course``);
* :func:`pointer_path` - ``XmlMixin.load_definition``: ``TAG/URL_NAME.xml``, a ``:`` in the url_name
  being a sub-folder;
* :func:`asset_name` - how Studio stores every file of ``static/`` (edx-platform
  ``xmodule/modulestore/xml_importer.py`` ``import_static_content`` -> ``xmodule/contentstore/content.py``
  ``StaticContent.compute_location``: ``/`` becomes ``_``, then opaque-keys ``AssetLocator.
  clean_keeping_underscores`` replaces every character outside ``[\\w.%-]`` with ``_``). A ``/static/X``
  link is looked up the same way (``StaticContent.get_asset_key_from_path``), so ``/static/a photo.png``
  and ``/static/a_photo.png`` both reach the file ``static/a photo.png``;
* :data:`STOCK` - the block types of a stock installation and the package of each bundled XBlock
  (``openedx_blocks.json``, with its sources);
* :data:`PLATFORM_DEFAULTS` - settings the platform fills in when a course leaves them out.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

__all__ = [
    "EMBED_MANIFEST",
    "EMBED_SOURCE",
    "LM_NS",
    "LM_PREFIX",
    "PLATFORM_DEFAULTS",
    "STOCK",
    "BlockStatus",
    "Stock",
    "asset_name",
    "asset_names",
    "asset_segment",
    "block_status",
    "grading_digest",
    "installed_xblocks",
    "is_pointer",
    "lm",
    "olx_digest",
    "pointer_path",
    "static_link_asset",
]

# Fields of the course source that OLX has no place for travel as attributes in this namespace. Studio keeps
# attributes it has no field for in the block's ``xml_attributes`` and writes them back on export
# (edx-platform xmodule/xml_block.py XmlMixin.load_metadata / add_xml_to_node), so they survive a trip
# through Studio too. No dots in the URI: the key is stored in a MongoDB document.
LM_NS = "urn:x-localmooc:olx"
LM_PREFIX = "localmooc"


def lm(name: str) -> str:
    """The Clark name (``{urn:x-localmooc:olx}name``) of one of the toolkit's OLX attributes."""
    return f"{{{LM_NS}}}{name}"


# opaque_keys.edx.locator.BlockLocatorBase.DEPRECATED_INVALID_CHARS, used by clean_keeping_underscores.
_ASSET_INVALID = re.compile(r"[^\w.%-]", re.UNICODE)

# Settings a block may leave out because the platform supplies a value (field defaults in edx-platform):
# DiscussionXBlock discussion_id (a hash of the usage id), discussion_category ("Week 1"),
# discussion_target ("Topic-Level Student-Visible Label"); CourseFields end (None: the course never
# ends) and course_image ("images_course_image.jpg").
PLATFORM_DEFAULTS: dict[str, frozenset[str]] = {
    "discussion": frozenset({"discussion_id", "discussion_category", "discussion_target"}),
    "course": frozenset({"end", "course_image"}),
}


# The course source the OLX export embeds (see docs/export-olx.md): Studio ignores this folder.
EMBED_DIR = "localmooc"
EMBED_SOURCE = f"{EMBED_DIR}/source.tar.gz"
EMBED_MANIFEST = f"{EMBED_DIR}/manifest.json"


def grading_digest(policy: object) -> str:
    """sha256 of a grading policy as canonical JSON: the fingerprint an import records of the policy the
    OLX export would make from the imported source (see docs/import-olx.md, "Grading policy")."""
    text = json.dumps(policy, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def olx_digest(members: Iterable[tuple[str, bytes]]) -> str:
    """sha256 over (name, sha256 of content) of the OLX files an embedded source stands for.

    Only files outside static/ and the embed folder count: the embedded source replaces exactly those,
    static/ always comes from the archive itself.
    """
    return olx_digest_hashed((name, hashlib.sha256(data).hexdigest()) for name, data in members)


def olx_digest_hashed(members: Iterable[tuple[str, str]]) -> str:
    """:func:`olx_digest` from (name, sha256 hex digest of content): for files hashed while streamed."""
    lines = sorted(
        f"{name}\t{digest}\n" for name, digest in members if not name.startswith(("static/", f"{EMBED_DIR}/"))
    )
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def asset_name(path: str) -> str:
    """The name under which Studio stores ``static/<path>`` and serves it as ``/static/<name>``."""
    return _ASSET_INVALID.sub("_", path.replace("/", "_"))


# The same characters, and NUL: asset_names cleans many names at once, joined by NULs.
_ASSET_INVALID_BUT_NUL = re.compile(r"[^\w.%\x00-]", re.UNICODE)


def asset_names(paths: list[str]) -> list[str]:
    """:func:`asset_name` of each path, by one pass of the expression over them all (static/ of an
    asset-heavy course holds thousands of files)."""
    joined = "\x00".join(paths)
    if not paths or joined.count("\x00") != len(paths) - 1:  # a NUL inside a name (no file has one)
        return [asset_name(p) for p in paths]
    return _ASSET_INVALID_BUT_NUL.sub("_", joined).split("\x00")


def asset_segment(name: str) -> str:
    """One path segment cleaned as :func:`asset_name` cleans it (``a photo.png`` -> ``a_photo.png``)."""
    return _ASSET_INVALID.sub("_", name)


def static_link_asset(link: str) -> str:
    """The asset a ``/static/...`` link reaches on the platform (query and fragment cut off, not unquoted)."""
    path = link[len("/static/") :] if link.startswith("/static/") else link
    path = path.split("?", 1)[0].split("#", 1)[0]
    return asset_name(path)


_COURSE_POINTER_ATTRS = frozenset({"url_name", "course", "org"})


def is_pointer(node: etree._Element) -> bool:
    """edx-platform's ``is_pointer_tag``: exactly the pointer attributes, no child node, no text."""
    # Cheapest test first: the readers call this on every element they load, most of which have children.
    if len(node):
        return False
    text = node.text
    if text and text.strip():
        return False
    keys = node.keys()  # an element's attribute names are distinct
    if node.tag == "course":
        return len(keys) == 3 and _COURSE_POINTER_ATTRS.issuperset(keys)
    return keys == ["url_name"]


def pointer_path(tag: str, url_name: str) -> str | None:
    """``TAG/URL_NAME.xml`` (``:`` is a sub-folder); None when the url_name would leave the folder."""
    if (  # the common url_name, one plain segment, without the split and the generator below
        ":" not in url_name
        and "/" not in url_name
        and "\\" not in url_name
        and "\x00" not in url_name
        and url_name not in ("", ".", "..")
    ):
        return f"{tag}/{url_name}.xml"
    parts = url_name.split(":")
    if any(p in ("", ".", "..") or "/" in p or "\\" in p or "\x00" in p for p in parts):
        return None
    return f"{tag}/{'/'.join(parts)}.xml"


@dataclass(frozen=True)
class Stock:
    platform: frozenset[str]  # edx-platform's own xblock.v1 entry points
    bundled: dict[str, str]  # tag -> PyPI package installed with the platform by default
    aliases: dict[str, str]  # tags the platform reads as another block type
    course_children: frozenset[str]  # non-block children of <course> Studio writes (wiki)

    def package(self, tag: str) -> str | None:
        return self.bundled.get(tag)

    def __contains__(self, tag: object) -> bool:
        return tag in self.platform or tag in self.bundled


@functools.cache
def _load_stock() -> Stock:
    data = json.loads((Path(__file__).parent / "openedx_blocks.json").read_text(encoding="utf-8"))
    return Stock(
        platform=frozenset(data["platform"]),
        bundled=dict(data["bundled"]),
        aliases=dict(data["aliases"]),
        course_children=frozenset(data["course_children"]),
    )


STOCK = _load_stock()


@functools.cache
def installed_xblocks() -> frozenset[str]:
    """Every installed ``xblock.v1`` entry point name (read once per process)."""
    return frozenset(ep.name for ep in importlib.metadata.entry_points(group="xblock.v1"))


@dataclass(frozen=True)
class BlockStatus:
    """What a stock Open edX and this machine make of a block type."""

    known: bool  # a stock installation or the course's advanced_modules provides it
    installed: bool  # an xblock.v1 entry point of that name is installed here
    package: str | None  # the PyPI package that provides it, when known

    @property
    def message(self) -> str:
        if self.installed:
            return ""
        where = f"pip install {self.package}" if self.package else "its XBlock package"
        return f"not installed here ({where}); the platform renders it, this toolkit keeps it verbatim"


def block_status(tag: str, advanced: frozenset[str] | set[str]) -> BlockStatus:
    """Is ``tag`` a block type the platform will load (stock or declared in ``advanced_modules``)?"""
    installed = tag in installed_xblocks()
    stock = tag in STOCK
    return BlockStatus(
        stock or tag in advanced or installed, installed or tag in STOCK.platform, STOCK.package(tag)
    )
