"""The edge: the plain ASGI layer every request passes first, FastAPI's own error pages included.

In order: security headers on every response (500s too: this layer wraps FastAPI's error middleware);
the request body read here, whole, against ``Limits.max_body`` (Content-Length or chunked alike) and
``Limits.body_timeout``, before anything parses it; JSON bodies checked (``inputs.check_json``); then
``GET /api/health`` and block handler calls are answered here (routing and dependency injection cost
more than a quiz submission), everything else goes on to FastAPI with the body replayed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import RequestTimeout as TimedOut
from .errors import RuntimeProblem, TooLarge
from .faults import DB_UNAVAILABLE, log_unavailable, unavailable_body
from .http import problem_body, security_headers
from .i18n import LANGS, t
from .inputs import check_json
from .settings import Limits

HANDLER_PATH = re.compile(r"/api/courses/([^/]+)/blocks/([^/]+)/handler/([^/]+)")
HEALTH_BODY = b'{"ok":true}'
# A scope extension the server sets (``server.BoundedHttpProtocol``) once the request's whole body is buffered.
BODY_RECEIVED = "localmooc.body_received"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
log = logging.getLogger(__name__)

# (scope, cookies, course, block, handler, body, lang) -> (status, body, content type)
HandlerEntry = Callable[[Scope, dict[str, str], str, str, str, bytes, str], Awaitable[tuple[int, bytes, str]]]


class Edge:
    def __init__(self, app: ASGIApp, limits: Limits, handler: HandlerEntry, lang_cookie: str) -> None:
        self.app = app
        self.limits = limits
        self.handler = handler
        self.lang_cookie = lang_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if method == "GET" and path == "/api/health":
            await respond(send, 200, HEALTH_BODY, "application/json")
            return
        headers = scope["headers"]
        cookies = cookie_parser(next((v.decode("latin-1") for k, v in headers if k == b"cookie"), ""))
        lang = _lang(scope, cookies, self.lang_cookie)
        body = b""
        try:
            if method in BODY_METHODS:
                body = await read_body(scope, receive, self.limits)
                ctype = next((v for k, v in headers if k == b"content-type"), b"")
                match = HANDLER_PATH.fullmatch(path) if method == "POST" else None
                if match or ctype.startswith(b"application/json"):
                    check_json(body, self.limits)
                if match:
                    status, out, out_type = await self.handler(scope, cookies, *match.groups(), body, lang)
                    await respond(send, status, out, out_type)
                    return
        except RuntimeProblem as problem:
            await respond(send, problem.status, problem_body(problem, lang), "application/json")
            return
        except DB_UNAVAILABLE as exc:  # the database is away or locked: "try again", not "a bug"
            log_unavailable(path, exc)
            await respond(send, 503, unavailable_body(t(lang)["server_error"]), "application/json")
            return
        except Exception:  # a bug: the same answer as the app's handler of unexpected errors
            log.exception("%s %s failed", method, path)
            await respond(send, 500, _server_error(lang), "application/json")
            return
        await self.app(scope, _replay(body) if method in BODY_METHODS else receive, _with_headers(send, path))


async def read_body(scope: Scope, receive: Receive, limits: Limits) -> bytes:
    """The whole body, or TooLarge as soon as it is known to exceed the limit (a declared length is
    refused before a byte is read; a chunked one when the running total passes the limit), or
    RequestTimeout when it does not arrive in time."""
    for name, value in scope["headers"]:
        if name == b"content-length" and (not value.isdigit() or int(value) > limits.max_body):
            raise TooLarge()
    chunks: list[bytes] = []
    size = 0
    more = True
    if BODY_RECEIVED in scope.get("extensions", ()):
        # The server holds the whole body already (a quiz answer comes in the headers' packet): the
        # first receive() returns it at once, so the timer (~3 us to arm and cancel) is left out.
        message = await receive()
        if message["type"] != "http.request":
            raise asyncio.CancelledError
        chunks.append(message.get("body", b""))
        size = len(chunks[0])
        if size > limits.max_body:
            raise TooLarge()
        more = message.get("more_body", False)
        if not more:
            return chunks[0]
    try:
        async with asyncio.timeout(limits.body_timeout):  # a timer, not a task: cheap per request
            while more:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    raise asyncio.CancelledError
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limits.max_body:
                    raise TooLarge()
                chunks.append(chunk)
                more = message.get("more_body", False)
    except TimeoutError:
        raise TimedOut() from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def respond(send: Send, status: int, body: bytes, ctype: str) -> None:
    """An answer of the edge itself, with the security headers every response carries."""
    headers = [
        (b"content-type", ctype.encode("latin-1")),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *security_headers(),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _with_headers(send: Send, path: str) -> Send:
    private = not path.startswith("/assets/")

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers: list[Any] = list(message.get("headers", []))
            headers.extend(security_headers())
            if private and not any(k == b"cache-control" for k, _v in headers):
                headers.append((b"cache-control", b"no-store"))
            message["headers"] = headers
        await send(message)

    return send_with_headers


def _server_error(lang: str) -> bytes:
    return json.dumps(
        {"detail": "server_error", "message": t(lang)["server_error"]}, ensure_ascii=False
    ).encode()


def _lang(scope: Scope, cookies: dict[str, str], lang_cookie: str) -> str:
    """?lang=, then the cookie, then Thai."""
    query: bytes = scope.get("query_string", b"")
    if query:
        for part in query.decode("latin-1").split("&"):
            if part.startswith("lang=") and part[5:] in LANGS:
                return part[5:]
    c = cookies.get(lang_cookie)
    return c if c in LANGS else "th"


def _replay(body: bytes) -> Receive:
    """A receive() that hands the already-read body to the next app."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # as a server does: nothing more until the client goes away
        return {"type": "http.disconnect"}

    return receive
