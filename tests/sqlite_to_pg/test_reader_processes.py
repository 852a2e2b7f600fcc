"""The copy engine's reader processes: a table split over the workers arrives whole, once, with
the checksum one reader computes; a refused value in any range, a worker that dies and a column
that took the name ``rowid`` are each handled by name, never by a wrong or missing row."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3

import psycopg2
import pytest

from foundation.sqlite_files import BULK_SQLITE, sqlite_version
from sqlite_to_pg.catalog import open_source, read_plan
from sqlite_to_pg.copy_engine import iter_copy_rows
from sqlite_to_pg.engines import LoadFailed
from sqlite_to_pg.reader_processes import ReaderProcesses
from sqlite_to_pg.source_checksums import sqlite_checksum
from sqlite_to_pg.source_scan import rowid_ranges
from sqlite_to_pg.tab_joined import CONCAT_WS_SINCE

pytestmark = pytest.mark.requires_pg

# gaps, negatives, an outlier, SQLite's smallest and largest rowid
ROWIDS = [-2**63, -7, 0, 1, 2, *range(10, 60_000, 3), 90_001, 2**40, 2**63 - 1]


def _plan(make_sqlite, pg_exec, pg_url, sqlite_script: str, pg_script: str, rows):
    pg_exec(pg_script)
    path = make_sqlite(sqlite_script, rows)
    with contextlib.closing(open_source(path)) as src, \
            contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        return read_plan(src, cur), path


@pytest.fixture
def split(make_sqlite, pg_exec, pg_url):
    """(plan, path) of a table big enough to be read by both workers."""
    rows = [(rowid, f"line {rowid}\twith a tab", "2024-05-06 07:08:09.000010")
            for rowid in ROWIDS]
    return _plan(make_sqlite, pg_exec, pg_url,
                 "CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT, at DATETIME)",
                 "CREATE TABLE big (id bigint PRIMARY KEY, body text, at timestamptz)",
                 {"big": rows})


def _drain(stream) -> list[bytes]:
    chunks = []
    while chunk := stream.read():
        chunks.append(chunk)
    return b"".join(chunks).splitlines(keepends=True)


def test_a_split_table_arrives_whole_and_once_with_one_readers_checksum(split):
    plan, path = split
    table = plan.table("big")
    with contextlib.closing(open_source(path)) as src:
        assert len(rowid_ranges(src, table, parts=2)) == 2
    counted = []
    with ReaderProcesses(path) as readers:
        stream = readers.stream(table, frozenset(), counted.append)
        lines = _drain(stream)
        assert readers.ended(stream) == sqlite_checksum(path, table)
    assert sorted(lines) == sorted(iter_copy_rows(path, table))
    assert len(lines) == sum(counted) == len(ROWIDS)


def test_the_workers_serve_one_table_after_another(split):
    plan, path = split
    table = plan.table("big")
    with ReaderProcesses(path) as readers:
        for _ in range(3):
            stream = readers.stream(table, frozenset(), lambda rows: None)
            assert len(_drain(stream)) == len(ROWIDS)
            assert readers.ended(stream)[0] == len(ROWIDS)


def test_a_refused_value_in_the_second_range_is_named(make_sqlite, pg_exec, pg_url):
    rows = [(rowid, 1.5 if rowid == 50_005 else rowid) for rowid in range(1, 60_000)]
    plan, path = _plan(make_sqlite, pg_exec, pg_url,
                       "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)",
                       "CREATE TABLE t (id bigint PRIMARY KEY, n integer)", {"t": rows})
    with ReaderProcesses(path) as readers:
        stream = readers.stream(plan.table("t"), frozenset(), lambda rows: None)
        with pytest.raises(LoadFailed, match=r"^t: a value in column\(s\) n .*id = 50005\)"):
            _drain(stream)


def test_a_worker_that_dies_fails_the_read_by_name(split):
    plan, path = split
    with ReaderProcesses(path) as readers:
        stream = readers.stream(plan.table("big"), frozenset(), lambda rows: None)
        assert stream.read()
        # one range holds nearly every row, more than a pipe holds: its worker is still writing
        for worker in readers._workers:
            os.kill(worker.process.pid, signal.SIGKILL)
        with pytest.raises(LoadFailed, match=r"reading big from SQLite failed: .*exit code -9"):
            _drain(stream)


def test_a_column_named_rowid_does_not_split_the_table_by_its_values(make_sqlite, pg_exec,
                                                                      pg_url):
    rows = [(i, None if i % 7 == 0 else f"r{i}") for i in range(1, 50_000)]
    plan, path = _plan(make_sqlite, pg_exec, pg_url,
                       "CREATE TABLE t (id INTEGER NOT NULL, rowid TEXT)",
                       "CREATE TABLE t (id bigint NOT NULL, rowid text)", {"t": rows})
    table = plan.table("t")
    with contextlib.closing(open_source(path)) as src:
        ranges = rowid_ranges(src, table, parts=2)
    assert len(ranges) == 2 and all(where.startswith("_rowid_ ") for where in ranges)
    with ReaderProcesses(path) as readers:
        stream = readers.stream(table, frozenset(), lambda rows: None)
        assert sorted(_drain(stream)) == sorted(iter_copy_rows(path, table))
        assert readers.ended(stream) == sqlite_checksum(path, table)


def test_a_row_text_holding_a_raw_newline_fails_the_read_instead_of_splitting_the_row(split):
    """Chunks are joined by SQLite and split at newlines: a row whose text held one would
    arrive as two rows; the count SQLite gives alongside catches it."""
    plan, path = split
    with ReaderProcesses(path) as readers:
        stream = readers.stream_rows(plan.table("big"),
                                     "CAST(id || char(10) || 'x' || char(10) AS BLOB)",
                                     lambda rows: None)
        with pytest.raises(LoadFailed, match=r"reading big from SQLite failed: ValueError: "
                                             r"\d+ rows gave \d+ lines of COPY text"):
            _drain(stream)


def test_the_readers_read_with_the_bundled_sqlite_that_has_concat_ws():
    """Else the next test compares the standard library's SQLite with itself."""
    assert BULK_SQLITE is not sqlite3
    assert sqlite_version(BULK_SQLITE) >= CONCAT_WS_SINCE > sqlite_version(sqlite3)


