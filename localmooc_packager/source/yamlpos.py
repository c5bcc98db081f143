"""YAML with positions: plain Python data plus the line and column of every value and key.

PyYAML's composer gives nodes with marks; we build the data ourselves from those nodes so that each value
keeps its place. Only the safe tags are accepted; timestamps stay strings (the schema checks them as
ISO dates); alias expansion is bounded so that an alias bomb is refused instead of eating memory.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import ScalarNode

from ..errors import InvalidInputError
from .encoding import read_course_text
from .yamlerrors import plain_message

try:  # libyaml's C parser is several times faster; fall back to pure Python where it is not built.
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Base = yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_TEXT = (_STR, _TIMESTAMP)  # values kept as the text written
# First characters for which an implicit tag (bool, int, float, null, timestamp, merge) may apply.
_IMPLICIT_FIRST = frozenset(yaml.SafeLoader.yaml_implicit_resolvers)


class _Loader(_Base):  # type: ignore[misc,valid-type]
    """The safe loader with a quicker ``resolve``: the composer calls it for every node, and most values are
    Thai text or quoted, for which PyYAML's generic resolver (a third of the composing time) finds `str`."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            if not implicit[0] or (value and value[0] not in _IMPLICIT_FIRST):
                return _STR
            return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]
        return _SEQ if kind is yaml.SequenceNode else _MAP


# The shortcut is exact only without path resolvers or resolvers for any first character.
assert not yaml.SafeLoader.yaml_path_resolvers and None not in _IMPLICIT_FIRST

# More values than this in one file (counting each alias expansion) means an alias bomb, not a course.
MAX_NODES = 500_000
MAX_DEPTH = 100

DataPath = tuple[str | int, ...]


@dataclass
class YamlDoc:
    """A parsed YAML file: ``data`` and where each value (``pos``) and mapping key (``key_pos``) stands."""

    file: str  # as shown in messages
    path: Path
    data: Any
    text: str = ""  # the file as read
    pos: dict[DataPath, tuple[int, int]] = field(default_factory=dict)
    key_pos: dict[DataPath, tuple[int, int]] = field(default_factory=dict)
    duplicate_keys: list[DataPath] = field(default_factory=list)
    # every mapping and list of ``data`` with its path, in the order built (for SourceTree.origin)
    containers: list[tuple[Any, DataPath]] = field(default_factory=list)
    _line_starts: list[int] | None = field(default=None, repr=False)
    # id(mapping) -> keys written one level too shallow for it (found by the schema check; their absence
    # is then not reported again)
    misplaced: dict[int, set[str]] = field(default_factory=dict)

    def line_starts(self) -> list[int]:
        """Offset in ``text`` where each line starts (computed once, when a message needs it)."""
        if self._line_starts is None:
            self._line_starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        return self._line_starts

    def path_at(self, line: int, column: int) -> DataPath:
        """The path of the innermost value that starts at or before ``line:column`` (for a problem found by
        scanning the file's text): the value the character belongs to in a well-formed file."""
        best: DataPath = ()
        best_pos = (0, 0)
        for path, pos in self.pos.items():
            if best_pos <= pos <= (line, column) and (pos > best_pos or len(path) > len(best)):
                best, best_pos = path, pos
        return best

    def where(self, path: DataPath, key: bool = False) -> tuple[int, int]:
        """Line and column of ``path``, or of its nearest parent that has one."""
        table = self.key_pos if key else self.pos
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if key and p in self.pos:
                return self.pos[p]
            p = p[:-1]
        return self.pos.get((), (1, 1))


_SAFE_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:binary",
}


def load_yaml(path: Path, shown: str) -> YamlDoc:
    """Parse one YAML file. Raises ``InvalidInputError`` with ``file:line:col`` on anything unreadable."""
    text = read_course_text(path, shown)
    return load_yaml_text(text, path, shown)


def load_yaml_text(text: str, path: Path, shown: str) -> YamlDoc:
    # Composing allocates a node and two marks per value, all of them kept until the data is built: the
    # cyclic collector would rescan them again and again (a quarter of the time) to find no garbage.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return _load(text, path, shown)
    finally:
        if gc_was_on:
            gc.enable()


