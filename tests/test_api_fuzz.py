"""API fuzzing with Schemathesis against the runtime's own /openapi.json, in-process (ASGI).

Every documented operation is called with generated parameters and bodies, both anonymously and as a
logged-in, enrolled administrator (session cookie and CSRF header set), and every answer must be:
not a 5xx, a status code the document lists, the content type it lists, and a body matching its schema.
Bounded: a fixed number of examples per operation, derandomised for CI.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from runtime_support import COURSE_ID, Api, make_app

from localmooc_packager.runtime.store import Store

checks = schemathesis.checks

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]

_db_dir = tempfile.TemporaryDirectory(prefix="lm-api-fuzz-")
DB_URL = f"sqlite:///{Path(_db_dir.name) / 'api.db'}"
APP = make_app(DB_URL)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


def _admin_session() -> dict[str, str]:
    """Cookies and CSRF header of a fresh enrolled administrator (a new one per operation: erasure and
    logout, fuzzed too, end a session)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = Api(APP)
    username = f"fuzz{len(_sessions)}"
    api.learner(username)
    store: Store = APP.state.store
    store.set_role(username, "admin")
    assert api.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    return dict(api.client.cookies)


_sessions: list[dict[str, str]] = []


@pytest.fixture
def session() -> dict[str, str]:
    _sessions.append(_admin_session())
    return _sessions[-1]


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_api_as_a_logged_in_admin(case: Any, session: dict[str, str]) -> None:
    response = case.call_and_validate(
        checks=CHECKS, cookies=session, headers={"X-CSRFToken": session["lm_csrf"]}
    )
    assert response.status_code < 500


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_anonymous(case: Any) -> None:
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code < 500
