"""``DB_URL`` (the cutover target) and ``SQLALCHEMY_DATABASE_URL`` are never a sandbox: the test
server fixture, the server provider and the benchmarks' server never take them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import PROJECT_ROOT
from target_rows import row_counts, seed_target

from foundation.database_urls import sqlalchemy_url
from foundation.database_variables import alembic_url, sandbox_server_url
from foundation.throwaway_postgres import NoPostgresAvailable, provide_server

TARGET = "postgresql://app:pw@prod.internal:5432/appdb"


def test_the_provider_never_takes_the_target_or_the_api_database():
    environ = {"DB_URL": TARGET, "SQLALCHEMY_DATABASE_URL": TARGET}
    assert sandbox_server_url(environ) is None
    with pytest.raises(NoPostgresAvailable) as excinfo:
        with provide_server(environ, prefer=("external",)):
            pass
    assert "DB_URL, the cutover target, is never used" in str(excinfo.value)


def test_alembic_takes_db_url_then_the_api_url_then_the_ini_then_the_default():
    both = {"DB_URL": "sqlite:///a.db", "SQLALCHEMY_DATABASE_URL": "sqlite:///b.db"}
    assert alembic_url("sqlite:///c.db", both).url == "sqlite:///a.db"
    assert alembic_url("sqlite:///c.db", {"SQLALCHEMY_DATABASE_URL": "sqlite:///b.db"}).source \
        == "SQLALCHEMY_DATABASE_URL"
    assert alembic_url("sqlite:///c.db", {}).url == "sqlite:///c.db"
    assert alembic_url(None, {}).url == "sqlite:///./booking.db"


@pytest.mark.requires_pg
def test_the_test_server_fixture_leaves_db_url_untouched(pg_url):
    """A test session started in a shell where DB_URL and SQLALCHEMY_DATABASE_URL name a
    database holding rows (and PG_TEST_URL is unset) never hands that database to a test."""
    before = seed_target(pg_url)
    env = {key: value for key, value in os.environ.items() if key != "PG_TEST_URL"}
    env.update(DB_URL=pg_url, SQLALCHEMY_DATABASE_URL=sqlalchemy_url(pg_url))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "--db=postgresql",
         "tests/foundation/sandbox_probe.py"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "PROBE-SERVER-KIND=external" not in done.stdout
    assert row_counts(pg_url) == before
