"""SCORM 1.2 and SCORM 2004 4th edition packages: the whole course as one SCO played by ``player.js``.

Pipeline: block tree -> course data (units, answer key, grading rules) -> index.html (every unit rendered
from the blocks' own ``student_view`` markup, so the automation hooks are the runtime's) -> manifest ->
deterministic zip. The player (``exporters/player/``) navigates units, grades quizzes locally with the
rules of ``xblocks/grading.py`` and reports to the LMS; see docs/export-scorm.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lxml import etree
from web_fragments.fragment import Fragment
from xblock.core import XBlock
from xblock.runtime import DictKeyValueStore

from localmooc_xblocks.base import ui as block_ui

from .. import xblock_compat as compat
from ..errors import BuildError
from ..grading import course_grading
from ..tree import OTHER, CourseTree, TreeFieldData
from . import package_stem
from .archive import ArchiveWriter, build_time, source_files

PLAYER_FILES = ("player.js", "player.css")
BLOCKS_CSS = "lm.css"

# The player's own strings; the blocks bring theirs (xblocks/base.py UI), passed to the player too.
PLAYER_UI = {
    "th": {
        "contents": "สารบัญ",
        "prev": "ก่อนหน้า",
        "next": "ถัดไป",
        "unit_of": "หน่วยที่ {n} จาก {total}",
        "visited": "เข้าชมแล้ว",
        "current": "หน่วยปัจจุบัน",
        "progress": "เรียนแล้ว {n} จาก {total} หน่วย",
        "standalone": "ไม่พบระบบจัดการการเรียนรู้ (LMS): เปิดบทเรียนได้ แต่ความคืบหน้าและคะแนนจะไม่ถูกบันทึก",
        "course_passed": "ผลการเรียน: ผ่าน",
        "course_failed": "ผลการเรียน: ยังไม่ผ่าน",
        "course_done": "เรียนครบทุกหน่วยแล้ว",
        "correct_answer": "คำตอบที่ถูก",
        "skip": "ข้ามไปยังเนื้อหา",
    },
    "en": {
        "contents": "Contents",
        "prev": "Previous",
        "next": "Next",
        "unit_of": "Unit {n} of {total}",
        "visited": "visited",
        "current": "current unit",
        "progress": "{n} of {total} units visited",
        "standalone": "No learning management system (LMS) found: the course works, but progress and scores "
        "are not saved",
        "course_passed": "Course result: passed",
        "course_failed": "Course result: not passed yet",
        "course_done": "All units visited",
        "correct_answer": "Correct answer",
        "skip": "Skip to content",
    },
}

# `/static/NAME` in rendered markup (src, href, poster, ...) -> the package's relative `static/NAME`.
_STATIC_ATTR = re.compile(r"""(\s(?:src|href|poster|data|srcset)\s*=\s*["'])/static/""")
# The XBlock runtime's init-argument blobs: the player initialises quizzes itself, so they are dead weight.
_INIT_ARGS = re.compile(r'<script type="json/xblock-args" class="xblock_json_init_args">.*?</script>', re.S)
_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class ScormVersion:
    name: str  # exporter name and archive suffix
    schemaversion: str
    description: str


class _ScormExporter:
    version: ScormVersion

    @property
    def name(self) -> str:
        return self.version.name

    @property
    def description(self) -> str:
        return self.version.description

    def export(self, tree: CourseTree, out_dir: Path, **options: Any) -> Path:
        """Write ``<org>-<course>-<run>.<name>.zip`` into ``out_dir``; other options are other formats'."""
        tree = tree.cached()  # walked for units, quizzes, grading and the manifest: each block made once
        course = tree.course
        lang = course.language if course.language in PLAYER_UI else "th"
        units = _units(tree)
        statics = static_renderings(tree, units, lang)  # third-party blocks; fails before any work
        data = course_data(tree, units, self.version.schemaversion, lang)
        data["quizzes"].extend(q for s in statics.values() if (q := s.quiz) is not None)
        writer = ArchiveWriter(build_time(source_files(tree.source_dir, out_dir)))
        # The page is rendered unit by unit while the zip is written (index.html comes before lm.css, the
        # stylesheets its blocks use): no unit's markup is held once it is compressed.
        page = _Page()
        writer.add_chunks("index.html", lambda: _index_html(tree, units, data, lang, page))
        writer.add_chunks(BLOCKS_CSS, lambda: [_blocks_css(page)])
        player = files(__package__) / "player"
        for name in PLAYER_FILES:
            writer.add_bytes(name, (player / name).read_bytes())
        for name, content in sorted({k: v for s in statics.values() for k, v in s.files.items()}.items()):
            writer.add_bytes(name, content)
        for rel in sorted(tree.assets):
            writer.add_file(rel, tree.asset_path(rel))
        manifest = build_manifest(tree, self.version.schemaversion, writer.names())
        writer.add_bytes("imsmanifest.xml", manifest)
        target = out_dir / f"{package_stem(tree)}.{self.name}.zip"
        with _static_children(tree, statics), _course_blocks(tree):
            writer.write_zip(target)
        return target


class Scorm12Exporter(_ScormExporter):
    version = ScormVersion("scorm12", "1.2", "SCORM 1.2 package (one SCO, any SCORM 1.2 LMS)")


class Scorm2004Exporter(_ScormExporter):
    version = ScormVersion(
        "scorm2004", "2004 4th Edition", "SCORM 2004 4th edition package (one SCO, any SCORM 2004 LMS)"
    )


# --------------------------------------------------------------------------------------------------------
# Course data for the player


def _units(tree: CourseTree) -> list[XBlock]:
    return [b for b, _depth in tree.walk() if b.scope_ids.block_type == "lm-unit"]


def _uid(block: XBlock) -> str:
    return str(block.scope_ids.usage_id)


def _plain(html: str, limit: int) -> str:
    """Visible text of a prompt, for interaction descriptions (LMS reports show plain text)."""
    text = re.sub(r"<[^>]+>", " ", html)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:limit]


