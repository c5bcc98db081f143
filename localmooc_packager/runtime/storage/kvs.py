"""XBlock's KeyValueStore over ``learner_state``, bound to one DBAPI connection (one transaction)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from xblock.fields import BlockScope
from xblock.runtime import KeyValueStore

from .schema import USER_SCOPES, RowKey, now

# json.dumps with options builds a JSONEncoder per call; one, made once, writes the same text.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _to_json(value: Any) -> str:
    """The JSON text of a field value; an int or a finite float as the encoder writes it (its repr), without
    the encoder's per-call setup (a quiz saves two of each)."""
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)
    return _encode(value)


class SqlKeyValueStore(KeyValueStore):
    """XBlock's KeyValueStore over ``learner_state``, bound to one DBAPI connection (one transaction).

    ``preload`` reads all rows of the blocks a request touches in one query; later ``get``s are served
    from that snapshot, which is exact because writes go through this object too. Writes are upserts.
    ``raw`` None makes a read-only snapshot. With ``ops`` (a list) writes are not sent but appended to it
    as (statement name, row), for ``Store.handler_batch`` to send once the call succeeded; ``overlay``
    holds the JSON text (None: deleted) of rows written by earlier calls of the batch, which the database
    does not show yet.
    """

    def __init__(
        self,
        store: Any,  # the Store: hot statements, time codec, executemany
        raw: Any,
        course_id: str,
        ops: list[tuple[str, tuple[Any, ...]]] | None = None,
        overlay: dict[RowKey, str | None] | None = None,
    ) -> None:
        self.store = store
        self.raw = raw
        self.course_id = course_id
        self.ops = ops
        self.overlay = overlay
        self._cache: dict[RowKey, Any] = {}
        self._loaded: set[tuple[str, str]] = set()  # (learner, block) pairs fully loaded

    def _row_key(self, key: KeyValueStore.Key) -> RowKey:
        if key.scope not in USER_SCOPES:
            raise ValueError(f"{key.scope} is not learner state")
        shared = key.scope.block in (BlockScope.TYPE, BlockScope.ALL)
        return (
            "" if shared else self.course_id,
            key.scope.name,
            str(key.user_id) if key.user_id is not None else "",
            str(key.block_scope_id) if key.block_scope_id is not None else "",
            key.field_name,
        )

    def preload(self, learner_ids: Iterable[str], block_ids: Iterable[str]) -> None:
        learners_ = list(dict.fromkeys(learner_ids))
        blocks = [b for b in dict.fromkeys(block_ids) if all((u, b) not in self._loaded for u in learners_)]
        if not learners_ or not blocks:
            return
        if len(blocks) == 1 and len(learners_) <= 2:  # a handler call: a fixed, prepared statement
            sql = self.store.hot["state1" if len(learners_) == 1 else "state2"]
        else:  # a page: one query for all its blocks, still on ix_learner_state_learner
            mark = "?" if self.store.is_sqlite else "%s"  # the placeholder of this driver
            sql = (
                "SELECT course_id, scope, learner_id, block_id, field, value FROM learner_state WHERE "  # noqa: S608 - only placeholders are interpolated
                f"learner_id IN ({', '.join([mark] * len(learners_))}) AND course_id = {mark} "
                f"AND block_id IN ({', '.join([mark] * len(blocks))})"
            )
        for row in self.raw.execute(sql, (*learners_, self.course_id, *blocks)).fetchall():
            self._cache[(row[0], row[1], row[2], row[3], row[4])] = json.loads(row[5])
        self._loaded.update((u, b) for u in learners_ for b in blocks)

    def _known(self, rk: RowKey) -> bool:
        return rk[0] == self.course_id and (rk[2], rk[3]) in self._loaded

    def get(self, key: KeyValueStore.Key) -> Any:
        return self.get_row(self._row_key(key))

    def get_row(self, rk: RowKey) -> Any:
        """``get`` by row key (``LearnerFieldData`` builds it without XBlock's Key)."""
        if rk in self._cache:
            return self._cache[rk]
        key = rk
        if self._known(rk) or self.raw is None:
            raise KeyError(key)
        if self.overlay is not None and rk in self.overlay:
            text = self.overlay[rk]
            if text is None:
                raise KeyError(key)
            self._cache[rk] = json.loads(text)
            return self._cache[rk]
        row = self.raw.execute(self.store.hot["state_get"], rk).fetchone()
        if row is None:
            raise KeyError(key)
        self._cache[rk] = json.loads(row[0])
        return self._cache[rk]

    def has(self, key: KeyValueStore.Key) -> bool:
        try:
            self.get(key)
        except KeyError:
            return False
        return True

    def set(self, key: KeyValueStore.Key, value: Any) -> None:
        self.set_many({key: value})

    def set_many(self, update_dict: dict[KeyValueStore.Key, Any]) -> None:
        self.set_rows({self._row_key(key): value for key, value in update_dict.items()})

    def set_rows(self, update: dict[RowKey, Any]) -> None:
        """``set_many`` by row keys."""
        if not update:
            return
        if self.raw is None:
            raise RuntimeError("a read-only snapshot of learner state cannot be written")
        at = self.store.db_time(now())
        rows = []
        for rk, value in update.items():
            rows.append((*rk, _to_json(value), at))
            self._cache[rk] = value
        if self.ops is not None:
            self.ops.extend(("state_upsert", row) for row in rows)
        else:
            self.store.executemany(self.raw, "state_upsert", rows)

    def delete(self, key: KeyValueStore.Key) -> None:
        rk = self._row_key(key)
        if self.raw is None:
            raise RuntimeError("a read-only snapshot of learner state cannot be written")
        self._cache.pop(rk, None)
        if self.ops is not None:
            self.ops.append(("state_delete", rk))
        else:
            self.raw.execute(self.store.hot["state_delete"], rk)
