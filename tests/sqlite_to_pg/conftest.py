"""Fixtures for the migration tests: the engines under test and small builders for both sides.

To run the engine-parametrised tests on another engine, add its name to ``ENGINES``.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest

ENGINES = ["copy", "pgloader"]
# Tests whose expectation is the copy engine's by design, with where pgloader's is tested instead.
NOT_FOR_PGLOADER = {
    "test_an_opted_in_coercion_converts_and_is_counted":
        "the CLI refuses --allow-coercion with pgloader (test_pgloader_command.py)",
    "test_a_killed_run_leaves_the_target_as_it_was_and_a_rerun_completes":
        "pgloader commits per table: a kill leaves a journal the rerun repairs "
        "(test_pgloader_interrupted.py)",
    "test_the_adapted_variant_loads_exactly_into_the_published_types":
        "pgloader cannot carry arrays: test_a_comma_list_array_is_refused_before_writing_and_as_"
        "text_loads_exactly (test_sakila.py)",
    "test_a_comma_list_loads_only_with_its_coercion_and_is_counted":
        "the CLI refuses --allow-coercion with pgloader (test_pgloader_command.py)",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``engine`` over ENGINES, leaving out pgloader where its expectation differs.

    Left out, not skipped: the PostgreSQL run reports no skips, and what pgloader does instead is
    tested where NOT_FOR_PGLOADER says.
    """
    if "engine" not in metafunc.fixturenames:
        return
    name = metafunc.definition.originalname
    engines = [e for e in ENGINES if not (e == "pgloader" and name in NOT_FOR_PGLOADER)]
    metafunc.parametrize("engine", engines)


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
def pg_cursor(pg_url: str):
    """A cursor on one connection to the test database (one transaction, never committed)."""
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        yield cur


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


SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "migrate_sqlite_to_pg.sh"


@pytest.fixture
def migrate(pg_url: str, engine: str, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run ``scripts/migrate_sqlite_to_pg.sh --sqlite PATH --pg <test db> --engine <engine>``.

    Extra arguments pass through; stdin is not a terminal (so no prompts). Runs from tmp_path
    to show the wrapper works from any directory.
    """

    def run(sqlite_path: Path, *args: str, url: str | None = None) -> subprocess.CompletedProcess:
        command = [str(SCRIPT), "--sqlite", str(sqlite_path), "--pg", url or pg_url,
                   "--engine", engine, *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path,
                              stdin=subprocess.DEVNULL, check=False, timeout=240)

    return run


@pytest.fixture
def sha256() -> Callable[[Path], str]:
    """The sha256 of a file (to prove the source was not modified)."""
    return lambda path: hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def target_state(pg_url: str) -> Callable[[], dict]:
    """Row counts of every table and the constraint/index snapshot of the test database."""
    from sqlite_to_pg.constraints import take_snapshot

    def state() -> dict:
        with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
            cur.execute("SELECT relname FROM pg_class c JOIN pg_namespace n "
                        "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                        "AND c.relkind = 'r' ORDER BY 1")
            tables = [row[0] for row in cur.fetchall()]
            counts = {}
            for table in tables:
                cur.execute(f'SELECT count(*) FROM "{table}"')
                counts[table] = cur.fetchone()[0]
            return {"counts": counts, "schema": take_snapshot(cur, "public")}

    return state
