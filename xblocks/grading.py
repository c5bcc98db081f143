"""Grading rules for quiz questions, shared by the quiz XBlock and mirrored by the SCORM player's JS.

A question is the normalised dict the quiz block stores (see ``QuizBlock.questions``); a response is what
a learner sent: a choice id, a list of choice ids, a boolean, or text.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_SPACES = re.compile(r"\s+")
# Zero-width spaces and joiners: Thai writers put them in as line-break hints; nobody types them on purpose.
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
# After spaces are collapsed to one: a space next to a Thai character (Thai leaves spaces between words to
# the writer: น้ำหมัก ชีวภาพ is น้ำหมักชีวภาพ). Two passes, so that the player's ES5 regexes (no look-behind)
# do the very same.
_SPACE_AFTER_THAI = re.compile("([\u0e00-\u0e7f]) ")
_SPACE_BEFORE_THAI = re.compile(" (?=[\u0e00-\u0e7f])")
# Sara am typed as nikhahit + sara aa, also with the tone mark between them (น + ํ + ้ + า).
_SARA_AM_SPLIT = re.compile("\u0e4d([\u0e48-\u0e4b]?)\u0e32")

# What a short-text question may ask to be typed exactly (its `exact:` list); by default none is.
EXACT = ("case", "spaces", "digits", "sara-am")


def normalize_text(text: str, case_sensitive: bool = False, exact: Iterable[str] = ()) -> str:
    """A short answer as compared: NFC (never NFKC: it splits Thai sara am); unless listed in ``exact``:
    sara am typed as ํ + า joined, Thai digits made ASCII, spaces next to Thai dropped (other runs of
    spaces count as one; the ends and zero-width spaces never count), Latin case folded. docs/course-format.md describes it;
    the SCORM player's normalizeText does exactly the same."""
    strict = set(exact)
    if case_sensitive:
        strict.add("case")
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFC", text))
    if "sara-am" not in strict:
        text = _SARA_AM_SPLIT.sub("\\1\u0e33", text)
    if "digits" not in strict:
        text = text.translate(_THAI_DIGITS)
    text = _SPACES.sub(" ", text).strip()
    if "spaces" not in strict:
        text = _SPACE_BEFORE_THAI.sub("", _SPACE_AFTER_THAI.sub("\\1", text))
    return text if "case" in strict else text.casefold()


def parse_number(value: Any) -> float | None:
    """A learner's number: Thai digits allowed, thousands commas ignored; None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.translate(_THAI_DIGITS).replace(",", "").replace(" ", "").strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def tolerance_of(question: dict[str, Any]) -> float:
    tol = question.get("tolerance", 0) or 0
    if isinstance(tol, str) and tol.endswith("%"):
        return abs(float(question["answer"])) * float(tol[:-1]) / 100
    return float(tol)


def is_correct(question: dict[str, Any], response: Any) -> bool:
    """Whether ``response`` answers ``question`` correctly."""
    kind = question["type"]
    answer = question["answer"]
    if kind == "single-choice":
        return isinstance(response, str) and [response] == list(answer)
    if kind == "multiple-choice":
        return (
            isinstance(response, list)
            and all(isinstance(r, str) for r in response)
            and set(response) == set(answer)
        )
    if kind == "true-false":
        if isinstance(response, str) and response in ("true", "false"):
            response = response == "true"
        return isinstance(response, bool) and response is bool(answer)
    if kind == "numeric":
        number = parse_number(response)
        # A hair of slack so that 0.1 + 0.2 style float noise never fails a right answer.
        return number is not None and abs(number - float(answer)) <= tolerance_of(question) + 1e-9
    if kind == "short-text":
        if not isinstance(response, str):
            return False
        case = bool(question.get("case_sensitive", False))
        exact = question.get("exact") or ()
        given = normalize_text(response, case, exact)
        return any(given == normalize_text(a, case, exact) for a in answer)
    raise ValueError(f"unknown question type {kind!r}")


def grade(questions: list[dict[str, Any]], responses: dict[str, Any]) -> tuple[float, float, dict[str, bool]]:
    """(points earned, points possible, correctness per question id) for one submission."""
    earned = possible = 0.0
    results: dict[str, bool] = {}
    for q in questions:
        points = float(q.get("points", 1))
        possible += points
        ok = q["id"] in responses and is_correct(q, responses[q["id"]])
        results[q["id"]] = ok
        if ok:
            earned += points
    return earned, possible, results
