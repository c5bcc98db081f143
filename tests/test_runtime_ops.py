"""What operators see: /healthz, /readyz, /metrics and the JSON request log (docs/operations.md), on the
real app and a live uvicorn server on loopback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from runtime_support import (  # noqa: F401 - fixtures
    COURSE_ID,
    POST_RIGHT,
    VALID_NID,
    Api,
    LiveServer,
    db_url,
    free_port,
    make_app,
    pg_database,
    sample_courses,
    test_secrets,
)

from localmooc_packager.runtime.app import create_app
from localmooc_packager.runtime.observe import HANDLER_TEMPLATE
from localmooc_packager.runtime.settings import Settings
from localmooc_packager.runtime.storage.schema import MIGRATIONS

SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")


def _app(url: str, **settings: object) -> object:
    cfg = Settings(courses=Path("."), db_url=url, **settings)  # type: ignore[arg-type]
    return create_app(sample_courses(), url, secrets=test_secrets(), settings=cfg)


def _alembic(url: str, *args: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    getattr(command, args[0])(cfg, *args[1:])


def test_healthz_and_readyz_answer_ok_without_a_session(db_url: str) -> None:  # noqa: F811
    api = Api(make_app(db_url))
    api.client.cookies.clear()  # no session, no CSRF cookie: the proxy's checks carry none
    for path in ("/healthz", "/readyz"):
        r = api.get(path)
        assert r.status_code == 200, r.text
        assert all(h in r.headers for h in SECURITY_HEADERS)
        assert r.headers["cache-control"] == "no-store"
        assert "set-cookie" not in r.headers
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}


def test_readyz_is_503_when_the_database_is_behind_the_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    api = Api(make_app(url))  # migrated to head at start
    assert api.get("/readyz").status_code == 200
    _alembic(url, "downgrade", "-1")
    r = api.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == f"at {_previous(_head())}, head is {_head()}"
    assert api.get("/healthz").status_code == 200  # the process is still up: do not restart it
    _alembic(url, "upgrade", "head")
    assert api.get("/readyz").status_code == 200


def test_readyz_is_503_on_an_unmigrated_or_unreachable_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    r = Api(_app(url, migrate=False)).get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "ok", "migrations": "at none, head is " + _head()}
    gone = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"  # nothing listens there
    r = Api(_app(gone, migrate=False)).get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["database"].startswith("unreachable")
    assert all(h in r.headers for h in SECURITY_HEADERS)


def _previous(revision: str) -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    down = ScriptDirectory.from_config(cfg).get_revision(revision).down_revision
    assert isinstance(down, str)
    return down


def _head() -> str:
    from localmooc_packager.runtime.routes.ops import migrations_head

    return migrations_head()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_requests_by_route_template_and_batches(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    with LiveServer(make_app(url)) as server, httpx.Client(base_url=server.url) as http:
        http.get("/api/csrf")
        csrf = {"X-CSRFToken": http.cookies["lm_csrf"]}
        reg = {
            "username": "metric_user",
            "password": "a long pass phrase 1",
            "name": "สมหญิง รักเรียน",
            "org_type": "public",
            "organisation": "",
            "province": "เชียงใหม่",
            "consent": True,
            "national_id": VALID_NID,
        }
        assert http.post("/api/register", json=reg, headers=csrf).status_code == 201
        r = http.post(
            "/api/login", json={"username": "metric_user", "password": reg["password"]}, headers=csrf
        )
        assert r.status_code == 200, r.text
        csrf = {"X-CSRFToken": http.cookies["lm_csrf"]}
        assert http.post(f"/api/courses/{COURSE_ID}/enrol", headers=csrf).status_code in (200, 201)
        submit = f"/api/courses/{COURSE_ID}/blocks/post/handler/submit"
        r = http.post(submit, json={"responses": POST_RIGHT}, headers=csrf)
        assert r.status_code == 200, r.text
        assert http.get("/no/such/page/metric_user").status_code == 404
        r = http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "x-content-type-options" in r.headers
    text = r.text
    samples = _samples(text)
    handler = (("method", "POST"), ("route", HANDLER_TEMPLATE), ("status", "2xx"))
    assert samples[("localmooc_http_requests_total", handler)] >= 1
    login = (("method", "POST"), ("route", "/api/login"), ("status", "2xx"))
    assert samples[("localmooc_http_requests_total", login)] >= 1
    assert samples[
        ("localmooc_http_requests_total", (("method", "GET"), ("route", "(unmatched)"), ("status", "4xx")))
    ]
    assert samples[
        ("localmooc_http_request_duration_seconds_count", (("method", "POST"), ("route", HANDLER_TEMPLATE)))
    ]
    assert samples[("localmooc_group_commit_batch_size_count", ())] >= 1
    assert ("localmooc_group_commit_batch_size_bucket", (("le", "64.0"),)) in samples
    assert ("localmooc_login_throttled_total", ()) in samples
    # Labels hold templates only: no username, course id, block id or national id from the raw paths.
    for secret in ("metric_user", VALID_NID, f"/api/courses/{COURSE_ID}"):
        assert secret not in text


def test_metrics_are_for_loopback_or_the_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'token.db'}"
    api = Api(_app(url, metrics_token="scrape-token-for-tests-0123456789"))  # TestClient: not loopback
    assert api.get("/metrics").status_code == 403
    assert api.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    r = api.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests-0123456789"})
    assert r.status_code == 200
    assert "localmooc_http_requests_total" in r.text
    assert Api(make_app(url)).get("/metrics").status_code == 403  # no token set: loopback only


def test_outbox_depth_is_exported_when_the_table_exists(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from localmooc_packager.xapi import outbox

    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    token = "scrape-token-for-tests-0123456789"
    api = Api(_app(url, metrics_token=token))
    auth = {"Authorization": f"Bearer {token}"}
    # The migrations make the outbox (0003): its series are there from the start, at zero.
    samples = _samples(api.get("/metrics", headers=auth).text)
    assert samples[("localmooc_xapi_outbox", (("state", "pending"),))] == 0
    engine = create_engine(url)
    with engine.begin() as conn:
        outbox.enqueue(conn, [{"id": "2f3b1c3e-5d1a-4c43-9a8a-1f1e2d3c4b5a", "verb": {"id": "x"}}])
    samples = _samples(api.get("/metrics", headers=auth).text)
    assert samples[("localmooc_xapi_outbox", (("state", "pending"),))] == 1
    assert samples[("localmooc_xapi_outbox", (("state", "dead"),))] == 0
    with engine.begin() as conn:  # a database without the table (made before 0003): no series, no error
        conn.exec_driver_sql("DROP TABLE xapi_outbox")
    engine.dispose()
    metrics = api.get("/metrics", headers=auth)
    assert metrics.status_code == 200 and "localmooc_xapi_outbox" not in metrics.text


@pytest.fixture
def json_log_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """The package loggers as a JSON-logging app leaves them, restored afterwards."""
    saved = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate)
        for n in ("localmooc", "localmooc_packager")
    }
    yield capsys
    for name, (handlers, propagate) in saved.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate


def test_json_logs_one_line_per_request_with_ids_and_no_personal_data(
    tmp_path: Path, json_log_lines: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    api = Api(_app(url, log_format="json"))
    api.client.get("/api/csrf")
    json_log_lines.readouterr()
    r = api.register("log_user", national_id=VALID_NID)
    assert r.status_code == 201, r.text
    assert api.login("log_user").status_code == 200
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code in (200, 201)
    r = api.submit("post", POST_RIGHT)
    assert r.status_code == 200
    submit_id = r.headers["x-request-id"]
    mine = api.get("/healthz", headers={"X-Request-ID": "haproxy-3f2a.77"})
    assert mine.headers["x-request-id"] == "haproxy-3f2a.77"  # a well-formed incoming id is kept
    bad = api.get("/healthz?lang=en&who=log_user", headers={"X-Request-ID": "bad id\twith spaces"})
    assert bad.headers["x-request-id"] != "bad id\twith spaces"
    err = json_log_lines.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    requests = [x for x in lines if x["logger"] == "localmooc.access"]
    assert len(requests) == 6  # register, login, enrol, submit, two health checks
    by_id = {x["request_id"]: x for x in requests}
    assert by_id[submit_id]["route"] == HANDLER_TEMPLATE
    assert by_id[submit_id]["method"] == "POST" and by_id[submit_id]["status"] == 200
    assert by_id[submit_id]["duration_ms"] >= 0
    assert by_id["haproxy-3f2a.77"]["route"] == "/healthz"
    assert by_id[bad.headers["x-request-id"]]["route"] == "/healthz"
    assert [x["route"] for x in requests[:3]] == [
        "/api/register",
        "/api/login",
        "/api/courses/{course_id}/enrol",
    ]
    for personal in ("log_user", VALID_NID, "testclient", "lang=en", COURSE_ID):
        assert personal not in err


def test_serve_refuses_a_short_metrics_token() -> None:
    from localmooc_packager.errors import UsageError
    from localmooc_packager.runtime.server import serve

    with pytest.raises(UsageError, match="LOCALMOOC_METRICS_TOKEN: use at least 32"):
        serve(Settings(courses=Path("."), metrics_token="short"), "127.0.0.1", free_port(), 1)


def test_serve_options_reach_the_workers() -> None:
    s = Settings(courses=Path("."), log_format="json")
    env = s.to_env()
    assert env["LOCALMOOC_LOG_FORMAT"] == "json"
    back = Settings.from_env({**env, "LOCALMOOC_METRICS_TOKEN": "t" * 32})
    assert back.log_format == "json" and back.metrics_token == "t" * 32


def test_serve_with_two_workers_sums_their_metrics_and_logs_json(tmp_path: Path) -> None:
    """`localmooc serve --workers 2 --log-format json` as an operator runs it: /metrics, whichever worker
    answers, counts every worker's requests (multiprocess mode), and the metrics directory goes away."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from runtime_support import SAMPLE

    port = free_port()
    cli = Path(sys.executable).with_name("localmooc")
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    proc = subprocess.Popen(
        [
            *(str(cli), "serve", str(SAMPLE), "--db", f"sqlite:///{tmp_path / 'two.db'}"),
            *("--port", str(port), "--workers", "2", "--log-format", "json"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        for _ in range(30):  # a new connection each: the two workers share them
            assert httpx.get(f"{base}/healthz", headers={"Connection": "close"}).status_code == 200
        text = httpx.get(f"{base}/metrics").text
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    healthz = (("method", "GET"), ("route", "/healthz"), ("status", "2xx"))
    assert _samples(text)[("localmooc_http_requests_total", healthz)] == 30
    metrics_dir = next(line for line in out.splitlines() if line.startswith("metrics of all workers:"))
    assert not Path(metrics_dir.split(": ", 1)[1].split(" (")[0]).exists()
    access = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert sum(1 for x in access if x["route"] == "/healthz") == 30
    assert len({x["request_id"] for x in access}) == len(access)


def test_login_lockouts_and_throttled_attempts_are_counted(tmp_path: Path) -> None:
    from prometheus_client import REGISTRY

    def count(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    api = Api(make_app(f"sqlite:///{tmp_path / 'throttle.db'}"))
    api.learner("guess_target")
    api.client.cookies.clear()
    api.client.get("/api/csrf")
    lockouts, throttled = count("localmooc_login_lockouts_total"), count("localmooc_login_throttled_total")
    codes = [api.login("guess_target", "wrong password here").status_code for _ in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]  # the 5th failure starts the wait
    assert count("localmooc_login_lockouts_total") == lockouts + 1
    assert count("localmooc_login_throttled_total") == throttled + 2
