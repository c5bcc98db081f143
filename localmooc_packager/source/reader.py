"""Course folder -> one data tree, checked against the JSON Schemas, with a location for every value.

`course.yaml` may pull units, subsections, sections and quizzes from other files (`include:` and quiz
`file:`); each file is validated against its own schema and spliced into the tree. ``SourceTree.loc`` maps
any mapping of the tree back to the file, line and column it came from, so that later stages report
problems where the designer wrote them.
"""

from __future__ import annotations

import difflib
import json
import os
import posixpath
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
from referencing import Registry, Resource

from localmooc_schemas import schema_dir

from ..errors import DisplayPaths, InvalidInputError, Location, Report, UsageError, display_path
from .links import CourseFiles
from .yamlpos import DataPath, YamlDoc, load_yaml

COURSE_FILE = "course.yaml"


@cache
def _registry() -> tuple[Registry, dict[str, dict[str, Any]]]:
    roots: dict[str, dict[str, Any]] = {}
    resources = []
    for name in ("course", "unit", "quiz", "section", "subsection"):
        schema = json.loads((schema_dir() / f"{name}.schema.json").read_text(encoding="utf-8"))
        roots[name] = schema
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources), roots


@cache
def aliases(key: str) -> dict[str, str]:
    """Thai names accepted for the codes of course key ``key`` (`category`, `audience`) -> the code."""
    _, roots = _registry()
    prop = roots["course"]["properties"][key]
    return dict((prop.get("items", prop)).get("x-aliases", {}))


@cache
def validator(kind: str) -> jsonschema.Draft202012Validator:
    """A compiled validator for one kind of source file: course, unit, quiz, section or subsection."""
    registry, roots = _registry()
    return jsonschema.Draft202012Validator(roots[kind], registry=registry)


def path_text(path: DataPath) -> str:
    """('units', 2, 'blocks', 0) -> 'units[2].blocks[0]': Python's counting (for developer tools)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def author_path(path: DataPath) -> str:
    """('units', 2, 'blocks', 0) -> 'units[3].blocks[1]': in messages, positions count from 1, as the
    designer does (questions[1] is the first question)."""
    out = ""
    for part in path:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def did_you_mean(word: str, options: list[str] | set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


@dataclass
class SourceTree:
    """The whole course as plain data, plus where each mapping came from."""

    root_dir: Path
    data: dict[str, Any]
    docs: list[YamlDoc] = field(default_factory=list)
    # id(mapping) -> (the document it was read from, its path inside that document)
    origin: dict[int, tuple[YamlDoc, DataPath]] = field(default_factory=dict)
    texts: dict[Path, str] = field(
        default_factory=dict
    )  # body files read by the checks, reused by the loader
    # (id(mapping), key) -> that Markdown/HTML text with its links made canonical (`/static/NAME`); the
    # loader renders this instead of the text as written (for `file:` bodies, the file's rewritten text)
    bodies: dict[tuple[int, str], str] = field(default_factory=dict)
    # Paths resolved and shown with one resolution per folder, for the whole run
    paths: DisplayPaths = field(default_factory=DisplayPaths)
    # The course's file listing, made on first use (by the includes or the checks) and reused by the loader
    files: CourseFiles | None = None

    def where(self, obj: Any, *keys: str | int, key: bool = False) -> tuple[Location, str]:
        """Location and data path of ``obj[keys...]`` (or of ``obj`` itself)."""
        doc, base = self.origin.get(id(obj), (self.docs[0], ()))
        path = (*base, *keys)
        line, col = doc.where(path, key=key)
        return Location(doc.file, line, col), author_path(path)

    def location(self, obj: Any) -> Location:
        """``where(obj)[0]``, without the data path's text (the loader asks it for every block)."""
        doc, base = self.origin.get(id(obj), (self.docs[0], ()))
        line, col = doc.where(base)
        return Location(doc.file, line, col)

    def shown(self, rel: str) -> str:
        """A file inside the course as messages show it."""
        return self.paths.show(self.root_dir / rel)


def _register(tree: SourceTree, doc: YamlDoc) -> None:
    """Remember the origin of every mapping and list of ``doc`` (listed by the YAML builder)."""
    origin = tree.origin
    for obj, path in doc.containers:
        origin[id(obj)] = (doc, path)


