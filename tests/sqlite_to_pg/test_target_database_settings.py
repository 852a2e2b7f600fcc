"""Targets whose database settings differ from ours: a non-deterministic ICU collation on
text columns (unique ones included) and a database ``TimeZone`` that is not UTC."""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.requires_pg

CI_COLLATION = ("CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', "
                "deterministic = false)")
SOURCE = """
CREATE TABLE person (id INTEGER PRIMARY KEY, email TEXT NOT NULL, nick TEXT, born DATETIME,
    seen DATETIME);
"""
TARGET = """
CREATE TABLE person (id serial PRIMARY KEY, email text COLLATE ci NOT NULL UNIQUE,
    nick varchar(40) COLLATE ci, born timestamp, seen timestamptz);
CREATE INDEX person_nick ON person (nick);
"""
PEOPLE = [(1, "Ärger@example.org", "tab\there back\\slash", "2024-03-10 02:30:00.000000",
           "2024-03-10 02:30:00.000000"),
          (2, "zoë@example.org", "Zoë", "2024-11-03 01:30:00", "2024-07-01 12:00:00"),
          (3, "plain@example.org", None, None, None)]


def test_a_non_deterministic_collation_loads_and_verifies(engine, migrate, make_sqlite, pg_exec):
    pg_exec(CI_COLLATION)
    pg_exec(TARGET)
    source = make_sqlite(SOURCE, {"person": PEOPLE})

    done = migrate(source)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified" in done.stdout
    rows = pg_exec('SELECT id, email COLLATE "C", nick COLLATE "C" FROM person ORDER BY id')
    assert rows == [(1, "Ärger@example.org", "tab\there back\\slash"),
                    (2, "zoë@example.org", "Zoë"), (3, "plain@example.org", None)]
    assert pg_exec("SELECT id FROM person WHERE email = 'ärger@EXAMPLE.org'") == [(1,)]


def test_naive_timestamps_do_not_shift_when_the_database_timezone_is_not_utc(
        engine, migrate, make_sqlite, pg_exec):
    database = pg_exec("SELECT current_database()")[0][0]
    pg_exec(f'ALTER DATABASE "{database}" SET timezone = \'America/New_York\'')
    pg_exec(TARGET.replace(" COLLATE ci", ""))
    source = make_sqlite(SOURCE, {"person": PEOPLE})

    done = migrate(source)

    assert done.returncode == 0, done.stdout + done.stderr
    assert pg_exec("SHOW timezone") == [("America/New_York",)]
    rows = pg_exec("SELECT id, born, seen AT TIME ZONE 'UTC' FROM person ORDER BY id")
    assert rows == [
        (1, dt.datetime(2024, 3, 10, 2, 30), dt.datetime(2024, 3, 10, 2, 30)),
        (2, dt.datetime(2024, 11, 3, 1, 30), dt.datetime(2024, 7, 1, 12, 0)),
        (3, None, None)]
