"""The migration benchmark on a small source: every step runs for real and its figures add up.

One run of the JSON-heavy shape (the app's tables plus the hand-written jsonb chat table), so
both kinds of table go through every step; no timed assertions.
"""

from __future__ import annotations

import contextlib
import json
import re

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from benchmarks.migration.limit import psql_scripts
from benchmarks.migration.measure import Measurement
from benchmarks.migration.results import Step, format_table, median_steps, split_from_report
from benchmarks.migration.run import (
    DUCKDB,
    KEYS_IN_PLACE,
    LIMIT,
    PGLOADER_ALONE,
    STEP_NAMES,
    Bench,
    parse_args,
)
from benchmarks.migration.shapes import SHAPES
from foundation.database_urls import libpq_url
from sqlite_to_pg.constraints import save_foreign_keys, take_snapshot
from sqlite_to_pg.indexes import save_indexes
from sqlite_to_pg.sequences import sequence_states

pytestmark = pytest.mark.requires_pg

COPY_COMMAND = "migration command, copy engine"

ROWS = 1000


@pytest.fixture(scope="module")
def finished_bench(pg_server, tmp_path_factory):
    """One benchmark run of ~1,000 rows on the test server; its databases dropped afterwards."""
    logged: list[str] = []
    bench = Bench(pg_server.url, tmp_path_factory.mktemp("bench"), ROWS, SHAPES["json"],
                  log=logged.append)
    bench.logged = logged
    try:
        bench.run()
        yield bench
    finally:
        bench.drop_databases()


def _cursor(url: str):
    conn = psycopg2.connect(libpq_url(url))
    return contextlib.closing(conn), conn.cursor()


def test_every_step_runs_and_the_table_lists_it(finished_bench):
    assert [step.name for step in finished_bench.steps] == STEP_NAMES
    started = [line.removesuffix(" …") for line in finished_bench.logged if line.endswith(" …")]
    assert started == [LIMIT, COPY_COMMAND, PGLOADER_ALONE, "migration command, pgloader engine",
                       KEYS_IN_PLACE, DUCKDB]  # each ratio with a target: of neighbours
    assert finished_bench.total_rows == ROWS
    table = format_table(finished_bench.steps)
    print(table)
    rows = table.splitlines()[2:]
    assert [row.split(" | ")[0][2:] for row in rows] == STEP_NAMES
    assert rows[0].split(" | ")[3] == "1.00"
    for step in finished_bench.steps:
        assert step.measurement.seconds > 0 and step.measurement.peak_rss > 0
        assert step.rows == ROWS


@pytest.mark.parametrize("engine", ["copy", "pgloader"])
def test_migration_command_rows_come_from_their_reports(finished_bench, engine):
    report = json.loads((finished_bench.workdir / f"json-migration-{engine}.json").read_text())
    assert report["status"] == "ok" and report["engine"] == engine
    step = finished_bench.steps[STEP_NAMES.index(f"migration command, {engine} engine")]
    assert step.split == split_from_report(report)
    before, load, verify = step.split
    assert before > 0 and load > 0 and verify > 0
    assert before + load + verify == pytest.approx(report["seconds"])
    assert sum(t["rows"] for t in report["load"]["tables"]) == ROWS
    assert {t["table"] for t in report["load"]["tables"]} >= {"chat_events", "bookings"}


def test_the_limit_drops_and_rebuilds_every_key_and_index(finished_bench):
    plan = finished_bench.plan
    with contextlib.closing(psycopg2.connect(libpq_url(finished_bench.plan_url))) as conn, \
            conn.cursor() as cur:
        keys = save_foreign_keys(cur, plan.schema, plan.table_names)
        indexes = save_indexes(cur, plan.schema, plan.table_names)
        made = take_snapshot(cur, plan.schema)
    scripts = psql_scripts(finished_bench.plan_url, plan, {t.name: t.name for t in plan.tables})
    limit, kept = scripts["limit"], scripts["keys in place"]
    assert len(re.findall(r"DROP (CONSTRAINT|INDEX)", limit)) == len(keys) + len(indexes)
    assert any(index.constraint for index in indexes)  # primary keys are dropped too
    assert "DROP" not in kept and "ADD CONSTRAINT" not in kept
    for script in (limit, kept):
        assert script.count("WITH (FREEZE)") == len(plan.tables)
        assert "reset_sequences.sql" in script
    with contextlib.closing(psycopg2.connect(
            libpq_url(finished_bench.step_databases[LIMIT]))) as conn, conn.cursor() as cur:
        assert take_snapshot(cur, plan.schema) == made
        assert all(state.ahead for state in sequence_states(cur, plan.schema))


