"""Developer setup: ``invoke dev`` from nothing to an API on SQLite, then ``invoke dev-pg``."""

from __future__ import annotations

import pytest
from runbook_support import config_for, run_invoke, runbook_environ

from runbook import api_process
from runbook.api_env_file import current_database_url

pytestmark = pytest.mark.requires_pg


def test_dev_then_dev_pg_then_stop(tmp_path, pg_url):
    environ = runbook_environ(tmp_path, SQLITE_PATH=str(tmp_path / "booking.db"), DB_URL=pg_url,
                              DB_POOL_SIZE="2", DB_MAX_OVERFLOW="1")
    cfg = config_for(environ)
    try:
        dev = run_invoke("dev", "--rows", "200", environ=environ)
        assert dev.returncode == 0, dev.stdout[-2000:] + dev.stderr
        assert (tmp_path / "booking.db").is_file()
        assert current_database_url(cfg).startswith("sqlite")
        smoke = run_invoke("smoke", environ=environ)
        assert smoke.returncode == 0 and smoke.stdout.count("PASS") == 5, smoke.stdout

        on_pg = run_invoke("dev-pg", environ=environ)
        assert on_pg.returncode == 0, on_pg.stdout[-2000:] + on_pg.stderr
        assert current_database_url(cfg).startswith("postgresql+psycopg2://cutover_app@")
        smoke = run_invoke("smoke", environ=environ)
        assert smoke.returncode == 0 and smoke.stdout.count("PASS") == 5, smoke.stdout
    finally:
        stopped = run_invoke("stop-api", environ=environ)
    assert "local API stopped" in stopped.stdout
    assert api_process.running_pid(cfg) is None
