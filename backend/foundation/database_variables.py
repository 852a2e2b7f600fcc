"""Which environment variable names which database, in one place.

- ``DB_URL``: the cutover target (the runbook's ``schema``, ``migrate``, ``flip``). Alembic takes
  it first. Never a sandbox: no test, benchmark or developer task creates, drops, truncates or
  loads into the server or database it names.
- ``SQLALCHEMY_DATABASE_URL``: the API's database (default: ``sqlite:///./booking.db``, written
  here only). Alembic takes it when ``DB_URL`` is unset. Never a sandbox either.
- ``PG_TEST_URL``: a PostgreSQL server the tests, the benchmarks and ``invoke dev-pg`` may create
  databases of their own on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

TARGET_URL = "DB_URL"
API_DATABASE_URL = "SQLALCHEMY_DATABASE_URL"
TEST_SERVER_URL = "PG_TEST_URL"
DEFAULT_SQLITE_FILE = "booking.db"  # the API's file by default, and the runbook's SQLITE_PATH
DEFAULT_API_DATABASE_URL = f"sqlite:///./{DEFAULT_SQLITE_FILE}"
NEVER_A_SANDBOX = (TARGET_URL, API_DATABASE_URL)
ALEMBIC_INI_OPTION = "sqlalchemy.url"


@dataclass(frozen=True)
class ChosenUrl:
    """A URL and where it came from (a variable's name), for errors that name the source."""

    url: str
    source: str


def alembic_url(ini_url: str | None, environ: Mapping[str, str] = os.environ) -> ChosenUrl:
    """The URL Alembic migrates: ``DB_URL``, else ``SQLALCHEMY_DATABASE_URL``, else alembic.ini's
    ``sqlalchemy.url`` (set by a caller; the file itself has none), else the API's default."""
    for name in (TARGET_URL, API_DATABASE_URL):
        if environ.get(name):
            return ChosenUrl(environ[name], name)
    if ini_url:
        return ChosenUrl(ini_url, f"alembic.ini's {ALEMBIC_INI_OPTION}")
    return ChosenUrl(DEFAULT_API_DATABASE_URL, f"the default {API_DATABASE_URL}")


def sandbox_server_url(environ: Mapping[str, str] = os.environ) -> str | None:
    """The server tests, benchmarks and dev tasks may use: ``PG_TEST_URL`` only (never DB_URL)."""
    return environ.get(TEST_SERVER_URL) or None