def _question_data(q: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": q["id"],
        "type": q["type"],
        "points": float(q.get("points", 1)),
        "answer": q["answer"],
        "text": _plain(q.get("prompt", ""), 250),
    }
    if q["type"] in ("single-choice", "multiple-choice"):
        # Canonical (unshuffled) order: suspend_data stores choices by their index in this list.
        out["choices"] = [str(c["id"]) for c in q.get("choices", [])]
        out["choice_text"] = {str(c["id"]): str(c["text"]) for c in q.get("choices", [])}
    if q["type"] == "true-false":
        out["answer"] = bool(q["answer"])
    if q.get("tolerance") not in (None, 0, ""):
        out["tolerance"] = q["tolerance"]
    if q.get("case_sensitive"):
        out["case_sensitive"] = True
    if q.get("exact"):
        out["exact"] = list(q["exact"])  # short-text: what must be typed exactly (player.js normalizeText)
    if q.get("feedback"):
        out["feedback"] = q["feedback"]
    if q.get("explain"):
        out["explain"] = q["explain"]
    return out


def course_data(tree: CourseTree, units: list[XBlock], schemaversion: str, lang: str) -> dict[str, Any]:
    """Everything the player needs besides the markup: units, quizzes with their answer key, grading rules.

    The answer key has to reach the browser: a SCO grades locally, there is no server to ask.
    """
    grading = course_grading(tree)
    unit_index = {_uid(u): i for i, u in enumerate(units)}
    quizzes = []
    v = tree.value  # the stored values: XBlock's reads deep-copy each quiz's questions
    for i, unit in enumerate(units):
        for block, _depth in tree.walk(unit):
            if block.scope_ids.block_type != "lm-quiz":
                continue
            quizzes.append(
                {
                    "id": _uid(block),
                    "unit": i,
                    "role": v(block, "role"),
                    "attempts": int(v(block, "attempts")),
                    "show_answers": v(block, "show_answers"),
                    "pass_threshold": float(v(block, "pass_threshold")),
                    "shuffle": bool(v(block, "shuffle")),
                    "questions": [_question_data(q) for q in v(block, "questions")],
                }
            )
    structure = json.dumps(
        [
            list(unit_index),
            [
                [q["id"], [(x["id"], x["type"], len(x.get("choices", []))) for x in q["questions"]]]
                for q in quizzes
            ],
        ]
    )
    return {
        "scorm": schemaversion,
        # Guards suspend_data: state saved by another build of the course is index-based and must not apply.
        "fingerprint": hashlib.sha256(structure.encode()).hexdigest()[:6],
        "lang": lang,
        "title": tree.course.display_name,
        "units": [{"id": _uid(u), "title": v(u, "display_name")} for u in units],
        "quizzes": quizzes,
        "grading": {
            "threshold": grading.pass_threshold,
            "post_test": grading.post_test.id if grading.post_test else None,
            "weights": {q.id: q.weight for q in grading.quizzes},
        },
        "ui": {**block_ui({"lang": lang}), **PLAYER_UI[lang]},
    }


