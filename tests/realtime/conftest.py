"""Fixtures of the chat tests: one migrated database and one real uvicorn per test module.

Each test seeds users of its own (unique e-mails), so tests in a module never see each other's
threads. The database is made and dropped by the module on the backend under test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import api_env, run_api, upgrade_schema
from realtime_support import Seeder

from foundation.database_urls import sqlalchemy_url
from foundation.throwaway_postgres import create_database, drop_database

APP_ROLE = "cutover_app"


@pytest.fixture(scope="module")
def chat_db_url(backend: str, tmp_path_factory: pytest.TempPathFactory,
                request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database for this module (SQLAlchemy URL), dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('chat') / 'chat.db'}"
        upgrade_schema(url)
        yield url
        return
    admin_url = request.getfixturevalue("pg_server").url
    libpq = create_database(admin_url, owner=APP_ROLE)
    upgrade_schema(sqlalchemy_url(libpq))
    yield sqlalchemy_url(libpq)
    drop_database(admin_url, libpq.rsplit("/", 1)[-1])


@pytest.fixture(scope="module")
def seed(chat_db_url: str) -> Iterator[Seeder]:
    seeder = Seeder(chat_db_url)
    yield seeder
    seeder.close()


@pytest.fixture(scope="module")
def api(chat_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn on the module's database; the base URL. Maintenance is read uncached."""
    env = api_env(chat_db_url, tmp_path_factory.mktemp("uploads"),
                  MAINTENANCE_CACHE_SECONDS="0")
    with run_api(env) as base_url:
        yield base_url
