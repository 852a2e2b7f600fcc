"""Foreign keys dropped and re-added verbatim; snapshots; the sequence reset block."""

from __future__ import annotations

import contextlib
import subprocess

import psycopg2
import pytest

from sqlite_to_pg.constraints import (
    add_foreign_keys,
    compare_snapshots,
    drop_foreign_keys,
    save_foreign_keys,
    take_snapshot,
)
from sqlite_to_pg.sequences import RESET_SEQUENCES_SQL, reset_sequences, sequence_states

pytestmark = pytest.mark.requires_pg

SCHEMA = """
CREATE TABLE "Artist" ("ArtistId" serial PRIMARY KEY, "Name" text UNIQUE);
CREATE TABLE "Album" ("AlbumId" bigint GENERATED ALWAYS AS IDENTITY (START WITH 100) PRIMARY KEY,
    "ArtistId" integer NOT NULL REFERENCES "Artist"("ArtistId") ON DELETE CASCADE
        DEFERRABLE INITIALLY DEFERRED,
    "Prev" bigint REFERENCES "Album"("AlbumId"));
CREATE INDEX "IFK_Album" ON "Album" ("ArtistId") WHERE "ArtistId" > 0;
CREATE TABLE "user" (id serial PRIMARY KEY, "order" integer);
"""


@contextlib.contextmanager
def cursor(pg_url):
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        yield cur


def test_foreign_keys_come_back_exactly_as_they_were(pg_exec, pg_url):
    pg_exec(SCHEMA)
    with cursor(pg_url) as cur:
        before = take_snapshot(cur, "public")
        keys = save_foreign_keys(cur, "public", ["Artist"])  # keys *to* Artist count too
        assert {key.name for key in keys} == {"Album_ArtistId_fkey"}
        keys = save_foreign_keys(cur, "public", ["Album", "Artist"])
        assert len(keys) == 2
        drop_foreign_keys(cur, keys)
        dropped = take_snapshot(cur, "public")
        assert len(compare_snapshots(before, dropped)) == 2
        add_foreign_keys(cur, keys)
        assert compare_snapshots(before, take_snapshot(cur, "public")) == []
        deferred = [obj for obj in before if obj.name == "Album_ArtistId_fkey"][0]
        assert deferred.deferrable and deferred.deferred


def test_readding_a_key_the_data_violates_fails_naming_it(pg_exec, pg_url):
    pg_exec(SCHEMA)
    with cursor(pg_url) as cur:
        keys = save_foreign_keys(cur, "public", ["Album", "Artist"])
        drop_foreign_keys(cur, keys)
        cur.execute('INSERT INTO "Album" ("ArtistId") VALUES (42)')
        with pytest.raises(psycopg2.errors.ForeignKeyViolation, match="Album_ArtistId_fkey"):
            add_foreign_keys(cur, keys)


def test_snapshot_notices_a_changed_index(pg_exec, pg_url):
    pg_exec(SCHEMA)
    with cursor(pg_url) as cur:
        before = take_snapshot(cur, "public")
        cur.execute('DROP INDEX "IFK_Album"; CREATE INDEX "IFK_Album" ON "Album" ("Prev")')
        [difference] = compare_snapshots(before, take_snapshot(cur, "public"))
        assert "index Album.IFK_Album is now" in difference


def test_reset_moves_serial_and_identity_sequences_past_the_data(pg_exec, pg_url):
    pg_exec(SCHEMA)
    pg_exec('INSERT INTO "Artist" ("ArtistId", "Name") VALUES (7, \'a\'), (5, \'b\')')
    pg_exec('INSERT INTO "Album" ("AlbumId", "ArtistId") OVERRIDING SYSTEM VALUE '
            'VALUES (1099511627776, 7)')
    with cursor(pg_url) as cur:
        notices = reset_sequences(cur)
        assert len(notices) == 3
        states = {state.table: state for state in sequence_states(cur, "public")}
        cur.connection.commit()
    assert states["Artist"].next_value == 8
    assert states["Album"].next_value == 1099511627777
    assert states["user"].next_value == 1 and states["user"].max_value is None
    assert all(state.ahead for state in states.values())
    # the application's next inserts work
    assert pg_exec('INSERT INTO "Artist" ("Name") VALUES (\'c\') RETURNING "ArtistId"') == [(8,)]
    assert pg_exec('INSERT INTO "Album" ("ArtistId") VALUES (7) RETURNING "AlbumId"') == [
        (1099511627777,)]
    assert pg_exec('INSERT INTO "user" ("order") VALUES (1) RETURNING id') == [(1,)]


def test_reset_on_empty_identity_uses_its_start_and_runs_by_hand_with_psql(pg_exec, pg_url):
    pg_exec(SCHEMA)
    done = subprocess.run(["psql", pg_url, "-v", "ON_ERROR_STOP=1", "-f", str(RESET_SEQUENCES_SQL)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "next value 100 (start)" in done.stderr
    assert pg_exec('INSERT INTO "Artist" VALUES (DEFAULT, \'x\')'
                   ' RETURNING "ArtistId"') == [(1,)]
    assert pg_exec('INSERT INTO "Album" ("ArtistId") VALUES (1) RETURNING "AlbumId"') == [(100,)]
