"""Semantic checks: what a schema cannot say. Each problem is located where the designer wrote it.

The checks are written defensively: they also run on a tree that failed its schema, so that one run
reports everything.
"""

from __future__ import annotations

import bisect
import os
import posixpath
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from xblock.core import XBlock
from xblock.fields import Scope

from ..errors import InvalidInputError, Location, Report, Severity, display_path
from ..safe import decode_text
from . import links, markup, thai
from .encoding import read_course_text
from .outline import Node, outline
from .reader import SourceTree, add_unreadable, author_path, did_you_mean, resolve_inside
from .yamlpos import DataPath, YamlDoc

BANGKOK = timezone(timedelta(hours=7))
_DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})?)?$")
BE_OFFSET = 543  # B.E. = C.E. + 543
BE_YEARS_FROM = 2400  # a year above this in a date is a B.E. year (C.E. 1857 is long before any course)
W = Severity.WARNING


@cache
def xblock_types() -> frozenset[str]:
    """Entry point names of the installed XBlocks usable as `type:` (this toolkit's own lm-* are internal)."""
    return frozenset(ep.name for ep in entry_points(group="xblock.v1") if not ep.name.startswith("lm-"))


BUILTIN_BLOCKS = ("html", "video", "quiz", "olx")
# Files in static/ read as text for the Thai check.
_TEXT_SUFFIXES = frozenset({"vtt", "srt", "html", "htm", "md", "markdown", "txt", "xml", "svg", "css"})
_BAD_NAME_CHAR = re.compile("[ #?%&]")  # in an asset's name
_THAI_ESCAPE = re.compile(r"\\[uUx]0*[eE][0-9a-fA-F]{2}")


def parse_when(text: str) -> datetime | None:
    """An ISO date or date-time; a date alone is midnight in Bangkok. None when unparsable."""
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        try:
            d = date.fromisoformat(text)
        except (TypeError, ValueError):
            return None
        value = datetime(d.year, d.month, d.day)
    return value if value.tzinfo else value.replace(tzinfo=BANGKOK)