# --------------------------------------------------------------------------------------------------------
# Third-party blocks: the static-rendering protocol (docs/plugins.md)
#
# A SCO has no server, so a block's student_view (which calls its handlers) cannot work in it. A block
# that wants to be exported to SCORM implements ``static_view(context) -> dict``:
#   html     (str, required) its markup, shown in the unit
#   css      (str) its stylesheet, added once to lm.css
#   files    ({name: bytes | str}) written to ``xblocks/<block type>/<name>``; ``context["static_url"]``
#            is that folder's URL relative to the page, for the markup to refer to them
#   grading  None (nothing to grade: the unit's visit is what counts) or a description the player grades
#            like a quiz: {"questions": [...], "attempts": 0, "show_answers": "always", "pass_threshold": 0.6}
#            with questions in the quiz block's normalised form and the markup using the quiz hooks.
# context holds "lang" and "static_url".

_STATIC_KEYS = {"html", "css", "files", "grading"}
_QUESTION_TYPES = ("single-choice", "multiple-choice", "true-false", "numeric", "short-text")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")


@dataclass
class _Static:
    html: str
    css: str
    files: dict[str, bytes]
    quiz: dict[str, Any] | None


def static_renderings(tree: CourseTree, units: list[XBlock], lang: str) -> dict[str, _Static]:
    """The static rendering of every third-party block, by usage id; BuildError naming the block, its
    unit and where it was written when one has no ``static_view`` or returns something unusable."""
    out: dict[str, _Static] = {}
    for i, unit in enumerate(units):
        for block, _depth in tree.walk(unit):
            block_type = block.scope_ids.block_type
            if block_type.startswith("lm-"):
                continue
            uid = _uid(block)
            where = f"{tree.where(block)}: block {uid!r} (type: {block_type}) in unit {_uid(unit)!r}"
            view = getattr(block, "static_view", None)
            if not callable(view):
                raise BuildError(
                    f"{where} cannot be exported to SCORM: its XBlock has no static_view() "
                    "(the static-rendering protocol, docs/plugins.md); build --format olx, or remove the "
                    "block from the course"
                )
            context = {"lang": lang, "static_url": f"xblocks/{block_type}/"}
            try:
                result = view(context)
            except Exception as exc:
                raise BuildError(f"{where}: static_view() failed: {type(exc).__name__}: {exc}") from exc
            out[uid] = _check_static(result, where, block_type, uid, i)
    return out


