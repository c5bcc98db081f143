"""Checked course source -> a tree of real XBlocks held by a ``TreeRuntime``.

Runs only on a source without errors: every value has been checked, so this module converts and never
judges. Markdown becomes HTML here, asset paths become `/static/NAME`, quiz questions their normalised
form (see xblocks/quiz.py), and each block remembers where it was written.
"""

from __future__ import annotations

from typing import Any

from xblock.core import XBlock

from ..safe import read_text
from ..tree import BUILTIN_TYPES, CourseTree, TreeRuntime
from . import markup
from .outline import Node
from .reader import SourceTree


def _static(rel: str) -> str:
    return "/" + rel if rel.startswith("static/") else rel


class Loader:
    def __init__(self, source: SourceTree) -> None:
        self.source = source
        self.runtime = TreeRuntime()
        self.tree = CourseTree(self.runtime, "", source.root_dir)

    def load(self, course: Node) -> CourseTree:
        self.tree.root_id = self.node(course, None).scope_ids.usage_id
        static = self.source.root_dir / "static"
        if static.is_dir():
            self.tree.assets = sorted(
                p.relative_to(self.source.root_dir).as_posix()
                for p in static.rglob("*")
                if p.is_file() and not p.is_symlink()
            )
        return self.tree

    def node(self, node: Node, parent: XBlock | None) -> XBlock:
        data = node.data
        if node.kind == "block":
            kind = data["type"]
            block = self.runtime.new_block(BUILTIN_TYPES.get(kind, kind), node.id)
            getattr(self, f"fill_{kind}", self.fill_xblock)(block, data)
        else:
            block = self.runtime.new_block(BUILTIN_TYPES[node.kind], node.id)
            getattr(self, f"fill_{node.kind}")(block, node)
        if "title" in data and "display_name" in block.fields and not block.display_name:
            block.display_name = data["title"]
        if isinstance(data.get("policy"), dict) and "policy" in block.fields and not node.derived:
            block.policy = data["policy"]
        self.tree.locations[node.id] = self.source.where(data)[0]
        if parent is not None:
            block.parent = parent.scope_ids.usage_id
        for child in node.children:
            block.children.append(self.node(child, block).scope_ids.usage_id)
        block.save()
        return block

    # ---- structure
    def fill_course(self, block: XBlock, node: Node) -> None:
        d = self.source.data
        block.course = d["id"]
        block.org = d["org"]
        block.run = d["run"]
        for key in (
            "short_description",
            "language",
            "category",
            "start",
            "end",
            "enrollment_start",
            "enrollment_end",
            "certificate",
            "olx",
        ):
            if key in d:
                setattr(block, key, d[key])
        if "audience" in d:
            block.audience = list(d["audience"])
        if "hours" in d:
            block.hours = float(d["hours"])
        if "pass_threshold" in d:
            block.pass_threshold = float(d["pass_threshold"])
        if "description" in d:
            block.description = markup.render_markdown(d["description"])
        if "image" in d:
            block.image = _static(d["image"])

    def fill_section(self, block: XBlock, node: Node) -> None:
        if "start" in node.data and not node.derived:
            block.start = node.data["start"]

    def fill_subsection(self, block: XBlock, node: Node) -> None:
        data = node.data
        roles = {
            b.data.get("role")
            for unit in node.children
            for b in unit.children
            if b.data.get("type") == "quiz"
        }
        derived_format = "Post-test" if "post-test" in roles else ("Graded" if "graded" in roles else "")
        graded = data.get("graded")
        block.graded = bool(graded) if isinstance(graded, bool) else bool(derived_format)
        block.format = data.get("format", derived_format) if not node.derived else derived_format
        if block.graded and not block.format:
            block.format = "Graded"
        if not node.derived:
            for key in ("start", "due"):
                if key in data:
                    setattr(block, key, data[key])

    def fill_unit(self, block: XBlock, node: Node) -> None:
        """Units carry only a title and children."""

    # ---- content
    def fill_html(self, block: XBlock, data: dict[str, Any]) -> None:
        if "file" in data:
            path = self.source.root_dir / data["file"]
            text = self.source.texts.get(path) or read_text(path)
            is_md = path.suffix.lower() in (".md", ".markdown")
        else:
            text = data["body"]
            is_md = True
        fmt = data.get("format")
        if fmt is not None:
            is_md = fmt == "markdown"
        block.data = markup.render_markdown(text) if is_md else markup.canonical_static(text.strip())

    def fill_video(self, block: XBlock, data: dict[str, Any]) -> None:
        if "src" in data:
            block.src = _static(data["src"])
        elif "url" in data:
            block.src = data["url"]
        else:
            block.youtube_id = data["youtube"]
        if data.get("subtitles"):
            block.subtitles = {lang: _static(p) for lang, p in data["subtitles"].items()}
        for key in ("poster", "transcript"):
            if key in data:
                setattr(block, key, _static(data[key]))
        if "minutes" in data:
            block.minutes = float(data["minutes"])

    def fill_quiz(self, block: XBlock, data: dict[str, Any]) -> None:
        for key in ("role", "attempts", "shuffle", "show_answers"):
            if key in data:
                setattr(block, key, data[key])
        if "weight" in data:
            block.weight = float(data["weight"])
        block.pass_threshold = float(self.source.data.get("pass_threshold", 0.6))
        block.questions = [normalise_question(q, i) for i, q in enumerate(data["questions"], 1)]

    def fill_olx(self, block: XBlock, data: dict[str, Any]) -> None:
        block.xml = data["xml"] if "xml" in data else read_text(self.source.root_dir / data["file"]).strip()
        if data.get("files"):
            block.files = list(data["files"])

    def fill_xblock(self, block: XBlock, data: dict[str, Any]) -> None:
        """A third-party XBlock: every other key is one of its content/settings fields (checked already)."""
        for name, value in data.items():
            if name in block.fields and name not in ("type", "id"):
                setattr(block, name, block.fields[name].from_json(value))


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
    if q.get("explain"):
        out["explain"] = markup.render_markdown(q["explain"])
    return out


def build_tree(source: SourceTree, course: Node) -> CourseTree:
    return Loader(source).load(course)
