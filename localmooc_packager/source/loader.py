"""Checked course source -> a tree of real XBlocks held by a ``TreeRuntime``.

Runs only on a source without errors: every value has been checked, so this module converts and never
judges. Markdown becomes HTML here, asset paths become `/static/NAME`, quiz questions their normalised
form (see xblocks/quiz.py), and each block remembers where it was written.
"""

from __future__ import annotations

from typing import Any

from xblock.fields import Field

from localmooc_xblocks.grading import EXACT

from ..safe import read_text
from ..tree import BUILTIN_TYPES, CourseTree, TreeRuntime
from . import markup
from .outline import Node
from .reader import SourceTree, aliases


def _static(rel: str) -> str:
    return "/" + rel if rel.startswith("static/") else rel


class Loader:
    """Each block's values are worked out first, then handed to ``TreeRuntime.add_block`` in one go: the
    same stored fields as setting them one by one through the XBlock and ``save()``, without its per-write
    deep copies and dirty tracking (tests/test_tree.py compares both ways)."""

    def __init__(self, source: SourceTree) -> None:
        self.source = source
        self.runtime = TreeRuntime()
        self.tree = CourseTree(self.runtime, "", source.root_dir)

    def load(self, course: Node) -> CourseTree:
        self.tree.root_id = self.node(course, None)
        static = self.source.root_dir / "static"
        if static.is_dir():
            listed = self.source.files.static_files() if self.source.files is not None else None
            self.tree.assets = (
                listed
                if listed is not None
                else sorted(
                    p.relative_to(self.source.root_dir).as_posix()
                    for p in static.rglob("*")
                    if p.is_file() and not p.is_symlink()
                )
            )
        return self.tree

    def node(self, node: Node, parent: str | None) -> str:
        """Add ``node`` and everything under it; returns its usage id (the node's id)."""
        data = node.data
        values: dict[str, Any] = {}
        if node.kind == "block":
            kind = data["type"]
            block_type = BUILTIN_TYPES.get(kind, kind)
            fields = self.runtime.block_class(block_type).fields
            getattr(self, f"fill_{kind}", self.fill_xblock)(values, data, fields)
        else:
            block_type = BUILTIN_TYPES[node.kind]
            fields = self.runtime.block_class(block_type).fields
            getattr(self, f"fill_{node.kind}")(values, node)
        if "title" in data and "display_name" in fields:
            current = values["display_name"] if "display_name" in values else fields["display_name"].default
            # XBlock stores a field only when the value changes: a title equal to the default is not stored.
            if not current and data["title"] != current:
                values["display_name"] = data["title"]
        if isinstance(data.get("policy"), dict) and "policy" in fields and not node.derived:
            values["policy"] = data["policy"]
        self.tree.locations[node.id] = self.source.location(data)
        if parent is not None:
            values["parent"] = parent
        if node.children:
            values["children"] = [child.id for child in node.children]
        self.runtime.add_block(block_type, node.id, values)
        for child in node.children:
            self.node(child, node.id)
        return node.id

    # ---- structure
    def fill_course(self, values: dict[str, Any], node: Node) -> None:
        d = self.source.data
        values["course"] = d["id"]
        values["org"] = d["org"]
        values["run"] = d["run"]
        for key in (
            "short_description",
            "language",
            "start",
            "end",
            "enrollment_start",
            "enrollment_end",
            "certificate",
            "olx",
        ):
            if key in d:
                values[key] = d[key]
        if "category" in d:
            values["category"] = aliases("category").get(d["category"], d["category"])
        if "audience" in d:
            thai = aliases("audience")
            # Two names of one group (`public` and `ประชาชน`) count once.
            values["audience"] = list(dict.fromkeys(thai.get(a, a) for a in d["audience"]))
        if "hours" in d:
            values["hours"] = float(d["hours"])
        if "pass_threshold" in d:
            values["pass_threshold"] = float(d["pass_threshold"])
        if "description" in d:
            values["description"] = markup.render_markdown(
                self.source.bodies.get((id(d), "description"), d["description"])
            )
        if "image" in d:
            values["image"] = _static(d["image"])

    def fill_section(self, values: dict[str, Any], node: Node) -> None:
        if "start" in node.data and not node.derived:
            values["start"] = node.data["start"]

    def fill_subsection(self, values: dict[str, Any], node: Node) -> None:
        data = node.data
        roles = {
            b.data.get("role")
            for unit in node.children
            for b in unit.children
            if b.data.get("type") == "quiz"
        }
        derived_format = "Post-test" if "post-test" in roles else ("Graded" if "graded" in roles else "")
        graded = data.get("graded")
        values["graded"] = bool(graded) if isinstance(graded, bool) else bool(derived_format)
        values["format"] = data.get("format", derived_format) if not node.derived else derived_format
        if values["graded"] and not values["format"]:
            values["format"] = "Graded"
        if not node.derived:
            for key in ("start", "due"):
                if key in data:
                    values[key] = data[key]

    def fill_unit(self, values: dict[str, Any], node: Node) -> None:
        """Units carry only a title and children."""

    # ---- content
    def fill_html(self, values: dict[str, Any], data: dict[str, Any], fields: dict[str, Field]) -> None:
        bodies = self.source.bodies
        if "file" in data:
            path = self.source.root_dir / data["file"]
            text = bodies.get((id(data), "file")) or self.source.texts.get(path) or read_text(path)
            is_md = path.suffix.lower() in (".md", ".markdown")
        else:
            text = bodies.get((id(data), "body"), data["body"])
            is_md = True
        fmt = data.get("format")
        if fmt is not None:
            is_md = fmt == "markdown"
        values["data"] = markup.render_markdown(text) if is_md else markup.canonical_static(text.strip())

    def fill_video(self, values: dict[str, Any], data: dict[str, Any], fields: dict[str, Field]) -> None:
        if "src" in data:
            values["src"] = _static(data["src"])
        elif "url" in data:
            values["src"] = data["url"]
        else:
            values["youtube_id"] = data["youtube"]
        if data.get("subtitles"):
            values["subtitles"] = {lang: _static(p) for lang, p in data["subtitles"].items()}
        for key in ("poster", "transcript"):
            if key in data:
                values[key] = _static(data[key])
        if "minutes" in data:
            values["minutes"] = float(data["minutes"])

    def fill_quiz(self, values: dict[str, Any], data: dict[str, Any], fields: dict[str, Field]) -> None:
        for key in ("role", "attempts", "shuffle", "show_answers"):
            if key in data:
                values[key] = data[key]
        if "weight" in data:
            values["weight"] = float(data["weight"])
        values["pass_threshold"] = float(self.source.data.get("pass_threshold", 0.6))
        bodies = self.source.bodies
        values["questions"] = [
            normalise_question(_rewritten(q, bodies), i) for i, q in enumerate(data["questions"], 1)
        ]

    def fill_olx(self, values: dict[str, Any], data: dict[str, Any], fields: dict[str, Field]) -> None:
        values["xml"] = (
            data["xml"] if "xml" in data else read_text(self.source.root_dir / data["file"]).strip()
        )
        if data.get("files"):
            values["files"] = list(data["files"])

    def fill_xblock(self, values: dict[str, Any], data: dict[str, Any], fields: dict[str, Field]) -> None:
        """A third-party XBlock: every other key is one of its content/settings fields (checked already)."""
        if "title" in data and "display_name" in fields and "display_name" not in data:
            values["display_name"] = data["title"]  # over the block's own default name
        for name, value in data.items():
            if name in fields and name not in ("type", "id"):
                values[name] = fields[name].from_json(value)