def _check_static(result: Any, where: str, block_type: str, uid: str, unit: int) -> _Static:
    def bad(what: str) -> BuildError:
        return BuildError(f"{where}: static_view() {what} (see docs/plugins.md)")

    if not isinstance(result, dict) or not isinstance(result.get("html"), str):
        raise bad("must return a dict with an 'html' string")
    if set(result) - _STATIC_KEYS:
        raise bad(f"returned unknown keys {sorted(set(result) - _STATIC_KEYS)}")
    css = result.get("css") or ""
    if not isinstance(css, str):
        raise bad("'css' must be a string")
    files: dict[str, bytes] = {}
    raw_files = result.get("files") or {}
    if not isinstance(raw_files, dict):
        raise bad("'files' must map names to bytes or str")
    for name, content in raw_files.items():
        if not isinstance(name, str) or not _SAFE_NAME.match(name):
            raise bad(f"file name {name!r} must be a relative ASCII path (letters, digits, '_', '-', '.')")
        if not isinstance(content, bytes | str):
            raise bad(f"file {name!r} must be bytes or str")
        files[f"xblocks/{block_type}/{name}"] = content.encode() if isinstance(content, str) else content
    grading = result.get("grading")
    quiz = None
    if grading is not None:
        questions = grading.get("questions") if isinstance(grading, dict) else None
        if not isinstance(questions, list) or not questions:
            raise bad("'grading' must be None or a dict with a non-empty 'questions' list")
        for q in questions:
            if not (
                isinstance(q, dict) and isinstance(q.get("id"), str) and q.get("type") in _QUESTION_TYPES
            ):
                raise bad(
                    f"grading question {q!r} needs an 'id' and a 'type' of {', '.join(_QUESTION_TYPES)}"
                )
            if "answer" not in q:
                raise bad(f"grading question {q['id']!r} has no 'answer'")
        quiz = {
            "id": uid,
            "unit": unit,
            "role": "practice",  # graded locally and reported as interactions; not part of the course grade
            "attempts": int(grading.get("attempts", 0)),
            "show_answers": str(grading.get("show_answers", "always")),
            "pass_threshold": float(grading.get("pass_threshold", 0.6)),
            "shuffle": False,
            "questions": [_question_data(q) for q in questions],
        }
    html = (
        f'<div class="lm-xblock lm-static" data-lm-block="{escape(uid)}" '
        f'data-lm-block-type="{escape(block_type)}">{result["html"]}</div>'
    )
    return _Static(html, css, files, quiz)


@contextmanager
def _static_children(tree: CourseTree, statics: dict[str, _Static]) -> Iterator[None]:
    """While the units render, a third-party child renders as its static markup instead of its
    student_view (whose script would call handlers that a SCO does not have)."""
    runtime = tree.runtime
    original = runtime.render_child

    def render_child(child: XBlock, view_name: str | None = None, context: Any = None) -> Fragment:
        static = statics.get(_uid(child))
        if static is None:
            return original(child, view_name, context)
        frag = Fragment(static.html)
        if static.css:
            frag.add_css(static.css)
        return frag

    runtime.render_child = render_child  # type: ignore[method-assign]
    try:
        yield
    finally:
        del runtime.render_child


