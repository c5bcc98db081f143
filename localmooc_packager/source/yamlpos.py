"""YAML with positions: plain Python data plus the line and column of every value and key.

PyYAML's composer gives nodes with marks; we build the data ourselves from those nodes so that each value
keeps its place. Only the safe tags are accepted; timestamps stay strings (the schema checks them as
ISO dates); alias expansion is bounded so that an alias bomb is refused instead of eating memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InvalidInputError
from ..safe import read_text

try:  # libyaml's C parser is several times faster; fall back to pure Python where it is not built.
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

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
    pos: dict[DataPath, tuple[int, int]] = field(default_factory=dict)
    key_pos: dict[DataPath, tuple[int, int]] = field(default_factory=dict)
    duplicate_keys: list[DataPath] = field(default_factory=list)

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
    text = read_text(path, shown)
    return load_yaml_text(text, path, shown)


def load_yaml_text(text: str, path: Path, shown: str) -> YamlDoc:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        what = exc.problem or exc.context or "syntax error"
        raise InvalidInputError(f"{where}: invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{shown}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    doc = YamlDoc(shown, path, None)
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

    def fail(self, node: yaml.Node, message: str) -> InvalidInputError:
        m = node.start_mark
        return InvalidInputError(f"{self.doc.file}:{m.line + 1}:{m.column + 1}: {message}")

    def build(self, node: yaml.Node, path: DataPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"more than {MAX_NODES} values (an alias bomb?); refused")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested deeper than {MAX_DEPTH} levels; refused")
        self.doc.pos.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _SAFE_TAGS:
            raise self.fail(node, f"YAML tag {node.tag!r} is not allowed (only plain data)")
        if isinstance(node, yaml.ScalarNode):
            if node.tag == "tag:yaml.org,2002:timestamp":
                return node.value  # ISO date/time text; the schema checks its format
            try:
                return self.loader.construct_object(node, deep=True)
            except (yaml.constructor.ConstructorError, ValueError) as exc:
                raise self.fail(node, f"bad value: {exc}") from None
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        result: dict[str, Any] = {}
        for key_node, value_node in self._pairs(node):
            key = self.build_key(key_node)
            child = (*path, key)
            if key in result:
                self.doc.duplicate_keys.append(child)
                self.doc.key_pos[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                continue
            self.doc.key_pos[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, child, depth + 1)
        return result

    def build_key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, "a mapping key must be a plain word, not a list or mapping")
        value = (
            node.value if node.tag in ("tag:yaml.org,2002:timestamp",) else self.loader.construct_object(node)
        )
        if isinstance(value, bool) or value is None:
            return node.value  # `yes:`/`null:` as keys mean the words, not booleans
        return str(value)

    def _pairs(self, node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
        """Mapping pairs with `<<` merge keys expanded (the merged keys come first, own keys win)."""
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
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