@cache
def fast_validator(kind: str) -> jsonschema_rs.Draft202012Validator:
    """The same schema compiled by jsonschema-rs: ~300x faster, used to pass valid documents quickly.

    Only documents it rejects go through ``jsonschema`` (pure Python), whose errors we turn into messages;
    the suite checks that both libraries agree on every fixture.
    """
    _, roots = _registry()
    registry = jsonschema_rs.Registry([(schema["$id"], schema) for schema in roots.values()])
    return jsonschema_rs.Draft202012Validator(roots[kind], registry=registry)


def schema_problems(doc: YamlDoc, kind: str, report: Report) -> None:
    """Validate one document against its schema; every error becomes a located problem."""
    for path in doc.duplicate_keys:
        line, col = doc.key_pos[path]
        report.add(
            Location(doc.file, line, col),
            f"key {path[-1]!r} appears twice",
            "yaml-duplicate-key",
            author_path(path),
        )
    if doc.data is None:
        report.add(Location(doc.file, 1, 1), "the file is empty", "file-empty")
        return
    if fast_validator(kind).is_valid(doc.data):
        return
    # Unknown keys first: a key written one level too shallow explains the errors of the item it was
    # meant for (a required key missing), which are then left out.
    errors = sorted(
        validator(kind).iter_errors(doc.data), key=lambda e: e.validator != "additionalProperties"
    )
    for error in errors:
        _add_schema_error(doc, error, report)


