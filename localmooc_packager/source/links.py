"""Links and images inside Markdown and HTML bodies: each must name a file of the course.

Designers write the path that previews in their editor: relative to the Markdown file (`waste-bins.png`,
`../static/waste-bins.png`) or the course-root forms `static/NAME`, `./static/NAME`, `/static/NAME`. Every
form that reaches a file under static/ is rewritten to the canonical `/static/NAME`, which each exporter
turns into its own layout. The course's files are listed once per validation, so resolving a link is a set
lookup, never a file-system call.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

from . import markup

# A URL scheme (http:, mailto:, data:, tel:, javascript:, ...): not a course file.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Folders never part of a course's content.
_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv"}


class CourseFiles:
    """The course folder's regular files as relative POSIX paths, listed on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @cached_property
    def paths(self) -> frozenset[str]:
        self._walk()
        return self._paths

    @cached_property
    def symlinks(self) -> frozenset[str]:
        """Symbolic links among the files and folders (never followed: they may lead out of the course)."""
        self._walk()
        return self._symlinks

    @cached_property
    def folders(self) -> frozenset[str]:
        """Folders (not symbolic links to folders), skipped ones included."""
        self._walk()
        return self._folders

    def _listed_static(self) -> bool:
        """Whether the listing holds all of static/: not a link itself, and no skipped folder inside."""
        self._walk()
        return "static" not in self._symlinks and not any(rel.startswith("static/") for rel in self._skipped)

    def static_names(self) -> list[str] | None:
        """``static_entries`` unsorted."""
        if not self._listed_static():
            return None
        return [rel for rel in (*self._paths, *self._folders) if rel.startswith("static/")]

    def static_entries(self) -> list[str] | None:
        """Every file, folder and link under static/, as ``Path('static').rglob('*')`` lists them (relative
        to the course), sorted as paths sort; None when the listing cannot stand in for that walk (a
        skipped folder such as .git under static/, whose content is not listed)."""
        if not self._listed_static():
            return None
        entries = self.static_names()
        return None if entries is None else sorted(entries, key=lambda rel: rel.split("/"))

    def static_files(self) -> list[str] | None:
        """The regular files under static/ (no links, sockets or pipes) sorted, as the packages carry them;
        None as for ``static_entries``."""
        if not self._listed_static():
            return None
        return sorted(
            rel
            for rel in self._paths
            if rel.startswith("static/") and rel not in self._symlinks and rel not in self._special
        )

    def _walk(self) -> None:
        if hasattr(self, "_paths"):
            return
        found: list[str] = []
        links: list[str] = []
        folders: list[str] = []
        special: list[str] = []
        skipped: list[str] = []
        stack = [(str(self.root), "")]
        while stack:
            folder, prefix = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_symlink():  # from the directory listing: no extra system call on Linux
                    links.append(rel)
                    found.append(rel)
                elif entry.is_dir():
                    folders.append(rel)
                    if entry.name not in _SKIP_DIRS:
                        stack.append((entry.path, rel + "/"))
                    else:
                        skipped.append(rel)
                else:
                    found.append(rel)
                    if not entry.is_file():  # d_type again: a socket or a pipe
                        special.append(rel)
        self._paths = frozenset(found)
        self._symlinks = frozenset(links)
        self._folders = frozenset(folders)
        self._special = frozenset(special)
        self._skipped = tuple(skipped)

    def is_regular(self, rel: str) -> bool:
        """Whether the normalised relative path ``rel`` is a regular file of the listing (no link, socket
        or pipe)."""
        self._walk()
        return rel in self._paths and rel not in self._symlinks and rel not in self._special

    def names_in(self, folder: str) -> list[str]:
        """File names directly inside ``folder`` ('' for the root)."""
        prefix = folder.rstrip("/") + "/" if folder else ""
        return [p[len(prefix) :] for p in self.paths if p.startswith(prefix) and "/" not in p[len(prefix) :]]

    @cached_property
    def _by_name(self) -> dict[str, list[str]]:
        names: dict[str, list[str]] = {}
        for path in sorted(self.paths):
            names.setdefault(posixpath.basename(path), []).append(path)
        return names

    def closest(self, rel: str) -> str | None:
        """The course file whose name is nearest to ``rel``'s (files in static/ first)."""
        names = self._by_name
        close = difflib.get_close_matches(posixpath.basename(rel), list(names), n=1, cutoff=0.6)
        if not close:
            return None
        candidates = names[close[0]]
        return next((p for p in candidates if p.startswith("static/")), candidates[0])