@contextmanager
def _course_blocks(tree: CourseTree) -> Iterator[None]:
    """While the units render, a container's children are the tree's own blocks (made once), each holding
    its course values already decoded, the way its first read of each field would cache them.

    Each ``runtime.get_block`` made a new XBlock whose every field read went through the field data and
    deep-copied each list and dict (a quiz's questions) as XBlock's baseline for noticing changes: most of
    a SCORM export. The values are shared course content that no view changes: they are handed over as
    read-only containers, which are their own copies. Views, wrappers and markup are XBlock's, unchanged.
    """
    runtime = tree.runtime
    data = runtime.tree_data
    if data is None:  # another field data service: nothing to read ahead
        yield
        return

    # Learner fields (a quiz's answers) read their defaults: nothing is stored for anyone in a build's
    # tree. Primed only when that is certain (an empty in-memory store without defaults of its own).
    kvs = compat.field_data_kvs(data)
    no_learners = type(kvs) is DictKeyValueStore and not kvs.db_dict and not data.kvs_defaults
    original_service = runtime.service

    def get_block(usage_id: str, for_parent: XBlock | None = None) -> XBlock:
        block = tree.block(str(usage_id))
        if block.scope_ids.usage_id not in primed:
            primed.add(block.scope_ids.usage_id)
            _prime(block, data, no_learners, plans)
        return block

    def service(block: XBlock, service_name: str) -> Any:
        # Every field read asks for "field-data" (XBlock declares it on every block): answered directly.
        return data if service_name == "field-data" else original_service(block, service_name)

    primed: set[str] = set()
    plans: dict[type, _Plan] = {}
    runtime.get_block = get_block  # type: ignore[method-assign]
    runtime.service = service
    try:
        yield
    finally:
        del runtime.get_block
        del runtime.service


def _prime(block: XBlock, data: TreeFieldData, no_learners: bool, plans: dict[type, _Plan]) -> None:
    """Put in the block's field cache what its first read of each field would (``compat.prime_field_cache``):
    the stored course values, decoded, else the field's default (see ``_plan``)."""
    cls = type(block)
    plan = plans.get(cls)
    if plan is None:
        plan = plans[cls] = _plan(cls, data, no_learners)
    decoders, defaults = plan
    values = dict(defaults)
    ids = block.scope_ids
    for key in (ids.usage_id, ids.def_id):
        for name, stored in data.course.get(key, {}).items():
            decode = decoders.get(name)
            if decode is not None:
                values[name] = _frozen(decode(stored))
    compat.prime_field_cache(
        block, {k: v for k, v in values.items() if not compat.read_through_block(block, k)}
    )


# Per block class: field name -> stored JSON to value, and the defaults its fields read when nothing is stored.
_Plan = tuple[dict[str, Callable[[Any], Any]], dict[str, Any]]


def _plan(cls: type, data: TreeFieldData, no_learners: bool) -> _Plan:
    """A course field read without a stored value gets the field's default when the store has no defaults
    of its own; a learner field with ``no_learners``. A default computed per block (a unique id) is left to
    XBlock. One read-only default is shared by every block of the class: none can change it."""
    decoders: dict[str, Callable[[Any], Any]] = {}
    defaults: dict[str, Any] = {}
    fields = cls.fields  # type: ignore[attr-defined]
    for name, (kind, decode) in data.readers(cls).items():
        if kind != OTHER:
            decoders[name] = decode
        if (no_learners if kind == OTHER else not data.kvs_defaults) and not compat.has_unique_id_default(
            fields[name]
        ):
            defaults[name] = _frozen(fields[name].default)
    return decoders, defaults


def _frozen(value: Any) -> Any:
    """A list or dict as its read-only form. Only the outer one: XBlock's baseline copy is what this spares,
    and a value read through XBlock shares its inner objects with the store too."""
    kind = type(value)
    if kind is list:
        return compat.FrozenList(value)
    if kind is dict:
        return compat.FrozenDict(value)
    return value


# --------------------------------------------------------------------------------------------------------
# The player page


def _render_unit(tree: CourseTree, unit: XBlock, lang: str, css: list[str]) -> str:
    """A unit's markup from its blocks' student_view; stylesheets not seen yet are added to ``css``."""
    # lm_heading 2: the page's h1 is the course title, each unit's title an h2.
    frag = tree.runtime.render(unit, "student_view", {"lang": lang, "lm_heading": 2})
    html = frag.body_html()
    # Substring tests first: most units hold neither, and a failed search is cheaper than a sub.
    if "xblock_json_init_args" in html:
        html = _INIT_ARGS.sub("", html)
    if "/static/" in html:
        html = _STATIC_ATTR.sub(r"\1static/", html)
    for r in frag.resources:
        if r.kind == "text" and r.mimetype == "text/css" and r.data not in css:
            css.append(r.data)
    return html