@cache
def _all_keys() -> frozenset[str]:
    """Every key any schema knows."""
    _, roots = _registry()
    keys: set[str] = set()
    stack: list[Any] = list(roots.values())
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                keys.update(node["properties"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(keys)


def _meant_for(doc: YamlDoc, path: DataPath, mapping: dict[str, Any], key: str) -> DataPath | None:
    """The list item that ``key`` (unknown in ``mapping``) was most likely meant for: the deepest item that
    starts above it in the file and lacks the key; None when there is none (or the key is known nowhere)."""
    if key not in _all_keys() or (*path, key) not in doc.key_pos:
        return None
    key_line, key_col = doc.key_pos[(*path, key)]
    best: DataPath | None = None
    stack: list[tuple[Any, DataPath]] = [(mapping, path)]
    while stack:
        value, where = stack.pop()
        if not isinstance(value, dict):
            continue
        for k, v in value.items():
            if isinstance(v, list) and v and isinstance(v[-1], dict):
                item_path = (*where, k, len(v) - 1)
                line, col = doc.pos.get(item_path, (0, 0))
                if 0 < line < key_line and col > key_col and key not in v[-1]:
                    best = item_path
                    stack.append((v[-1], item_path))
    return best


def _misplaced_key(doc: YamlDoc, path: DataPath, mapping: dict[str, Any], key: str) -> str | None:
    item_path = _meant_for(doc, path, mapping, key)
    if item_path is None:
        return None
    item = _at(doc.data, item_path)
    if not isinstance(item, dict) or not item:
        return None
    first = next(iter(item))
    line, col = doc.key_pos.get((*item_path, first), doc.pos.get(item_path, (0, 0)))
    doc.misplaced.setdefault(id(item), set()).add(key)
    text = doc.text.split("\n")[line - 1].strip() if line else ""
    return (
        f"{key!r} is not a key here, and it is indented less than the item above it: to belong to the "
        f"item at line {line} (`{text}`), indent it by {col - 1} spaces, like its `{first}:`"
    )


def _at(data: Any, path: DataPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _add_schema_error(doc: YamlDoc, error: jsonschema.ValidationError, report: Report) -> None:
    path: DataPath = tuple(error.absolute_path)
    line, col = doc.where(path)
    code, message = "schema", error.message
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        for extra in sorted(set(error.instance) - allowed):
            kline, kcol = doc.where((*path, extra), key=True)
            moved = _misplaced_key(doc, path, error.instance, extra)
            report.add(
                Location(doc.file, kline, kcol),
                moved or f"unknown key {extra!r}{did_you_mean(extra, allowed)}",
                "unknown-key",
                author_path((*path, extra)),
            )
        return
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = {k for k in error.validator_value if k not in error.instance}
        if missing and missing <= doc.misplaced.get(id(error.instance), set()):
            return  # the key is there, one level too shallow: reported as such
    if error.validator == "enum" and isinstance(error.instance, str):
        thai: dict[str, str] = error.schema.get("x-aliases", {})
        options = [str(o) for o in error.validator_value if o not in thai]
        also = " (or its Thai name)" if thai else ""
        near = did_you_mean(error.instance, [*options, *thai])
        message = f"{error.instance!r} is not one of {', '.join(options)}{also}{near}"
    elif error.validator == "oneOf" and not path and isinstance(error.instance, dict):
        has = [k for k in ("units", "sections") if k in error.instance]
        message = (
            "use either `units:` (short form) or `sections:` (full form), not both"
            if has
            else "a course needs `units:` (short form) or `sections:` (full form)"
        )
        code = "course-structure"
    elif error.validator == "type" and path and path[-1] == "choices" and isinstance(error.instance, list):
        message = "choices are a mapping of choice id to text ({a: ..., b: ...}), not a list"
    elif error.validator == "pattern" and isinstance(error.instance, str):
        message = f"{error.instance!r} is not allowed here: {_pattern_hint(error.validator_value)}"
    elif error.validator == "required" and isinstance(error.instance, dict):
        message = error.message.replace("a required property", "required")
    report.add(Location(doc.file, line, col), message, code, author_path(path))


def _pattern_hint(pattern: str) -> str:
    if "_.-]{0,63}" in pattern:
        return "use ASCII letters, digits, '_', '-' or '.', starting with a letter or digit (at most 64)"
    if "(?!.*" in pattern:
        return "use a relative path inside the course folder with ASCII letters, digits, '_', '-', '.', '/'"
    return f"must match {pattern}"


def read_source(course_dir: Path) -> tuple[SourceTree | None, Report]:
    """Read a course folder: every file parsed and schema-checked, includes spliced in.

    Raises ``UsageError`` when the folder or its course.yaml is missing; unreadable or invalid files of the
    course become problems in the report (the tree is None when course.yaml itself cannot be read).
    """
    if not course_dir.exists():
        raise UsageError(f"{display_path(course_dir)}: no such folder")
    if not course_dir.is_dir():
        raise UsageError(
            f"{display_path(course_dir)}: not a folder (give the course folder holding {COURSE_FILE})"
        )
    course_file = course_dir / COURSE_FILE
    if not course_file.is_file():
        raise UsageError(
            f"{display_path(course_dir)}: no {COURSE_FILE} in this folder; is it a course folder?"
        )
    report = Report()
    paths = DisplayPaths()
    try:
        doc = load_yaml(course_file, paths.show(course_file))
    except InvalidInputError as exc:
        add_unreadable(report, paths.show(course_file), exc)
        return None, report
    tree = SourceTree(
        course_dir,
        doc.data if isinstance(doc.data, dict) else {},
        [doc],
        paths=paths,
        files=CourseFiles(course_dir),
    )
    schema_problems(doc, "course", report)
    if not isinstance(doc.data, dict):
        if doc.data is not None:
            report.add(Location(doc.file, 1, 1), "course.yaml must be a mapping of course settings", "schema")
        return tree, report
    _register(tree, doc)
    _Includer(tree, report).run()
    return tree, report


class _Includer:
    """Splices `include:` items and quiz `file:`s into the tree, each file validated on its own."""

    def __init__(self, tree: SourceTree, report: Report) -> None:
        self.tree = tree
        self.report = report
        self.loaded: dict[Path, YamlDoc] = {}

    def run(self) -> None:
        data = self.tree.data
        if isinstance(data.get("sections"), list):
            for section in self.items(data, "sections", "section"):
                for sub in self.items(section, "subsections", "subsection"):
                    for unit in self.items(sub, "units", "unit"):
                        self.blocks(unit)
        if isinstance(data.get("units"), list):
            for unit in self.items(data, "units", "unit"):
                self.blocks(unit)

    def items(self, parent: Any, key: str, kind: str) -> list[dict[str, Any]]:
        if not isinstance(parent, dict) or not isinstance(parent.get(key), list):
            return []
        items = parent[key]
        for i, item in enumerate(items):
            if isinstance(item, dict) and set(item) == {"include"} and isinstance(item["include"], str):
                loaded = self.load(item, "include", kind)
                if loaded is not None:
                    items[i] = loaded
        return [item for item in items if isinstance(item, dict) and "include" not in item]

    def blocks(self, unit: dict[str, Any]) -> None:
        blocks = unit.get("blocks")
        if not isinstance(blocks, list):  # the schema check has reported it (found by tests/test_fuzz.py)
            return
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "quiz" and isinstance(block.get("file"), str):
                if "questions" in block:
                    where, path = self.tree.where(block, "questions", key=True)
                    self.report.add(
                        where, "give `questions:` or `file:`, not both", "quiz-questions-twice", path
                    )
                    continue
                quiz = self.load(block, "file", "quiz")
                if quiz is not None:
                    # Settings written in the course file win over the quiz file's.
                    block["questions"] = quiz.get("questions")
                    for k, v in quiz.items():
                        block.setdefault(k, v)

    def load(self, holder: dict[str, Any], key: str, kind: str) -> dict[str, Any] | None:
        rel = holder[key]
        tree = self.tree
        target = self.listed(rel)
        if target is None:  # not a plain path to a listed file: resolved and looked at on the disk
            target = resolve_inside(tree.root_dir, rel, tree.paths)
            if target is None:
                if ".." not in rel.split("/") and not rel.startswith("/"):  # else the schema said it already
                    self.problem(holder, key, f"{rel!r} points outside the course folder", "path-outside")
                return None
            if not target.is_file():
                self.problem(holder, key, f"file {rel!r} not found{_near_files(target)}", "file-missing")
                return None
        if target in self.loaded:
            self.problem(holder, key, f"{rel!r} is included more than once", "include-repeated")
            return None
        shown = tree.paths.show(target, plain=True)
        try:
            doc = load_yaml(target, shown)
        except InvalidInputError as exc:
            add_unreadable(self.report, shown, exc)
            return None
        self.loaded[target] = doc
        tree.docs.append(doc)
        schema_problems(doc, kind, self.report)
        if not isinstance(doc.data, dict):
            return None
        _register(tree, doc)
        return doc.data

    def listed(self, rel: str) -> Path | None:
        """``resolve_inside(root, rel)`` without a system call, for a plain relative path (no `..`, `.` or
        `//`) that the course's listing holds as a regular file: the listing descends into no symbolic
        link, so only the course folder itself may be one, and folders are resolved once each. None for
        anything else, which is then looked up on the disk."""
        files = self.tree.files
        if files is None or not rel or rel.startswith("/") or posixpath.normpath(rel) != rel:
            return None
        if rel.startswith("../") or rel == ".." or not files.is_regular(rel):
            return None
        return Path(self.tree.paths.real(self.tree.root_dir / rel, plain=True))

    def problem(self, holder: dict[str, Any], key: str, message: str, code: str) -> None:
        where, path = self.tree.where(holder, key)
        self.report.add(where, message, code, path)


def resolve_inside(root: Path, rel: str, paths: DisplayPaths | None = None) -> Path | None:
    """``root/rel`` if it stays inside ``root`` (symlinks resolved), else None.

    With ``paths`` (one run's resolutions) each folder is resolved once, and the file itself costs one
    ``lstat`` (is it a symbolic link?), not a resolution of every component.
    """
    if paths is None:
        target = (root / rel).resolve()
        try:
            target.relative_to(root.resolve())
        except ValueError:
            return None
        return target
    real = paths.real(root / rel)
    base = paths.real_folder(root)
    if real != base and not real.startswith(base if base.endswith(os.sep) else base + os.sep):
        return None
    return Path(real)


def _near_files(target: Path) -> str:
    folder = target.parent
    if not folder.is_dir():
        return ""
    hint = did_you_mean(target.name, [p.name for p in folder.iterdir()])
    return hint.replace("; did you mean", " (did you mean") + ")" if hint else ""


def add_unreadable(report: Report, shown: str, exc: InvalidInputError) -> None:
    """A file that cannot be parsed at all: its message starts with `shown[:line[:col]]: `."""
    message = str(exc)
    line = col = 0
    if message.startswith(shown):
        where, _, message = message[len(shown) :].partition(": ")
        nums = [int(p) for p in where.split(":") if p.isdigit()]
        line, col = [*nums, 0, 0][:2]
    if "UTF-8" in message or "binary" in message:
        code = "file-encoding"
    elif "not found" in message:
        code = "file-missing"
    else:
        code = "yaml-invalid" if "YAML" in message or line else "file-unreadable"
    report.add(Location(shown, line, col), message, code)