class Link(NamedTuple):
    """One link of a body (a named tuple: a course has thousands, and a frozen dataclass costs a
    ``object.__setattr__`` per field to make)."""

    start: int  # offset of the URL in the body text
    end: int
    url: str
    line: int  # 1-based line in the body text
    column: int  # 1-based column in the body text
    nav: bool = False  # a link the learner follows (<a href>, [text](url)), not a file the page embeds


# Text that is not markup: fenced code blocks and inline code spans (a tutorial showing `<img src=x>`).
_CODE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?(?:^[ \t]*\1[^\n]*$|\Z)|`[^`\n]+`", re.MULTILINE | re.DOTALL)
_MD_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?(?P<url>[^)\s>]+)")
_MD_DEFINITION = re.compile(r"^[ ]{0,3}\[[^\]\n]+\]:[ \t]*<?(?P<url>[^\s>]+)", re.MULTILINE)
# Each starts with a look-ahead for the letters a match can start with (ſ folds to s): it matches the
# same, but lets the regex engine skip the other characters of a body without trying the whole pattern
# at each (3x faster on Thai text, where bodies are long and attributes few).
_HTML_REF = re.compile(
    r"""(?=[shpdu\u017f])(?:\b(?P<attr>src|href|poster|data)\s*=\s*["']?|url\(\s*["']?)(?P<url>[^"'()\s>]+)""",
    re.IGNORECASE,
)
_SRCSET = re.compile(r"""(?=[s\u017f])\bsrcset\s*=\s*(["'])(?P<set>[^"']*)\1""", re.IGNORECASE)


def links(text: str, markdown: bool) -> Iterator[Link]:
    """Every link, image and embedded file named in a body (not inside code), in order."""
    has_eq = "=" in text  # asked three times below; a search of the whole body each
    if not has_eq and "(" not in text and "]:" not in text:  # no pattern can match
        return
    if "`" in text or "~~~" in text:
        text = _CODE.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
        has_eq = "=" in text
    spans: list[tuple[int, int, str, bool]] = []
    # Each scan is skipped when a substring every match holds is absent (a scan costs a few nanoseconds
    # per character of a body, most of which is Thai prose).
    if has_eq or "l(" in text or "L(" in text:  # an attribute, or url(
        for m in _HTML_REF.finditer(text):
            attr = m.group("attr")
            nav = attr is not None and attr.lower() == "href"
            spans.append((m.start("url"), m.end("url"), m.group("url"), nav))
    if markdown:
        if "](" in text:
            for m in _MD_LINK.finditer(text):
                spans.append((m.start("url"), m.end("url"), m.group("url"), not m.group().startswith("!")))
        if "]:" in text:
            for m in _MD_DEFINITION.finditer(text):
                spans.append((m.start("url"), m.end("url"), m.group("url"), True))
    if has_eq:
        lowered = text.lower()  # `cset` of srcset has no letter with a case variant but its own
        if "cset" in lowered or "c\u017fet" in lowered:
            for m in _SRCSET.finditer(text):
                base = m.start("set")
                for part in re.finditer(r"[^,\s][^\s,]*", m.group("set")):
                    if not re.fullmatch(r"\d+(\.\d+)?[wx]", part.group()):
                        spans.append((base + part.start(), base + part.end(), part.group(), False))
    # Lines counted from one link to the next, not from the start of the text for each.
    line, counted = 1, 0
    for start, end, url, nav in sorted(set(spans)):
        line += text.count("\n", counted, start)
        counted = start
        yield Link(start, end, url, line, start - text.rfind("\n", 0, start), nav)