class Checker:
    def __init__(self, tree: SourceTree, report: Report) -> None:
        self.tree = tree
        self.report = report
        self.root = tree.root_dir
        self.paths = tree.paths
        self.root_resolved = self.paths.real_folder(tree.root_dir)
        if tree.files is None:
            tree.files = links.CourseFiles(tree.root_dir)
        self.files = tree.files
        self.folders: dict[str, str] = {}  # resolved folder -> relative to the course root
        self.doc_folders: dict[int, str] = {}  # id(YAML document) -> folder_of its file
        # (url, folder) -> what it names: a course links the same files from many pages
        self.resolved: dict[tuple[str, str], links.Resolved | None] = {}

    def add(
        self,
        obj: Any,
        keys: tuple[str | int, ...],
        message: str,
        code: str,
        severity: Severity = Severity.ERROR,
        key: bool = False,
    ) -> None:
        where, path = self.tree.where(obj, *keys, key=key)
        self.report.add(where, message, code, path, severity)

    # ---- entry
    def run(self) -> Node:
        course = outline(self.tree)
        self.nodes = course.walk()  # the outline does not change while it is checked
        self.course_settings(course)
        self.unique_ids(course)
        post_tests = []
        for node in self.nodes:
            if node.kind in ("section", "subsection") and not node.derived:
                for key in ("start", "due") if node.kind == "subsection" else ("start",):
                    self.date(node.data, key)
            if node.kind in ("section", "subsection") and not node.derived and not node.children:
                field = "subsections" if node.kind == "section" else "units"
                self.add(node.data, (field,), f"the {node.kind} has no {field}", f"{node.kind}-empty")
            elif node.kind == "unit" and not node.children and isinstance(node.data.get("blocks"), list):
                self.add(node.data, ("blocks",), "the unit has no blocks", "unit-empty")
            elif node.kind == "block":
                self.block(node)
                if node.data.get("type") == "quiz" and node.data.get("role") == "post-test":
                    post_tests.append(node)
        for extra in post_tests[1:]:
            self.add(
                extra.data,
                ("role",),
                f"a second post-test (the first is {post_tests[0].id!r}); "
                "a course has one post-test that decides the result",
                "quiz-post-test-many",
            )
        self.certificate(post_tests, course)
        self.thai_text()
        self.static_folder()
        return course

    # ---- course level
    def course_settings(self, course: Node) -> None:
        data = self.tree.data
        dates = {}
        for key in ("start", "end", "enrollment_start", "enrollment_end"):
            when = self.date(data, key)
            if when is not None:
                dates[key] = when
        for first, second in (
            ("start", "end"),
            ("enrollment_start", "enrollment_end"),
            ("enrollment_start", "end"),
        ):
            if first in dates and second in dates and dates[first] >= dates[second]:
                self.add(
                    data,
                    (second,),
                    f"{second} ({data[second]}) must be after {first} ({data[first]})",
                    "dates-order",
                )
        if "start" in data and "end" not in data:
            self.add(
                data,
                ("start",),
                "no `end` date: Open edX needs one; packages will use start + 1 year",
                "course-end-missing",
                W,
            )
        if isinstance(data.get("image"), str):
            self.asset(data, ("image",), data["image"])
        if isinstance(data.get("description"), str):
            self.body_refs(data, ("description",), data["description"], None)

    def date(self, data: dict[str, Any], key: str) -> datetime | None:
        """The date at ``data[key]``, or None after reporting why it cannot be used (or when absent)."""
        text = data.get(key)
        if not isinstance(text, str):
            return None
        if not _DATE_SHAPE.match(text):
            return None  # the schema has said so
        when = parse_when(text)
        if when is None:
            self.add(data, (key,), f"{text!r} is not a valid date", "date-invalid")
            return None
        if when.year > BE_YEARS_FROM:
            ce_year = when.year - BE_OFFSET
            ce_text = f"{ce_year:04d}{text[4:]}"
            offer = (
                f"write {ce_text}"
                if parse_when(ce_text) is not None
                else f"C.E. {ce_year} has no {when.day} {when:%B}; check the date"
            )
            self.add(
                data,
                (key,),
                f"{text} has a Buddhist-era year (พ.ศ. {when.year} = ค.ศ. {ce_year}); dates are "
                f"written in the Common Era: {offer}",
                "date-buddhist-era",
            )
            return None
        return when

    def certificate(self, post_tests: list[Node], course: Node) -> None:
        data = self.tree.data
        cert = data.get("certificate")
        if (
            isinstance(cert, dict)
            and isinstance(cert.get("requires"), list)
            and "post-test" in cert["requires"]
            and not post_tests
        ):
            self.add(
                cert,
                ("requires",),
                "the certificate requires a post-test but no quiz has `role: post-test`",
                "certificate-post-test-missing",
            )
        survey = cert.get("survey") if isinstance(cert, dict) else None
        if isinstance(survey, str):
            blocks = {n.id for n in self.nodes if n.kind == "block"}
            if survey not in blocks:
                self.add(
                    cert,
                    ("survey",),
                    f"the certificate's survey {survey!r} is not a block of this course "
                    "(give the id of the quiz or block that holds the satisfaction survey)",
                    "certificate-survey-unknown",
                )

        graded = [
            n
            for n in self.nodes
            if n.kind == "block"
            and n.data.get("type") == "quiz"
            and n.data.get("role") in ("graded", "post-test")
        ]
        if "pass_threshold" in data and not graded:
            self.add(
                data,
                ("pass_threshold",),
                "pass_threshold is set but no quiz is graded or a post-test",
                "grading-nothing-graded",
                W,
            )

    def unique_ids(self, course: Node) -> None:
        """Ids are unique course-wide. Written ids are checked first, then the ones made up from them (a
        short-form unit's `<unit>_ch`/`<unit>_seq`, a block's `<unit>-html1`). A made-up id is not reported
        when the id it was made from collided already: one message per mistake."""
        seen: dict[str, Node] = {}
        collided: set[int] = set()  # nodes whose id was reported (or follows from one that was)
        nodes = self.nodes
        for node in [n for n in nodes if n.basis is None] + [n for n in nodes if n.basis is not None]:
            other = seen.setdefault(node.id, node)
            if other is node:
                continue
            collided.add(id(node))
            if node.basis is not None and id(node.basis) in collided:
                continue
            where = self.first_at(other.data, node.data)
            if node.basis is None:
                self.add(node.data, ("id",), f"id {node.id!r} used twice (first at {where})", "id-duplicate")
            else:
                how = "derived from the unit id" if node.derived else "made up from its place"
                self.add(
                    node.data,
                    (),
                    f"this {node.kind}'s id {node.id!r} ({how}) is also used at {where}; give it an id",
                    "id-duplicate",
                )

    def first_at(self, first: dict[str, Any], here: dict[str, Any]) -> str:
        """Where ``first`` was written, as `line N` inside the file of ``here``, else `file:line:col`."""
        where, _ = self.tree.where(first, "id")
        mine, _ = self.tree.where(here)
        return f"line {where.line}" if where.file == mine.file and where.line else str(where)

    # ---- blocks
    def block(self, node: Node) -> None:
        data = node.data
        kind = data.get("type")
        if not isinstance(kind, str):
            return
        if kind == "html":
            self.html(data)
        elif kind == "video":
            self.video(data)
        elif kind == "quiz":
            self.quiz(data)
        elif kind == "olx":
            self.raw(data)
        elif kind not in xblock_types():
            options = set(BUILTIN_BLOCKS) | xblock_types()
            from ..plugins import missing_block_hint

            hint = missing_block_hint(kind) or did_you_mean(kind, options)
            self.add(data, ("type",), f"unknown block type {kind!r}{hint}", "block-type-unknown")
        else:
            self.xblock_fields(data, kind)

    def exactly_one(self, data: dict[str, Any], keys: tuple[str, ...], code: str) -> str | None:
        present = [k for k in keys if k in data]
        if len(present) == 1:
            return present[0]
        if not present and any(set(keys) & doc.misplaced.get(id(data), set()) for doc in self.tree.docs):
            return None  # the key is written one level too shallow, and reported as such
        names = ", ".join(f"`{k}`" for k in keys)
        if present:
            self.add(data, (present[1],), f"give only one of {names}", code, key=True)
        else:
            self.add(data, ("type",), f"needs one of {names}", code)
        return None

    def html(self, data: dict[str, Any]) -> None:
        which = self.exactly_one(data, ("body", "file"), "html-body")
        if which == "body" and isinstance(data["body"], str):
            self.body_refs(data, ("body",), data["body"], None, data.get("format") != "html")
        elif which == "file" and isinstance(data["file"], str):
            path = self.asset(data, ("file",), data["file"], folder=None)
            if path is None:
                return
            if path.suffix.lower() not in (".md", ".markdown", ".html", ".htm"):
                self.add(
                    data,
                    ("file",),
                    f"{data['file']!r}: an html block reads .md or .html files",
                    "html-file-type",
                )
                return
            try:
                text = self.tree_text(path)
            except InvalidInputError as exc:
                add_unreadable(self.report, display_path(path), exc)
                return
            markdown = path.suffix.lower() in (".md", ".markdown")
            if data.get("format") in ("markdown", "html"):
                markdown = data["format"] == "markdown"
            self.body_refs(data, ("file",), text, path, markdown)

    def tree_text(self, path: Path) -> str:
        if path not in self.tree.texts:
            self.tree.texts[path] = read_course_text(path)
        return self.tree.texts[path]

    def folder_of(self, file: Path, plain: bool = True) -> str:
        """The folder of a course file, relative to the course root ('' for the root itself).

        ``plain``: ``file`` is no symbolic link (a file the checks found in the course's listing, or a
        resolved path), so only its folder is resolved, once per folder."""
        real_dir = os.path.dirname(self.paths.real(file, plain))
        folder = self.folders.get(real_dir)
        if folder is None:
            rel = os.path.relpath(real_dir, self.root_resolved)
            folder = self.folders[real_dir] = "" if rel == "." else rel.replace(os.sep, "/")
        return folder

    def doc_folder(self, doc: YamlDoc) -> str:
        """``folder_of`` the YAML file ``doc``, once per file (a section file holds hundreds of bodies)."""
        folder = self.doc_folders.get(id(doc))
        if folder is None:
            folder = self.doc_folders[id(doc)] = self.folder_of(doc.path, doc is not self.tree.docs[0])
        return folder

    def body_refs(
        self, data: dict[str, Any], keys: tuple[str, ...], text: str, file: Path | None, markdown: bool = True
    ) -> None:
        """Every link and image of a body must name a course file; the ones that do are rewritten to
        `/static/NAME` for the loader. Network addresses only warn (offline packages lose them)."""
        found = list(links.links(text, markdown))
        if not found:
            return
        if file is not None:
            base = self.folder_of(file)
        else:
            origin = self.tree.origin.get(id(data))
            base = self.doc_folder(origin[0]) if origin else ""
        changes: list[tuple[int, int, str]] = []
        known = self.resolved
        for link in found:
            key = (link.url, base)
            if key in known:
                resolved = known[key]
            else:
                resolved = known[key] = links.resolve(link.url, base, self.files)
            if resolved is None:
                if markup.is_network(link.url):
                    self.body_problem(
                        data, keys, file, text, link,
                        f"{link.url} is on the network: offline packages (SCORM) cannot show it",
                        "content-network-url", W,
                    )  # fmt: skip
            elif resolved.code == "asset-missing" and link.nav and not links.names_a_file(link.url):
                self.body_problem(
                    data, keys, file, text, link,
                    f"link {link.url!r} names no course file: a platform resolves it against the page's own "
                    "address, where it most likely leads nowhere; link a file in static/ or a full https:// address",
                    "link-not-a-file", W,
                )  # fmt: skip
            elif resolved.code:
                self.body_problem(data, keys, file, text, link, resolved.message, resolved.code)
            elif resolved.canonical is not None:
                changes.append((link.start, link.end, resolved.canonical))
        if changes:
            self.tree.bodies[(id(data), keys[0])] = links.rewrite(text, changes)

    def body_problem(
        self,
        data: dict[str, Any],
        keys: tuple[str, ...],
        file: Path | None,
        text: str,
        link: links.Link,
        message: str,
        code: str,
        severity: Severity = Severity.ERROR,
    ) -> None:
        if file is not None:
            shown = self.paths.show(file, plain=True)
            self.report.add(Location(shown, link.line, link.column), message, code, "", severity)
            return
        origin = self.tree.origin.get(id(data))
        doc = origin[0] if origin else self.tree.docs[0]
        path = (*(origin[1] if origin else ()), *keys)
        line, column = inside_value(doc, path, text, link.start, link.url)
        self.report.add(Location(doc.file, line, column), message, code, author_path(path), severity)

    def asset(
        self, data: dict[str, Any], keys: tuple[str, ...], rel: str, folder: str | None = "static/"
    ) -> Path | None:
        """Check a file reference; assets (``folder``) must live under static/. Returns the path if it exists."""
        if folder and not rel.startswith(folder):
            self.add(
                data,
                keys,
                f"{rel!r}: course assets live in {folder} (it is copied into every package)",
                "asset-outside-static",
            )
            return None
        # The course's file list answers without a system call; only symbolic links are resolved, since
        # they may lead out of the course.
        files = self.files
        norm = posixpath.normpath(rel)
        parts = norm.split("/")
        through_link = any("/".join(parts[: i + 1]) in files.symlinks for i in range(len(parts)))
        if norm == ".." or norm.startswith(("../", "/")) or through_link:
            target = resolve_inside(self.root, rel, self.paths)
            if target is None:
                if ".." not in rel.split("/") and not rel.startswith("/"):  # else the schema said it already
                    self.add(data, keys, f"{rel!r} points outside the course folder", "path-outside")
                return None
            exists = target.is_file()
        else:
            target = self.root / norm
            exists = norm in files.paths
        if not exists:
            folder_rel, _, name = norm.rpartition("/")
            hint = did_you_mean(name, files.names_in(folder_rel))
            self.add(
                data, keys, f"file {rel!r} not found{hint}", "asset-missing" if folder else "file-missing"
            )
            return None
        return target

    def video(self, data: dict[str, Any]) -> None:
        which = self.exactly_one(data, ("src", "url", "youtube"), "video-source")
        if which == "src" and isinstance(data["src"], str):
            self.asset(data, ("src",), data["src"])
        elif which in ("url", "youtube"):
            self.add(
                data,
                (which,),
                "the video is on the network: offline packages (SCORM) will show a link instead",
                "video-external",
                W,
            )
        subtitles = data.get("subtitles")
        if isinstance(subtitles, dict):
            for lang, rel in subtitles.items():
                if not isinstance(rel, str):
                    continue
                path = self.asset(subtitles, (lang,), rel)
                if path is None:
                    continue
                if path.suffix.lower() != ".vtt":
                    self.add(
                        subtitles, (lang,), f"{rel!r}: subtitles must be WebVTT (.vtt)", "subtitles-format"
                    )
                elif not path.read_bytes()[:16].lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT"):
                    self.add(subtitles, (lang,), f"{rel!r} does not start with 'WEBVTT'", "subtitles-format")
        for key in ("poster", "transcript"):
            if isinstance(data.get(key), str):
                self.asset(data, (key,), data[key])

    def raw(self, data: dict[str, Any]) -> None:
        which = self.exactly_one(data, ("xml", "file"), "olx-body")
        if which == "file" and isinstance(data["file"], str):
            self.asset(data, ("file",), data["file"], folder=None)
        for i, rel in enumerate(data.get("files") or []):
            if isinstance(rel, str):
                self.asset(data["files"], (i,), rel, folder=None)

    def xblock_fields(self, data: dict[str, Any], kind: str) -> None:
        try:
            cls = XBlock.load_class(kind)
        except Exception as exc:  # a broken third-party package must not stop validation
            from ..plugins import package_of
            from ..tree import xblock_entry_points

            eps = xblock_entry_points().get(kind.lower(), [])
            origin = f" (package {package_of(eps[0])})" if eps else ""
            self.add(data, ("type",), f"XBlock {kind!r}{origin} cannot be loaded: {exc}", "xblock-broken")
            return
        fields = cls.fields
        usable = {n for n, f in fields.items() if f.scope in (Scope.content, Scope.settings)}
        schema = getattr(cls, "source_schema", None)
        if isinstance(schema, dict):
            learner = {n for n in fields if n not in usable}  # reported below as learner state
            self.xblock_schema(data, kind, schema, learner)
        for name, value in data.items():
            if name in ("type", "id", "title", "policy"):
                continue
            if isinstance(schema, dict) and (name not in fields or name in usable):
                continue  # the block's own schema has judged it
            if name not in fields:
                self.add(
                    data,
                    (name,),
                    f"{kind} has no field {name!r}{did_you_mean(name, usable)}",
                    "xblock-field-unknown",
                    key=True,
                )
            elif name not in usable:
                self.add(
                    data,
                    (name,),
                    f"field {name!r} of {kind} is learner state ({fields[name].scope.name}); "
                    "only content and settings fields belong in a course",
                    "xblock-field-scope",
                    key=True,
                )
            else:
                try:
                    fields[name].from_json(value)
                except (TypeError, ValueError) as exc:
                    self.add(data, (name,), f"bad value for {kind}.{name}: {exc}", "xblock-field-value")

    def xblock_schema(self, data: dict[str, Any], kind: str, schema: dict[str, Any], skip: set[str]) -> None:
        """The block's declared JSON Schema (``source_schema``) over its keys (besides type, id, title, policy)."""
        import jsonschema

        own = {k: v for k, v in data.items() if k not in ("type", "id", "title", "policy") and k not in skip}
        try:
            validator = jsonschema.Draft202012Validator(schema)
            errors = sorted(validator.iter_errors(own), key=lambda e: list(map(str, e.absolute_path)))
        except jsonschema.SchemaError as exc:
            self.add(
                data,
                ("type",),
                f"XBlock {kind!r} declares an invalid source_schema: {exc.message}",
                "xblock-schema-invalid",
            )
            return
        for error in errors:
            keys = tuple(error.absolute_path)
            obj: Any = data
            for k in keys[:-1]:
                obj = obj[k]
            if error.validator == "additionalProperties" and not keys:
                for extra in sorted(set(own) - set(schema.get("properties", {}))):
                    usable = sorted(schema.get("properties", {}))
                    self.add(
                        data,
                        (extra,),
                        f"{kind} has no key {extra!r}{did_you_mean(extra, usable)}",
                        "xblock-field-unknown",
                        key=True,
                    )
                continue
            self.add(obj, keys[-1:], f"{kind}: {error.message}", "xblock-schema")

    # ---- quizzes
    def quiz(self, data: dict[str, Any]) -> None:
        if data.get("role") in ("pre-test", "practice") and "weight" in data:
            self.add(
                data,
                ("weight",),
                f"weight is ignored: a {data['role']} quiz is never graded",
                "quiz-weight-ignored",
                W,
            )
        questions = data.get("questions")
        if not isinstance(questions, list):
            if "file" not in data:
                self.add(
                    data, ("type",), "the quiz has no questions (give `questions:` or `file:`)", "quiz-empty"
                )
            return
        seen: dict[str, int] = {}
        for i, q in enumerate(questions):
            if not isinstance(q, dict):
                continue
            qid = q.get("id") if isinstance(q.get("id"), str) else f"q{i + 1}"
            if qid in seen:
                first = questions[seen[qid]]
                how = "" if "id" in first else ", whose automatic id it is"
                self.add(
                    q,
                    ("id",) if "id" in q else (),
                    f"question id {qid!r} used twice in this quiz (also question {seen[qid] + 1}{how})",
                    "quiz-question-id-duplicate",
                )
            seen.setdefault(qid, i)
            self.question(q)

    def question(self, q: dict[str, Any]) -> None:
        for key in ("prompt", "explain"):
            if isinstance(q.get(key), str):
                self.body_refs(q, (key,), q[key], None)
        kind = q.get("type")
        if kind not in ("single-choice", "multiple-choice"):
            return
        choices = q.get("choices")
        if not isinstance(choices, dict):
            return
        ids = [str(c) for c in choices]
        answer = q.get("answer")
        picked = answer if isinstance(answer, list) else [answer]
        if kind == "single-choice" and len(picked) != 1:
            self.add(
                q,
                ("answer",),
                f"a single-choice question has exactly one correct answer, not {len(picked)} "
                "(use multiple-choice for several)",
                "quiz-single-answer-count",
            )
        for j, a in enumerate(picked):
            if isinstance(a, str | int) and str(a) not in ids:
                keys = ("answer", j) if isinstance(answer, list) else ("answer",)
                position = (
                    " (an answer names a choice by its id, not by its number)"
                    if isinstance(a, int) and not any(c.isdigit() for c in ids)
                    else ""
                )
                self.add(
                    q,
                    keys,
                    f"{a!r} is not one of the choices {', '.join(ids)}{position}",
                    "quiz-answer-unknown",
                )
        for cid in (q.get("feedback") or {}) if isinstance(q.get("feedback"), dict) else {}:
            if str(cid) not in ids:
                self.add(
                    q["feedback"],
                    (cid,),
                    f"feedback for {cid!r}, which is not one of the choices {', '.join(ids)}",
                    "quiz-feedback-unknown",
                    key=True,
                )

    # ---- whole files
    def thai_text(self) -> None:
        """Thai typing problems in every text file of the course, at their own line and column: the YAML
        files, the bodies read by html blocks, and the text files in static/ (subtitles, pages)."""
        # Keyed by the resolved path (a file read twice is scanned once), resolved once per folder: YAML
        # files other than course.yaml were resolved when included, bodies are files of the listing.
        real = self.paths.real
        # resolved path -> (its text, the YAML document it is) or, for a file of static/ not read yet,
        # (None, None): read as bytes, decoded only when it may hold a problem (most hold no Thai at all)
        texts: dict[str, tuple[str | None, YamlDoc | None]] = {}
        for doc in self.tree.docs:
            texts[real(doc.path, doc is not self.tree.docs[0])] = (doc.text, doc)
            if "\\" in doc.text and _THAI_ESCAPE.search(doc.text):
                self.escaped_thai(doc)
        for path, body in self.tree.texts.items():
            texts.setdefault(real(path, True), (body, None))
        root = os.fspath(self.root)
        symlinks = self.files.symlinks
        for rel in sorted(  # only the text files sorted (the same order), not every file of static/
            rel
            for rel in self.files.paths
            if rel.startswith("static/") and rel.rsplit(".", 1)[-1].lower() in _TEXT_SUFFIXES
        ):
            texts.setdefault(real(os.path.join(root, rel), rel not in symlinks), (None, None))
        for key, (stored, owner) in texts.items():
            text = stored if stored is not None else self.static_text(key)
            if text is None:
                continue
            problems = list(thai.thai_problems(text))
            if not problems:
                continue
            shown = owner.file if owner is not None else self.paths.show(key, plain=True)
            for problem in problems:
                where = author_path(owner.path_at(problem.line, problem.column)) if owner is not None else ""
                self.report.add(
                    Location(shown, problem.line, problem.column), problem.message, problem.code, where, W
                )

    @staticmethod
    def static_text(path: str) -> str | None:
        """The text of a file in static/ when it may hold a Thai typing problem; None when it cannot, or
        when it is no UTF-8 text after all (not ours to judge: it is copied as it is)."""
        # os.read on a raw descriptor: half the CPU of open() + read() for these small files (no buffered
        # reader, no fstat for a buffer size), and a course may have thousands of them.
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        except OSError:
            return None
        finally:
            os.close(fd)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if not thai.utf8_suspect(data):
            return None
        try:
            return decode_text(data, path)
        except InvalidInputError:
            return None

    def escaped_thai(self, doc: YamlDoc) -> None:
        """A problem written with escapes (`"\\u0E4D\\u0E32"`) is only in the parsed value: report it there."""
        stack: list[tuple[Any, tuple[str | int, ...]]] = [(doc.data, ())]
        while stack:
            value, path = stack.pop()
            if isinstance(value, dict | list):
                origin = self.tree.origin.get(id(value))
                if origin is not None and origin[0] is not doc:
                    continue  # spliced in from an included file: checked with that file
                items = value.items() if isinstance(value, dict) else enumerate(value)
                stack.extend((v, (*path, k)) for k, v in items)
            elif isinstance(value, str):
                for problem in thai.thai_problems(value):
                    found = value[problem.offset : problem.offset + 2]
                    if found in doc.text:
                        continue  # typed literally: the scan of the file reports it
                    line, col = doc.where(path)
                    self.report.add(
                        Location(doc.file, line, col), problem.message, problem.code, author_path(path), W
                    )

    def static_folder(self) -> None:
        static = self.root / "static"
        if not static.is_dir():
            return
        # From the course's listing: no system call per file (15,000 small files are a real course).
        names = self.files.static_names()
        symlinks = self.files.symlinks
        if names is not None and not (symlinks and any(rel in symlinks for rel in names)):
            # All names at once (str methods on one text, not a call each): most courses have no problem,
            # and only then the entries are sorted and looked at one by one for the messages.
            joined = "\n".join(names)
            if joined.isascii() and not _BAD_NAME_CHAR.search(joined):
                return  # ASCII is its own NFC
        listed = self.files.static_entries()
        if listed is None:
            entries = [
                (p.relative_to(self.root).as_posix(), p.is_symlink()) for p in sorted(static.rglob("*"))
            ]
        else:
            entries = [(rel, rel in self.files.symlinks) for rel in listed]
        for rel, is_link in entries:
            if is_link:
                self.report.add(
                    Location(self.paths.show(self.root / rel)),
                    f"{rel}: symbolic links are not packaged",
                    "asset-symlink",
                )
            elif not rel.isascii() or _BAD_NAME_CHAR.search(rel):
                self.report.add(
                    Location(self.paths.show(self.root / rel, plain=True)),
                    f"{rel}: asset file names must be ASCII without "
                    "spaces or #?%& (Open edX and LMSs break on them)",
                    "asset-name",
                )
            elif unicodedata.normalize("NFC", rel) != rel:
                self.report.add(
                    Location(self.paths.show(self.root / rel, plain=True)),
                    f"{rel}: file name is not NFC",
                    "asset-name",
                )


def inside_value(doc: YamlDoc, path: DataPath, value: str, offset: int, needle: str) -> tuple[int, int]:
    """Line and column in the YAML file of ``needle`` found at ``offset`` of the scalar ``value`` at ``path``.

    A block scalar (`body: |`) holds its lines verbatim but indented, so the n-th occurrence of the needle
    in the value is the n-th after the value's start in the file; else the value's own position.
    """
    line, column = doc.where(path)
    starts = doc.line_starts()
    if not needle or line < 1 or line > len(starts):
        return line, column
    at = starts[line - 1] + column - 1
    for _ in range(value.count(needle, 0, offset) + 1):
        at = doc.text.find(needle, at)
        if at < 0:
            return line, column
        at += 1
    at -= 1
    found_line = bisect.bisect_right(starts, at)
    return found_line, at - starts[found_line - 1] + 1


def check(tree: SourceTree, report: Report) -> Node:
    """Run every semantic check; returns the outline the loader builds from."""
    return Checker(tree, report).run()
