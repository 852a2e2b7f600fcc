"""The production path end to end, locally: an API on SQLite (the demo data: every table has
rows) under live write traffic,
``invoke cutover`` (freeze, snapshot, proxy --local, schema, migrate, flip, unfreeze, monitor),
then ``invoke rollback`` back to SQLite. No write is accepted inside a window, and no row is
lost in either direction (rows PostgreSQL got after the flip are exported by the rollback).
"""

from __future__ import annotations

import contextlib
import csv
import sqlite3

import psycopg2
import pytest
from runbook_support import api_running, build_demo_sqlite, run_invoke, runbook_environ
from write_traffic import WriteTraffic

from app.models import Base
from foundation.database_urls import libpq_url
from foundation.sqlite_files import open_read_only
from runbook.api_env_file import current_database_url, sqlite_env
from runbook.freeze import write_probe

pytestmark = [pytest.mark.requires_pg, pytest.mark.slow]

KEYED_TABLES = [t for t in Base.metadata.sorted_tables if t.name != "maintenance_state"]


def _sqlite_keys(path, table) -> set[tuple]:
    columns = ", ".join(c.name for c in table.primary_key.columns)
    with contextlib.closing(open_read_only(path)) as conn:
        return set(conn.execute(f"SELECT {columns} FROM {table.name}").fetchall())


def _pg_keys(url, table) -> set[tuple]:
    columns = ", ".join(c.name for c in table.primary_key.columns)
    with contextlib.closing(psycopg2.connect(libpq_url(url))) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {columns} FROM {table.name}")
        return set(cur.fetchall())


def _sqlite_titles(path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {row[0] for row in conn.execute("SELECT title FROM bookings")}


def _pg_titles(url) -> set[str]:
    with contextlib.closing(psycopg2.connect(libpq_url(url))) as conn, conn.cursor() as cur:
        cur.execute("SELECT title FROM bookings")
        return {row[0] for row in cur.fetchall()}


def _accepted(attempts) -> int:
    return sum(a.status == 201 for a in attempts)


def _ran(done) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr}"


def test_cutover_under_write_traffic_then_rollback(pg_url, tmp_path):
    sqlite_path = build_demo_sqlite(tmp_path / "live.db", rows=500)
    environ = runbook_environ(tmp_path, SQLITE_PATH=str(sqlite_path), DB_URL=pg_url,
                              DB_POOL_SIZE="3", DB_MAX_OVERFLOW="2", MONITOR_MAX_P95_MS="3000")
    with api_running(environ, sqlite_env(sqlite_path)) as cfg:
        traffic = WriteTraffic(cfg.api_url, "user1@example.com", "password1", room_id=1).start()
        try:
            traffic.wait_for(201, count=5)
            cut = run_invoke("cutover", "--yes", "--local", "--monitor-seconds", "3",
                             environ=environ)
            assert cut.returncode == 0, _ran(cut)
            assert current_database_url(cfg).startswith("postgresql")
            # PostgreSQL takes writes after the window
            traffic.wait_for(201, count=_accepted(traffic.snapshot()) + 5)
            during_cutover = traffic.snapshot()

            # Every accepted write is in PostgreSQL; every other attempt left no row anywhere.
            pg_titles = _pg_titles(pg_url)
            assert {a.title for a in during_cutover if a.status == 201} <= pg_titles
            assert not {a.title for a in during_cutover if a.status != 201} & pg_titles
            assert any(a.status == 503 for a in during_cutover), "the window refused nothing"
            assert {a.status for a in during_cutover} <= {201, 503, None}
            # No row lost from SQLite: every primary key there is in PostgreSQL.
            for table in KEYED_TABLES:
                missing = _sqlite_keys(sqlite_path, table) - _pg_keys(pg_url, table)
                assert not missing, f"{table.name}: {len(missing)} rows lost by the cutover"
            after_flip = pg_titles - _sqlite_titles(sqlite_path)
            assert after_flip, "no write reached PostgreSQL after the flip"

            refused = run_invoke("rollback", "--yes", environ=environ)
            assert refused.returncode == 1, _ran(refused)
            assert "would be lost" in refused.stderr and "Traceback" not in refused.stderr
            assert current_database_url(cfg).startswith("postgresql")
            assert write_probe(cfg.api_url) == 503  # left frozen, nothing discarded

            export = tmp_path / "export"
            back = run_invoke("rollback", "--yes", "--export", str(export), environ=environ)
            assert back.returncode == 0, _ran(back)
            assert current_database_url(cfg).startswith("sqlite")
            traffic.wait_for(201, count=_accepted(traffic.snapshot()) + 5)  # SQLite takes writes
        finally:
            attempts = traffic.stop()

    with open(export / "bookings.csv", newline="", encoding="utf-8") as handle:
        exported = {row["title"] for row in csv.DictReader(handle)}
    final_sqlite, final_pg = _sqlite_titles(sqlite_path), _pg_titles(pg_url)
    assert after_flip <= exported <= final_pg
    for attempt in attempts:
        if attempt.status == 201:  # accepted: on SQLite now, or exported from PostgreSQL
            assert attempt.title in final_sqlite or attempt.title in exported, attempt
        else:  # refused or unanswered: no row anywhere
            assert attempt.title not in final_sqlite | final_pg, attempt
    assert {a.status for a in attempts} <= {201, 503, None}
    # No row lost on the way back: SQLite still holds every row of the cutover's snapshot.
    (snapshot,) = (tmp_path / "snapshots").glob("*.sqlite")
    for table in KEYED_TABLES:
        missing = _sqlite_keys(snapshot, table) - _sqlite_keys(sqlite_path, table)
        assert not missing, f"{table.name}: {len(missing)} rows lost by the rollback"
