"""Every use of XBlock's private internals by the runtime, in one place.

XBlock has no public API for these; each is pinned by ``tests/test_runtime_xblock_contract.py``, which
fails when an XBlock release moves one, and by the version range in pyproject.toml (the versions that
test passed on). When XBlock changes, this module is the only one to fix.
"""

from __future__ import annotations

from typing import Any

from xblock.core import XBlock
from xblock.runtime import KeyValueStore

# The code object of the wrapper ``XBlock.json_handler`` puts around a handler. A handler whose code is
# this one reads only ``request.method`` and ``request.body`` (then ``json.loads``), so the runtime can
# hand it a two-attribute request instead of building a WebOb one.
JSON_WRAPPER_CODE = XBlock.json_handler(lambda self, data, suffix="": None).__code__


def is_json_handler(cls: type[XBlock], name: str) -> bool:
    return getattr(getattr(cls, name, None), "__code__", None) is JSON_WRAPPER_CODE


def is_handler(cls: type[XBlock], name: str) -> bool:
    """XBlock marks handlers with ``_is_xblock_handler`` (``XBlock.handler`` and ``json_handler``)."""
    return bool(getattr(getattr(cls, name, None), "_is_xblock_handler", False))


def field_data_kvs(field_data: Any) -> KeyValueStore:
    """The KeyValueStore under a ``KvsFieldData`` (its ``_kvs``)."""
    return field_data._kvs  # type: ignore[no-any-return]


def block_field_data(block: XBlock) -> Any:
    """The FieldData a block reads through (``_field_data``)."""
    return block._field_data
