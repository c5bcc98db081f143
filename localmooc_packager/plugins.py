"""What is installed: export formats (``localmooc.exporters``) and block types (``xblock.v1``), each with the
distribution that brought it, so that "my XBlock does not show up" has an answer.

A plug-in that fails to load is listed with its error and its package; it never hides the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importlib.metadata is imported when a listing is asked for, not at start-up
    from importlib.metadata import EntryPoint

# Block types of well-known third-party XBlocks -> the pip package that provides them (names checked on
# PyPI). `validate` suggests the package when a course uses one of these types and it is not installed.
KNOWN_BLOCK_PACKAGES = {
    "done": "done-xblock",
    "drag-and-drop-v2": "xblock-drag-and-drop-v2",
    "flashcards": "localmooc-flashcards",
    "freetextresponse": "xblock-free-text-response",
    "google-calendar": "xblock-google-drive",
    "google-document": "xblock-google-drive",
    "h5pxblock": "h5p-xblock",
    "lti_consumer": "lti-consumer-xblock",
    "openassessment": "ora2",
    "poll": "xblock-poll",
    "qualtricssurvey": "xblock-qualtrics-survey",
    "recommender": "recommender-xblock",
    "scorm": "openedx-scorm-xblock",
    "submit-and-compare": "xblock-submit-and-compare",
    "survey": "xblock-poll",
    "ubcpi": "ubcpi-xblock",
}


def package_of(ep: EntryPoint) -> str:
    """``name version`` of the distribution that declares ``ep`` (or its module when unknown)."""
    dist = ep.dist
    if dist is None:
        return ep.module
    return f"{dist.metadata['Name']} {dist.version}"


@dataclass(frozen=True)
class FormatInfo:
    """One export format: its name, what it writes, its package, and the load error of a broken plug-in."""

    name: str
    description: str
    package: str
    error: str | None = None


def list_formats() -> list[FormatInfo]:
    """Every ``localmooc.exporters`` entry point, in name order; broken ones carry their error."""
    from importlib.metadata import entry_points

    from . import exporters

    working, broken = exporters.available(), exporters.broken()
    out = []
    for ep in sorted(entry_points(group=exporters.GROUP), key=lambda e: e.name):
        if ep.name in broken:
            out.append(FormatInfo(ep.name, "", package_of(ep), broken[ep.name]))
        elif ep.name in working:
            out.append(FormatInfo(ep.name, str(working[ep.name].description), package_of(ep)))
    return out


@dataclass(frozen=True)
class FieldInfo:
    name: str
    scope: str  # content | settings | user_state | preferences | user_info | user_state_summary | ...
    type: str  # the XBlock field class: String, Integer, List, ...
    help: str = ""

    @property
    def in_course(self) -> bool:
        """Content and settings fields are written in a course; the others are learners' data."""
        return self.scope in ("content", "settings")


@dataclass(frozen=True)
class BlockInfo:
    """One installed block type: the `type:` a course uses, its class, package, fields and static rendering."""

    type: str
    target: str  # module:Class
    package: str
    fields: list[FieldInfo] = field(default_factory=list)
    static: bool = False  # implements the static-rendering protocol (usable in SCORM packages)
    builtin: bool = False  # one of this toolkit's own blocks (lm-*), used through html/video/quiz/olx
    error: str | None = None


def list_blocks() -> list[BlockInfo]:
    """Every ``xblock.v1`` entry point, in name order, with its fields; a block that fails to load is
    listed with the error."""
    from .tree import xblock_entry_points

    out = []
    for name, eps in sorted(xblock_entry_points().items()):
        for ep in eps:
            out.append(_block_info(name, ep))
    return out


def _block_info(name: str, ep: EntryPoint) -> BlockInfo:
    from xblock.core import XBlock

    builtin = name.startswith("lm-")
    try:
        loaded = ep.load()
        if not (isinstance(loaded, type) and issubclass(loaded, XBlock)):
            raise TypeError(f"{ep.value} is not an XBlock class")
        cls: Any = loaded  # XBlock has no type hints
        fields = [
            FieldInfo(n, scope_name(f.scope), type(f).__name__, str(getattr(f, "help", "") or ""))
            for n, f in sorted(cls.fields.items())
        ]
    except Exception as exc:  # a broken block must not hide the others
        return BlockInfo(
            name, ep.value, package_of(ep), builtin=builtin, error=f"{type(exc).__name__}: {exc}"
        )
    static = callable(getattr(cls, "static_view", None))
    return BlockInfo(name, ep.value, package_of(ep), fields, static, builtin)


def scope_name(scope: object) -> str:
    """XBlock's Scope objects print as ``Scope(user=..., block=...)``; the named ones have a short name."""
    from xblock.fields import Scope

    for known in (
        "content",
        "settings",
        "user_state",
        "preferences",
        "user_info",
        "user_state_summary",
        "children",
        "parent",
    ):
        if scope == getattr(Scope, known):
            return known
    return str(scope)


def missing_block_hint(block_type: str) -> str:
    """A sentence telling what to install for an unknown `type:`, or '' when the type is not known."""
    package = KNOWN_BLOCK_PACKAGES.get(block_type)
    if not package:
        return ""
    install = _INSTALL.get(package, f"pip install {package}")
    return f"; the pip package {package} provides it ({install})"


# Packages that are not on PyPI: how to install them instead.
_INSTALL = {"localmooc-flashcards": "pip install -e examples/flashcards from the localmooc-packager sources"}
