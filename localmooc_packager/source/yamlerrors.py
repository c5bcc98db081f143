"""PyYAML's syntax errors in plain words, for designers rather than parser writers.

The parser stops at the first problem, so each file gives one message. Most slips are indentation: the
message then names the line that opened the block and the column its lines start at, worked out from the
text itself (PyYAML's "while parsing a block mapping" points at the start of the whole mapping).
"""

from __future__ import annotations

import re

import yaml

_INDENT_PROBLEMS = (
    "did not find expected key",
    "did not find expected '-' indicator",
    "expected <block end>",
)
_TAB = "a tab character: YAML indents with spaces only (การเยื้องต้องใช้ช่องว่าง); replace the tab with spaces"


def _content_lines(lines: list[str], upto: int) -> list[tuple[int, int, str]]:
    """(line number, indent, text) of the lines before ``upto`` that hold YAML (no blanks, no comments)."""
    out = []
    for n, raw in enumerate(lines[: upto - 1], 1):
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            out.append((n, len(raw) - len(raw.lstrip(" ")), raw.rstrip()))
    return out


def _levels(lines: list[str], upto: int) -> list[tuple[int, int, bool]]:
    """The open block levels at line ``upto``: (indent of the block's lines, line that opened it, whether
    the level holds list dashes). A `- key: value` item opens two levels: the list at the dash and the
    item's mapping after it, both opened by that line."""
    stack: list[tuple[int, int, bool]] = []
    previous = 0
    for n, indent, text in _content_lines(lines, upto):
        while stack and stack[-1][0] > indent:
            stack.pop()
        body = text.lstrip(" ")
        dash = body.startswith("- ") or body == "-"
        if not stack or stack[-1][0] < indent:
            stack.append((indent, previous or n, dash))
        inner = indent
        while body.startswith("- "):  # `- - a` nests lists; `- key:` starts a mapping after the dash
            rest = body[2:]
            inner += 2 + len(rest) - len(rest.lstrip(" "))
            body = rest.lstrip(" ")
            if stack[-1][0] < inner:
                stack.append((inner, n, body.startswith("- ")))
        previous = n
    return stack


def _indent_hint(lines: list[str], line: int) -> str:
    if line < 1 or line > len(lines):
        return ""
    raw = lines[line - 1]
    indent = len(raw) - len(raw.lstrip(" "))
    levels = _levels(lines, line)
    if not levels or indent in {lvl for lvl, _, _ in levels}:
        return ""
    # A list item lines up with the dashes above it, a `key:` line with keys; the line was most likely
    # meant for the innermost such block (to continue what the line above started) when it is close,
    # else for the nearest one.
    is_item = raw.lstrip(" ").startswith("-")
    candidates = [lv for lv in levels if lv[2] == is_item] or levels
    innermost = candidates[-1]
    if abs(innermost[0] - indent) <= 3:
        target, opener, _ = innermost
    else:
        target, opener, _ = min(candidates, key=lambda lv: (abs(lv[0] - indent), -lv[0]))
    opened = lines[opener - 1].strip()
    spaces = f"{indent} space{'s' * (indent != 1)}"
    if target == 0:
        return (
            f"this line is indented by {spaces}, but it continues the top level of the file, whose keys "
            f"start at column 1 (line {opener}: `{opened}`); remove the spaces before it"
        )
    return (
        f"this line is indented by {spaces}, but the block it belongs to (opened at line {opener}: "
        f"`{opened}`) indents its lines by {target}; indent this line by {target} spaces"
    )


def _item_hint(lines: list[str], line: int) -> str:
    """A `key:` line at the column of a list's dashes: it was most likely meant for the item above."""
    raw = lines[line - 1] if 0 < line <= len(lines) else ""
    indent = len(raw) - len(raw.lstrip(" "))
    if raw.lstrip(" ").startswith("-"):
        return ""
    levels = _levels(lines, line)
    at_dash = any(lv[0] == indent and lv[2] for lv in levels)
    items = [lv for lv in levels if lv[0] > indent and not lv[2]]
    if not at_dash or not items:
        return ""
    target, opener, _ = items[-1]
    return (
        f"this line starts where the list's `- ` items do, but it is not an item; to belong to the item "
        f"opened at line {opener} (`{lines[opener - 1].strip()}`), indent it by {target} spaces"
    )


def plain_message(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, int, str]:
    """(line, column, message) for a PyYAML error: where the slip is and what to do, in plain words."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    context = exc.context_mark
    cline = context.line + 1 if context else line
    problem = exc.problem or ""
    lines = text.split("\n")
    current = lines[line - 1] if 0 < line <= len(lines) else ""
    if "tab" in problem or (problem.startswith("found character '\\t'")):
        return line, column, _TAB
    indent = len(current) - len(current.lstrip(" ")) + 1
    if problem.startswith(_INDENT_PROBLEMS):
        hint = _indent_hint(lines, line)
        if hint:
            return line, indent, f"the indentation (การเยื้อง) does not line up: {hint}"
        item = _item_hint(lines, line)
        if item:
            return line, indent, f"the indentation (การเยื้อง) does not line up: {item}"
        if current.lstrip().startswith("- ") or "'-'" in problem:
            return (
                line,
                column,
                (
                    "this line does not fit the list above it: every item of a list starts with `- ` at the "
                    "same column, and a list cannot continue with `key: value` lines"
                ),
            )
        return (
            line,
            column,
            (
                "this line does not fit the mapping above it: each line holds `key: value`, and the keys of "
                "one mapping start at the same column"
            ),
        )
    if problem.startswith("mapping values are not allowed"):
        hint = _indent_hint(lines, line)
        if hint:
            return line, indent, f"the indentation (การเยื้อง) does not line up: {hint}"
        key, _, value = current.strip().partition(": ")
        key = key.removeprefix("- ")
        example = f'{key}: "{value}"' if value else 'key: "text: with a colon"'
        return (
            line,
            column,
            (
                "a second `: ` on one line: YAML reads only one `key: value` per line; put text that "
                f"holds `: ` in quotes ({example})"
            ),
        )
    if "end of stream" in problem and exc.context and "quoted" in exc.context:
        return (
            cline,
            context.column + 1 if context else 0,
            ("this quote is never closed: end the text with the same quote mark it starts with"),
        )
    if re.search(r"did not find expected ',' or '[\]}]'", problem):
        closer = "]" if "]" in problem else "}"
        opener = "[" if closer == "]" else "{"
        return (
            cline,
            context.column + 1 if context else 0,
            (f"the {opener} opened here is not closed with {closer} (or a comma is missing between items)"),
        )
    if problem.startswith("could not find expected ':'"):
        return (
            cline,
            context.column + 1 if context else 0,
            ("this line has no `:`: write `key: value` (or start it with `- ` if it is a list item)"),
        )
    if "escape character" in problem:
        return (
            line,
            column,
            (
                "inside double quotes a backslash starts an escape such as \\n; write \\\\ for a backslash, "
                "or use single quotes"
            ),
        )
    if "undefined alias" in problem:
        return line, column, "`*name` refers to an anchor `&name` that is not defined above it"
    return line, column, problem or exc.context or "syntax error"  # rare: PyYAML's own words
