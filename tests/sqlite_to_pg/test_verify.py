"""Verify: the loader's own source checksums, reading the source again when it changed, and
catching a row that differs; preflight's shortcut for SQLite's INTEGER PRIMARY KEY."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import psycopg2
import pytest

from sqlite_to_pg.catalog import open_source, read_plan
from sqlite_to_pg.copy_engine import CopyEngine
from sqlite_to_pg.preflight import is_rowid_alias
from sqlite_to_pg.progress import Progress
from sqlite_to_pg.row_hash import row_sums_sql
from sqlite_to_pg.source_checksums import SourceChecksums, sqlite_checksum
from sqlite_to_pg.target_checksum import parallel_hashing, pg_checksum
from sqlite_to_pg.values import hashed_columns
from sqlite_to_pg.verify import verify

pytestmark = pytest.mark.requires_pg

SOURCE = ("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT, at DATETIME, score REAL);"
          "CREATE TABLE tag (name TEXT PRIMARY KEY, note_id INTEGER);")
TARGET = ("CREATE TABLE note (id integer PRIMARY KEY, body text, at timestamptz,"
          " score double precision);"
          "CREATE TABLE tag (name text PRIMARY KEY, note_id integer REFERENCES note (id));")
NOTES = [(1, "tab\there \\N", "2024-01-02 03:04:05.123456", 0.1),
         (2, None, "2024-01-02T03:04:05+02:00", 1e20),
         (3, "\\", None, None)] + [(i, f"note {i}", "2024-06-30 23:59:59.000001", i / 3)
                                   for i in range(4, 300)]


@pytest.fixture
def loaded(make_sqlite, pg_exec, pg_url):
    """(plan, source path, the engine after a committed load) of a small tricky source."""
    pg_exec(TARGET)
    source = make_sqlite(SOURCE, {"note": NOTES, "tag": [("a", 1), ("b", None)]})
    engine = CopyEngine()
    return load_verified(source, pg_url, engine), source, engine


def load_verified(source: Path, pg_url: str, engine: CopyEngine | None = None):
    """The plan of ``source`` into the test database, after ``engine`` (a new CopyEngine by
    default) loaded and verified it."""
    with contextlib.closing(open_source(source)) as src, \
            contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        plan = read_plan(src, cur)
    result = (engine or CopyEngine()).load(plan, sqlite_path=source, pg_url=pg_url,
                                           progress=Progress(quiet=True),
                                           finish=lambda conn: verify(plan, source, conn))
    assert result.committed and result.verification.ok, result.verification
    return plan


def run_verify(plan, source: Path, pg_url: str, checksums=None):
    with contextlib.closing(psycopg2.connect(pg_url)) as conn:
        return verify(plan, source, conn, source_checksums=checksums)


def test_the_rows_the_loader_hashed_are_the_rows_verify_reads(loaded):
    plan, source, engine = loaded
    for table in plan.tables:
        assert engine.source_checksums.tables[table.name] == sqlite_checksum(source, table)
    assert engine.source_checksums.tables["note"][0] == len(NOTES)


def test_verify_uses_the_loaders_checksums_while_the_file_is_unchanged(loaded, pg_url):
    plan, source, engine = loaded
    assert run_verify(plan, source, pg_url, engine.source_checksums).ok
    rows, checksum = engine.source_checksums.tables["note"]
    wrong = SourceChecksums(engine.coercions, engine.source_checksums.signature,
                            {**engine.source_checksums.tables, "note": (rows, checksum ^ 1)})
    verdicts = {check.table: check.verdict for check in run_verify(plan, source, pg_url,
                                                                   wrong).tables}
    assert verdicts == {"note": "MISMATCH checksum", "tag": "ok"}  # it did use them
    with contextlib.closing(sqlite3.connect(source)) as conn:
        conn.execute("UPDATE note SET body = 'changed after the load' WHERE id = 7")
        conn.commit()
    # the file changed since the load hashed it: read again rather than trusted
    changed = run_verify(plan, source, pg_url, engine.source_checksums)
    assert {check.table: check.verdict for check in changed.tables} == verdicts
    assert changed.problems == ["note: checksum; differing column(s): body; "
                                "rows differ for primary key(s) 7 (column(s) body)"]


def test_a_row_changed_in_the_target_is_found_by_its_key(loaded, pg_exec, pg_url):
    plan, source, _ = loaded
    pg_exec("UPDATE note SET at = at + interval '1 microsecond' WHERE id = 2")
    verification = run_verify(plan, source, pg_url)
    assert not verification.ok
    assert verification.problems == ["note: checksum; differing column(s): at; "
                                     "rows differ for primary key(s) 2 (column(s) at)"]


@pytest.mark.parametrize(("ddl", "alias"), [
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", True),
    ("CREATE TABLE t (id integer primary key autoincrement, v TEXT)", True),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY DESC, v TEXT)", False),
    ("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)", False),
    ("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT) WITHOUT ROWID", False),
    ("CREATE TABLE t (id INTEGER, v TEXT, PRIMARY KEY (id, v))", False),
])
def test_only_a_real_rowid_alias_skips_the_duplicate_check(ddl, alias, make_sqlite, pg_exec,
                                                           pg_url):
    pg_exec("CREATE TABLE t (id integer PRIMARY KEY, v text)")
    source = make_sqlite(ddl)
    with contextlib.closing(open_source(source)) as src, \
            contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        plan = read_plan(src, cur)
        assert is_rowid_alias(src, plan.table("t"), "id") is alias


def test_a_table_wider_than_a_postgres_call_verifies_and_names_its_last_column(
        make_sqlite, pg_exec, pg_url):
    """Postgres joins a row's fields in one call of at most 100 arguments: 250 columns nest."""
    names = [f"c{i}" for i in range(250)]
    pg_exec(f"CREATE TABLE wide (id integer PRIMARY KEY, {', '.join(f'{n} text' for n in names)})")
    source = make_sqlite(
        f"CREATE TABLE wide (id INTEGER PRIMARY KEY, {', '.join(f'{n} TEXT' for n in names)})",
        {"wide": [(row, *(f"r{row} {n}" for n in names)) for row in range(1, 6)]})
    plan = load_verified(source, pg_url)
    pg_exec("UPDATE wide SET c249 = 'changed' WHERE id = 4")
    assert run_verify(plan, source, pg_url).problems == [
        "wide: checksum; differing column(s): c249; "
        "rows differ for primary key(s) 4 (column(s) c249)"]


