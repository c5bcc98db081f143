"""uvicorn's httptools protocol, writing a response's head and its first body chunk with one ``write()``.

uvicorn writes the status line and headers as soon as the app sends ``http.response.start`` and the body
on ``http.response.body``: two ``write()`` syscalls per response. On loopback the sender's syscall also
runs the receiver's TCP path, and for a quiz submission those two writes were a quarter of the worker's
CPU. Here the head is held back until the first body message and goes out in the same ``write()``.
Everything else (header checks, Content-Length accounting, chunked encoding, HEAD, keep-alive, flow
control) is uvicorn's own code: only the transport it writes to is swapped for the duration of a call.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

PROTOCOL = f"{__name__}:OneWriteHttpToolsProtocol"


class _Hold:
    """Stands in for the transport while uvicorn writes a response head: keeps the bytes."""

    __slots__ = ("data", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class _Prepend:
    """Stands in for the transport while uvicorn writes the first body chunk: the held head goes first."""

    __slots__ = ("head", "transport")

    def __init__(self, transport: asyncio.Transport, head: bytes) -> None:
        self.transport = transport
        self.head = head

    def write(self, data: bytes) -> None:
        head, self.head = self.head, b""
        self.transport.write(head + data)

    def close(self) -> None:  # "Connection: close" after a HEAD answer: the head must still go out
        if self.head:
            self.write(b"")
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class OneWriteCycle(RequestResponseCycle):
    """A request/response cycle whose head travels with the first body chunk (see the module doc)."""

    _held: bytes = b""

    async def send(self, message: Any) -> None:
        transport = self.transport
        if message["type"] == "http.response.start" and not self.response_started:
            hold = _Hold(transport)
            self.transport = hold  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
            self._held = hold.data
            return
        if not self._held:
            await super().send(message)
            return
        prepend = _Prepend(transport, self._held)
        self._held = b""
        self.transport = prepend  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
        if prepend.head and not self.disconnected:  # nothing written (HEAD, an empty chunk): the head alone
            transport.write(prepend.head)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` whose cycles are ``OneWriteCycle``s (pass ``PROTOCOL`` as uvicorn's ``http``)."""

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        cycle.__class__ = OneWriteCycle  # same attributes; only send() differs
        super()._start_asgi_task(cycle, app)
