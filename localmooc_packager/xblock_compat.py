"""Every use of XBlock's private internals, in one place: the block tree's and the runtime's.

XBlock has no public API for these; each is pinned by ``tests/test_runtime_xblock_contract.py``, which runs
against the lowest and the highest XBlock of the range in pyproject.toml and fails when a release moves one.
When XBlock changes, this module is the only one to fix. ``runtime/compat.py`` re-exports the runtime's part.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint
from typing import Any, NamedTuple

from webob import Response
from xblock import plugin as xblock_plugin
from xblock.core import XBlock
from xblock.exceptions import JsonHandlerError
from xblock.fields import EXPLICITLY_SET, UNIQUE_ID, Field, JSONField, Sentinel, String
from xblock.plugin import PluginMissingError, default_select
from xblock.runtime import KeyValueStore, MemoryIdManager, Runtime

# --- course values shared read-only (the runtime and the SCORM export) ---


class FrozenDict(dict[Any, Any]):
    """A course value shared by many readers (the runtime's requests, a SCORM export's views): reads as a
    dict, refuses changes.

    XBlock deep-copies every mutable field on first read (to see later whether it changed); for a quiz's
    questions that copy was a tenth of a submission. A frozen value cannot change, so it is its own copy,
    and a block that tries to change course content fails at once instead of corrupting it for everyone.
    """

    def _refuse(self, *_args: Any, **_kwargs: Any) -> None:
        raise TypeError("course content is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self

    def __copy__(self) -> FrozenDict:
        return self


class FrozenList(list[Any]):
    """The list counterpart of ``FrozenDict``."""

    def _refuse(self, *_args: Any, **_kwargs: Any) -> None:
        raise TypeError("course content is read-only")

    __setitem__ = __delitem__ = append = extend = insert = pop = remove = clear = sort = reverse = _refuse  # type: ignore[assignment]
    __iadd__ = __imul__ = _refuse  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenList:
        return self

    def __copy__(self) -> FrozenList:
        return self


# --- handlers (the runtime) ---

# The code object of the wrapper ``XBlock.json_handler`` puts around a handler. A handler whose code is
# this one reads only ``request.method`` and ``request.body`` (then ``json.loads``), so the runtime can
# hand it a two-attribute request instead of building a WebOb one.
JSON_WRAPPER_CODE = XBlock.json_handler(lambda self, data, suffix="": None).__code__


def is_json_handler(cls: type[XBlock], name: str) -> bool:
    return getattr(getattr(cls, name, None), "__code__", None) is JSON_WRAPPER_CODE


class JsonAnswer(NamedTuple):
    """A json handler's answer: read like WebOb's response (``status_code``, ``body``, ``content_type``),
    and a (status, body, content type) tuple."""

    status_code: int
    body: bytes
    content_type: str


def handle_json(block: XBlock, name: str, body: bytes) -> JsonAnswer | Response:
    """``Runtime.handle`` of a json handler (``is_json_handler``), its wrapper's steps run here: the body
    decoded (400 if it is no JSON), the handler (``__wrapped__``, what the wrapper calls), a
    ``JsonHandlerError`` as its response, then ``block.save()`` as ``Runtime.handle`` does. A handler's
    dict comes back as a ``JsonAnswer`` (200, the JSON the wrapper would send, its content type), without building the
    WebOb response (a tenth of a quiz submission); anything else as the WebOb response XBlock makes."""
    try:
        data = json.loads(body.decode("utf-8"))
    except ValueError:
        out: JsonAnswer | Response = JsonHandlerError(400, "Invalid JSON").get_response()
    else:
        try:
            result = getattr(type(block), name).__wrapped__(block, data, "")
        except JsonHandlerError as err:
            out = err.get_response()
        else:
            out = (
                result
                if isinstance(result, Response)
                else JsonAnswer(200, json.dumps(result).encode(), JSON_TYPE)
            )
    block.save()
    return out


JSON_TYPE = "application/json"


def is_handler(cls: type[XBlock], name: str) -> bool:
    """XBlock marks handlers with ``_is_xblock_handler`` (``XBlock.handler`` and ``json_handler``)."""
    return bool(getattr(getattr(cls, name, None), "_is_xblock_handler", False))


# --- field data ---


def field_data_kvs(field_data: Any) -> KeyValueStore:
    """The KeyValueStore under a ``KvsFieldData`` (its ``_kvs``)."""
    return field_data._kvs


def block_field_data(block: XBlock) -> Any:
    """The FieldData a block reads through (``_field_data``)."""
    return block._field_data


def read_through_block(block: XBlock, name: str) -> bool:
    """Whether ``name`` must be read through the block: XBlock's per-instance cache
    (``_field_data_cache``) holds it, so it may be set but not saved yet."""
    return name in block._field_data_cache


def prime_field_cache(block: XBlock, values: Mapping[str, Any]) -> None:
    """Put decoded field values in the block's per-instance cache (``_field_data_cache``), as its first
    read of each would (``from_json`` of the stored value): the reads then skip the field-data lookups.
    Only for values that cannot change (str, numbers, frozen course content): the cache holds them as is."""
    block._field_data_cache.update(values)


# XBlock marks a field set by assignment with the baseline ``copy.deepcopy(EXPLICITLY_SET)`` and later tests
# ``baseline is EXPLICITLY_SET``; a sentinel without ``__deepcopy__`` is rebuilt through ``__reduce_ex__`` by
# every assignment (~3 us each, four or five per quiz submission) and the ``is`` never holds (the field is
# still saved: the copy compares unequal to any value). A sentinel is its own copy, as XBlock means it.
def _sentinel_copy(self: Sentinel, memo: dict[int, Any]) -> Sentinel:
    return self


if "__deepcopy__" not in vars(Sentinel):
    Sentinel.__deepcopy__ = _sentinel_copy  # type: ignore[attr-defined]


def sentinel_is_its_own_copy() -> bool:
    return copy.deepcopy(EXPLICITLY_SET) is EXPLICITLY_SET


# --- fields ---


def sanitize(fld: Field, value: Any) -> Any:
    """What a field's descriptor does to a value on the way in and out (``Field._sanitize``)."""
    return fld._sanitize(value)


