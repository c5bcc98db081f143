"""The course's shape as one tree of nodes, whichever form it was written in.

Short form (`units:`) gets one section and one subsection per unit, with ids derived from the unit's
(`<unit>_ch`, `<unit>_seq`); full form (`sections:`) maps one to one. Blocks without an id get
`<unit>-<type><n>`, counted per type so that adding a video does not renumber the quizzes. The checks
and the loader both read this tree, so ids are decided in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .reader import SourceTree

QUIZ_GRADED_ROLES = ("graded", "post-test")


@dataclass
class Node:
    kind: str  # course | section | subsection | unit | block
    id: str
    data: dict[str, Any]  # the mapping that defines it (a short-form unit for its derived section/subsection)
    children: list[Node] = field(default_factory=list)
    derived: bool = False  # made up by the short form, not written by the designer
    # the node whose id this one's generated id was built from (None when the designer wrote the id)
    basis: Node | None = None

    @property
    def title(self) -> str:
        value = self.data.get("title")
        return value if isinstance(value, str) else ""

    def walk(self) -> list[Node]:
        out: list[Node] = []
        stack = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out


def _id(data: dict[str, Any], fallback: str) -> str:
    value = data.get("id")
    return value if isinstance(value, str) and value else fallback


def _written(data: dict[str, Any]) -> bool:
    value = data.get("id")
    return isinstance(value, str) and bool(value)


@cache
def _slug(kind: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", kind).strip("-") or "block"


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict) and "include" not in v] if isinstance(value, list) else []


def unit_graded(unit: dict[str, Any]) -> bool:
    if isinstance(unit.get("graded"), bool):
        return unit["graded"]
    return any(
        isinstance(b, dict) and b.get("type") == "quiz" and b.get("role") in QUIZ_GRADED_ROLES
        for b in _dicts(unit.get("blocks"))
    )


def outline(tree: SourceTree) -> Node:
    data = tree.data
    course = Node("course", _id(data, "course"), data)
    if "sections" in data:
        for i, section in enumerate(_dicts(data.get("sections")), 1):
            s_node = Node("section", _id(section, f"section{i}"), section)
            course.children.append(s_node)
            for j, sub in enumerate(_dicts(section.get("subsections")), 1):
                sub_node = Node("subsection", _id(sub, f"{s_node.id}-sub{j}"), sub)
                sub_node.basis = None if _written(sub) else s_node
                s_node.children.append(sub_node)
                for k, unit in enumerate(_dicts(sub.get("units")), 1):
                    sub_node.children.append(_unit(unit, f"{sub_node.id}-unit{k}", sub_node))
    else:
        for k, unit in enumerate(_dicts(data.get("units")), 1):
            u_node = _unit(unit, f"unit{k}")
            sub_node = Node("subsection", f"{u_node.id}_seq", unit, [u_node], derived=True, basis=u_node)
            course.children.append(
                Node("section", f"{u_node.id}_ch", unit, [sub_node], derived=True, basis=u_node)
            )
    return course


def _unit(unit: dict[str, Any], fallback: str, parent: Node | None = None) -> Node:
    node = Node("unit", _id(unit, fallback), unit, basis=None if _written(unit) else parent)
    counts: dict[str, int] = {}
    for block in _dicts(unit.get("blocks")):
        kind: str = block["type"] if isinstance(block.get("type"), str) else "block"
        count = counts[kind] = counts.get(kind, 0) + 1
        block_id = _id(block, f"{node.id}-{_slug(kind)}{count}")
        node.children.append(Node("block", block_id, block, basis=None if _written(block) else node))
    return node
