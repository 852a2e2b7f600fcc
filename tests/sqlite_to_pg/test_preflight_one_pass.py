"""Preflight finds everything in one pass: exact counts, an unsupported column hides nothing,
uniqueness under the target's collation (asked of Postgres, read-only), and what only the
pgloader engine cannot carry."""

from __future__ import annotations

import pytest
from test_preflight import refused

pytestmark = pytest.mark.requires_pg

CI_COLLATION = ("CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', "
                "deterministic = false)")


def test_an_unsupported_column_is_counted_exactly_and_hides_no_other_finding(
        make_sqlite, migrate, pg_exec, target_state):
    # point: a type the type table does not convert (and is not planned to)
    source = make_sqlite(
        "CREATE TABLE place (id INTEGER PRIMARY KEY, loc TEXT, code VARCHAR(9), n INTEGER);"
        "INSERT INTO place VALUES (1, '(1,2)', 'abc', 1), (2, NULL, 'toolongvalue', 2),"
        " (3, '(3,4)', NULL, 'three'), (4, NULL, 'ok', 4), (5, '(5,6)', 'ok', 5);"
        "CREATE TABLE nowhere (id INTEGER PRIMARY KEY, loc TEXT);"
        "INSERT INTO nowhere VALUES (1, NULL);")
    pg_exec("CREATE TABLE place (id integer PRIMARY KEY, loc point, code varchar(5) NOT NULL,"
            " n integer);"
            "CREATE TABLE nowhere (id integer PRIMARY KEY, loc point)")

    output = refused(migrate, source, target_state, "unsupported-type",
                     "place.loc: 3 row(s) [target type point is not supported; 3 of 5 row(s) "
                     "hold a value]")

    assert "nowhere.loc: 0 row(s) [target type point is not supported; 0 of 1" in output
    assert "rowid 1: '(1,2)'" in output
    # the other columns of the same table are checked all the same
    assert "place.code: 1 row(s)" in output.split("too-long:")[1]
    assert "place.code: 1 row(s)" in output.split("not-null:")[1]
    assert "place.n: 1 row(s)" in output.split("text-in-number-column:")[1]


def test_values_equal_under_a_case_insensitive_collation_are_refused_before_loading(
        make_sqlite, migrate, pg_exec, target_state):
    pg_exec(CI_COLLATION)
    pg_exec("CREATE EXTENSION IF NOT EXISTS citext")
    source = make_sqlite(
        "CREATE TABLE member (id INTEGER PRIMARY KEY, email TEXT UNIQUE,"
        " team INTEGER, handle TEXT);"
        "INSERT INTO member VALUES (1, 'Ärger@example.org', 1, 'Zoë'),"
        " (2, 'ärger@example.org', 1, 'zoë'), (3, 'ok@example.org', 2, 'Zoë'),"
        " (4, 'OK@EXAMPLE.ORG', 3, 'x');"
        "CREATE TABLE tag (id INTEGER PRIMARY KEY, label TEXT UNIQUE);"
        "INSERT INTO tag VALUES (1, 'Straße'), (2, 'STRASSE'), (3, 'straße'), (4, 'Élan'),"
        " (5, 'élan');")
    # distinct bytes in SQLite (its NOCASE would fold only the ASCII of 3/4, not Ä/ä)
    pg_exec("CREATE TABLE member (id integer PRIMARY KEY, email text COLLATE ci NOT NULL,"
            " team integer, handle text COLLATE ci,"
            " CONSTRAINT member_email UNIQUE (email), CONSTRAINT member_team_handle"
            " UNIQUE (team, handle));"
            "CREATE TABLE tag (id integer PRIMARY KEY, label citext UNIQUE)")

    output = refused(migrate, source, target_state, "duplicate-under-collation",
                     "member.email: 4 row(s) [unique member_email: equal under collation "
                     "public.ci]")

    assert "rowids 1, 2: {Ärger@example.org} / {ärger@example.org}" in output
    assert "member.team, handle: 2 row(s)" in output
    assert "tag.label: 4 row(s) [unique tag_label_key: equal under type citext]" in output
    assert "rowids 4, 5" in output and "rowids 1, 3" in output


def test_infinite_floats_are_refused_for_pgloader_and_carried_by_copy(
        engine, migrate, make_sqlite, pg_exec, target_state):
    source = make_sqlite("CREATE TABLE reading (id INTEGER PRIMARY KEY, value REAL);"
                         "INSERT INTO reading VALUES (1, 9e999), (2, -9e999), (3, 1.5);")
    pg_exec("CREATE TABLE reading (id integer PRIMARY KEY, value double precision)")

    if engine == "pgloader":
        output = refused(migrate, source, target_state, "not-for-pgloader",
                         "reading.value: 2 row(s)")
        assert "rowid 1: inf" in output and "rowid 2: -inf" in output
    else:
        done = migrate(source)
        assert done.returncode == 0, done.stdout + done.stderr
        assert pg_exec("SELECT value::text FROM reading ORDER BY id") == [
            ("Infinity",), ("-Infinity",), ("1.5",)]
