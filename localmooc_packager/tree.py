"""The block tree: XBlocks held by a small runtime, with where each block came from in the source.

Exporters read a ``CourseTree``; they never see the source files except the assets it lists. The
reference runtime subclasses ``TreeRuntime`` to add learner state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from xblock.core import XBlock, XBlockAside
from xblock.fields import ScopeIds
from xblock.runtime import DictKeyValueStore, KvsFieldData, MemoryIdManager, Runtime

from .errors import InvalidInputError, Location
from .safe import parse_xml_bytes

# Source vocabulary -> xblock.v1 entry point of this toolkit's own blocks.
BUILTIN_TYPES = {
    "course": "lm-course",
    "section": "lm-section",
    "subsection": "lm-subsection",
    "unit": "lm-unit",
    "html": "lm-html",
    "video": "lm-video",
    "quiz": "lm-quiz",
    "olx": "lm-raw",
}
CONTENT_TYPES = ("html", "video", "quiz", "olx")


@cache
def installed_aside_types() -> tuple[str, ...]:
    """Installed XBlock asides. XBlock looks them up in every distribution's entry points on each render
    (~10 ms); they cannot change while the process runs, so once is enough."""
    return tuple(name for name, _ in XBlockAside.load_classes())


class TreeIdManager(MemoryIdManager):
    """Usage ids are the course's own block ids, so URLs, state keys and exports all speak one language."""

    def create_named(self, block_type: str, block_id: str) -> str:
        if block_id in self._usages:
            raise ValueError(f"block id {block_id!r} used twice")
        def_id = f"def-{block_id}"
        self._definitions[def_id] = block_type
        self._usages[block_id] = def_id
        return block_id


class TreeRuntime(Runtime):
    """A runtime that holds a course in memory. Handler URLs point at the reference runtime's routes."""

    def __init__(self, kvs: Any = None, services: dict[str, Any] | None = None) -> None:
        ids = TreeIdManager()
        all_services = {"field-data": KvsFieldData(kvs if kvs is not None else DictKeyValueStore())}
        all_services.update(services or {})
        super().__init__(id_reader=ids, id_generator=ids, services=all_services)
        self.ids = ids
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def new_block(self, block_type: str, block_id: str, user_id: str | None = None) -> XBlock:
        """Create an empty block of ``block_type`` (an xblock.v1 entry point name) under ``block_id``."""
        usage_id = self.ids.create_named(block_type, block_id)
        return self.construct_xblock(block_type, ScopeIds(user_id, block_type, f"def-{block_id}", usage_id))

    def applicable_aside_types(self, block: XBlock) -> list[str]:
        return list(installed_aside_types())

    def handler_url(
        self, block: XBlock, handler_name: str, suffix: str = "", query: str = "", thirdparty: bool = False
    ) -> str:
        url = f"/handler/{block.scope_ids.usage_id}/{handler_name}/"
        if suffix:
            url += suffix
        return url + (f"?{query}" if query else "")

    def resource_url(self, resource: str) -> str:
        return f"/resource/{resource}"

    def local_resource_url(self, block: XBlock, uri: str) -> str:
        return f"/resource/{block.scope_ids.block_type}/{uri}"

    def publish(self, block: XBlock, event_type: str, event_data: dict[str, Any]) -> None:
        self.events.append((str(block.scope_ids.usage_id), event_type, event_data))

    def parse_xml_file(self, fileobj: Any) -> str:
        # XBlock's own parse uses lxml's default parser; ours refuses entities and network access.
        data = fileobj.read() if hasattr(fileobj, "read") else fileobj
        root = parse_xml_bytes(data.encode() if isinstance(data, str) else data, "<xml>").getroot()
        return self._usage_id_from_node(root, None)


@dataclass
class CourseTree:
    """A loaded course: its runtime, the root block id, the source folder and asset list."""

    runtime: TreeRuntime
    root_id: str
    source_dir: Path
    locations: dict[str, Location] = field(default_factory=dict)
    assets: list[str] = field(default_factory=list)  # paths relative to source_dir, all under static/

    @property
    def course(self) -> XBlock:
        return self.runtime.get_block(self.root_id)

    def block(self, usage_id: str) -> XBlock:
        return self.runtime.get_block(usage_id)

    def children(self, block: XBlock) -> list[XBlock]:
        return (
            [self.runtime.get_block(c) for c in getattr(block, "children", [])] if block.has_children else []
        )

    def walk(self, start: XBlock | None = None) -> Iterator[tuple[XBlock, int]]:
        """Every block depth-first in course order, with its depth (course = 0)."""
        stack = [(start or self.course, 0)]
        while stack:
            block, depth = stack.pop()
            yield block, depth
            stack.extend((c, depth + 1) for c in reversed(self.children(block)))

    def where(self, block: XBlock) -> Location:
        return self.locations.get(str(block.scope_ids.usage_id), Location(str(self.source_dir)))

    def asset_path(self, rel: str) -> Path:
        path = self.source_dir / rel
        if not path.is_file():
            raise InvalidInputError(f"{path}: asset missing")
        return path