@pytest.mark.parametrize("step", [LIMIT, KEYS_IN_PLACE, DUCKDB])
def test_peer_loads_hold_the_json_rows(finished_bench, step):
    with contextlib.closing(psycopg2.connect(
            libpq_url(finished_bench.step_databases[step]))) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), count(payload), "
                    "count(*) FILTER (WHERE jsonb_typeof(payload) = 'object') FROM chat_events")
        total, with_payload, objects = cur.fetchone()
    assert total == ROWS // 2 and 0 < with_payload == objects < total


def test_help_names_every_shape_and_option(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = capsys.readouterr().out
    for word in ("--rows", "--shape", "--workdir", "--keep", "--rounds", "warm-up", *SHAPES,
                 "FREEZE", "DuckDB"):
        assert word in text


def test_rounds_take_turns_and_each_step_shows_its_median_round(pg_server, tmp_path):
    """Two rounds after the untimed warm-up: each step's row is its median (the faster of two)
    and notes both rounds; the first round's databases are gone, the last round's kept."""
    bench = Bench(pg_server.url, tmp_path, ROWS, SHAPES["json"], log=lambda text: None,
                  steps=frozenset({"copy-command"}))
    try:
        bench.run(rounds=2)
        assert (tmp_path / "json-warm-up.sql").exists()
        assert [[step.name for step in steps] for steps in bench.rounds] == \
            [[LIMIT, COPY_COMMAND]] * 2
        for position, step in enumerate(bench.steps):
            walls = [steps[position].measurement.seconds for steps in bench.rounds]
            assert step.measurement.seconds == min(walls)
            assert f"median of 2 rounds: {walls[0]:.1f} / {walls[1]:.1f} s" in step.note
        ratios = [steps[1].measurement.seconds / steps[0].measurement.seconds
                  for steps in bench.rounds]
        assert bench.steps[1].note.endswith(
            f"× that round's limit: {ratios[0]:.2f} / {ratios[1]:.2f}")
        assert "×" not in bench.steps[0].note
        assert bench.steps[1].note.startswith("verified 10 tables; ")
        with contextlib.closing(psycopg2.connect(libpq_url(pg_server.url))) as conn, \
                conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database")
            names = {row[0] for row in cur.fetchall()}
        assert {make_url(url).database for url in bench.step_databases.values()} <= names
        assert len(bench.databases) == 3  # the plan's, the last limit's and command's
        with contextlib.closing(psycopg2.connect(libpq_url(
                bench.step_databases[COPY_COMMAND]))) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND "
                        "'autovacuum_enabled=false' = ANY (reloptions)")
            assert cur.fetchone()[0] == len(bench.plan.tables)  # kept, autovacuum off
    finally:
        bench.drop_databases()


def test_median_round_is_the_lower_middle():
    def step(seconds: float) -> Step:
        return Step("s", Measurement(seconds, 0, 1), 10)

    rounds = [[step(1.0), step(3.0)], [step(1.0), step(1.0)], [step(2.0), step(2.0)],
              [step(3.0), step(9.0)]]
    limit, median = median_steps(rounds)
    assert (limit.measurement.seconds, median.measurement.seconds) == (1.0, 2.0)
    assert limit.note == "median of 4 rounds: 1.0 / 1.0 / 2.0 / 3.0 s"
    assert median.note == ("median of 4 rounds: 3.0 / 1.0 / 2.0 / 9.0 s; "
                           "× that round's limit: 3.00 / 1.00 / 1.00 / 3.00")


@pytest.mark.parametrize("rounds", ["0", "-2", "two"])
def test_rounds_must_be_a_whole_number_of_at_least_one(rounds, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--rounds", rounds])
    assert "is not a whole number of at least 1" in capsys.readouterr().err
