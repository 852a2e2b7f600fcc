"""Indexes dropped for the load and rebuilt verbatim; COPY FREEZE only where Postgres allows it."""

from __future__ import annotations

import contextlib
from pathlib import Path

import psycopg2
import pytest

from sqlite_to_pg.catalog import open_source, read_plan
from sqlite_to_pg.constraints import (
    compare_snapshots,
    drop_foreign_keys,
    save_foreign_keys,
    take_snapshot,
)
from sqlite_to_pg.copy_engine import CopyEngine
from sqlite_to_pg.engines import LoadFailed
from sqlite_to_pg.indexes import drop_indexes, rebuild_indexes, save_indexes
from sqlite_to_pg.progress import Progress

pytestmark = pytest.mark.requires_pg

SCHEMA = """
CREATE TABLE room (id integer PRIMARY KEY, code text NOT NULL,
    CONSTRAINT uq_room_code UNIQUE (code) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE booking (id bigint PRIMARY KEY, room_id integer REFERENCES room (id),
    title text, during tsrange,
    CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&) WHERE (room_id IS NOT NULL));
CREATE INDEX ix_booking_title ON booking (lower(title)) WITH (fillfactor = 70);
CREATE INDEX ix_booking_partial ON booking (room_id) WHERE title <> '';
CREATE INDEX ix_booking_commented ON booking (title);
COMMENT ON INDEX ix_booking_commented IS 'kept in place: a rebuild would lose this comment';
CREATE INDEX ix_booking_clustered ON booking (id, room_id);
CLUSTER booking USING ix_booking_clustered;
"""
REBUILT = {"room_pkey", "uq_room_code", "booking_pkey", "no_overlap", "ix_booking_title",
           "ix_booking_partial"}


def test_indexes_and_their_constraints_come_back_exactly(pg_exec, pg_cursor):
    pg_exec(SCHEMA)
    cur = pg_cursor
    before = take_snapshot(cur, "public")
    drop_foreign_keys(cur, save_foreign_keys(cur, "public", ["room", "booking"]))
    indexes = save_indexes(cur, "public", ["room", "booking"])
    assert {index.name for index in indexes} == REBUILT
    assert {index.name for index in indexes if index.constraint} == {
        "room_pkey", "uq_room_code", "booking_pkey", "no_overlap"}
    drop_indexes(cur, indexes)
    cur.execute("SELECT indexrelid::regclass::text FROM pg_index "
                "WHERE indrelid IN ('room'::regclass, 'booking'::regclass) ORDER BY 1")
    assert cur.fetchall() == [("ix_booking_clustered",), ("ix_booking_commented",)]
    rebuild_indexes(cur, indexes)
    assert compare_snapshots(before, take_snapshot(cur, "public")) == [
        "constraint booking.booking_room_id_fkey is missing after the load "
        "(was: FOREIGN KEY (room_id) REFERENCES room(id))"]  # only the key dropped above


def _load(sqlite_path: Path, pg_url: str):
    with contextlib.closing(open_source(sqlite_path)) as src, \
            contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        plan = read_plan(src, cur)

    class Verified:
        ok = True

    return CopyEngine().load(plan, sqlite_path=sqlite_path, pg_url=pg_url,
                             progress=Progress(quiet=True), finish=lambda conn: Verified())


def test_a_duplicate_found_while_rebuilding_rolls_everything_back(make_sqlite, pg_exec, pg_url,
                                                                 target_state):
    pg_exec(SCHEMA + "INSERT INTO room VALUES (7, 'old');")
    source = make_sqlite("CREATE TABLE room (id INTEGER, code TEXT);",
                         {"room": [(1, "a"), (2, "b"), (1, "c")]})
    before = target_state()
    with pytest.raises(LoadFailed, match=r"room_pkey.*\(id\)=\(1\).*rolled back"):
        _load(source, pg_url)
    assert target_state() == before
    assert pg_exec("SELECT id, code FROM room") == [(7, "old")]


def test_partitioned_tables_and_repeatable_read_databases_load(make_sqlite, pg_exec, pg_url,
                                                              migrate, target_state):
    database = pg_exec("SELECT current_database()")[0][0]
    pg_exec(f'ALTER DATABASE "{database}" SET default_transaction_isolation = '
            "'repeatable read'")
    pg_exec("CREATE TABLE event (id integer, at date NOT NULL, note text,"
            " PRIMARY KEY (id, at)) PARTITION BY RANGE (at);"
            "CREATE TABLE event_2024 PARTITION OF event"
            " FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
            "CREATE INDEX ix_event_note ON event (note);"
            "CREATE TABLE plain (id integer PRIMARY KEY, note text);"
            "CREATE INDEX ix_plain_note ON plain (note);")
    schema_before = target_state()["schema"]
    source = make_sqlite("CREATE TABLE event (id INTEGER, at DATE, note TEXT);"
                         "CREATE TABLE plain (id INTEGER PRIMARY KEY, note TEXT);",
                         {"event": [(1, "2024-03-01", "a"), (2, "2024-04-01", None)],
                          "plain": [(i, f"n{i % 7}") for i in range(1, 501)]})
    done = migrate(source)
    assert done.returncode == 0, done.stdout + done.stderr
    assert pg_exec("SELECT id, at::text, note FROM event ORDER BY id") == [
        (1, "2024-03-01", "a"), (2, "2024-04-01", None)]
    assert pg_exec("SELECT count(*), count(DISTINCT note) FROM plain") == [(500, 7)]
    assert target_state()["schema"] == schema_before
