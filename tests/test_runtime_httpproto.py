"""The HTTP protocol ``localmooc serve`` runs: uvicorn's httptools protocol writing a response's head and
first body chunk with one ``write()``. Responses must stay well-formed HTTP/1.1: fixed length, chunked
streaming, HEAD, 204, keep-alive and pipelined requests; and a fixed-length answer is one write."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from localmooc_packager.runtime.httpproto import PROTOCOL, OneWriteHttpToolsProtocol


async def _json(request: Request) -> Response:
    return JSONResponse({"ok": True, "n": request.query_params.get("n", "")})


async def _stream(_request: Request) -> Response:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"part{i};".encode()
            await asyncio.sleep(0)

    return StreamingResponse(parts(), media_type="text/plain")


async def _empty(_request: Request) -> Response:
    return Response(status_code=204)


async def _text(_request: Request) -> Response:
    return PlainTextResponse("hello")


APP = Starlette(
    routes=[
        Route("/json", _json),
        Route("/stream", _stream),
        Route("/empty", _empty),
        Route("/text", _text, methods=["GET", "HEAD"]),
    ]
)


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(APP, host="127.0.0.1", port=port, http=PROTOCOL, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    yield port
    srv.should_exit = True
    thread.join(timeout=10)


def _read_response(f: Any, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response from a socket file: status, headers, body (Content-Length or chunked)."""
    status = int(f.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    if method == "HEAD" or status in (204, 304):
        return status, headers, b""
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while size := int(f.readline().strip(), 16):
            body += f.read(size)
            assert f.read(2) == b"\r\n"
        assert f.read(2) == b"\r\n"
        return status, headers, body
    return status, headers, f.read(int(headers["content-length"]))


def test_keep_alive_connection_carries_every_kind_of_response(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock, sock.makefile("rb") as f:
        for method, path, status, body in [
            ("GET", "/json?n=1", 200, b'{"ok":true,"n":"1"}'),
            ("GET", "/stream", 200, b"part0;part1;part2;"),
            ("GET", "/empty", 204, b""),
            ("HEAD", "/text", 200, b""),
            ("GET", "/text", 200, b"hello"),
            ("GET", "/json?n=2", 200, b'{"ok":true,"n":"2"}'),
        ]:
            sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            got_status, headers, got_body = _read_response(f, method)
            assert (got_status, got_body) == (status, body), (path, headers)
            if path == "/stream":
                assert headers["transfer-encoding"] == "chunked"
            if method == "HEAD":
                assert headers["content-length"] == "5"


def test_pipelined_requests_are_answered_in_order(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock, sock.makefile("rb") as f:
        sock.sendall(b"".join(f"GET /json?n={i} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for i in range(5)))
        bodies = [_read_response(f)[2] for _ in range(5)]
    assert bodies == [f'{{"ok":true,"n":"{i}"}}'.encode() for i in range(5)]


def test_connection_close_after_head_still_sends_the_head(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock, sock.makefile("rb") as f:
        sock.sendall(b"HEAD /text HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        status, headers, _ = _read_response(f, "HEAD")
        assert (status, headers["connection"]) == (200, "close")
        assert f.read() == b""  # and then the server closed the connection


class _Transport(asyncio.Transport):
    """The socket edge: records what the protocol writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _writes_for(request: bytes) -> list[bytes]:
    async def run() -> list[bytes]:
        config = uvicorn.Config(APP, http=PROTOCOL, log_level="warning")
        from uvicorn.server import ServerState

        protocol = OneWriteHttpToolsProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())
        transport = _Transport()
        protocol.connection_made(transport)
        protocol.data_received(request)
        for _ in range(50):
            await asyncio.sleep(0)
        protocol.connection_lost(None)
        return transport.writes

    return asyncio.run(run())


def test_a_fixed_length_response_is_one_write_and_a_stream_keeps_its_chunks() -> None:
    writes = _writes_for(b"GET /json?n=7 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b'\r\n\r\n{"ok":true,"n":"7"}')

    writes = _writes_for(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n6\r\npart0;\r\n")
    assert b"".join(writes[1:]) == b"6\r\npart1;\r\n6\r\npart2;\r\n0\r\n\r\n"

    writes = _writes_for(b"HEAD /text HTTP/1.1\r\nHost: t\r\n\r\n")
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 5\r\n" in writes[0]
    assert writes[0].endswith(b"\r\n\r\n")  # the head alone: no body for HEAD
