"""Preflight: each category of value Postgres would reject or change is named, nothing written."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.requires_pg

# (category, SQLite column type, Postgres column type, SQL literal of the bad value)
VALUE_CASES = [
    ("nul-byte", "TEXT", "text", "'a' || char(0) || 'b'"),
    ("invalid-utf8", "TEXT", "text", "CAST(x'41ff42' AS TEXT)"),
    ("text-in-number-column", "INTEGER", "integer", "'abc'"),
    ("text-in-number-column", "NUMERIC(10,2)", "numeric(10,2)", "'12,50'"),
    ("not-an-integer", "INTEGER", "integer", "3.5"),
    ("integer-out-of-range", "INTEGER", "smallint", "40000"),
    ("numeric-overflow", "NUMERIC", "numeric(5,2)", "1234.5"),
    ("numeric-rounded", "NUMERIC", "numeric(5,2)", "1.234"),
    ("float-precision", "REAL", "real", "0.1 + 0.2"),
    ("bad-boolean", "BOOLEAN", "boolean", "2"),
    ("bad-datetime", "DATETIME", "timestamptz", "'2024-02-30 10:00:00.000000'"),
    ("bad-datetime", "DATETIME", "timestamp", "'yesterday'"),
    # of the canonical shape: Postgres refuses year 0 and reads 24:00 as the next day
    ("bad-datetime", "DATETIME", "timestamptz", "'0000-01-01 10:00:00.000000'"),
    ("bad-datetime", "DATETIME", "timestamp", "'2024-01-01 24:00:00.000000'"),
    ("bad-datetime", "TIME", "time", "'24:00:00.000000'"),
    ("nul-byte", "DATETIME", "timestamptz", "'2024-01-01 10:00:00.000000' || char(0) || 'x'"),
    ("nul-byte", "DATETIME", "timestamp", "'2024-01-01 10:00:00.123450' || char(0) || 'x'"),
    ("nul-byte", "DATETIME", "timestamp", "'2024-01-01 10:00:00.123456' || char(0) || '0'"),
    ("nul-byte", "TIME", "time", "'10:00:00.000000' || char(0) || 'x'"),
    ("invalid-utf8", "DATETIME", "timestamptz", "CAST(x'323032342dff' AS TEXT)"),
    ("epoch-in-datetime", "DATETIME", "timestamptz", "1714557600"),
    ("epoch-in-datetime", "DATETIME", "timestamptz", "0"),
    ("datetime-offset", "DATETIME", "timestamp", "'2024-01-01 10:00:00+02:00'"),
    ("invalid-json", "JSON", "json", "'{\"a\": }'"),
    ("invalid-json", "JSON", "jsonb", "'\"\\u0000\"'"),
    # jsonb texts the load itself parses and refuses (then the whole preflight names them)
    ("invalid-json", "JSON", "jsonb", "'{\"a\": }'"),
    ("invalid-json", "JSON", "jsonb", "'NaN'"),
    ("invalid-json", "JSON", "jsonb", "'\"\\ud800\"'"),
    ("invalid-utf8", "JSON", "jsonb", "CAST(x'22ff22' AS TEXT)"),
    ("nul-byte", "JSON", "jsonb", "'\"a' || char(0) || 'b\"'"),
    ("too-long", "VARCHAR(3)", "varchar(3)", "'abcd'"),
    ("bad-uuid", "CHAR(32)", "uuid", "'not-a-uuid'"),
    ("wrong-type", "BLOB", "bytea", "'some text'"),
    ("not-null", "TEXT", "text NOT NULL", "NULL"),
]


def assert_refused(done, category: str, where: str, before, after) -> None:
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"{category}:" in done.stdout
    assert where in done.stdout
    assert "Traceback" not in done.stderr
    assert after == before  # rows and constraints exactly as they were


def refused(migrate, source, target_state, category: str, where: str) -> str:
    """Run the migration, check preflight refused it (``where`` named, nothing written) and
    return its output."""
    before = target_state()
    done = migrate(source)
    assert_refused(done, category, where, before, target_state())
    return done.stdout


@pytest.mark.parametrize(("category", "sqlite_type", "pg_type", "bad"), VALUE_CASES,
                         ids=[f"{case[0]}-{case[2].split()[0]}-{number}"
                              for number, case in enumerate(VALUE_CASES)])
def test_each_value_category_is_named_and_nothing_is_written(
        category, sqlite_type, pg_type, bad, make_sqlite, migrate, pg_exec, target_state):
    source = make_sqlite(f"CREATE TABLE t (id INTEGER PRIMARY KEY, v {sqlite_type});"
                         f"INSERT INTO t VALUES (1, NULL); INSERT INTO t VALUES (7, {bad});"
                         if category != "not-null" else
                         f"CREATE TABLE t (id INTEGER PRIMARY KEY, v {sqlite_type});"
                         f"INSERT INTO t VALUES (7, NULL);")
    pg_exec(f"CREATE TABLE t (id integer PRIMARY KEY, v {pg_type}); "
            "CREATE TABLE other (id integer PRIMARY KEY REFERENCES t (id))")
    before = target_state()
    done = migrate(source)
    assert_refused(done, category, "t.v: 1 row(s)", before, target_state())
    assert "rowid 7" in done.stdout


def test_orphaned_foreign_keys_of_the_target_are_found(make_sqlite, migrate, pg_exec,
                                                       target_state):
    source = make_sqlite("CREATE TABLE parent (id INTEGER PRIMARY KEY);"
                         "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER);"
                         "INSERT INTO parent VALUES (1);"
                         "INSERT INTO child VALUES (1, 1), (2, 99), (3, NULL), (4, 98);")
    pg_exec("CREATE TABLE parent (id integer PRIMARY KEY);"
            "CREATE TABLE child (id integer PRIMARY KEY, parent_id integer "
            "CONSTRAINT child_parent REFERENCES parent (id))")
    before = target_state()
    done = migrate(source)
    assert_refused(done, "orphan-fk", "child.parent_id: 2 row(s)", before, target_state())
    assert "(99) not in parent" in done.stdout and "child_parent" in done.stdout


def test_duplicates_a_unique_constraint_would_refuse(make_sqlite, migrate, pg_exec,
                                                     target_state):
    source = make_sqlite("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT, a INT, b INT);"
                         "INSERT INTO u VALUES (1, 'x@y', 1, 1), (2, 'x@y', 1, 2),"
                         " (3, NULL, 1, 1), (4, NULL, 2, 2);")
    pg_exec("CREATE TABLE u (id integer PRIMARY KEY, email text UNIQUE, a int, b int, "
            "CONSTRAINT u_ab UNIQUE (a, b))")
    before = target_state()
    done = migrate(source)
    assert_refused(done, "duplicate-key", "u.email: 2 row(s)", before, target_state())
    assert "u.a, b: 2 row(s)" in done.stdout and "u_ab" in done.stdout


def test_jsonb_texts_equal_once_stored_are_duplicates_of_a_unique_key(make_sqlite, migrate,
                                                                       pg_exec, target_state):
    """jsonb goes to Postgres as its source text; a unique key compares what is stored, so
    two texts differing only in spacing and key order are one value."""
    source = make_sqlite("CREATE TABLE doc (id INTEGER PRIMARY KEY, body JSON);"
                         "INSERT INTO doc VALUES (1, '{\"a\": 1, \"b\": 2}'),"
                         " (2, '{\"b\":2,\"a\":1}'), (3, '{\"a\": 2}');")
    pg_exec("CREATE TABLE doc (id integer PRIMARY KEY, body jsonb CONSTRAINT doc_body UNIQUE)")
    before = target_state()
    done = migrate(source)
    assert_refused(done, "duplicate-key", "doc.body: 2 row(s)", before, target_state())
    assert "doc_body" in done.stdout


def test_schema_mismatches_are_preflight_errors(make_sqlite, migrate, pg_exec, target_state):
    source = make_sqlite('CREATE TABLE "Mixed" (id INTEGER PRIMARY KEY, extra TEXT);'
                         "CREATE TABLE gone (id INTEGER PRIMARY KEY);")
    pg_exec('CREATE TABLE "Mixed" (id integer PRIMARY KEY, needed text NOT NULL);'
            "CREATE TABLE mixed (id integer)")
    before = target_state()
    done = migrate(source)
    assert_refused(done, "schema", "Mixed.extra", before, target_state())
    assert "gone" in done.stdout and "Mixed.needed" in done.stdout


def test_an_opted_in_coercion_converts_and_is_counted(make_sqlite, migrate, pg_exec, tmp_path):
    import datetime as dt

    source = make_sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME);"
                         "INSERT INTO t VALUES (1, 1714557600), (2, '2024-01-01 00:00:00.000000');")
    pg_exec("CREATE TABLE t (id integer PRIMARY KEY, at timestamptz)")
    report = tmp_path / "r.json"
    done = migrate(source, "--allow-coercion", "epoch-seconds", "--report", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "coerced by --allow-coercion epoch-seconds" in done.stdout
    assert pg_exec("SELECT at FROM t ORDER BY id")[0] == (
        dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC),)
    assert json.loads(report.read_text())["preflight"]["coercions"] == {"epoch-seconds": 1}


@pytest.mark.parametrize("bad", ["'a' || char(0) || 'b'", "'2024-01-01 24:00:00.000000'",
                                 "'2024-01-01 1a:00:00.000000'", "'2024-01-01 10:00: 0.000000'",
                                 "'\uff12\uff10\uff12\uff14-01-01 10:00:00.000000'"],
                         ids=["nul-in-text", "hour-24", "letter-in-hour", "space-in-second",
                              "fullwidth-digits"])
def test_each_engine_leaves_to_the_load_what_it_refuses_then_names_it(
        bad, engine, make_sqlite, migrate, pg_exec, target_state):
    """Either engine checks first only what neither load nor verify can catch: a NUL in text
    (Postgres refuses it in COPY; pgloader drops it, which verify sees), a canonical-looking
    time Postgres reads as another (verify sees it) and non-digits where the copy load's quick
    shape test takes any character (Postgres refuses them) are found by the load, undone
    (rolled back; pgloader's engine empties the tables from its journal), then named by the
    whole preflight."""
    nul = "char" in bad
    text, moment = (bad, "'2024-01-01 10:00:00.000000'") if nul else ("'x'", bad)
    source = make_sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w DATETIME);"
                         "INSERT INTO t VALUES (1, 'ok', '2024-01-01 10:00:00.000000');"
                         f"INSERT INTO t VALUES (7, {text}, {moment});")
    pg_exec("CREATE TABLE t (id integer PRIMARY KEY, v text, w timestamp)")
    before = target_state()
    done = migrate(source)
    category, where = ("nul-byte", "t.v") if nul else ("bad-datetime", "t.w")
    assert_refused(done, category, f"{where}: 1 row(s)", before, target_state())
    assert "that the load refused" in done.stderr
    assert ("rolled back" if engine == "copy" else "undid it from its journal") in done.stderr
    assert "rowid 7" in done.stdout


# (SQLite type, Postgres type, bad value, category): values the copy engine's own conversion
# gives nothing for, so the load stops at them; each would be silently kept otherwise (text
# read as a number, a REAL as text, a nullable date/time as NULL, 2 as a boolean)
REFUSED_BY_THE_LOAD = [
    ("TEXT", "integer", "'12'", "text-in-number-column"),
    ("BLOB", "text", "1.5", "wrong-type"),
    ("DATETIME", "timestamptz", "'yesterday'", "bad-datetime"),
    ("BOOLEAN", "boolean", "2", "bad-boolean"),
    ("BLOB", "bytea", "'text'", "wrong-type"),
]


@pytest.mark.parametrize(("sqlite_type", "pg_type", "bad", "category"), REFUSED_BY_THE_LOAD,
                         ids=[case[1] for case in REFUSED_BY_THE_LOAD])
def test_a_value_the_copy_load_cannot_convert_stops_either_load_then_is_named(
        sqlite_type, pg_type, bad, category, engine, make_sqlite, migrate, pg_exec,
        target_state):
    """Nothing checks these before the load: the copy engine's conversion gives no value for
    them and its reader stops the load there; pgloader's load of them fails or verify sees
    them. The whole preflight then names them (exit 3, the target as it was)."""
    source = make_sqlite(f"CREATE TABLE t (id INTEGER PRIMARY KEY, v {sqlite_type});"
                         "INSERT INTO t VALUES (1, NULL);"
                         f"INSERT INTO t VALUES (7, {bad});")
    pg_exec(f"CREATE TABLE t (id integer PRIMARY KEY, v {pg_type})")
    before = target_state()
    done = migrate(source)
    assert_refused(done, category, "t.v: 1 row(s)", before, target_state())
    assert "that the load refused" in done.stderr
    if engine == "copy":
        assert ("t: a value in column(s) v cannot be loaded as it is (row with id = 7)"
                in done.stderr)
