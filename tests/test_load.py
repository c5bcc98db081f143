"""A small, fast run of the load test (benchmarks/load_test.py) on SQLite and PostgreSQL.

Concurrent learners submit quizzes against `localmooc serve` over loopback: no 5xx, every submission
answered, and every acknowledged submission has its attempts row (none lost, none invented).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from runtime_support import _pg_reachable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import load_test


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_concurrent_learners_get_no_5xx_and_lose_no_write(kind: str) -> None:
    if kind == "postgresql" and (why := _pg_reachable()):
        pytest.skip(why)
    with load_test.fresh_database(kind) as url:
        result = load_test.run_load(url, learners=10, concurrency=10, seconds=2, workers=1)
    summary = result.summary(kind)
    assert result.learners == 10
    assert result.submissions > 50, summary
    assert result.server_errors == 0, summary
    assert result.connection_errors == 0, summary
    # Every submission was acknowledged, and the database holds exactly the acknowledged ones.
    assert dict(result.statuses) == {200: result.submissions}, summary
    assert result.lost_writes == 0 and result.phantom_writes == 0, summary
    assert sum(result.rows.values()) == result.acknowledged, summary
    assert 0 < result.percentile(0.5) <= result.percentile(0.99), summary
