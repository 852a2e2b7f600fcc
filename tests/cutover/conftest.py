"""Fixtures for the migration tests: the engines under test and small builders for both sides.

To run the engine-parametrised tests on another engine, add its name to ``ENGINES``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest

ENGINES = ["copy"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The name of the load engine under test (``--engine`` value)."""
    return request.param


@pytest.fixture
def pg_exec(pg_url: str) -> Callable[..., list[tuple]]:
    """Run SQL on the test database as its (non-superuser) owner; returns fetched rows, if any."""

    def run(statement: str, params: tuple | None = None) -> list[tuple]:
        with contextlib.closing(psycopg2.connect(pg_url)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else []

    return run


@pytest.fixture
def make_sqlite(tmp_path: Path) -> Callable[..., Path]:
    """Build a SQLite file from a script (DDL + inserts), optionally with row parameters.

    ``make_sqlite(script, rows={"t": [(1, "a"), ...]})`` inserts ``rows`` with executemany.
    """
    counter = iter(range(1000))

    def build(script: str, rows: dict[str, list[tuple]] | None = None) -> Path:
        path = tmp_path / f"source{next(counter)}.sqlite"
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.executescript(script)
            for table, values in (rows or {}).items():
                if values:
                    marks = ", ".join("?" * len(values[0]))
                    conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', values)
            conn.commit()
        return path

    return build