class Resolved(NamedTuple):
    """What a link names: ``canonical`` to write instead (None: keep it), or a problem."""

    canonical: str | None = None
    code: str = ""  # '' when fine
    message: str = ""


_STATIC_PREFIXES = ("./static/", "/static/", "static/")  # as markup.static_name tries them


def resolve(url: str, base: str, files: CourseFiles) -> Resolved | None:
    """Resolve ``url`` written in a body whose file sits in folder ``base`` (relative, '' for the root).

    None for what is not a course file: network addresses, other schemes, anchors, site paths.
    """
    # The common case first: a plain `static/NAME` (or `/static/`, `./static/`) of a file in the listing,
    # with nothing to cut or unquote; answers as the general path below does (no scheme can match it).
    if "?" not in url and "#" not in url and "%" not in url:
        for prefix in _STATIC_PREFIXES:
            if url.startswith(prefix):
                rel = "static/" + url[len(prefix) :]
                if rel in files.paths:
                    canonical = "/" + rel
                    return Resolved(canonical if canonical != url else None)
                break
    if not url or url.startswith(("#", "//")) or _SCHEME.match(url):
        return None
    query, fragment = url.find("?"), url.find("#")
    cut = len(url) if query < 0 and fragment < 0 else min(i for i in (query, fragment) if i >= 0)
    path, suffix = unquote(url[:cut]), url[cut:]
    name = markup.static_name(path)
    if name is not None:
        rel = name
    elif path.startswith("/"):
        return None  # an Open edX site path such as /jump_to_id/...
    else:
        rel = posixpath.normpath(posixpath.join(base, path))
    if rel == ".." or rel.startswith("../"):
        return Resolved(code="path-outside", message=f"{url!r} points outside the course folder")
    if rel in files.paths:
        if rel.startswith("static/"):
            canonical = "/" + rel + suffix
            return Resolved(canonical if canonical != url else None)
        return Resolved(
            code="asset-outside-static",
            message=f"{url!r} is {rel}, outside static/: move it into static/ so that packages carry it",
        )
    near = files.closest(rel)
    hint = ""
    if near is not None:
        shown = posixpath.relpath(near, base or ".") if name is None else near
        hint = f"; did you mean {shown!r}?"
    where = f" (looked for {rel})" if rel != path else ""
    return Resolved(code="asset-missing", message=f"{url!r} not found{where}{hint}")


# File types a course links to. A followed link to anything else that names no course file (a block id, a
# word) is left to the platform, which resolves it against the page's own address.
_FILE_SUFFIXES = frozenset(
    [
        ".pdf",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
        ".odt",
        ".ods",
        ".odp",
        ".csv",
        ".txt",
        ".rtf",
        ".zip",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".svg",
        ".webp",
        ".mp3",
        ".mp4",
        ".m4a",
        ".webm",
        ".ogg",
        ".wav",
        ".vtt",
        ".srt",
        ".html",
        ".htm",
        ".json",
        ".xml",
        ".md",
        ".epub",
    ]
)


def names_a_file(url: str) -> bool:
    """Whether a followed link that resolves to nothing was meant as a course file: it has a folder part,
    starts with '.', or ends in a file type a course links to (`handout.pdf`, not `Edx.org` or a block id)."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    if "/" in path or path.startswith("."):
        return True
    return posixpath.splitext(path)[1].lower() in _FILE_SUFFIXES


def rewrite(text: str, changes: list[tuple[int, int, str]]) -> str:
    """``text`` with each (start, end) span replaced, spans in ascending order and not overlapping."""
    out: list[str] = []
    last = 0
    for start, end, new in changes:
        out.append(text[last:start])
        out.append(new)
        last = end
    out.append(text[last:])
    return "".join(out)