# control characters, which the load sends raw (COPY TO would write \b, \f and \v), beside
# literal backslashes followed by those letters, which the load writes as a doubled backslash
# and the letter
CONTROLS = [(1, "bell\x07 back\x08space form\x0cfeed vertical\x0btab"),
            (2, "literal: \\b \\f \\v \\\\b"),
            (3, "\x08\\\x08\\b\\\x0b")]


@pytest.mark.parametrize(("row", "changed_to"), [
    (1, "replace(v, chr(8), '\\b')"),   # a backspace became a backslash and a b
    (2, "replace(v, '\\b', chr(8))"),   # and the other way round
    (3, "replace(v, chr(11), chr(12))"),
])
def test_control_characters_verify_and_a_change_among_them_is_found(
        row, changed_to, make_sqlite, pg_exec, pg_url):
    pg_exec("CREATE TABLE t (id integer PRIMARY KEY, v text)")
    source = make_sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", {"t": CONTROLS})
    plan = load_verified(source, pg_url)
    assert run_verify(plan, source, pg_url).ok  # with the source read again, too
    pg_exec(f"UPDATE t SET v = {changed_to} WHERE id = {row}")
    assert run_verify(plan, source, pg_url).problems == [
        f"t: checksum; differing column(s): v; rows differ for primary key(s) {row} "
        "(column(s) v)"]


def test_control_characters_arrive_and_verify_with_either_engine(engine, migrate, make_sqlite,
                                                                  pg_exec):
    pg_exec("CREATE TABLE t (id integer PRIMARY KEY, v text)")
    source = make_sqlite("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", {"t": CONTROLS})
    run = migrate(source, "--yes")
    assert run.returncode == 0, run.stdout + run.stderr
    assert pg_exec("SELECT id, v FROM t ORDER BY id") == CONTROLS


def test_the_target_hashed_by_parallel_workers_inside_the_load_gives_the_same_checksum(
        make_sqlite, pg_exec, pg_url, monkeypatch):
    """Every table counts as large (``min_parallel_table_scan_size`` 0, for every connection
    of this test): the load's own verify, inside the transaction that wrote the rows, hashes
    them on Postgres' parallel workers, and still verifies; the plan shows the workers."""
    monkeypatch.setenv("PGOPTIONS", "-c min_parallel_table_scan_size=0")
    pg_exec(TARGET)
    source = make_sqlite(SOURCE, {"note": NOTES, "tag": [("a", 1), ("b", None)]})
    plan = load_verified(source, pg_url)
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE tag, note")  # rows written by this transaction, as in the load
        cur.execute("INSERT INTO note SELECT i, 'n ' || i, now(), i FROM generate_series(1, 999) i")
        note = plan.table("note")
        query = row_sums_sql(hashed_columns(note.columns), note.target.identifier.as_string(cur))
        with parallel_hashing(cur):
            cur.execute(f"EXPLAIN {query}")
            assert "Gather" in " ".join(line for (line,) in cur.fetchall())
            parallel = pg_checksum(cur, note)
        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        assert pg_checksum(cur, note) == parallel
        assert parallel[0] == 999
