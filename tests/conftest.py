"""Fixtures shared by every test: the backend under test and real PostgreSQL databases.

``--db=sqlite`` (default) runs the app tests on SQLite and deselects tests marked
``requires_pg``; ``--db=postgresql`` runs the same app tests on a real PostgreSQL server
(``PG_TEST_URL`` if set, else Docker, else a temporary local cluster) plus the PG-only tests.

``DB_URL`` and ``SQLALCHEMY_DATABASE_URL`` (the cutover target and the API's database of the
shell the tests run in) are removed from the environment first: no test, and no process a test
starts, can reach them unless the test names a database of its own in them.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.database_urls import sqlalchemy_url
from foundation.database_variables import NEVER_A_SANDBOX
from foundation.throwaway_postgres import (
    PostgresServer,
    TemporaryCluster,
    create_database,
    drop_database,
    provide_server,
    server_bindir,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHINOOK = PROJECT_ROOT.parent / "shared" / "data" / "chinook.sqlite"
APP_ROLE = "cutover_app"  # a non-superuser login role that owns each test database


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=("sqlite", "postgresql"),
                     default=os.environ.get("TEST_DB", "sqlite"),
                     help="backend for the app tests; postgresql also runs the requires_pg tests")
    parser.addoption("--only-postgres-dependent", action="store_true",
                     help="with --db=postgresql: leave out the tests that neither use the backend "
                          "nor need PostgreSQL (the sqlite run has them; nox -s pg_tests sets it)")


def pytest_configure(config: pytest.Config) -> None:
    for name in NEVER_A_SANDBOX:
        os.environ.pop(name, None)


def _runs_in_this_session(config: pytest.Config, item: pytest.Item) -> bool:
    needs_pg = item.get_closest_marker("requires_pg") is not None
    if config.getoption("--db") != "postgresql":
        return not needs_pg
    return (needs_pg or "backend" in item.fixturenames
            or not config.getoption("--only-postgres-dependent"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        (kept if _runs_in_this_session(config, item) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> str:
    """``sqlite`` or ``postgresql``: the backend the app tests run on."""
    return pytestconfig.getoption("--db")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run (tests create their own databases on it)."""
    with provide_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database owned by a non-superuser role; libpq URL; dropped afterwards."""
    url = create_database(pg_server.url, owner=APP_ROLE)
    yield url
    drop_database(pg_server.url, url.rsplit("/", 1)[-1])


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A SQLAlchemy URL of an empty database on the backend under test."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return sqlalchemy_url(request.getfixturevalue("pg_url"))


@pytest.fixture
def throwaway_cluster() -> Iterator[TemporaryCluster]:
    """A running temporary cluster of its own, for tests that stop, kill or restart the server."""
    bindir = server_bindir()
    if bindir is None:
        pytest.fail("no PostgreSQL server binaries (initdb) on this machine")
    cluster = TemporaryCluster(bindir).init()
    cluster.start()
    yield cluster
    cluster.remove()


@pytest.fixture
def chinook_path(tmp_path: Path) -> Path:
    """A read-only copy of the public Chinook sample database (never the shared original)."""
    if not CHINOOK.exists():
        pytest.fail(f"missing test data: {CHINOOK}")
    copy = tmp_path / "chinook.sqlite"
    shutil.copyfile(CHINOOK, copy)
    copy.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return copy
