"""The block tree: XBlocks held by a small runtime, with where each block came from in the source.

Exporters read a ``CourseTree``; they never see the source files except the assets it lists. The
reference runtime subclasses ``TreeRuntime`` to add learner state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from xblock.core import XBlock, XBlockAside
from xblock.exceptions import NoSuchDefinition, NoSuchUsage
from xblock.fields import NO_GENERATED_DEFAULTS, Field, Scope, ScopeIds
from xblock.runtime import DictKeyValueStore, KeyValueStore, KvsFieldData, MemoryIdManager, Runtime

from . import xblock_compat as compat
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


@cache
def xblock_entry_points() -> dict[str, list[EntryPoint]]:
    """Every ``xblock.v1`` entry point (overrides first) by lower-cased name, from one scan."""
    found: dict[str, list[EntryPoint]] = {}
    installed = entry_points()
    for group in (f"{XBlock.entry_point}.overrides", XBlock.entry_point):
        for ep in installed.select(group=group):
            found.setdefault(ep.name.lower(), []).append(ep)
    return found


class TreeIdManager(MemoryIdManager):
    """Usage ids are the course's own block ids, so URLs, state keys and exports all speak one language."""

    def create_named(self, block_type: str, block_id: str) -> str:
        if compat.usage_taken(self, block_id):
            raise ValueError(f"block id {block_id!r} used twice")
        compat.add_usage(self, block_type, f"def-{block_id}", block_id)
        return block_id


# Where a field's value lives: course fields by usage or definition id (KvsFieldData keys children and
# parent by usage id although Scope.children is definition-scoped), anything else (learner state) in the kvs.
OTHER, BY_USAGE, BY_DEFINITION = 0, 1, 2
_NOT_A_FIELD = (OTHER, None)


def field_kinds(fields: dict[str, Field]) -> dict[str, int]:
    """Field name -> OTHER, BY_USAGE or BY_DEFINITION (Scope comparisons are Python-level: once per class)."""
    kinds = {}
    for name, fld in fields.items():
        scope = fld.scope
        if scope in (Scope.settings, Scope.children, Scope.parent):
            kinds[name] = BY_USAGE
        elif scope == Scope.content:
            kinds[name] = BY_DEFINITION
        else:
            kinds[name] = OTHER
    return kinds