def has_unique_id_default(fld: Field) -> bool:
    """The field's default is computed per block (``_default`` is ``UNIQUE_ID``)."""
    return fld._default is UNIQUE_ID


def field_encoder(fld: Field) -> Callable[[Any], Any]:
    """A value set on ``fld`` -> what ``save()`` stores for it: ``_sanitize``, then ``to_json``."""
    kind = type(fld)
    if (
        kind._sanitize is String._sanitize
        and kind.to_json is Field.to_json
        and isinstance(fld, JSONField)  # Field.to_json warns only outside JSONField
    ):
        bad = fld.BAD_REGEX.search

        def string(value: Any) -> Any:
            # A str without characters XML cannot hold passes both steps unchanged (most titles, bodies).
            if type(value) is str and not bad(value):
                return value
            return fld.to_json(fld._sanitize(value))

        return string
    return lambda value: fld.to_json(fld._sanitize(value))


def field_decoder(fld: Field) -> Callable[[Any], Any]:
    """Stored JSON -> what ``fld``'s descriptor returns for it: ``from_json``, then ``_sanitize``."""
    kind = type(fld)
    from_json: Callable[[Any], Any] = fld.from_json
    if kind._sanitize is Field._sanitize:  # no sanitising: from_json is all
        return from_json
    if kind._sanitize is String._sanitize and kind.from_json is String.from_json:
        bad = fld.BAD_REGEX.search

        def string(value: Any) -> Any:
            # Both steps leave a str without characters XML cannot hold as it is: one search, not four.
            if type(value) is str and not bad(value):
                return value
            return fld._sanitize(fld.from_json(value))

        return string
    return lambda value: fld._sanitize(fld.from_json(value))


# --- ids and runtime ---


def usage_taken(ids: MemoryIdManager, usage_id: str) -> bool:
    return usage_id in ids._usages


def add_usage(ids: MemoryIdManager, block_type: str, def_id: str, usage_id: str) -> None:
    """Register a usage under an id of our choosing (``MemoryIdManager`` only makes its own)."""
    ids._definitions[def_id] = block_type
    ids._usages[usage_id] = def_id


def runtime_user_id(runtime: Runtime) -> Any:
    """What ``Runtime.user_id`` returns, without its deprecation warning."""
    return runtime._deprecated_per_instance_user_id


def usage_id_from_node(runtime: Runtime, node: Any) -> str:
    """``Runtime._usage_id_from_node`` for a root node (no parent)."""
    return runtime._usage_id_from_node(node, None)  # type: ignore[no-any-return]


def prime_plugin_cache(identifier: str, candidates: list[EntryPoint], select: Any) -> None:
    """Put the class for ``identifier`` in XBlock's plugin cache (``PLUGIN_CACHE``), chosen from
    ``candidates`` by XBlock's own rules (``default_select``, ``_load_class_entry_point``), as
    ``XBlock.load_class`` would after scanning every distribution. Temporary test plugins and a custom
    ``select`` are left to XBlock's path; so is a name with no entry point (XBlock records the miss)."""
    key = (XBlock.entry_point, identifier)
    cache = xblock_plugin.PLUGIN_CACHE  # looked up each time: XBlock's test helpers swap it
    if key in cache or select is not None or XBlock.extra_entry_points:
        return
    try:
        chosen = default_select(identifier, candidates)
    except PluginMissingError:
        return
    cache[key] = XBlock._load_class_entry_point(chosen)
