"""For operators and the proxy: ``/healthz`` (the process is up), ``/readyz`` (the database answers and its
schema is at the migrations' head) and ``/metrics`` (Prometheus). GET only, so the CSRF guard lets them
through; none reads a session. See docs/operations.md."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import inspect, text

from ..faults import DB_UNAVAILABLE
from ..observe import metrics_text
from ..security import same_token
from ..storage import Store
from ..storage.schema import MIGRATIONS
from ..web import Web
from .versions import readiness as course_versions


def migrations_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head() or ""


def readiness(store: Store, head: str) -> tuple[bool, dict[str, Any]]:
    """(ready, checks): the database answers, and its Alembic revision is ``head``."""
    try:
        with store.read() as conn:
            has_version = inspect(conn).has_table("alembic_version")
            rev = (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if has_version
                else None
            )
    except DB_UNAVAILABLE as exc:
        return False, {"database": f"unreachable ({type(exc).__name__})", "migrations": "unknown"}
    current = rev or "none"
    checks = {"database": "ok", "migrations": "ok" if rev == head else f"at {current}, head is {head}"}
    return rev == head, checks


class OutboxDepth:
    """xAPI statements waiting in the outbox, read at scrape time (nothing when the table is absent)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Any:
        from ...xapi.outbox import depth

        try:
            with self.store.engine.connect() as conn:
                if not inspect(conn).has_table("xapi_outbox"):
                    return
                d = depth(conn)
        except DB_UNAVAILABLE:
            return
        g = GaugeMetricFamily(
            "localmooc_xapi_outbox", "xAPI statements in the outbox, by state.", labels=["state"]
        )
        for state in ("pending", "due", "dead"):
            g.add_metric([state], getattr(d, state))
        yield g


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def router(web: Web) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    head = migrations_head()
    outbox = OutboxDepth(web.store)
    token = web.settings.metrics_token

    @r.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @r.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        ok, checks = await web.run(readiness, web.store, head)
        courses = course_versions(request.app)
        if courses is not None:  # which version each course is at, or why this node refuses it
            checks["courses"] = courses
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)

    @r.get("/metrics")
    async def metrics(request: Request) -> Response:
        """From the node's own machine (loopback), or anywhere with ``Authorization: Bearer <token>``
        when a metrics token is set (LOCALMOOC_METRICS_TOKEN)."""
        auth = request.headers.get("authorization", "")
        sent = auth[7:] if auth.lower().startswith("bearer ") else None
        if not (_loopback(request) or (token and same_token(token, sent))):
            return JSONResponse({"detail": "forbidden", "message": "metrics: loopback or token only"}, 403)
        body = await web.run(metrics_text, [outbox])
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return r