class TreeFieldData(KvsFieldData):
    """Course fields (content, settings, children, parent) in one dict per block id; learner state and the
    other scopes through the key-value store, exactly as ``KvsFieldData`` does.

    ``KvsFieldData`` builds a ``KeyValueStore.Key`` (a namedtuple of Scope objects hashed in Python) for
    every read and write, which made up a third of loading and exporting a course. Values are stored in
    their JSON form, as ``XBlock.save()`` writes them. Content is keyed by definition id, the rest by
    usage id, as ``KvsFieldData`` keys them.
    """

    def __init__(self, kvs: KeyValueStore) -> None:
        super().__init__(kvs)
        self.course: dict[str, dict[str, Any]] = {}
        # A store with its own defaults (``KeyValueStore.default``) must be asked; DictKeyValueStore has none.
        self.kvs_defaults = type(kvs).default is not KeyValueStore.default
        self._kinds: dict[type, dict[str, int]] = {}
        self._readers: dict[type, dict[str, tuple[int, Callable[[Any], Any]]]] = {}
        self._writers: dict[type, dict[str, tuple[int, Callable[[Any], Any]]]] = {}

    def course_id(self, block: XBlock, name: str) -> str | None:
        """The id ``name``'s value is stored under, or None when it is not a course field."""
        kind = self.kinds(type(block))[name]  # KeyError for a name that is no field, as KvsFieldData raises
        if kind == BY_USAGE:
            return block.scope_ids.usage_id
        if kind == BY_DEFINITION:
            return block.scope_ids.def_id
        return None

    def kinds(self, cls: type) -> dict[str, int]:
        kinds = self._kinds.get(cls)
        if kinds is None:
            kinds = self._kinds[cls] = field_kinds(cls.fields)  # type: ignore[attr-defined]
        return kinds

    def readers(self, cls: type) -> dict[str, tuple[int, Callable[[Any], Any]]]:
        """Field name -> (where it is stored, stored JSON -> the value its descriptor returns)."""
        readers = self._readers.get(cls)
        if readers is None:
            kinds = self.kinds(cls)
            fields: dict[str, Field] = cls.fields  # type: ignore[attr-defined]
            readers = self._readers[cls] = {
                name: (kinds[name], compat.field_decoder(f)) for name, f in fields.items()
            }
        return readers

    def writers(self, cls: type) -> dict[str, tuple[int, Callable[[Any], Any]]]:
        """Field name -> (where it is stored, a value set on the field -> the JSON ``save()`` stores)."""
        writers = self._writers.get(cls)
        if writers is None:
            kinds = self.kinds(cls)
            fields: dict[str, Field] = cls.fields  # type: ignore[attr-defined]
            writers = self._writers[cls] = {
                name: (kinds[name], compat.field_encoder(f)) for name, f in fields.items()
            }
        return writers

    def get(self, block: XBlock, name: str) -> Any:
        key = self.course_id(block, name)
        if key is None:
            return super().get(block, name)
        return self.course[key][name]  # KeyError when unset, as DictKeyValueStore raises

    def set(self, block: XBlock, name: str, value: Any) -> None:
        key = self.course_id(block, name)
        if key is None:
            super().set(block, name, value)
        else:
            self.course.setdefault(key, {})[name] = value

    def set_many(self, block: XBlock, update_dict: dict[str, Any]) -> None:
        rest = {}
        for name, value in update_dict.items():
            key = self.course_id(block, name)
            if key is None:
                rest[name] = value
            else:
                self.course.setdefault(key, {})[name] = value
        if rest:
            super().set_many(block, rest)

    def has(self, block: XBlock, name: str) -> bool:
        try:
            key = self.course_id(block, name)
        except KeyError:
            return False
        if key is None:
            return super().has(block, name)
        return name in self.course.get(key, ())

    def delete(self, block: XBlock, name: str) -> None:
        key = self.course_id(block, name)
        if key is None:
            super().delete(block, name)
        else:
            del self.course[key][name]

    def default(self, block: XBlock, name: str) -> Any:
        if self.kvs_defaults or self.course_id(block, name) is None:
            return super().default(block, name)
        raise KeyError(name)  # what DictKeyValueStore.default raises: the field's own default applies


