"""Developer setup: ``invoke dev`` from nothing to an API on SQLite, then ``invoke dev-pg``.

``dev-pg`` runs in a shell where ``DB_URL`` and ``SQLALCHEMY_DATABASE_URL`` name a database
holding rows (the cutover target): it works in a database of its own and leaves that one as it
was; a database of its name that it did not create is not emptied without ``--yes``.
"""

from __future__ import annotations

import uuid

import pytest
from runbook_support import config_for, run_invoke, runbook_environ
from target_rows import row_counts, seed_target

from foundation.database_urls import sqlalchemy_url, with_database
from foundation.throwaway_postgres import drop_database
from runbook import api_process
from runbook.api_env_file import current_database_url

pytestmark = pytest.mark.requires_pg


def _dev_environ(tmp_path, target_url: str, server_url: str, dev_database: str) -> dict:
    return runbook_environ(tmp_path, SQLITE_PATH=str(tmp_path / "booking.db"), DB_URL=target_url,
                           SQLALCHEMY_DATABASE_URL=sqlalchemy_url(target_url),
                           PG_TEST_URL=server_url, DEV_DATABASE=dev_database,
                           DB_POOL_SIZE="2", DB_MAX_OVERFLOW="1")


def test_dev_then_dev_pg_then_stop(tmp_path, pg_url, pg_server):
    before = seed_target(pg_url)
    dev_database = f"dev_{uuid.uuid4().hex[:10]}"
    environ = _dev_environ(tmp_path, pg_url, pg_server.url, dev_database)
    cfg = config_for(environ)
    try:
        dev = run_invoke("dev", "--rows", "200", environ=environ)
        assert dev.returncode == 0, dev.stdout[-2000:] + dev.stderr
        assert (tmp_path / "booking.db").is_file()
        assert current_database_url(cfg).startswith("sqlite")
        smoke = run_invoke("smoke", environ=environ)
        assert smoke.returncode == 0 and smoke.stdout.count("PASS") == 6, smoke.stdout
        assert "file(s) match their rows" in smoke.stdout  # the demo data's own upload files

        on_pg = run_invoke("dev-pg", environ=environ)
        assert on_pg.returncode == 0, on_pg.stdout[-2000:] + on_pg.stderr
        assert current_database_url(cfg) == sqlalchemy_url(
            with_database(pg_server.url, dev_database))
        smoke = run_invoke("smoke", environ=environ)
        assert smoke.returncode == 0 and smoke.stdout.count("PASS") == 6, smoke.stdout
        assert "file(s) match their rows" in smoke.stdout  # the demo data's own upload files
        assert row_counts(pg_url) == before  # the target: untouched

        again = run_invoke("dev-pg", environ=environ)  # its own database: reloaded, no question
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr
    finally:
        stopped = run_invoke("stop-api", environ=environ)
        drop_database(pg_server.url, dev_database)
    assert "local API stopped" in stopped.stdout
    assert api_process.running_pid(cfg) is None


def test_dev_pg_does_not_empty_a_database_it_did_not_create(tmp_path, pg_url, pg_server):
    before = seed_target(pg_url)
    existing = pg_url.rsplit("/", 1)[-1]
    environ = _dev_environ(tmp_path, pg_url, pg_server.url, existing)
    try:
        refused = run_invoke("dev-pg", "--rows", "100", environ=environ)
    finally:
        run_invoke("stop-api", environ=environ)
    assert refused.returncode != 0
    assert "was not created by dev-pg" in refused.stdout
    assert "hold 2 rows that the load would discard" in refused.stdout + refused.stderr
    assert row_counts(pg_url) == before