def _rewritten(q: dict[str, Any], bodies: dict[tuple[int, str], str]) -> dict[str, Any]:
    """The question with the link-rewritten prompt and explanation the checks worked out, if any."""
    if (id(q), "prompt") not in bodies and (id(q), "explain") not in bodies:
        return q
    return {**q, **{k: bodies[(id(q), k)] for k in ("prompt", "explain") if (id(q), k) in bodies}}


def normalise_question(q: dict[str, Any], position: int) -> dict[str, Any]:
    """A question as written -> the form the quiz block stores (HTML text, choice list, answer list)."""
    kind = q["type"]
    out: dict[str, Any] = {
        "id": q.get("id", f"q{position}"),
        "type": kind,
        "prompt": markup.render_inline(q["prompt"]),
    }
    if "points" in q:
        out["points"] = float(q["points"])
    if kind in ("single-choice", "multiple-choice"):
        out["choices"] = [{"id": str(k), "text": str(v)} for k, v in q["choices"].items()]
        answer = q["answer"]
        out["answer"] = [str(a) for a in answer] if isinstance(answer, list) else [str(answer)]
        if q.get("feedback"):
            out["feedback"] = {str(k): v for k, v in q["feedback"].items()}
    elif kind == "true-false":
        out["answer"] = bool(q["answer"])
        if q.get("labels"):
            out["labels"] = dict(q["labels"])
    elif kind == "numeric":
        out["answer"] = float(q["answer"])
        if q.get("tolerance"):
            tol = q["tolerance"]
            out["tolerance"] = tol if isinstance(tol, str) else float(tol)
    elif kind == "short-text":
        answer = q["answer"]
        out["answer"] = list(answer) if isinstance(answer, list) else [answer]
        if q.get("case_sensitive"):
            out["case_sensitive"] = True
        if q.get("exact"):
            out["exact"] = [e for e in EXACT if e in q["exact"]]  # a fixed order: stable packages
    if q.get("explain"):
        out["explain"] = markup.render_markdown(q["explain"])
    return out


def build_tree(source: SourceTree, course: Node) -> CourseTree:
    return Loader(source).load(course)
