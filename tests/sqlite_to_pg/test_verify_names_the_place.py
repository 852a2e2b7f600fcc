"""Every verify failure names table and column and, where the table has a primary key, the
key of each differing row; a Postgres error while comparing names them too."""

from __future__ import annotations

import contextlib

import psycopg2
import pytest
from pgloader_support import plan_for

from sqlite_to_pg.copy_engine import CopyEngine
from sqlite_to_pg.progress import Progress
from sqlite_to_pg.verify import verify

pytestmark = pytest.mark.requires_pg

SOURCE = """
CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT, score REAL, at DATETIME);
CREATE TABLE event_log (at DATETIME, what TEXT, n INTEGER);
CREATE TABLE tag (id INTEGER PRIMARY KEY, note_id INTEGER);
"""
TARGET = """
CREATE TABLE note (id integer PRIMARY KEY, body text, score double precision, at timestamp);
CREATE TABLE event_log (at timestamp, what text, n integer);
CREATE TABLE tag (id integer PRIMARY KEY, note_id integer CONSTRAINT tag_note REFERENCES note);
"""
NOTES = [(i, f"note\t{i}", i / 4, "2024-01-02 03:04:05") for i in range(1, 40)]
EVENTS = [("2024-01-02 03:04:05", "start", 1), ("2024-01-02 03:04:06", "stop", 2)]


@pytest.fixture
def loaded(make_sqlite, pg_exec, pg_url):
    pg_exec(TARGET)
    source = make_sqlite(SOURCE, {"note": NOTES, "event_log": EVENTS, "tag": [(1, 2)]})
    plan = plan_for(source, pg_url)
    result = CopyEngine().load(plan, sqlite_path=source, pg_url=pg_url,
                               progress=Progress(quiet=True),
                               finish=lambda conn: verify(plan, source, conn))
    assert result.committed and result.verification.ok, result.verification.problems
    return plan, source


def run_verify(plan, source, pg_url):
    with contextlib.closing(psycopg2.connect(pg_url)) as conn:
        return verify(plan, source, conn)


def test_a_changed_value_is_named_by_table_column_and_key(loaded, pg_exec, pg_url):
    plan, source = loaded
    pg_exec("UPDATE note SET body = 'changed' WHERE id = 7")
    pg_exec("UPDATE note SET score = score + 1, at = at + interval '1 hour' WHERE id = 9")
    pg_exec("DELETE FROM note WHERE id = 12")

    result = run_verify(plan, source, pg_url)

    assert not result.ok
    [problem] = result.problems
    assert problem.startswith("note: rows 39 != 38; differing column(s): id, body, score, at")
    assert problem.endswith("rows differ for primary key(s) 12 (only in the source), "
                            "7 (column(s) body), 9 (column(s) score, at)")


def test_a_table_without_a_key_is_named_with_its_differing_column(loaded, pg_exec, pg_url):
    plan, source = loaded
    pg_exec("UPDATE event_log SET what = 'halt' WHERE n = 2")

    [problem] = run_verify(plan, source, pg_url).problems

    assert problem == "event_log: checksum; differing column(s): what"


def test_a_postgres_error_while_comparing_names_table_and_column(loaded, pg_exec, pg_url):
    plan, source = loaded
    # One column the verifying role may not read: verify must name it, not stop bare.
    pg_exec("REVOKE ALL ON event_log FROM CURRENT_USER")
    pg_exec("GRANT SELECT (at, n) ON event_log TO CURRENT_USER")

    result = run_verify(plan, source, pg_url)

    assert not result.ok
    assert [p for p in result.problems if p.startswith("event_log")] == [
        "event_log.what: could not be compared: permission denied for table event_log"]


def test_rows_a_foreign_key_would_refuse_are_named_with_their_values(loaded, pg_exec, pg_url):
    plan, source = loaded
    pg_exec("ALTER TABLE tag DROP CONSTRAINT tag_note")  # e.g. a key a tool failed to re-add
    pg_exec("INSERT INTO tag VALUES (2, 500), (3, 400), (4, NULL)")

    result = run_verify(plan, source, pg_url)

    assert "foreign key tag.tag_note (note_id): 2 rows reference no row of note, e.g. (400), " \
           "(500)" in result.problems
