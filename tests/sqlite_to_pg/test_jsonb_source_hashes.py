"""The jsonb columns' source side, hashed by Postgres on a second connection while the load
rebuilds its indexes: it agrees with the target's hash after a true load, a changed value
still fails verify (and is named), and when the background work fails or is stopped, verify
stages the source itself; nothing is left behind."""

from __future__ import annotations

import contextlib
import time

import psycopg2
import pytest
from pgloader_support import copy_load, plan_for

from sqlite_to_pg.jsonb_source_hashes import JsonbSourceHashes
from sqlite_to_pg.jsonb_verify import apart_columns, target_hash
from sqlite_to_pg.values import apply_session_settings
from sqlite_to_pg.verify import verify

pytestmark = pytest.mark.requires_pg

ROWS = 30_000  # more than one reader chunk, so the background COPY streams for a while


def _body(i: int) -> str:
    """A row's JSON; every 1000th holds a negative zero, which the readers leave to
    Postgres to print (``native_rows.jsonb_text``), so this table's jsonb source side is
    hashed here."""
    scale = ', "scale": -0' if i % 1000 == 0 else ""
    return f'{{"n": {i}, "tags": ["a", "b\\n"], "pretty":\n [{i % 7}]{scale}}}'


@pytest.fixture
def loaded(make_sqlite, pg_exec, pg_url):
    pg_exec("CREATE TABLE doc (id integer PRIMARY KEY, title text, body jsonb NOT NULL)")
    rows = [(i, f"title {i}", _body(i)) for i in range(1, ROWS + 1)]
    source = make_sqlite("CREATE TABLE doc (id INTEGER PRIMARY KEY, title TEXT, body JSON);",
                         {"doc": rows})
    plan = plan_for(source, pg_url)
    engine = copy_load(plan, source, pg_url)
    [future] = engine.source_checksums.apart.values()
    assert future.done() and future.exception() is None  # the load's verify used it
    return plan, source, engine.source_checksums


def _target_hash(pg_url, table):
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        apply_session_settings(cur)
        return target_hash(cur, table, apart_columns(table))


def _run_verify(plan, source, pg_url, checksums):
    with contextlib.closing(psycopg2.connect(pg_url)) as conn:
        return verify(plan, source, conn, source_checksums=checksums)


def test_the_background_hash_agrees_with_the_target_after_the_load(loaded, pg_url):
    plan, source, checksums = loaded
    [table] = plan.tables
    [future] = checksums.apart.values()
    assert future.result() == _target_hash(pg_url, table)
    assert future.result()[0] == ROWS


def test_a_value_changed_after_the_hash_is_still_named(loaded, pg_exec, pg_url):
    """The known source hash no longer matches the target: verify stages the source itself
    and names the column and the row."""
    plan, source, checksums = loaded
    pg_exec("""UPDATE doc SET body = '{"n": 5, "tags": ["a", "b"], "pretty": [5]}' WHERE id = 5""")
    result = _run_verify(plan, source, pg_url, checksums)
    assert not result.ok
    [problem] = result.problems
    assert problem.startswith("doc: jsonb column(s) body differ"), problem
    assert "rows beginning 5" in problem


def test_when_the_background_work_fails_verify_stages_the_source_itself(
        loaded, pg_exec, pg_url):
    plan, source, checksums = loaded
    broken = JsonbSourceHashes(source, pg_url.rsplit("/", 1)[0] + "/no_such_database",
                               plan.tables)
    with broken:
        checksums.apart = broken.start()
    [future] = checksums.apart.values()
    assert isinstance(future.exception(), psycopg2.OperationalError)
    assert _run_verify(plan, source, pg_url, checksums).ok
    pg_exec("UPDATE doc SET body = '[]' WHERE id = 7")
    assert "body" in _run_verify(plan, source, pg_url, checksums).problems[0]


def test_stopping_it_early_cancels_and_leaves_nothing(loaded, pg_exec, pg_url):
    plan, source, _checksums = loaded
    with JsonbSourceHashes(source, pg_url, plan.tables) as hashes:
        futures = hashes.start()
    [future] = futures.values()
    assert future.done()  # a result, or cancelled / failed: never left waiting
    for _ in range(50):  # the closed connection's backend exits just after
        if not pg_exec("SELECT count(*) FROM pg_stat_activity "
                       "WHERE application_name = 'cutover-jsonb-source-hashes'")[0][0]:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the background connection is still open")


def test_a_table_without_jsonb_starts_nothing(make_sqlite, pg_exec, pg_url):
    pg_exec("CREATE TABLE plain (id integer PRIMARY KEY, name text)")
    source = make_sqlite("CREATE TABLE plain (id INTEGER PRIMARY KEY, name TEXT);",
                         {"plain": [(1, "a")]})
    with JsonbSourceHashes(source, pg_url, plan_for(source, pg_url).tables) as hashes:
        assert hashes.start() == {}
