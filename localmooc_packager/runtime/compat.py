"""The runtime's uses of XBlock's private internals. They live in ``localmooc_packager/xblock_compat.py`` (the
one module that touches XBlock internals, for the block tree and the runtime); this re-exports the runtime's
part so its modules keep one short import.
"""

from __future__ import annotations

from ..xblock_compat import (
    JSON_WRAPPER_CODE,
    JsonAnswer,
    block_field_data,
    field_data_kvs,
    handle_json,
    has_unique_id_default,
    is_handler,
    is_json_handler,
    prime_field_cache,
)

__all__ = [
    "JSON_WRAPPER_CODE",
    "JsonAnswer",
    "block_field_data",
    "field_data_kvs",
    "handle_json",
    "has_unique_id_default",
    "is_handler",
    "is_json_handler",
    "prime_field_cache",
]
