"""Percentiles, summaries, the per-scenario recorder and the workload mix of the benchmark."""

from __future__ import annotations

import pytest

from benchmarks.load.config import WORKLOAD_MIX, parse_mix
from benchmarks.load.results import Recorder
from benchmarks.load.stats import summarize, summarize_gauge


def test_percentiles_interpolate_between_ranks_and_one_sample_is_every_percentile():
    summary = summarize([0.0, 0.010])
    assert summary.p50_ms == pytest.approx(5.0)
    assert summary.p95_ms == pytest.approx(9.5)
    single = summarize([0.007])
    assert single.p50_ms == single.p99_ms == single.max_ms == pytest.approx(7.0)


def test_summarize_sorts_and_converts_seconds_to_milliseconds():
    summary = summarize([0.3, 0.1, 0.2, 0.4])
    assert summary.count == 4
    assert summary.p50_ms == pytest.approx(250.0)
    assert summary.max_ms == pytest.approx(400.0)
    assert summary.mean_ms == pytest.approx(250.0)
    assert summary.p50_ms <= summary.p95_ms <= summary.p99_ms <= summary.max_ms


def test_an_empty_sample_set_has_no_figures():
    assert summarize([]).p99_ms is None
    gauge = summarize_gauge([])
    assert (gauge.samples, gauge.max, gauge.mean) == (0, None, None)
    assert summarize_gauge([2, 4, 3]).max == 4


def test_recorder_counts_409_as_conflict_not_error_and_excludes_ws_from_http():
    recorder = Recorder()
    recorder.ok("list_rooms", 0.010)
    recorder.conflict("create_booking", 0.020)
    recorder.error("create_booking", "5xx", "POST /bookings -> 500: boom", seconds=0.030,
                   status=500)
    recorder.ok("ws_message", 0.5)
    assert recorder.requests() == 3
    assert recorder.requests(http_only=False) == 4
    assert recorder.conflicts() == 1
    assert recorder.errors_by_kind() == {"5xx": 1, "timeout": 0, "connection": 0, "4xx": 0,
                                         "ws": 0}
    assert recorder.http_latency().max_ms == pytest.approx(30.0)
    assert recorder.per_op()["create_booking"].outcomes == {"conflict": 1, "5xx": 1}
    [(sample, count)] = recorder.top_errors()
    assert (sample.op, sample.status, count) == ("create_booking", 500, 1)


def test_recorder_absorbs_set_up_failures_without_their_latencies():
    setup, main = Recorder(), Recorder()
    setup.ok("login", 1.0)
    setup.error("ws_message", "ws", "handshake: closed 4401")
    main.absorb_failures(setup)
    assert main.errors_by_kind()["ws"] == 1
    assert main.requests() == 0
    assert main.top_errors()[0][0].detail == "handshake: closed 4401"


def test_recorder_refuses_an_unknown_error_kind():
    with pytest.raises(ValueError, match="unknown error kind"):
        Recorder().error("login", "oops", "x")


def test_mix_overrides_named_weights_and_keeps_the_others():
    mix = dict(parse_mix("login=0, upload=3"))
    assert mix["login"] == 0 and mix["upload"] == 3
    assert mix["create_booking"] == WORKLOAD_MIX["create_booking"]


@pytest.mark.parametrize("text, complaint", [
    ("logout=1", "unknown operation 'logout'"),
    ("login=-1", "whole number"),
    (",".join(f"{op}=0" for op in WORKLOAD_MIX), "every weight"),
])
def test_mix_refuses_unknown_operations_bad_weights_and_an_empty_mix(text, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_mix(text)
