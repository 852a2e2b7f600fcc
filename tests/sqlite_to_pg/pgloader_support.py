"""Helpers for the engine tests: plan a load, run it, and read both sides back.

``finish_step`` is the ``finish`` the tests hand to the engine, as the CLI does: the sequence
reset from scripts/ and the engine-independent verification (counts, checksums, constraints).
``table_rows`` reads a whole table from either side in a normalised, comparable form.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import psycopg2
from psycopg2 import sql

from sqlite_to_pg.catalog import Plan, open_source, quote_sqlite, read_plan
from sqlite_to_pg.constraints import take_snapshot
from sqlite_to_pg.copy_engine import CopyEngine
from sqlite_to_pg.load_journal import repair_interrupted_load
from sqlite_to_pg.pgloader_engine import PgloaderEngine
from sqlite_to_pg.progress import Progress
from sqlite_to_pg.sequences import reset_sequences
from sqlite_to_pg.verify import Verification, verify

CHINOOK_SCHEMA = Path(__file__).parent / "data" / "chinook_postgres.sql"


def plan_for(sqlite_path: Path, pg_url: str) -> Plan:
    """The catalog's plan for this pair (no problems expected)."""
    with contextlib.closing(open_source(sqlite_path)) as source, \
            contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        plan = read_plan(source, cur)
    assert plan.problems == [], plan.problems
    return plan


def finish_step(plan: Plan, sqlite_path: Path, before: frozenset, *, refuse: bool = False):
    """The CLI's ``finish(conn)``: reset the sequences, then the real verification.

    ``refuse=True`` adds a problem to an otherwise good verification (to test the clean-up).
    """

    def finish(conn) -> Verification:
        with conn.cursor() as cur:
            reset_sequences(cur)
        verification = verify(plan, sqlite_path, conn, before)
        if refuse:
            verification.problems.append("refused by the test")
        return verification

    return finish


def run_load(plan: Plan, sqlite_path: Path, pg_url: str, *, refuse: bool = False,
             engine: PgloaderEngine | None = None) -> tuple:
    """Load with the pgloader engine and verify, as the CLI does; (result, progress text)."""
    stream = io.StringIO()
    with contextlib.closing(psycopg2.connect(pg_url)) as conn:
        repair_interrupted_load(conn, Progress(stream, tty=False).note)
    before = snapshot(pg_url, plan.schema)
    result = (engine or PgloaderEngine()).load(
        plan, sqlite_path=sqlite_path, pg_url=pg_url, progress=Progress(stream, tty=False),
        finish=finish_step(plan, sqlite_path, before, refuse=refuse))
    return result, stream.getvalue()


def copy_load(plan: Plan, sqlite_path: Path, pg_url: str) -> CopyEngine:
    """Load ``plan`` with the built-in engine, verified as the command verifies (with the
    source checksums the load computed); asserts it committed and verified. The engine."""
    engine = CopyEngine()
    result = engine.load(plan, sqlite_path=sqlite_path, pg_url=pg_url,
                         progress=Progress(quiet=True),
                         finish=lambda conn: verify(plan, sqlite_path, conn,
                                                    source_checksums=engine.source_checksums))
    assert result.committed and result.verification.ok, result.verification.problems
    return engine


def snapshot(pg_url: str, schema: str = "public") -> frozenset:
    """Every constraint and index of the schema (sqlite_to_pg.constraints.take_snapshot)."""
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        return take_snapshot(cur, schema)


def journal_exists(pg_url: str) -> bool:
    """True when the pgloader engine's journal schema is in the target."""
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'cutover_journal'")
        return cur.fetchone()[0] == 1


def _normal(value: object) -> object:
    if isinstance(value, Decimal | float):
        return round(float(value), 6)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return value


def _sortable(row: tuple) -> tuple:
    return tuple((value is None, str(value)) for value in row)


def source_rows(sqlite_path: Path, table: str, columns: list[str]) -> list[tuple]:
    """All rows of a SQLite table, normalised and sorted (order-independent comparison)."""
    names = ", ".join(quote_sqlite(name) for name in columns)
    with contextlib.closing(open_source(sqlite_path)) as source:
        rows = source.execute(f"SELECT {names} FROM {quote_sqlite(table)}").fetchall()
    return sorted((tuple(_normal(v) for v in row) for row in rows), key=_sortable)


def target_rows(pg_url: str, table: str, columns: list[str]) -> list[tuple]:
    """All rows of a Postgres table, normalised and sorted like ``source_rows``."""
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table))
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute(query)
        rows = cur.fetchall()
    return sorted((tuple(_normal(v) for v in row) for row in rows), key=_sortable)


def target_counts(pg_url: str, tables: list[str]) -> dict[str, int]:
    """Row count of each table in the target."""
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        counts = {}
        for table in tables:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            counts[table] = cur.fetchone()[0]
        return counts
