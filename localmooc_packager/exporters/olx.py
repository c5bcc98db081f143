"""Open edX course export (OLX in a .tar.gz), the format Studio's "Import course" takes.

Two flavours share the outline (course, chapter, sequential, vertical are always stock Open edX):

- ``stock`` (default): only blocks every Open edX has (html, video, CAPA problems), so a platform imports
  the course with nothing extra installed. A quiz becomes one CAPA problem per question.
- ``native``: this toolkit's own XBlocks written inline in the verticals through their own
  ``add_xml_to_node``; the platform needs the localmooc XBlocks installed.

Kept OLX (lm-raw) is written back verbatim and third-party XBlocks inline in both flavours: Open edX only
imports external blocks reliably inline (openedx-platform#36390). Only content and settings fields are
ever written: learner state must never leave the runtime. See docs/export-olx.md.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import mimetypes
import os
import re
import tarfile
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import lxml.html
from lxml import etree
from xblock.core import XBlock
from xblock.fields import Scope

from localmooc_xblocks.base import ui

from ..errors import BuildError, UsageError
from ..grading import CourseGrading, course_grading
from ..olx_read import EMBED_MANIFEST, EMBED_SOURCE, LM_NS, LM_PREFIX, grading_digest, lm, olx_digest
from ..safe import parse_xml_bytes, read_text
from ..tree import CourseTree
from . import package_stem
from .archive import ArchiveWriter, build_time, source_files

FLAVORS = ("stock", "native")
DEFINITION_SCOPES = (Scope.content, Scope.settings)
# Block types every Open edX installation has; anything else must be listed in advanced_modules
# or Studio will neither show nor let authors add it.
STOCK_TYPES = frozenset(
    {
        "course",
        "chapter",
        "sequential",
        "vertical",
        "html",
        "problem",
        "video",
        "discussion",
        "library_content",
        "split_test",
        "conditional",
        "wiki",
    }
)
SHOWANSWER = {"always": "always", "after-last-attempt": "finished", "never": "never"}
SHORT_LABELS = {"Post-test": "Post", "Graded": "Quiz"}
NATIVE_TYPES = ("lm-html", "lm-video", "lm-quiz")
OPTION_NS = "http://code.edx.org/xblock/option"
# Thai sara am (U+0E33) is often typed as nikhahit + sara aa; our grader accepts both, CAPA needs both listed.
SARA_AM, SARA_AM_TYPED = "\u0e33", "\u0e4d\u0e32"


class OlxExporter:
    """Open edX OLX course archive for Studio import."""

    name = "olx"
    description = "Open edX course (OLX .tar.gz for Studio import; --olx-flavor stock|native)"

    def export(self, tree: CourseTree, out_dir: Path, olx_flavor: str = "stock", **options: Any) -> Path:
        if olx_flavor not in FLAVORS:
            raise UsageError(f"unknown OLX flavour {olx_flavor!r}; choose one of {', '.join(FLAVORS)}")
        out_dir = Path(out_dir)
        stem = package_stem(tree)
        sources = source_files(tree.source_dir, out_dir)
        writer = ArchiveWriter(build_time(sources))
        _OlxBuilder(tree.cached(), writer, olx_flavor).build()
        _embed_source(tree.source_dir, sources, writer, sorted(tree.assets))
        suffix = "-native" if olx_flavor == "native" else ""
        target = out_dir / f"{stem}{suffix}.olx.tar.gz"
        # One top-level folder, like Studio's own exports: the importer takes the first course.xml it finds.
        writer.write_tar_gz(target, top=stem)
        return target


def _embed_source(source_dir: Path, sources: list[Path], writer: ArchiveWriter, static: list[str]) -> None:
    """Put the course source (all but static/) in the archive, with a digest of the OLX made from it.

    Studio ignores the folder (its import reads course.xml, the folders it points to, static/ and a few
    known ones). Our import restores this source exactly while the OLX still has that digest, i.e. nobody
    changed it since the export; otherwise it maps the OLX as it maps any Studio export.
    """
    digest = olx_digest(
        (m.name, m.data if m.data is not None else m.source.read_bytes())  # type: ignore[union-attr]
        for m in writer.members.values()
        if not m.name.startswith("static/")  # never counted: no need to read videos
    )
    # The paths are source_dir / ... (from source_files): cut the prefix (Path.relative_to walks parents).
    base = str(source_dir)
    prefix = "" if base == "." else (base if base.endswith(os.sep) else base + os.sep)
    files = sorted((str(p)[len(prefix) :].replace(os.sep, "/"), p) for p in sources)
    raw = io.BytesIO()
    with (
        # Level 6, as the archive around it: level 9 took twice the CPU for 10 % fewer bytes.
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for rel, path in files:
            if rel.startswith("static/"):
                continue
            info = tarfile.TarInfo(rel)
            info.size, info.mtime, info.mode = path.stat().st_size, writer.mtime, 0o644
            with path.open("rb") as fh:
                tar.addfile(info, fh)
    writer.add_bytes(EMBED_SOURCE, raw.getvalue())
    manifest = {"format": 1, "olx_sha256": digest, "static": static}
    writer.add_bytes(
        EMBED_MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    )


class _OlxBuilder:
    def __init__(self, tree: CourseTree, writer: ArchiveWriter, flavor: str) -> None:
        self.tree = tree
        # Field reads straight from the tree's store: XBlock's own deep-copies each mutable value per block.
        self.v = tree.value
        self.writer = writer
        self.native = flavor == "native"
        self.course = tree.course
        self.run = self.course.run
        self.policy: dict[str, dict[str, Any]] = {}
        self.advanced: set[str] = set()
        self.used_names: set[str] = {_id(b) for b, _ in tree.walk()}
        self.used_names.add(self.run)
        self.transcripts: dict[str, str] = {}  # static/X.vtt -> file name of its SRT under static/
        self.copied: set[str] = set()
        self.grading = course_grading(tree)  # walks the whole tree: once per export
        self.words = _ui_words(self.course.language)

    # ---- pipeline
    def build(self) -> None:
        chapters = [self.chapter(section) for section in self.tree.children(self.course)]
        # Settings live in policy.json only: stating them in the XML too makes the platform ignore one
        # copy silently and olxcleaner warn (SettingOverride). Source fields OLX has no place for go in
        # the toolkit's namespace (kept by Studio in xml_attributes); the wiki is an element, as Studio
        # writes it after the chapters (CourseBlock.definition_to_xml).
        carried = self.course_carried()
        course = etree.Element("course", nsmap={LM_PREFIX: LM_NS} if carried else None)
        for key, value in sorted(carried.items()):
            course.set(lm(key), value)
        for chapter in chapters:
            etree.SubElement(course, "chapter", url_name=chapter)
        wiki = (self.course.policy or {}).get("wiki_slug")
        if isinstance(wiki, str):
            etree.SubElement(course, "wiki", slug=wiki)
        self.add_xml(f"course/{self.run}.xml", course)
        pointer = etree.Element("course")
        for key, value in (("course", self.course.course), ("org", self.course.org), ("url_name", self.run)):
            pointer.set(key, value)
        self.add_xml("course.xml", pointer)
        made = grading_policy(self.tree, self.grading)
        kept = self.kept_grading(made)  # before about(), which copies the kept files
        self.about()
        self.static()
        self.policy[f"course/{self.run}"] = self.course_settings()
        self.add_json(f"policies/{self.run}/policy.json", self.policy)
        if not kept:
            self.add_json(f"policies/{self.run}/grading_policy.json", made)

    def kept_grading(self, made: dict[str, Any]) -> bool:
        """True when the imported course's own grading_policy.json is written back (by copy_source_files).

        The import keeps it when the policy made from the imported quizzes differs (a Studio course
        grades raw problems, drops scores, has letter grades...) and records the fingerprint of the one it
        would make. While the source still makes that same policy, its grading was not changed: the
        original goes back. Otherwise the policy made from the source is written and the kept one is not.
        """
        rel = f"policies/{self.run}/grading_policy.json"
        if rel not in ((self.course.olx or {}).get("files") or []):
            return False
        recorded = (self.course.policy or {}).get(lm("grading"))
        if recorded == grading_digest(made):
            return True
        self.copied.add(rel)  # stale: marked as copied, so copy_source_files leaves it out
        return False

    def course_carried(self) -> dict[str, str]:
        """Course fields with no OLX counterpart, as the attribute values the import reads back.

        Dates go too, in the source's own form (a bare date is a day in Bangkok): the import uses that
        form only while it still names the instant policy.json holds, so a date changed in Studio wins.
        """
        c, out = self.course, {}
        if c.category:
            out["category"] = c.category
        if c.audience:
            out["audience"] = json.dumps(list(c.audience), ensure_ascii=False)
        if c.hours:
            out["hours"] = _num(c.hours)
        if c.certificate:
            out["certificate"] = json.dumps(c.certificate, ensure_ascii=False, sort_keys=True)
        for key in ("start", "end", "enrollment_start", "enrollment_end"):
            value = getattr(c, key)
            if value:
                out[key] = str(value)
        return out

    def display(self, block: XBlock, title: str) -> dict[str, str]:
        """``{"display_name": title}``; for a block imported without one (policy display_name None or "")
        exactly what it had."""
        policy = self.v(block, "policy") if "policy" in block.fields else None
        if isinstance(policy, dict) and policy.get("display_name", title) in (None, ""):
            return {} if policy["display_name"] is None else {"display_name": ""}
        return {"display_name": title}

    # ---- outline
    def chapter(self, section: XBlock) -> str:
        name = _id(section)
        attrib = self.display(section, self.v(section, "display_name"))
        start = self.v(section, "start")
        if start:
            attrib["start"] = iso_datetime(start)  # a bare date: midnight in Bangkok
        children = [("sequential", self.sequential(sub)) for sub in self.tree.children(section)]
        self.add_plain_xml("chapter", name, attrib, children, section)
        return name

    def sequential(self, sub: XBlock) -> str:
        name = _id(sub)
        v = self.v
        attrib = self.display(sub, v(sub, "display_name"))
        graded = bool(v(sub, "graded"))
        if graded:
            attrib["graded"] = "true"
        # An ungraded subsection keeps its format too: Studio shows it, and it counts once graded.
        sub_format = v(sub, "format")
        if graded or sub_format:
            attrib["format"] = sub_format or "Graded"
        for key in ("start", "due"):
            value = v(sub, key)
            if value:
                attrib[key] = iso_datetime(value, end_of_day=key == "due")
        children = [("vertical", self.vertical(unit, graded)) for unit in self.tree.children(sub)]
        self.add_plain_xml("sequential", name, attrib, children, sub)
        return name

    def vertical(self, unit: XBlock, graded: bool) -> str:
        name = _id(unit)
        attrib = self.display(unit, self.v(unit, "display_name"))
        # Pointers (tag, url_name) or inline elements; pointers alone make a plain file (plain_xml).
        children: list[tuple[str, str] | etree._Element] = []
        verbatim: list[etree._Element] = []
        for block in self.tree.children(unit):
            kind = block.scope_ids.block_type
            if kind == "lm-raw":
                raw = self.raw(block)
                children.append(raw)
                verbatim.append(raw)
                url_name = raw.get("url_name")
                if url_name:  # without a url_name there is no policy.json key (nor a kept policy)
                    self.block_policy(etree.QName(raw).localname, url_name, block)
            elif self.native and kind in NATIVE_TYPES:
                children.append(self.native_element(block))
                self.advanced.add(kind)
            elif kind == "lm-html":
                children.append(("html", self.html(block, unit)))
            elif kind == "lm-video":
                children.append(("video", self.video(block, unit)))
            elif kind == "lm-quiz":
                children.extend(("problem", problem) for problem in self.problems(block, graded))
            else:
                children.append(self.xblock_element(block))
        if not any(isinstance(c, etree._Element) for c in children):
            self.add_plain_xml("vertical", name, attrib, children, unit)  # type: ignore[arg-type]
            return name
        el = etree.Element("vertical", attrib)
        for child in children:
            if isinstance(child, tuple):
                etree.SubElement(el, child[0], url_name=child[1])
            else:
                el.append(child)
        self.add_block_xml("vertical", name, el, unit, verbatim)
        return name

    # ---- stock content
    def html(self, block: XBlock, unit: XBlock) -> str:
        name = _id(block)
        body = self.v(block, "data")
        # Byte-stable body: exactly the block's HTML; /static/ links stay for Open edX to rewrite.
        self.writer.add_bytes(f"html/{name}.html", body.rstrip("\n") + "\n")
        title = self.v(block, "display_name") or _title(body, self.v(unit, "display_name"))
        self.add_plain_xml("html", name, {**self.display(block, title), "filename": name}, [], block)
        return name

    def video(self, block: XBlock, unit: XBlock) -> str:
        name = _id(block)
        v = self.v
        el = etree.Element("video", self.display(block, v(block, "display_name") or v(unit, "display_name")))
        # An empty youtube_id_1_0 matters: without it Open edX plays its demo YouTube video.
        el.set("youtube_id_1_0", v(block, "youtube_id"))
        src = v(block, "src")
        sources = [src] if src else []
        el.set("html5_sources", json.dumps(sources, ensure_ascii=False))
        for src in sources:  # the form the platform's own export writes (parse_video_xml reads both)
            etree.SubElement(el, "source", src=src)
        transcripts = {lang: self.transcript(path) for lang, path in sorted(v(block, "subtitles").items())}
        transcripts = {lang: name for lang, name in transcripts.items() if name}
        if transcripts:
            el.set("transcripts", json.dumps(transcripts, ensure_ascii=False, sort_keys=True))
            for lang, file_name in transcripts.items():
                etree.SubElement(el, "transcript", language=lang, src=file_name)
        track = v(block, "transcript")
        if track:
            # The video block's downloadable transcript is `track` (offered when download_track is
            # true), as the platform's own export writes it; `handout` is for course handouts.
            el.set("download_track", "true")
            etree.SubElement(el, "track", src=track)
        minutes = v(block, "minutes")
        if minutes:  # the length the source states (used for study time); OLX has no such field
            el.set(lm("minutes"), _num(minutes))
        self.add_block_xml("video", name, el, block)
        return name

    def transcript(self, path: str) -> str:
        """The SRT file name (relative to static/) for a subtitle: Open edX imports SRT or SJSON only."""
        rel = path.removeprefix("/")
        if not rel.startswith("static/"):
            return ""  # a network URL: Open edX cannot import it as a transcript
        if rel.lower().endswith(".srt"):
            return rel.removeprefix("static/")
        if rel in self.transcripts:
            return self.transcripts[rel]
        srt = str(PurePosixPath(rel).with_suffix(".srt"))
        if srt not in self.tree.assets:  # an SRT the author ships beside the VTT is used as it is
            vtt = read_text(self.tree.asset_path(rel))
            self.writer.add_bytes(srt, vtt_to_srt(vtt))
        self.transcripts[rel] = srt.removeprefix("static/")
        return self.transcripts[rel]

    def problems(self, quiz: XBlock, graded_subsection: bool) -> list[str]:
        """One CAPA problem per question; returns their url_names in order."""
        names = []
        v = self.v
        quiz_id, role = _id(quiz), v(quiz, "role")
        counts = role in ("graded", "post-test")
        title = v(quiz, "display_name") or self.words[role]
        attempts = str(v(quiz, "attempts")) if v(quiz, "attempts") else ""
        showanswer = SHOWANSWER.get(v(quiz, "show_answers"), "finished")
        shuffle = bool(v(quiz, "shuffle"))
        policy = v(quiz, "policy")
        question_word = self.words["question"]
        questions = v(quiz, "questions")
        for n, q in enumerate(questions, 1):
            name = f"{quiz_id}-{q['id']}"
            if name in self.used_names:
                raise BuildError(
                    f"problem id {name!r} (quiz {quiz_id!r}, question {q['id']!r}) is also a block id; "
                    "rename one of them"
                )
            self.used_names.add(name)
            # A pre-test or practice question sharing a graded subsection must not count: weight 0.
            points = float(q.get("points", 1)) if counts or not graded_subsection else 0.0
            # One question: the quiz's own title (a Studio problem imported as a quiz comes back as it was).
            attrib = {
                "display_name": title if len(questions) == 1 else f"{title} ({question_word} {n})",
                "max_attempts": attempts,
                "showanswer": showanswer,
                "weight": _num(points),
            }
            self.writer.add_bytes(f"problem/{name}.xml", problem_xml(attrib, q, shuffle, self.words))
            self.add_policy("problem", name, policy, attrib)
            # Which quiz and question this problem is: the import joins the problems back by these. In
            # policy.json, not on the element: a namespace declared there would be in scope for (and
            # serialised with) every piece of CAPA markup. Studio keeps unknown policy keys in
            # xml_attributes (XmlMixin.apply_policy) and exports them as attributes.
            self.add_policy("problem", name, {lm("quiz"): quiz_id, lm("question"): str(q["id"])}, attrib)
            names.append(name)
        return names

    # ---- inline blocks
    def native_element(self, block: XBlock) -> etree._Element:
        node = etree.Element(block.scope_ids.block_type)
        block.add_xml_to_node(node)  # our blocks write content and settings only (DefinitionXmlMixin)
        node.set("url_name", _id(block))
        return node

    def xblock_element(self, block: XBlock) -> etree._Element:
        """A third-party XBlock inline, like XBlock's own add_xml_to_node but without learner state."""
        kind = block.scope_ids.block_type
        self.advanced.add(kind)
        node = etree.Element(kind, url_name=_id(block))
        for name, field in sorted(block.fields.items()):
            if name in ("children", "parent") or field.scope not in DEFINITION_SCOPES:
                continue
            if not field.is_set_on(block):
                continue
            value = field.read_from(block)
            if name == "content" and field.scope == Scope.content:
                if value:
                    node.text = value  # XBlock's parse_xml reads text content into `content`
                continue
            text = field.to_string(value)
            if getattr(field, "xml_node", False) or text is None:
                option = etree.SubElement(node, etree.QName(OPTION_NS, name))
                if text is None:
                    option.set("none", "true")
                else:
                    option.text = text
            else:
                node.set(name, text)
        for child in self.tree.children(block):
            node.append(self.xblock_element(child))
        return node

    def raw(self, block: XBlock) -> etree._Element:
        """Kept OLX, element and files exactly as they were imported."""
        element = parse_xml_bytes(block.xml.encode("utf-8"), f"{_id(block)}.xml").getroot()
        tag = etree.QName(element).localname
        if tag not in STOCK_TYPES:
            self.advanced.add(tag)
        self.copy_source_files(block.files)
        return element

    def copy_source_files(self, files: list[str]) -> None:
        root = self.tree.source_dir.resolve()
        for rel in files:
            path = (root / rel).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                raise BuildError(f"{rel!r}: kept OLX file missing or outside the course folder")
            member = path.relative_to(root).as_posix()
            if member not in self.copied:
                self.copied.add(member)
                self.writer.add_file(member, path)

    # ---- course level
    def course_settings(self) -> dict[str, Any]:
        c = self.course
        start = iso_datetime(c.start) if c.start else DEFAULT_START
        settings: dict[str, Any] = {
            k: v for k, v in (c.policy or {}).items() if not k.startswith(f"{{{LM_NS}}}")
        }
        if isinstance(settings.get("wiki_slug"), str):
            settings.pop("wiki_slug")  # written as <wiki slug> in the course XML, as Studio does
        settings.update(
            {
                "display_name": c.display_name,
                "start": start,
                "end": iso_datetime(c.end, end_of_day=True) if c.end else one_year_after(start),
                "language": c.language,
                # "" makes the platform show its default card image (olxcleaner requires the key).
                "course_image": c.image.removeprefix("/static/") if c.image else "",
                "advanced_modules": sorted(self.advanced | set(settings.get("advanced_modules") or [])),
            }
        )
        for key in ("language", "end"):
            # Only a value the import could not map stays in policy (null, no language code, no date):
            # it is written back as it was, null as no setting at all.
            if key in (c.policy or {}):
                settings[key] = c.policy[key]
                if settings[key] is None and key == "language":
                    settings.pop(key)
        for key in ("enrollment_start", "enrollment_end"):
            if getattr(c, key):
                settings[key] = iso_datetime(getattr(c, key), end_of_day=key == "enrollment_end")
        cert = c.certificate or {}
        if cert or "cert_html_view_enabled" not in settings:  # an imported value stands otherwise
            settings["cert_html_view_enabled"] = bool(cert)
        if cert:
            # Local MOOC certificates are available as soon as they are earned.
            settings["certificates_display_behavior"] = "early_no_info"
            settings["cert_name_long"] = cert.get("title") or c.display_name
        return settings

    def about(self) -> None:
        c = self.course
        kept = dict((c.olx or {}).get("about") or {})
        if c.description:
            self.writer.add_bytes("about/overview.html", c.description.rstrip("\n") + "\n")
            kept.pop("overview", None)
        if c.short_description:
            self.writer.add_bytes("about/short_description.html", html.escape(c.short_description) + "\n")
            kept.pop("short_description", None)
        root = self.tree.source_dir.resolve()
        for name, rel in sorted(kept.items()):
            path = (root / rel).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                raise BuildError(f"{rel!r}: kept about page missing or outside the course folder")
            self.writer.add_file(f"about/{name}.html", path)
        self.copy_source_files(list((c.olx or {}).get("files") or []))

    def static(self) -> None:
        assets: dict[str, dict[str, Any]] = {}
        for rel in self.tree.assets:
            self.writer.add_file(rel, self.tree.asset_path(rel))  # streamed by the writer, never read here
            name = rel.removeprefix("static/")
            # Open edX names an asset by its path under static/ with "/" flattened to "_".
            assets[name.replace("/", "_")] = asset_entry(name)
        for name in sorted(self.transcripts.values()):
            if f"static/{name}" not in self.tree.assets:
                assets[name.replace("/", "_")] = asset_entry(name, subrip=True)
        if "policies/assets.json" not in ((self.course.olx or {}).get("files") or []):
            self.add_json("policies/assets.json", assets)  # else the imported one is written back as it was

    # ---- writing
    def add_block_xml(
        self,
        kind: str,
        name: str,
        el: etree._Element,
        block: XBlock,
        verbatim: list[etree._Element] | None = None,
    ) -> None:
        self.add_xml(f"{kind}/{name}.xml", el, verbatim)
        self.block_policy(kind, name, block, el)

    def add_plain_xml(
        self, kind: str, name: str, attrib: dict[str, str], children: list[tuple[str, str]], block: XBlock
    ) -> None:
        """``add_block_xml`` for an element of attributes and url_name pointers, written from a template."""
        self.writer.add_bytes(f"{kind}/{name}.xml", plain_xml(kind, attrib, children))
        self.block_policy(kind, name, block, attrib)

    def block_policy(
        self, kind: str, name: str, block: XBlock, el: etree._Element | dict[str, str] | None = None
    ) -> None:
        """A block's kept Open edX settings go to policy.json, except values the XML ``el`` states as they are.

        The platform applies policy.json over the XML, so a kept value that differs from the attribute
        the export writes (a quiz's ``showanswer: past_due`` beside ``showanswer="finished"``) must be
        written. Only a string equal to the attribute is left out: any other type is kept, so that an
        import reads back the same value. Kept OLX (no ``el``) gets its policy entry whole.
        """
        policy = self.v(block, "policy") if "policy" in block.fields else getattr(block, "policy", None)
        self.add_policy(kind, name, policy or {}, el)

    def add_policy(
        self, kind: str, name: str, policy: dict[str, Any], el: etree._Element | dict[str, str] | None
    ) -> None:
        attrib = el if isinstance(el, dict) else (el.attrib if el is not None else {})
        # None marks a setting the imported block did not have (display_name): written nowhere.
        kept = {
            k: v
            for k, v in policy.items()
            if not (isinstance(v, str) and attrib.get(k) == v) and not (v is None and k not in attrib)
        }
        if kept:
            self.policy.setdefault(f"{kind}/{name}", {}).update(kept)

    def add_xml(self, name: str, el: etree._Element, verbatim: list[etree._Element] | None = None) -> None:
        self.writer.add_bytes(name, xml_bytes(el, verbatim))

    def add_json(self, name: str, data: Any) -> None:
        self.writer.add_bytes(name, json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def asset_entry(name: str, subrip: bool = False) -> dict[str, Any]:
    """The policies/assets.json entry the export writes for static/NAME (an SRT it made: ``subrip``)."""
    kind = "application/x-subrip" if subrip else mimetypes.guess_type(name)[0] or "application/octet-stream"
    return {
        "contentType": kind,
        "displayname": PurePosixPath(name).name,
        "import_path": name,
        "locked": False,
    }


# ---- CAPA
def problem_xml(attrib: dict[str, str], q: dict[str, Any], shuffle: bool, words: dict[str, str]) -> bytes:
    """The file ``problem/<name>.xml`` of question ``q``: ``<problem attrib...>`` holding its CAPA markup.

    From a template (``capa_template``) when the question's texts are plain text or one paragraph of it,
    as Markdown writes most prompts and explanations; otherwise (other HTML, characters XML cannot hold)
    through lxml (``capa_question``). Both give the same bytes (tests/test_export_olx.py compares them on
    generated questions): building and serialising an lxml tree per question was most of the export of a
    quiz-heavy course.
    """
    text = capa_template(attrib, q, shuffle, words)
    if text is not None:
        return text.encode()
    el = etree.Element("problem", attrib)
    capa_question(el, q, shuffle=shuffle, words=words)
    return xml_bytes(el)


# A node of the template: (tag, attributes, text or None, children). Serialised as libxml2 formats it.
_Node = tuple[str, dict[str, str], "str | None", list[Any]]
_TEXT_SPECIAL = re.compile("[&<>\r]")
_PLAIN_PARAGRAPH = re.compile(r"<p>([^<&\r]+)</p>")


class _NotPlain(Exception):
    """A value the template does not write (HTML beyond one paragraph, not a string, not XML)."""


def capa_template(
    attrib: dict[str, str], q: dict[str, Any], shuffle: bool, words: dict[str, str]
) -> str | None:
    """``xml_bytes`` of the ``capa_question`` element as text, or None where the template does not apply."""
    try:
        children = _capa_nodes(q, shuffle, words)
        root: _Node = ("problem", attrib, None, children)
        out = [_XML_DECLARATION]
        _emit(root, 0, True, out)
        out.append("\n")
        text = "".join(out)
    except _NotPlain:
        return None
    if _NOT_XML.search(text):
        return None  # lxml refuses these characters: let it say so
    return text


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise _NotPlain
    return value


def _html_nodes(fragment: str) -> tuple[str | None, list[_Node]]:
    """What ``_append_html`` adds to an empty element: (its text, its children)."""
    fragment = _str(fragment)
    if not fragment.strip():
        return None, []
    if not any(c in fragment for c in "<&\r"):
        return fragment, []
    m = _PLAIN_PARAGRAPH.fullmatch(fragment)
    if m is None:
        raise _NotPlain
    return None, [("p", {}, m.group(1), [])]


def _label_node(prompt: str) -> _Node:
    text, children = _html_nodes(prompt)
    return ("label", {}, text, children)


def _capa_nodes(q: dict[str, Any], shuffle: bool, words: dict[str, str]) -> list[_Node]:
    """The children ``capa_question`` appends to the problem element, as template nodes."""
    kind = q["type"]
    notes = q.get("feedback") or {}
    nodes: list[_Node] = []
    if kind in ("single-choice", "true-false"):
        group_attrib = {"type": "MultipleChoice"}
        if kind == "true-false":
            labels = q.get("labels") or {}
            choices = [
                ("true", labels.get("true", words["true"]), q["answer"] is True),
                ("false", labels.get("false", words["false"]), q["answer"] is False),
            ]
        else:
            if shuffle:
                group_attrib["shuffle"] = "true"
            choices = [(str(c["id"]), str(c["text"]), c["id"] in q["answer"]) for c in q["choices"]]
        items: list[_Node] = []
        for cid, text, correct in choices:
            hint = notes.get(cid)
            inner: list[_Node] = [("choicehint", {}, _str(hint), [])] if hint else []
            items.append(
                ("choice", {"correct": "true" if correct else "false", "name": cid}, _str(text), inner)
            )
        group: _Node = ("choicegroup", group_attrib, None, items)
        nodes.append(("multiplechoiceresponse", {}, None, [_label_node(q["prompt"]), group]))
    elif kind == "multiple-choice":
        items = []
        for c in q["choices"]:
            cid = str(c["id"])
            hint = notes.get(cid)
            inner = [("choicehint", {"selected": "true"}, _str(hint), [])] if hint else []
            ticked = "true" if cid in q["answer"] else "false"
            items.append(("choice", {"correct": ticked, "name": cid}, str(c["text"]), inner))
        nodes.append(
            ("choiceresponse", {}, None, [_label_node(q["prompt"]), ("checkboxgroup", {}, None, items)])
        )
    elif kind == "numeric":
        parts = [_label_node(q["prompt"])]
        tol = q.get("tolerance")
        if tol:
            tol_text = tol if isinstance(tol, str) else _num(tol)
            parts.append(("responseparam", {"default": tol_text, "type": "tolerance"}, None, []))
        parts.append(("formulaequationinput", {}, None, []))
        nodes.append(("numericalresponse", {"answer": _num(q["answer"])}, None, parts))
    elif kind == "short-text":
        answers = [_str(a) for a in q["answer"]]
        for a in list(answers):
            if SARA_AM in a and a.replace(SARA_AM, SARA_AM_TYPED) not in answers:
                answers.append(a.replace(SARA_AM, SARA_AM_TYPED))
        resp_attrib = {"answer": answers[0]}
        if not q.get("case_sensitive"):
            resp_attrib["type"] = "ci"
        parts = [_label_node(q["prompt"])]
        parts.extend(("additional_answer", {"answer": extra}, None, []) for extra in answers[1:])
        parts.append(("textline", {"size": "40"}, None, []))
        nodes.append(("stringresponse", resp_attrib, None, parts))
    else:
        raise _NotPlain  # capa_question says what is wrong
    if q.get("explain"):
        text, children = _html_nodes(q["explain"])
        div: _Node = (
            "div",
            {"class": "detailed-solution"},
            text,
            [("p", {}, _str(words["explain"]), []), *children],
        )
        nodes.append(("solution", {}, None, [div]))
    return nodes


def _emit(node: _Node, level: int, pretty: bool, out: list[str]) -> None:
    """One element as libxml2 writes it: an element with text (mixed content) has nothing indented inside."""
    tag, attrib, text, children = node
    if not attrib:  # most elements of a problem
        attrs = ""
    elif len(attrib) == 1:
        ((key, value),) = attrib.items()
        attrs = f' {key}="{_attr(_str(value))}"'
    else:
        attrs = "".join(f' {key}="{_attr(_str(attrib[key]))}"' for key in sorted(attrib))
    if text is None and not children:
        out.append(f"<{tag}{attrs}/>")
        return
    out.append(f"<{tag}{attrs}>")
    if text is not None:
        out.append(_text(text))
        pretty = False
    if pretty:
        indent = "  " * (level + 1)
        for child in children:
            out.append("\n" + indent)
            _emit(child, level + 1, True, out)
        out.append("\n" + "  " * level)
    else:
        for child in children:
            _emit(child, level + 1, False, out)
    out.append(f"</{tag}>")


def _text(value: str) -> str:
    if not _TEXT_SPECIAL.search(value):
        return value
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def capa_question(problem: etree._Element, q: dict[str, Any], shuffle: bool, words: dict[str, str]) -> None:
    """Append the response element (label, inputs, hints) and the solution of question ``q``."""
    kind = q["type"]
    notes = q.get("feedback") or {}
    if kind in ("single-choice", "true-false"):
        resp = etree.SubElement(problem, "multiplechoiceresponse")
        _label(resp, q["prompt"])
        group = etree.SubElement(resp, "choicegroup", type="MultipleChoice")
        if kind == "true-false":
            labels = q.get("labels") or {}
            choices = [
                ("true", labels.get("true", words["true"]), q["answer"] is True),
                ("false", labels.get("false", words["false"]), q["answer"] is False),
            ]
        else:
            if shuffle:
                group.set("shuffle", "true")
            choices = [(str(c["id"]), str(c["text"]), c["id"] in q["answer"]) for c in q["choices"]]
        for cid, text, correct in choices:
            choice = etree.SubElement(group, "choice", correct="true" if correct else "false", name=cid)
            choice.text = text
            if notes.get(cid):
                etree.SubElement(choice, "choicehint").text = notes[cid]
    elif kind == "multiple-choice":
        resp = etree.SubElement(problem, "choiceresponse")
        _label(resp, q["prompt"])
        group = etree.SubElement(resp, "checkboxgroup")
        for c in q["choices"]:
            cid = str(c["id"])
            choice = etree.SubElement(group, "choice", correct="true" if cid in q["answer"] else "false")
            choice.set("name", cid)
            choice.text = str(c["text"])
            if notes.get(cid):
                # Checkbox hints need `selected`: ours are shown when the learner ticked the choice.
                etree.SubElement(choice, "choicehint", selected="true").text = notes[cid]
    elif kind == "numeric":
        resp = etree.SubElement(problem, "numericalresponse", answer=_num(q["answer"]))
        _label(resp, q["prompt"])
        tol = q.get("tolerance")
        if tol:
            tol_text = tol if isinstance(tol, str) else _num(tol)
            etree.SubElement(resp, "responseparam", type="tolerance", default=tol_text)
        etree.SubElement(resp, "formulaequationinput")
    elif kind == "short-text":
        answers = list(q["answer"])
        for a in list(answers):
            if SARA_AM in a and a.replace(SARA_AM, SARA_AM_TYPED) not in answers:
                answers.append(a.replace(SARA_AM, SARA_AM_TYPED))
        resp = etree.SubElement(problem, "stringresponse", answer=answers[0])
        if not q.get("case_sensitive"):
            resp.set("type", "ci")
        _label(resp, q["prompt"])
        for extra in answers[1:]:
            etree.SubElement(resp, "additional_answer", answer=extra)
        etree.SubElement(resp, "textline", size="40")
    else:
        raise BuildError(f"question {q['id']!r}: type {kind!r} has no CAPA form")
    if q.get("explain"):
        solution = etree.SubElement(problem, "solution")
        div = etree.SubElement(solution, "div")
        div.set("class", "detailed-solution")
        etree.SubElement(div, "p").text = words["explain"]
        _append_html(div, q["explain"])


def _label(resp: etree._Element, prompt_html: str) -> None:
    label = etree.SubElement(resp, "label")
    _append_html(label, prompt_html)


def _append_html(parent: etree._Element, fragment: str) -> None:
    """Markdown's HTML (void tags unclosed, entities) as well-formed XML children of ``parent``."""
    if not fragment.strip():
        return
    if not any(c in fragment for c in "<&\r"):  # plain text, as the HTML parser would give it back
        parent.text = (parent.text or "") + fragment
        return
    parts = lxml.html.fragments_fromstring(fragment)
    last: etree._Element | None = None
    for part in parts:
        if isinstance(part, str):
            if last is None:
                parent.text = (parent.text or "") + part
            else:
                last.tail = (last.tail or "") + part
            continue
        part = _plain_copy(part)
        parent.append(part)
        last = part


def _plain_copy(el: Any) -> etree._Element:
    """An lxml.html element as a plain etree element (HtmlElement classes do not serialise as XML)."""
    out = etree.Element(el.tag, {k: v for k, v in el.attrib.items()})
    out.text = el.text
    out.tail = el.tail
    for child in el:
        if isinstance(child.tag, str):
            out.append(_plain_copy(child))
        elif child.tail:  # a comment: keep only the text after it
            prev = out[-1] if len(out) else None
            if prev is None:
                out.text = (out.text or "") + child.tail
            else:
                prev.tail = (prev.tail or "") + child.tail
    return out


# ---- grading
def grading_policy(tree: CourseTree, grading: CourseGrading | None = None) -> dict[str, Any]:
    """grading_policy.json from grading.course_grading: one GRADER entry per assignment type.

    A type's weight is the share of the graded quizzes in subsections of that format. With nothing
    graded, one "Graded" entry that no subsection uses keeps the course ungradable (nobody passes),
    as our rule does, and keeps the file valid (Studio and olxcleaner reject an empty GRADER).
    """
    grading = grading or course_grading(tree)
    formats: dict[str, str] = {}
    for block, _depth in tree.walk():
        if block.scope_ids.block_type == "lm-subsection" and tree.value(block, "graded"):
            formats[_id(block)] = tree.value(block, "format") or "Graded"
    weights: dict[str, float] = {}
    counts: dict[str, int] = {}
    for sub_format in formats.values():
        counts[sub_format] = counts.get(sub_format, 0) + 1
        weights.setdefault(sub_format, 0.0)
    for quiz in grading.quizzes:
        if quiz.subsection in formats:
            weights[formats[quiz.subsection]] += quiz.weight
    total = sum(weights.values())
    grader = [
        {
            "type": kind,
            "min_count": counts[kind],
            "drop_count": 0,
            "short_label": SHORT_LABELS.get(kind, kind[:8]),
            # A graded subsection without a graded quiz still needs a weight; renormalise over what counts.
            "weight": round(weights[kind] / total, 12) if total else round(1 / len(weights), 12),
        }
        for kind in sorted(weights)
    ]
    if not grader:
        grader = [{"type": "Graded", "min_count": 1, "drop_count": 0, "short_label": "Quiz", "weight": 1.0}]
    return {"GRADER": grader, "GRADE_CUTOFFS": {"Pass": grading.pass_threshold}}


# ---- helpers
DEFAULT_START = "2030-01-01T00:00:00Z"  # Open edX's own default: not open until someone sets a date
BANGKOK = timezone(timedelta(hours=7))  # the source format's zone for a date alone
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def iso_datetime(value: str | date, end_of_day: bool = False) -> str:
    """A source date (``2021-03-19``, ``2021-03-19 08:00``, with or without zone) as ISO 8601.

    A bare date means midnight in Bangkok (the source format's rule), or the last second of that day in
    Bangkok for closing dates (``end_of_day``): "ends 31 March" keeps a due time on 31 March inside the
    course. Either is written as the UTC instant (``2021-03-19`` -> ``2021-03-18T17:00:00Z``). A date and
    time without a zone is Bangkok time too (the source format's rule, the one the checks use), written in
    UTC; a zone given is kept.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = _bangkok_day(value, end_of_day)
    else:
        text = value.strip()
        if _DATE_ONLY.match(text):
            moment = _bangkok_day(date.fromisoformat(text), end_of_day)
        else:
            moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=BANGKOK).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _bangkok_day(day: date, end_of_day: bool) -> datetime:
    """The first (or last) second of ``day`` in Bangkok, as a UTC datetime."""
    at = (23, 59, 59) if end_of_day else (0, 0, 0)
    return datetime(day.year, day.month, day.day, *at, tzinfo=BANGKOK).astimezone(UTC)


def one_year_after(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    try:
        later = moment.replace(year=moment.year + 1)
    except ValueError:  # 29 February
        later = moment.replace(year=moment.year + 1, day=28)
    return later.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if later.tzinfo else later.isoformat()


_VTT_TIME = re.compile(r"(?:(\d+):)?(\d{2}):(\d{2})[.,](\d{3})")
_VTT_TAG = re.compile(r"<(?!/?(?:b|i|u)>)[^>]*>")


def _srt_time(match: re.Match[str]) -> str:
    h, m, s, ms = match.groups()
    return f"{int(h or 0):02d}:{m}:{s},{ms}"


def vtt_to_srt(vtt: str) -> str:
    """WebVTT -> SubRip: Open edX (edx-val) reads SRT or SJSON transcripts, never VTT.

    Cues are numbered from 1, times get a comma, cue settings, NOTE/STYLE/REGION blocks and voice or
    class tags are dropped (SRT only knows b, i, u). Text, Thai included, is kept as it is.
    """
    blocks = re.split(r"\n\s*\n", vtt.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n"))
    cues = []
    for block in blocks:
        lines = [line for line in block.split("\n") if line.strip()]
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue  # the WEBVTT header, NOTE, STYLE, REGION
        start, _, rest = lines[timing].partition("-->")
        start_m, end_m = _VTT_TIME.search(start), _VTT_TIME.search(rest)
        if start_m is None or end_m is None:
            continue
        text = [html.unescape(_VTT_TAG.sub("", line)) for line in lines[timing + 1 :]]
        if not any(t.strip() for t in text):
            continue
        cues.append(f"{len(cues) + 1}\n{_srt_time(start_m)} --> {_srt_time(end_m)}\n" + "\n".join(text))
    return "\n\n".join(cues) + "\n" if cues else ""


def xml_bytes(el: etree._Element, verbatim: list[etree._Element] | None = None) -> bytes:
    """UTF-8 with a declaration, pretty-printed, attributes sorted (kept OLX in ``verbatim`` untouched)."""
    keep = set(verbatim or [])
    stack = [el]
    while stack:
        node = stack.pop()
        if node in keep or not isinstance(node.tag, str):
            continue
        attrib = node.attrib
        if len(attrib) > 1:
            keys = attrib.keys()
            if keys != sorted(keys):
                items = sorted(attrib.items())
                attrib.clear()
                for key, value in items:
                    node.set(key, value)
        if len(node):
            stack.extend(node)
    # libxml2 indents only elements without text children, so HTML, CDATA and kept OLX stay as they are.
    return etree.tostring(el, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# What libxml2 escapes in an attribute value; characters XML cannot hold at all make lxml raise instead.
_ATTR_SPECIAL = re.compile('[&<>"\n\r\t]')
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"


def plain_xml(tag: str, attrib: dict[str, str], children: list[tuple[str, str]]) -> bytes:
    """``xml_bytes`` of ``<tag attrib...>`` holding ``<child url_name="..."/>`` pointers, from a template.

    Most files of an OLX course are exactly this (outline, html pointers); building and serialising an
    lxml tree for each cost more than everything else the export does per block. The bytes are lxml's
    (tests/test_export_olx.py compares them); a value XML cannot hold goes through lxml, which refuses it.
    """
    values = [*attrib.values(), *(url for _tag, url in children)]
    if any(_NOT_XML.search(value) for value in values):
        el = etree.Element(tag, attrib)
        for child_tag, url_name in children:
            etree.SubElement(el, child_tag, url_name=url_name)
        return xml_bytes(el)
    attrs = "".join(f' {key}="{_attr(attrib[key])}"' for key in sorted(attrib))
    if not children:
        return f"{_XML_DECLARATION}<{tag}{attrs}/>\n".encode()
    inner = "".join(f'  <{t} url_name="{_attr(url)}"/>\n' for t, url in children)
    return f"{_XML_DECLARATION}<{tag}{attrs}>\n{inner}</{tag}>\n".encode()


def _attr(value: str) -> str:
    if not _ATTR_SPECIAL.search(value):  # the usual case; str.translate with a table is slower
        return value
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return value.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")


def _ui_words(lang: str) -> dict[str, str]:
    return ui({"lang": lang})  # the blocks' own UI strings, so OLX and the runtime say the same


def _title(body: str, unit_name: str) -> str:
    """A display name for an untitled html block: its first heading, else its unit's name."""
    m = re.search(r"<h[1-6][^>]*>(.*?)</h[1-6]>", body, re.S)
    if m:
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).split())
        if text:
            return unicodedata.normalize("NFC", text)
    return unit_name


def _id(block: XBlock) -> str:
    return str(block.scope_ids.usage_id)


def _num(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


__all__ = ["OlxExporter", "grading_policy", "iso_datetime", "vtt_to_srt"]
