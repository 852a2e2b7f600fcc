"""The printed report: tables line up, targets are judged from the figures, never assumed."""

from __future__ import annotations

import dataclasses

from benchmarks.load.report import render, verdicts
from benchmarks.load.results import ErrorSample, QueryCounts, ScenarioResult, StormResult
from benchmarks.load.stats import summarize, summarize_gauge
from foundation.text_tables import render_table

NO_ERRORS = {"5xx": 0, "timeout": 0, "connection": 0, "4xx": 0, "ws": 0}


def load_result(scenario: str, workers: int, requests_per_s: float, **changes) -> ScenarioResult:
    result = ScenarioResult(
        scenario=scenario, backend="sqlite" if scenario.startswith("sqlite") else "postgresql",
        workers=workers, clients=16, wall_s=20.0, requests=int(requests_per_s * 20),
        requests_per_s=requests_per_s, latency=summarize([0.01, 0.02, 0.05]),
        errors=dict(NO_ERRORS), conflicts=3, ws_sent=10, ws_delivered=160, ws_expected=160,
        ws_delivery=summarize([0.01]), ws_echo=summarize([0.01]),
        db_connections=summarize_gauge([3, 5]), db_busy=summarize_gauge([1, 2]),
        cpu_span_s=22.0, server_cpu_s=30.0, generator_cpu_s=10.0, database_cpu_s=None,
        machine_cpu_s=41.0, per_op={})
    return dataclasses.replace(result, **changes)


def storm_result(first_user_scans: int, reconnect_user_scans: int, workers: int = 2) -> StormResult:
    return StormResult(
        backend="postgresql", workers=workers, sockets=500, distinct_tokens=50, jitter_s=2.0,
        cache_ttl_s=30.0, first_connect=summarize([0.01] * 500),
        reconnect=summarize([0.02] * 500), failures={},
        first_queries=QueryCounts(700, first_user_scans, first_user_scans),
        reconnect_queries=QueryCounts(600, reconnect_user_scans, reconnect_user_scans),
        db_connections=summarize_gauge([4]))


def test_table_pads_every_column_to_its_widest_cell():
    lines = render_table(["a", "long header"], [["wide cell", "1"], ["x", "22"]]).splitlines()
    assert lines[0] == "| a         | long header |"
    assert lines[1] == "|-----------|-------------|"
    assert len({len(line) for line in lines}) == 1


def test_speedup_target_is_judged_from_the_measured_throughputs():
    met = verdicts([load_result("pg-1w", 1, 100.0), load_result("pg-Nw", 2, 140.0)], None)
    assert "1.40x" in met[1] and met[1].endswith(": met")
    missed = verdicts([load_result("pg-1w", 1, 100.0), load_result("pg-Nw", 2, 110.0)], None)
    assert missed[1].endswith("NOT met")


def test_any_error_on_postgres_fails_the_no_error_target_but_sqlite_errors_do_not():
    sqlite_broken = load_result("sqlite-1w", 1, 50.0, errors={**NO_ERRORS, "5xx": 7})
    pg_fine = load_result("pg-1w", 1, 100.0)
    assert verdicts([sqlite_broken, pg_fine], None)[0].endswith(": met")
    pg_broken = load_result("pg-Nw", 2, 100.0, errors={**NO_ERRORS, "timeout": 1})
    assert "NOT met (1 errors)" in verdicts([pg_fine, pg_broken], None)[0]


def test_storm_target_counts_lookups_per_token_per_worker_in_the_worse_phase():
    within = verdicts([], storm_result(first_user_scans=100, reconnect_user_scans=0))
    assert "1.00 per token per worker" in within[0] and within[0].endswith(": met")
    beyond = verdicts([], storm_result(first_user_scans=100, reconnect_user_scans=500))
    assert "5.00 per token per worker" in beyond[0] and beyond[0].endswith("NOT met")


def test_render_lists_the_errors_the_clients_saw():
    sample = ErrorSample("create_booking", "5xx", 500, "POST /bookings -> 500: database is locked")
    broken = load_result("sqlite-1w", 1, 50.0, errors={**NO_ERRORS, "5xx": 4},
                         error_samples=[(sample, 4)])
    text = render([broken], storm_result(50, 0), detail=False)
    assert "sqlite-1w: 4x create_booking 5xx 500: POST /bookings -> 500: database is locked" in text
    assert "| first connect" in text and "| drop + reconnect" in text
    assert "4 (4/0/0/0/0)" in text