class TreeRuntime(Runtime):
    """A runtime that holds a course in memory. Handler URLs point at the reference runtime's routes."""

    def __init__(self, kvs: Any = None, services: dict[str, Any] | None = None) -> None:
        ids = TreeIdManager()
        all_services = {"field-data": TreeFieldData(kvs if kvs is not None else DictKeyValueStore())}
        all_services.update(services or {})
        super().__init__(id_reader=ids, id_generator=ids, services=all_services)
        self.ids = ids
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        field_data = all_services["field-data"]
        # The fast paths below read and write the course directly; any other field data goes through XBlock.
        self.tree_data: TreeFieldData | None = field_data if isinstance(field_data, TreeFieldData) else None
        self._classes: dict[str, type[XBlock]] = {}

    def new_block(self, block_type: str, block_id: str, user_id: str | None = None) -> XBlock:
        """Create an empty block of ``block_type`` (an xblock.v1 entry point name) under ``block_id``."""
        usage_id = self.ids.create_named(block_type, block_id)
        return self.construct_xblock(block_type, ScopeIds(user_id, block_type, f"def-{block_id}", usage_id))

    def get_block(self, usage_id: str, for_parent: XBlock | None = None) -> XBlock:
        """``Runtime.get_block`` with the block's class looked up once per type, not per call (exports and
        renders make a block per visit)."""
        def_id = self.id_reader.get_definition_id(usage_id)
        try:
            block_type = self.id_reader.get_block_type(def_id)
        except NoSuchDefinition:
            raise NoSuchUsage(repr(usage_id)) from None
        ids = ScopeIds(compat.runtime_user_id(self), block_type, def_id, usage_id)
        return self.block_class(block_type)(runtime=self, scope_ids=ids, for_parent=for_parent)

    def load_block_type(self, block_type: str) -> type[XBlock]:
        identifier = block_type.lower()
        # XBlock.load_class scans every installed distribution twice for each block type it has not loaded
        # yet (~10 ms a scan, ~0.2 s per process for a course's types). With XBlock's own selection rules,
        # fill its cache from one scan; temporary test plugins and a custom select take XBlock's path.
        compat.prime_plugin_cache(identifier, xblock_entry_points().get(identifier, []), self.select)
        return super().load_block_type(block_type)

    def block_class(self, block_type: str) -> type[XBlock]:
        """The class (with this runtime's mixins) ``construct_xblock`` makes for ``block_type``."""
        cls = self._classes.get(block_type)
        if cls is None:
            cls = self._classes[block_type] = self.mixologist.mix(self.load_block_type(block_type))
        return cls

    def add_block(self, block_type: str, block_id: str, values: dict[str, Any]) -> None:
        """A new block holding ``values`` (field name -> value as the block's field returns it), stored as
        setting each field and ``save()`` would store it, without making an XBlock.

        Loading a course made ~2 blocks per unit, each field write deep-copied and marked dirty, then saved
        through ``KvsFieldData``; the values are known up front, so they go straight into the store.
        Only course fields (content, settings, children, parent) can be given this way.
        """
        cls = self.block_class(block_type)
        usage_id = self.ids.create_named(block_type, block_id)
        fields = cls.fields
        if self.tree_data is None:  # another field data service: through XBlock, as any runtime would
            block = self.construct_xblock_from_class(
                cls, ScopeIds(None, block_type, f"def-{block_id}", usage_id)
            )
            for name, value in values.items():
                setattr(block, name, value)
            block.save()
            return
        writers = self.tree_data.writers(cls)
        settings: dict[str, Any] = {}
        content: dict[str, Any] = {}
        for name, value in values.items():
            kind, encode = writers[name]  # KeyError for a name that is no field, as fields[name] raised
            if kind == BY_USAGE:
                settings[name] = encode(value)
            elif kind == BY_DEFINITION:
                content[name] = encode(value)
            else:
                raise ValueError(f"{block_type} field {name!r} is not a course field ({fields[name].scope})")
        course = self.tree_data.course
        if settings:
            course[usage_id] = settings
        if content:
            course[f"def-{block_id}"] = content

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
        return compat.usage_id_from_node(self, root)


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
        return [self.block(c) for c in self.value(block, "children")] if block.has_children else []

    def value(self, block: XBlock, name: str) -> Any:
        """What ``getattr(block, name)`` returns for a field of ``block``, read straight from the tree's field
        data: without XBlock's key building, per-instance cache and the deep copy it makes of a mutable
        value on first read (its baseline for noticing changes on save). Exports read every field of
        every block once, and those copies were most of their time.

        The result is the stored object itself: read it, never change it. What the fast path does not hold
        (learner state, a value set but not saved, another field data service) is read through the block.
        """
        data = self.runtime.tree_data
        if data is None or compat.read_through_block(block, name):
            return getattr(block, name)
        kind, decode = data.readers(type(block)).get(name, _NOT_A_FIELD)
        if kind == OTHER:
            return getattr(block, name)
        ids = block.scope_ids
        stored = data.course.get(ids.usage_id if kind == BY_USAGE else ids.def_id)
        if stored is not None and name in stored:
            return decode(stored[name])
        fld = block.fields[name]
        if name not in NO_GENERATED_DEFAULTS and (compat.has_unique_id_default(fld) or data.kvs_defaults):
            return getattr(block, name)  # a computed default: XBlock's own rules
        return compat.sanitize(fld, fld.default)

    def cached(self) -> CachedCourseTree:
        """This tree with each block made once (an export walks it several times)."""
        return CachedCourseTree(self.runtime, self.root_id, self.source_dir, self.locations, self.assets)

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


class CachedCourseTree(CourseTree):
    """A course tree that makes each block once and remembers every block's children.

    ``runtime.get_block`` builds a new XBlock instance on every call; walking the tree for names,
    grading and the outline would otherwise pay that several times per block. For reading: a block
    changed through one of these instances keeps its unsaved changes to itself.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._blocks: dict[str, XBlock] = {}
        self._children: dict[str, list[XBlock]] = {}

    @property
    def course(self) -> XBlock:
        return self.block(self.root_id)

    def block(self, usage_id: str) -> XBlock:
        found = self._blocks.get(usage_id)
        if found is None:
            found = self._blocks[usage_id] = self.runtime.get_block(usage_id)
        return found

    def children(self, block: XBlock) -> list[XBlock]:
        key = block.scope_ids.usage_id
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = super().children(block)
        return found

    def cached(self) -> CachedCourseTree:
        return self