WIDE = 130  # past one concat_ws call's arguments


def test_the_bundled_sqlite_sends_the_bytes_the_standard_librarys_does(make_sqlite, pg_exec,
                                                                       pg_url):
    texts = ["plain", "tab\there", "new\nline", "back\\slash", "cr\rhere", "nul\x00inside",
             "naïve 😀", "", None]
    columns = ", ".join(f"c{i} TEXT" for i in range(WIDE))
    rows = [(rowid, *(texts[(rowid + i) % len(texts)] for i in range(WIDE)),
             f"2024-05-06 07:08:{rowid % 60:02d}.{rowid:06d}" if rowid % 7 else "2024-05-06",
             rowid / 3 if rowid % 5 else None)
            for rowid in range(1, 3001)]
    plan, path = _plan(
        make_sqlite, pg_exec, pg_url,
        f"CREATE TABLE w (id INTEGER PRIMARY KEY, {columns}, at DATETIME, x REAL);"
        "CREATE TABLE bad (id INTEGER PRIMARY KEY, t TEXT);"
        "INSERT INTO bad VALUES (1, CAST(x'61ff62' AS TEXT)), (2, CAST(x'c3' AS TEXT))",
        f"CREATE TABLE w (id bigint PRIMARY KEY, {columns}, at timestamptz, x float8);"
        "CREATE TABLE bad (id bigint PRIMARY KEY, t text)",
        {"w": rows})
    for name in ("w", "bad"):
        sent = {}
        for library in (BULK_SQLITE, sqlite3):
            with ReaderProcesses(path, library=library) as readers:
                stream = readers.stream(plan.table(name), frozenset(), lambda rows: None)
                try:
                    sent[library] = (sorted(_drain(stream)), readers.ended(stream))
                except LoadFailed as exc:
                    sent[library] = str(exc)
        assert sent[BULK_SQLITE] == sent[sqlite3]
    assert sent[BULK_SQLITE].startswith("bad: a value in column(s) t cannot be loaded")
