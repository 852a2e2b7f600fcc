"""The pgloader engine's target checksums taken on a second connection: what they hold, and
that verify counts one only where it equals the source's."""

from __future__ import annotations

import contextlib

import psycopg2
import pytest

from sqlite_to_pg.catalog import open_source, read_plan
from sqlite_to_pg.source_checksums import sqlite_checksum
from sqlite_to_pg.target_checksum import pg_checksum
from sqlite_to_pg.target_checksums_beside import TargetChecksumsBeside
from sqlite_to_pg.verify import verify

pytestmark = pytest.mark.requires_pg

ROWS = [(i, f"row {i}\twith a tab") for i in range(1, 501)]


@pytest.fixture
def loaded(make_sqlite, pg_exec, pg_url):
    """(plan, source) of two tables, the target holding the same rows (one table empty)."""
    pg_exec("CREATE TABLE a (id integer PRIMARY KEY, v text); "
            "CREATE TABLE b (id integer PRIMARY KEY, v text)")
    source = make_sqlite("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);"
                         "CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT);", {"a": ROWS})
    pg_exec("INSERT INTO a SELECT i, 'row ' || i || chr(9) || 'with a tab' "
            "FROM generate_series(1, 500) i")
    with contextlib.closing(open_source(source)) as src, \
            contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        plan = read_plan(src, cur)
    return plan, source


def test_the_checksums_beside_are_the_targets_and_only_of_recounted_tables(loaded, pg_url):
    plan, source = loaded
    with TargetChecksumsBeside(pg_url, plan, {"a": 500, "b": 0}) as beside:
        usable = beside.usable()
    assert usable == {"a": sqlite_checksum(source, plan.table("a"))}
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        assert usable["a"] == pg_checksum(cur, plan.table("a"))
    with TargetChecksumsBeside(pg_url, plan, {"a": 499}) as miscounted:
        assert miscounted.usable() == {}  # taken of more rows than the recount found


def test_verify_counts_a_known_target_only_where_it_equals_the_source(loaded, pg_url):
    plan, source = loaded
    rows, checksum = sqlite_checksum(source, plan.table("a"))
    with contextlib.closing(psycopg2.connect(pg_url)) as conn:
        wrong = verify(plan, source, conn, known_targets={"a": (rows, checksum ^ 1)})
        assert wrong.ok, wrong.problems  # not equal: verify read the target itself
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("UPDATE a SET v = 'changed' WHERE id = 7")
        changed = verify(plan, source, conn)
        assert changed.problems == ["a: checksum; differing column(s): v; "
                                    "rows differ for primary key(s) 7 (column(s) v)"]
        # a known target equal to the source's is taken as the target's: the engine gives
        # one only for tables nothing but pgloader wrote to (target_checksums_beside)
        trusted = verify(plan, source, conn, known_targets={"a": (rows, checksum)})
        assert trusted.ok, trusted.problems