@dataclass
class _Page:
    """What rendering index.html gathers for lm.css, written after it (the zip writes names in order)."""

    css: list[str] = field(default_factory=list)  # the blocks' stylesheets, each once, in order of first use
    done: bool = False


def _blocks_css(page: _Page) -> bytes:
    if not page.done:
        raise BuildError("internal: lm.css was about to be written before the page whose styles it holds")
    return "\n".join(page.css).encode()


def _json_for_script(data: dict[str, Any]) -> str:
    # "</" would end the <script> element early; "<\/" is the same string to JSON.parse.
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.replace("</", "<\\/")


def _index_html(
    tree: CourseTree, units: list[XBlock], data: dict[str, Any], lang: str, page: _Page
) -> Iterator[bytes]:
    """index.html in pieces: the head and contents, then each unit as it is rendered, then the rest."""
    t = data["ui"]
    title = escape(tree.course.display_name)
    toc = []
    total = len(units)
    for i, unit in enumerate(units):
        uid = escape(_uid(unit))
        toc.append(
            f'<li><a href="#unit-{uid}" data-lm-goto="{uid}"><span class="lm-toc-num">{i + 1}.</span> '
            f'<span class="lm-toc-title">{escape(tree.value(unit, "display_name"))}</span>'
            f'<span class="lm-toc-mark" data-lm-visited hidden aria-hidden="true">✓</span>'
            f'<span class="lm-sr" data-lm-visited-text hidden>({escape(t["visited"])})</span></a></li>'
        )
    position = escape(t["unit_of"].format(n=1, total=total))
    yield (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(lang)}" data-lm-scorm="{escape(data["scorm"])}">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        f'<link rel="stylesheet" href="{BLOCKS_CSS}">\n'
        '<link rel="stylesheet" href="player.css">\n'
        "</head>\n<body>\n"
        f'<a class="lm-skip" href="#lm-main">{escape(t["skip"])}</a>\n'
        '<header class="lm-header">\n'
        f'<h1 class="lm-course-title">{title}</h1>\n'
        f'<p class="lm-progress" data-lm-progress>{escape(t["progress"].format(n=0, total=total))}</p>\n'
        f'<p class="lm-course-status" data-lm-course-status role="status" aria-live="polite"></p>\n'
        "</header>\n"
        f'<p class="lm-notice lm-standalone" data-lm-standalone role="status" hidden>{escape(t["standalone"])}</p>\n'
        '<div class="lm-layout">\n'
        '<nav class="lm-toc" aria-labelledby="lm-toc-title">\n'
        f'<details class="lm-toc-details" data-lm-toc><summary id="lm-toc-title">{escape(t["contents"])}</summary>\n'
        f'<ol class="lm-toc-list">{"".join(toc)}</ol>\n</details>\n</nav>\n'
        '<main id="lm-main" class="lm-main" tabindex="-1">\n'
    ).encode()
    del toc
    for i, unit in enumerate(units):
        uid = escape(_uid(unit))
        yield (
            ("\n" if i else "")
            + f'<div class="lm-player-unit" id="unit-{uid}" data-lm-unit="{uid}" data-lm-unit-index="{i}">'
            + _render_unit(tree, unit, lang, page.css)
            + "</div>"
        ).encode()
    yield (
        '\n<nav class="lm-pager" aria-label="' + escape(t["contents"]) + '">\n'
        f'<button type="button" class="lm-button lm-pager-prev" data-lm="prev">← {escape(t["prev"])}</button>\n'
        f'<span class="lm-position" data-lm-position>{position}</span>\n'
        f'<button type="button" class="lm-button lm-pager-next" data-lm="next">{escape(t["next"])} →</button>\n'
        "</nav>\n</main>\n</div>\n"
        f'<script type="application/json" id="lm-data">{_json_for_script(data)}</script>\n'
        '<script src="player.js"></script>\n'
        "</body>\n</html>\n"
    ).encode()
    page.done = True


