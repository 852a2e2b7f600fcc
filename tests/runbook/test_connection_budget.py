"""The connection budget against a real server: the numbers in a refusal are the server's."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import psycopg2
import pytest

from foundation.connection_budget import (
    BudgetExceeded,
    ConnectionPlan,
    check_budget,
    read_server_limits,
)
from foundation.database_urls import libpq_url
from runbook.config import PROJECT_ROOT

pytestmark = pytest.mark.requires_pg


def _show(url: str, name: str) -> int:
    with contextlib.closing(psycopg2.connect(libpq_url(url))) as conn, conn.cursor() as cur:
        cur.execute(f"SHOW {name}")
        return int(cur.fetchone()[0])


def _plan_exceeding(url: str) -> ConnectionPlan:
    available = read_server_limits(url).available
    per_worker = 15 + 30 + 1
    return ConnectionPlan(workers=available // per_worker + 1, pool_size=15, max_overflow=30,
                          margin=5)


def test_limits_are_read_from_the_server(pg_url):
    limits = read_server_limits(pg_url)
    assert limits.max_connections == _show(pg_url, "max_connections")
    assert limits.superuser_reserved == _show(pg_url, "superuser_reserved_connections")
    assert limits.available == limits.max_connections - limits.superuser_reserved - limits.reserved


def test_too_many_workers_are_refused_with_the_real_arithmetic(pg_url):
    plan = _plan_exceeding(pg_url)
    max_connections = _show(pg_url, "max_connections")
    with pytest.raises(BudgetExceeded) as caught:
        check_budget(pg_url, plan)
    message = str(caught.value)
    assert f"{plan.workers} workers × (15 pool + 30 overflow + 1 listener) + 5 margin " \
           f"= {plan.needed}" in message
    assert f"max_connections {max_connections}" in message
    assert "does NOT fit" in message and "--force" in message


def test_force_overrides_and_a_small_plan_fits(pg_url):
    assert not check_budget(pg_url, _plan_exceeding(pg_url), force=True).fits
    assert check_budget(pg_url, ConnectionPlan(1, 2, 1, 1)).fits


def test_point_api_refuses_before_touching_anything(pg_url, tmp_path):
    """The task stops on the budget before writing the env file or starting anything."""
    env_file = tmp_path / "api.env"
    workers = _plan_exceeding(pg_url).workers
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "point-api", "--pg", pg_url, "--workers", str(workers),
         "--yes"], cwd=PROJECT_ROOT, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "API_ENV_FILE": str(env_file),
             "RUNBOOK_RUN_DIR": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "connection budget exceeded" in done.stderr
    assert "Traceback" not in done.stderr
    assert not env_file.exists()
