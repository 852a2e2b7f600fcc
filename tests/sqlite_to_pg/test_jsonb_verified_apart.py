"""jsonb goes to Postgres as its source text (Postgres parses it) and is verified apart: a
changed jsonb value, even one Postgres would print the same way as a row elsewhere, is found
and named; the row checksums of the other columns still hold."""

from __future__ import annotations

import contextlib
import json

import psycopg2
import psycopg2.errors
import pytest
from pgloader_support import copy_load, plan_for

from sqlite_to_pg.verify import verify

pytestmark = pytest.mark.requires_pg

PAYLOADS = ['{"b": 1, "a": "x\\"y\\ttab", "b": 2}', None, "5", "[1.50, 1e2, -0]", 2.5,
            '{"nested": {"z": [true, false, null], "é": "ü"}}', '"\\ud83d\\ude00"', "{}",
            '{\n  "pretty": [1,\r\n    "a,\\"b\\""],\t"quote": "\'\\"\'"\n}',
            '["a\\u0001b", "\\u0001"]']  # the staging's CSV quote byte, escaped


@pytest.fixture(params=["primary key", "no key"])
def loaded(request, make_sqlite, pg_exec, pg_url):
    """Tied to the primary key, or (without one) to the rest of the row."""
    key = " PRIMARY KEY" if request.param == "primary key" else ""
    pg_exec(f"CREATE TABLE event (id integer{key}, kind text, payload jsonb, extra jsonb)")
    # a kind with a raw 0x01 (the staging's CSV quote byte) in the rows tied by their rest
    rows = [(i, f"kind {i % 3}" + ("\x01x\x01" if i % 4 == 0 else ""), payload,
             None if i % 2 else f'{{"n": {i}}}')
            for i, payload in enumerate(PAYLOADS * 5, start=1)]
    source = make_sqlite("CREATE TABLE event (id INTEGER PRIMARY KEY, kind TEXT, payload JSON, "
                         "extra JSON);", {"event": rows})
    plan = plan_for(source, pg_url)
    copy_load(plan, source, pg_url)  # verified as the command verifies
    return plan, source, rows


def run_verify(plan, source, pg_url):
    with contextlib.closing(psycopg2.connect(pg_url)) as conn:
        return verify(plan, source, conn)


def test_postgres_holds_its_own_parse_of_every_source_text(loaded, pg_url):
    _plan, _source, rows = loaded
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, payload::text FROM event ORDER BY id")
        stored = dict(cur.fetchall())
        for row_id, _kind, payload, _extra in rows:
            expected = None
            if payload is not None:
                cur.execute("SELECT (%s)::jsonb::text", (json.dumps(payload)
                                                         if isinstance(payload, float)
                                                         else payload,))
                expected = cur.fetchone()[0]
            assert stored[row_id] == expected, row_id


@pytest.mark.parametrize("change", [
    "UPDATE event SET payload = '{\"a\": \"x\\\"y\\ttab\", \"b\": 1}' WHERE id = 1",
    "UPDATE event SET payload = NULL WHERE id = 3",
    "UPDATE event SET extra = payload, payload = extra WHERE id = 10",
    "UPDATE event SET payload = '[1.5, 100, 0]' WHERE id = 4",
], ids=["value", "to-null", "swapped-between-columns", "numeric-scale"])
def test_a_changed_jsonb_value_is_named(loaded, pg_exec, pg_url, change):
    plan, source, _rows = loaded
    pg_exec(change)
    result = run_verify(plan, source, pg_url)
    assert not result.ok
    [problem] = result.problems
    assert problem.startswith("event: jsonb column(s) "), problem
    assert "differ from Postgres' own parse of the source text" in problem
    assert "rows beginning" in problem


def test_jsonb_moved_to_another_row_is_found(loaded, pg_exec, pg_url):
    """Same multiset of jsonb values, attached to other rows: the rest of the row ties each
    value to its row."""
    plan, source, _rows = loaded
    pg_exec("UPDATE event SET payload = CASE id WHEN 1 THEN (SELECT payload FROM event "
            "WHERE id = 6) ELSE (SELECT payload FROM event WHERE id = 1) END WHERE id IN (1, 6)")
    result = run_verify(plan, source, pg_url)
    assert not result.ok and "payload" in result.problems[0]


def _staging_tables(pg_exec) -> int:
    return pg_exec(r"SELECT count(*) FROM pg_class WHERE relname LIKE '\_cutover\_jsonb%'")[0][0]


def test_verify_leaves_no_staging_table_behind(loaded, pg_exec, pg_url):
    plan, source, _rows = loaded
    assert run_verify(plan, source, pg_url).ok
    assert _staging_tables(pg_exec) == 0


def test_a_role_that_may_not_create_tables_in_the_schema_still_verifies_jsonb(
        loaded, pg_exec, pg_url, pg_server):
    """The staging table is unlogged in the target schema (parallel scans); where the role may
    not create one there, it is temporary, and a changed value is still named."""
    plan, source, _rows = loaded
    admin_url = pg_server.url.rsplit("/", 1)[0] + "/" + pg_url.rsplit("/", 1)[1]
    with contextlib.closing(psycopg2.connect(admin_url)) as admin, admin.cursor() as cur:
        admin.autocommit = True
        cur.execute("ALTER SCHEMA public OWNER TO CURRENT_USER")
        cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        pg_exec("CREATE TABLE probe (id integer)")
    assert run_verify(plan, source, pg_url).ok
    pg_exec("UPDATE event SET payload = '[1.5, 100, 0]' WHERE id = 4")
    result = run_verify(plan, source, pg_url)
    assert not result.ok and result.problems[0].startswith("event: jsonb column(s) payload")
    assert _staging_tables(pg_exec) == 0
