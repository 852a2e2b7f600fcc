"""Source reads in rowid ranges: every row read exactly once, problems found in each part."""

from __future__ import annotations

import contextlib
import sqlite3

import psycopg2
import pytest

from foundation.sqlite_files import BULK_SQLITE
from sqlite_to_pg.catalog import open_source, read_plan
from sqlite_to_pg.preflight import run_preflight
from sqlite_to_pg.source_scan import WHOLE_TABLE, SourcePool, rowid_ranges

pytestmark = pytest.mark.requires_pg

ROWIDS = [-7, 0, 1, 2, *range(10, 30_000, 3), 45_001, 2**40]  # gaps, negatives, a far outlier


@pytest.fixture
def big(make_sqlite, pg_exec, pg_url):
    """(plan, path) of a table big enough to split, and a small WITHOUT ROWID one."""
    pg_exec("CREATE TABLE big (id bigint PRIMARY KEY, at timestamptz, n smallint);"
            "CREATE TABLE small (k text PRIMARY KEY)")
    rows = [(rowid, "2024-05-06 07:08:09.000010", rowid % 1000) for rowid in ROWIDS]
    rows[3] = (2, "2024-02-30 10:00:00.000000", 5)           # first range: no such date
    rows[-1] = (2**40, "2024-05-06 07:08:09.000010", 70_000)  # last range: too big for int2
    path = make_sqlite("CREATE TABLE big (id INTEGER PRIMARY KEY, at DATETIME, n INTEGER);"
                       "CREATE TABLE small (k TEXT PRIMARY KEY) WITHOUT ROWID;",
                       {"big": rows, "small": [("a",), ("b",)]})
    with contextlib.closing(open_source(path)) as src, \
            contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        return read_plan(src, cur), path


def test_ranges_cover_every_row_exactly_once(big):
    plan, path = big
    with contextlib.closing(open_source(path)) as src:
        ranges = rowid_ranges(src, plan.table("big"), parts=3)
        assert len(ranges) == 3
        counts = [src.execute(f"SELECT count(*) FROM big WHERE {where}").fetchone()[0]
                  for where in ranges]
        overlaps = src.execute("SELECT count(*) FROM big WHERE " + " + ".join(
            f"({where})" for where in ranges) + " <> 1").fetchone()[0]
        assert sum(counts) == len(ROWIDS) and overlaps == 0
        assert rowid_ranges(src, plan.table("small")) == [WHOLE_TABLE]


def test_preflight_finds_the_problems_of_every_range(big):
    plan, path = big
    report = run_preflight(plan, path)
    found = {(finding.category, finding.column): (finding.count, finding.examples)
             for finding in report.findings}
    assert found == {("bad-datetime", "at"): (1, ["rowid 2: '2024-02-30 10:00:00.000000'"]),
                     ("integer-out-of-range", "n"): (1, [f"rowid {2**40}: 70000"])}
    assert report.row_counts == {"big": len(ROWIDS), "small": 2}


@pytest.mark.parametrize("library", [sqlite3, BULK_SQLITE])
def test_the_pool_reads_with_the_library_it_is_given(library, big):
    _, path = big
    with SourcePool(path, library=library) as pool:
        read = pool.submit(lambda conn: conn.execute("SELECT sqlite_version()").fetchone()[0])
        assert read.result() == library.sqlite_version
