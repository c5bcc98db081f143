"""Bounds on what a request may carry, checked before any handler or model sees it."""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import BadRequest
from .settings import Limits


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise ValueError(f"{text[:20]} is out of range")
    return value


# Built once: json.loads with hooks builds a decoder (and its scanner) per call.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def check_json(body: bytes, limits: Limits) -> Any:
    """The decoded body, or BadRequest: not JSON, NaN/Infinity/overflowing numbers, nested deeper than
    ``max_json_depth``, or a string longer than ``max_answer_chars``. Stored answers come back in the
    learner's export and pages: what cannot be written back as JSON, or is huge, must not get in."""
    if not body.strip():
        return None
    try:
        value = _DECODER.decode(body.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequest("bad_json") from None
    if len(body) <= limits.max_answer_chars and body.count(b"[") + body.count(b"{") < limits.max_json_depth:
        return value  # no string can be too long, no nesting too deep: a quiz answer takes this way
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limits.max_json_depth:
            raise BadRequest("bad_json")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
            stack.extend((k, depth + 1) for k in item)
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str) and len(item) > limits.max_answer_chars:
            raise BadRequest("too_long")
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**53:
            raise BadRequest("bad_json")  # exact in a double (JavaScript) and in PostgreSQL's float8
    return value
