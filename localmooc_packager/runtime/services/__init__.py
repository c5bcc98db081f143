"""The runtime's rules, apart from HTTP: accounts, enrolment, the catalogue, progress, learner data.

Each service takes the storage object (and the course set, keys or settings it needs) and a ``Runner``:
database calls run inline on SQLite (a write takes well under a millisecond and SQLite serialises writers
anyway, so a thread hop only adds latency) and in the thread pool on PostgreSQL (network round trips).
They raise the runtime's errors (``runtime/errors.py``) and know nothing of requests or responses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..storage import Store

Runner = Callable[..., Awaitable[Any]]


def runner_for(store: Store) -> Runner:
    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        if store.is_sqlite:
            return fn(*args)
        return await run_in_threadpool(fn, *args)

    return run