# --------------------------------------------------------------------------------------------------------
# The manifest

NS_12 = {
    None: "http://www.imsproject.org/xsd/imscp_rootv1p1p2",
    "adlcp": "http://www.adlnet.org/xsd/adlcp_rootv1p2",
}
NS_2004 = {
    None: "http://www.imsglobal.org/xsd/imscp_v1p1",
    "adlcp": "http://www.adlnet.org/xsd/adlcp_v1p3",
    "imsss": "http://www.imsglobal.org/xsd/imsss",
}


def _num(value: float) -> str:
    """A number as XML schema decimals want it: 70, 72.5 (never 70.0 or 1e-05)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text or "0"


def _ident(prefix: str, text: str) -> str:
    """An xs:ID: starts with a letter, no characters outside [A-Za-z0-9_.-]."""
    return f"{prefix}-{_ID_CHARS.sub('_', text)}"


def build_manifest(tree: CourseTree, schemaversion: str, members: list[str]) -> bytes:
    """imsmanifest.xml: one organization, one item, one SCO resource listing every file of the package."""
    is12 = schemaversion == "1.2"
    ns = NS_12 if is12 else NS_2004
    cp = ns[None]
    adlcp = ns["adlcp"]
    course = tree.course
    stem = package_stem(tree)
    threshold = min(max(float(course.pass_threshold), 0.0), 1.0)

    root = etree.Element(f"{{{cp}}}manifest", nsmap=ns)
    root.set("identifier", _ident("MANIFEST", stem))
    root.set("version", "1")
    metadata = etree.SubElement(root, f"{{{cp}}}metadata")
    etree.SubElement(metadata, f"{{{cp}}}schema").text = "ADL SCORM"
    etree.SubElement(metadata, f"{{{cp}}}schemaversion").text = schemaversion

    orgs = etree.SubElement(root, f"{{{cp}}}organizations", default="ORG-1")
    org = etree.SubElement(orgs, f"{{{cp}}}organization", identifier="ORG-1")
    etree.SubElement(org, f"{{{cp}}}title").text = course.display_name
    item = etree.SubElement(org, f"{{{cp}}}item", identifier="ITEM-1", identifierref="RES-SCO")
    etree.SubElement(item, f"{{{cp}}}title").text = course.display_name
    if is12:
        etree.SubElement(item, f"{{{adlcp}}}masteryscore").text = _num(threshold * 100)
    else:
        ss = ns["imsss"]
        seq = etree.SubElement(item, f"{{{ss}}}sequencing")
        objectives = etree.SubElement(seq, f"{{{ss}}}objectives")
        primary = etree.SubElement(
            objectives, f"{{{ss}}}primaryObjective", objectiveID="PRIMARY", satisfiedByMeasure="true"
        )
        etree.SubElement(primary, f"{{{ss}}}minNormalizedMeasure").text = _num(threshold)
        # The player sets completion and success itself; the LMS must not assume them on exit.
        etree.SubElement(
            seq, f"{{{ss}}}deliveryControls", completionSetByContent="true", objectiveSetByContent="true"
        )

    resources = etree.SubElement(root, f"{{{cp}}}resources")
    # The launch resource is the only one, hence first: Open edX's player launches the first href.
    res = etree.SubElement(resources, f"{{{cp}}}resource", identifier="RES-SCO", type="webcontent")
    res.set(f"{{{adlcp}}}scormtype" if is12 else f"{{{adlcp}}}scormType", "sco")
    res.set("href", "index.html")
    for name in ["index.html", *(m for m in members if m not in ("index.html", "imsmanifest.xml"))]:
        etree.SubElement(res, f"{{{cp}}}file", href=quote(name, safe="/"))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
