"""What operators see of a running node: Prometheus metrics and one JSON log line per request.

``Observe`` is the ASGI layer around the edge (``edge.Edge``): it gives each request an id (a well-formed
incoming ``X-Request-ID``, else a new one), echoes it in the response, and when the response is done counts
it by method, route *template* and status class, times it, and (with JSON logs) writes one line. Labels and
log lines never hold a raw path, a query string, a username or a client address: the route template of
``/api/courses/c1/blocks/b1/handler/submit`` is ``/api/courses/{course}/blocks/{block}/handler/{handler}``.

Metrics live in prometheus-client's default registry. With several uvicorn workers, ``serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a directory before the workers start, and ``/metrics`` sums every
worker's files (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HANDLER_TEMPLATE = "/api/courses/{course}/blocks/{block}/handler/{handler}"
_HANDLER_PATH = re.compile(r"/api/courses/[^/]+/blocks/[^/]+/handler/[^/]+")
_EDGE_ROUTES = {"/api/health"}  # answered by the edge itself, before FastAPI's routing
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# What haproxy's uuid() and most proxies send; anything else (too long, spaces, newlines) is replaced.
_GOOD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
UNMATCHED = "(unmatched)"  # one label for every path no route knows (scanners would blow up the series)

request_id: ContextVar[str] = ContextVar("localmooc_request_id", default="-")
access_log = logging.getLogger("localmooc.access")

REQUESTS = Counter(
    "localmooc_http_requests_total",
    "HTTP requests answered, by method, route template and status class (2xx, 4xx, ...).",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "localmooc_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BATCH_SIZE = Histogram(
    "localmooc_group_commit_batch_size",
    "Block handler calls (quiz submissions) committed together in one transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
LOGIN_THROTTLED = Counter(
    "localmooc_login_throttled_total",
    "Login attempts refused because a wait (after repeated failures of that account and client) runs.",
)
LOGIN_LOCKOUTS = Counter(
    "localmooc_login_lockouts_total",
    "Waits armed by the login throttle: an account and client reached the free failures (a right "
    "password at that very attempt still clears it).",
)


class Observe:
    """Request id, metrics and the access log line, around the edge."""

    def __init__(self, app: ASGIApp, json_logs: bool) -> None:
        self.app = app
        self.json_logs = json_logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        sent = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        rid = sent if _GOOD_ID.fullmatch(sent) else uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500  # if the app fails before answering, uvicorn answers 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = route_template(scope)
            REQUESTS.labels(method, route, f"{status // 100}xx").inc()
            LATENCY.labels(method, route).observe(elapsed)
            if self.json_logs:
                access_log.info(
                    "request",
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id.reset(token)


def route_template(scope: Scope) -> str:
    """The matched route's template (FastAPI leaves the route in the scope), never the raw path."""
    route = scope.get("route")
    if route is not None and isinstance(getattr(route, "path", None), str):
        return str(route.path) or "/"
    path: str = scope["path"]
    if _HANDLER_PATH.fullmatch(path):
        return HANDLER_TEMPLATE
    return path if path in _EDGE_ROUTES else UNMATCHED


def metrics_text(extra: list[Any]) -> bytes:
    """The exposition text: this process's metrics (or every worker's, in multiprocess mode) and the
    ``extra`` collectors (read at scrape time, e.g. the outbox depth)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY  # this process's metrics, with the process and platform collectors
    scraped = CollectorRegistry()
    for collector in extra:
        scraped.register(collector)
    return generate_latest(registry) + generate_latest(scraped)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request id, and the
    fields a caller passed in ``extra`` (the access line's method, route, status, duration)."""

    _FIELDS = ("method", "route", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        for name in self._FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def use_json_logs() -> None:
    """Send the package's log records (the access lines included) to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("localmooc", "localmooc_packager"):
        logger = logging.getLogger(name)
        if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
