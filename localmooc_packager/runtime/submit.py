"""The one path of a block handler call (a quiz submission), from request to commit.

``Submissions.call`` is that path; the edge (``edge.py``) calls it for every
``POST /api/courses/{course}/blocks/{block}/handler/{name}``, and nothing else runs handlers. Calls that
arrive together share one transaction (``GroupCommit`` -> ``Store.handler_batch``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .blocks import LoadedCourse, is_handler
from .errors import Forbidden, LoginRequired, NotFound, PasswordChangeRequired, RuntimeProblem, SessionRefused
from .http import CookieNames
from .learner_runtime import call_handlers_for_sessions
from .observe import BATCH_SIZE
from .security import Secrets, same_token
from .services import runner_for
from .services.rules import past_due, video_seconds, watched_too_soon
from .storage import Store

Result = tuple[int, bytes, str]
# Why the batch refused a call's session -> the answer (anything else: log in again).
REFUSED: dict[str, Callable[[], RuntimeProblem]] = {
    "not enrolled": lambda: Forbidden("not_enrolled"),
    "password change required": PasswordChangeRequired,
}


class Submissions:
    def __init__(
        self,
        courses: dict[str, LoadedCourse],
        store: Store,
        keys: Secrets,
        names: CookieNames,
        pool: ThreadPoolExecutor | None,
    ) -> None:
        self.courses = courses
        self.store = store
        self.run = runner_for(store)
        self.keys = keys
        self.names = names
        # SQLite: batches on the event loop (writers are serialised anyway; a thread hop only adds
        # latency). PostgreSQL: in ``pool``, so waits for the network do not stall the loop.
        self.group = GroupCommit(store, pool)

    async def call(
        self,
        scope: Any,
        cookies: dict[str, str],
        course_id: str,
        block_id: str,
        handler: str,
        body: bytes,
        lang: str,
    ) -> Result:
        """CSRF bound to the session -> a session -> a known handler -> not past due -> one transaction
        (session, enrolment, lock, state, handler, grade, completion, attempt) -> the handler's answer,
        sent only after COMMIT."""
        token = cookies.get(self.names.session)
        sent = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-csrftoken"), None)
        expected = self.keys.csrf_for_session(token) if token else cookies.get(self.names.csrf)
        if not same_token(expected, sent):
            raise Forbidden("csrf")
        if not token:
            raise LoginRequired()
        course = self.courses.get(course_id)
        if course is None or not is_handler(course, block_id, handler):
            raise NotFound()
        if past_due(course, block_id, self.store.clock()):
            raise Forbidden("past_due")
        if video_seconds(course, block_id) and await self._too_soon(course, token, block_id):
            raise Forbidden("video_not_played")
        try:
            return await self.group.run((course, token, block_id, handler, body, lang))
        except SessionRefused as refused:
            raise REFUSED.get(refused.why, LoginRequired)() from None

    async def _too_soon(self, course: LoadedCourse, token: str, block_id: str) -> bool:
        """A video's "watched" before it could have played (see ``courses.watched_too_soon``)."""
        session = await self.run(self.store.session, token)
        if session is None:
            raise LoginRequired()
        if session.must_change_password:
            raise PasswordChangeRequired()
        enrolment = await self.run(self.store.enrolment, session.learner_id, course.id)
        return watched_too_soon(course, block_id, enrolment, self.store.clock())


class GroupCommit:
    """The handler calls that arrive together share one transaction (``Store.handler_batch``).

    A call waits for the event loop's next turn; the calls queued by then (requests whose bytes arrived
    in the same turn) form a batch. SQLite runs it right there on the loop; PostgreSQL in the thread
    pool, ``in_flight`` batches at a time, so that under load the requests arriving meanwhile gather
    into the next batch instead of each paying its own round trips and COMMIT (1 measured best on 2
    cores). Every caller hears back only after its batch committed. Nothing waits on a timer: a lone
    request is a batch of one.
    """

    MAX_BATCH = 64  # bounds one transaction's time on the loop (~0.3 ms a call)

    def __init__(self, store: Store, pool: ThreadPoolExecutor | None, in_flight: int = 1) -> None:
        self.store = store
        self.pool = pool
        self.limit = 1 if pool is None else in_flight
        self.pending: list[tuple[tuple[Any, ...], asyncio.Future[Result]]] = []
        self.scheduled = False
        self.running = 0
        self.transactions = 0  # calls / transactions = the batching achieved (tests, profiles)
        self.calls = 0

    async def run(self, request: tuple[Any, ...]) -> Result:
        """``request``: ``call_handlers_for_sessions``' (course, token, block, handler, body, lang)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self.pending.append((request, future))
        self._kick(loop)
        return await future

    def _kick(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.pending and not self.scheduled and self.running < self.limit:
            self.scheduled = True
            loop.call_soon(self._flush, loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self.scheduled = False
        batch, self.pending = self.pending[: self.MAX_BATCH], self.pending[self.MAX_BATCH :]
        if not batch:
            return
        self.transactions += 1
        self.calls += len(batch)
        BATCH_SIZE.observe(len(batch))
        requests = [request for request, _f in batch]
        if self.pool is None:
            try:
                results: Any = call_handlers_for_sessions(self.store, requests)
            except Exception as exc:  # the transaction failed as a whole: nothing was committed
                results = exc
            self._settle(batch, results)
            self._kick(loop)
            return
        self.running += 1
        done = loop.run_in_executor(self.pool, call_handlers_for_sessions, self.store, requests)

        def finished(f: asyncio.Future[Any]) -> None:
            self.running -= 1
            self._settle(batch, f.exception() or f.result())
            self._kick(loop)

        done.add_done_callback(finished)

    @staticmethod
    def _settle(batch: list[tuple[Any, asyncio.Future[Any]]], results: Any) -> None:
        for i, (_request, future) in enumerate(batch):
            if future.done():  # the request was cancelled (client gone); its work stands
                continue
            result = results if isinstance(results, BaseException) else results[i]
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