def _load(text: str, path: Path, shown: str) -> YamlDoc:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        line, column, what = plain_message(exc, text)
        where = f"{shown}:{line}:{column}" if line else shown
        raise InvalidInputError(f"{where}: invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{shown}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    doc = YamlDoc(shown, path, None, text)
    if node is None:
        return doc
    builder = _Builder(doc, loader)
    doc.data = builder.build(node, (), 0)
    return doc


class _Builder:
    def __init__(self, doc: YamlDoc, loader: Any) -> None:
        self.doc = doc
        self.loader = loader
        self.count = 0
        self.pos = doc.pos
        self.key_pos = doc.key_pos
        self.containers = doc.containers

    def fail(self, node: yaml.Node, message: str) -> InvalidInputError:
        m = node.start_mark
        return InvalidInputError(f"{self.doc.file}:{m.line + 1}:{m.column + 1}: {message}")

    def build(self, node: yaml.Node, path: DataPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"more than {MAX_NODES} values (an alias bomb?); refused")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested deeper than {MAX_DEPTH} levels; refused")
        pos = self.pos
        if path not in pos:
            mark = node.start_mark
            pos[path] = (mark.line + 1, mark.column + 1)
        tag = node.tag
        if isinstance(node, ScalarNode):
            if tag in _TEXT:
                # Text as written (what SafeConstructor makes of str); timestamps stay ISO date/time text,
                # which the schema checks.
                return node.value
            if tag not in _SAFE_TAGS:
                raise self.fail(node, f"YAML tag {tag!r} is not allowed (only plain data)")
            try:
                return self.loader.construct_object(node, deep=True)
            except (yaml.constructor.ConstructorError, ValueError) as exc:
                raise self.fail(node, f"bad value: {exc}") from None
        if tag not in _SAFE_TAGS:
            raise self.fail(node, f"YAML tag {tag!r} is not allowed (only plain data)")
        # Text children (most values of a course) are taken here, as ``build`` would take them, without a
        # call each; their depth, depth + 1, passes the depth test when it is at most MAX_DEPTH.
        inline = depth < MAX_DEPTH
        if isinstance(node, yaml.SequenceNode):
            items: list[Any] = []
            self.containers.append((items, path))
            for i, item in enumerate(node.value):
                if inline and item.tag in _TEXT and isinstance(item, ScalarNode):
                    self.count += 1
                    if self.count > MAX_NODES:
                        raise self.fail(item, f"more than {MAX_NODES} values (an alias bomb?); refused")
                    child = (*path, i)
                    if child not in pos:
                        mark = item.start_mark
                        pos[child] = (mark.line + 1, mark.column + 1)
                    items.append(item.value)
                else:
                    items.append(self.build(item, (*path, i), depth + 1))
            return items
        result: dict[str, Any] = {}
        self.containers.append((result, path))
        key_pos = self.key_pos
        for key_node, value_node in self._pairs(node):
            if key_node.tag in _TEXT and isinstance(key_node, ScalarNode):
                key = key_node.value
            else:
                key = self.build_key(key_node)
            child = (*path, key)
            key_mark = key_node.start_mark
            key_pos[child] = (key_mark.line + 1, key_mark.column + 1)
            if key in result:
                self.doc.duplicate_keys.append(child)
                continue
            if inline and value_node.tag in _TEXT and isinstance(value_node, ScalarNode):
                self.count += 1
                if self.count > MAX_NODES:
                    raise self.fail(value_node, f"more than {MAX_NODES} values (an alias bomb?); refused")
                if child not in pos:
                    mark = value_node.start_mark
                    pos[child] = (mark.line + 1, mark.column + 1)
                result[key] = value_node.value
            else:
                result[key] = self.build(value_node, child, depth + 1)
        return result

    def build_key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, "a mapping key must be a plain word, not a list or mapping")
        if node.tag in (_STR, _TIMESTAMP):
            return node.value  # type: ignore[no-any-return]
        value = self.loader.construct_object(node)
        if isinstance(value, bool) or value is None:
            return node.value  # `yes:`/`null:` as keys mean the words, not booleans
        return str(value)

    def _pairs(self, node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
        """Mapping pairs with `<<` merge keys expanded (the merged keys come first, own keys win)."""
        for key_node, _value in node.value:
            if key_node.tag == _MERGE:
                break
        else:
            return node.value  # type: ignore[no-any-return]  # no merge key: the pairs as written
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for src in sources:
                    if not isinstance(src, yaml.MappingNode):
                        raise self.fail(src, "`<<` merges only mappings")
                    merged.extend(self._pairs(src))
            else:
                own.append((key_node, value_node))
        if not merged:
            return own
        own_keys = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
        return [(k, v) for k, v in merged if k.value not in own_keys] + own
