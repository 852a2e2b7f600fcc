"""The migration benchmark on a small source: every step runs for real and its figures add up."""

from __future__ import annotations

import contextlib
import json
import sqlite3

import pytest

from benchmarks.migration.run import Bench, format_table

pytestmark = pytest.mark.requires_pg

ROWS = 2000
STEP_NAMES = [
    "psql \\copy, keys dropped + re-added",
    "psql \\copy, keys in place",
    "pgloader engine",
    "copy engine",
    "migration command, copy engine",
    "preflight alone",
    "verify alone, re-reading SQLite (pgloader-loaded db)",
    "verify alone, re-reading SQLite (copy-loaded db)",
]


@pytest.fixture(scope="module")
def finished_bench(pg_server, tmp_path_factory):
    """One benchmark run of ~2,000 rows on the test server; its databases dropped afterwards."""
    bench = Bench(pg_server.url, tmp_path_factory.mktemp("bench"), ROWS, keep=False,
                  log=lambda text: None)
    try:
        bench.run()
        yield bench
    finally:
        bench.drop_databases()


def test_every_step_runs_and_the_table_lists_it(finished_bench):
    assert [step.name for step in finished_bench.steps] == STEP_NAMES
    table = format_table(finished_bench.steps).splitlines()
    assert len(table) == 2 + len(STEP_NAMES)
    ratios = {line.split(" | ")[0][2:]: line.split(" | ")[3] for line in table[2:]}
    assert [name for name, ratio in ratios.items() if ratio == "—"] == STEP_NAMES[5:]
    assert ratios[STEP_NAMES[0]] == "1.00"


def test_migration_command_row_comes_from_its_report(finished_bench):
    report = json.loads((finished_bench.workdir / "migration-report.json").read_text())
    assert report["status"] == "ok" and report["engine"] == "copy"
    verify_seconds = report["verification"]["seconds"]
    load_seconds = report["load"]["seconds"] - verify_seconds
    step = finished_bench.steps[STEP_NAMES.index("migration command, copy engine")]
    assert f"verify {verify_seconds:.1f} s = {verify_seconds / load_seconds:.2f}× the load" \
        in step.note
    with contextlib.closing(sqlite3.connect(finished_bench.sqlite_path)) as source:
        bookings = source.execute("SELECT count(*) FROM bookings").fetchone()[0]
    assert sum(t["rows"] for t in report["load"]["tables"]) == finished_bench.total_rows
    assert {t["table"]: t["rows"] for t in report["load"]["tables"]}["bookings"] == bookings


def test_check_rows_say_what_they_found(finished_bench):
    notes = {step.name: step.note for step in finished_bench.steps}
    assert notes["preflight alone"] == "9 tables, 0 findings"
    for engine in ("pgloader", "copy"):
        note = notes[f"verify alone, re-reading SQLite ({engine}-loaded db)"]
        assert note.startswith("checksums 9 tables ok; ") and note.endswith(f"the {engine} load")

