"""The database probes on a real PostgreSQL: connections in use, and queries that read users."""

from __future__ import annotations

import contextlib
import time

import psycopg2
import pytest

from benchmarks.load.database import Target, upgrade_bench_schema
from benchmarks.load.probe import ConnectionSampler, counters_delta, read_counters
from benchmarks.load.results import QueryCounts

pytestmark = pytest.mark.requires_pg

STATS_WAIT_S = 15.0


def wait_for_user_scans(target: Target, before: QueryCounts, at_least: int) -> QueryCounts:
    """Backends publish statistics when they exit: poll (bounded) until they have."""
    deadline = time.monotonic() + STATS_WAIT_S
    while True:
        after = read_counters(target)
        if after.user_scans - before.user_scans >= at_least or time.monotonic() > deadline:
            return after
        time.sleep(0.2)


def test_sampler_sees_the_open_connections_and_counters_see_three_user_queries(pg_server,
                                                                                pg_url):
    upgrade_bench_schema(pg_url)
    target = Target("postgresql", pg_url, pg_url.rsplit("/", 1)[-1], pg_server.url)
    before = read_counters(target)
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(contextlib.closing(psycopg2.connect(pg_url)))
                for _ in range(3)]
        with ConnectionSampler(target, interval=0.05) as sampler:
            with held[0].cursor() as cur:
                for _ in range(3):
                    cur.execute("SELECT count(*) FROM users")
                    held[0].commit()
            deadline = time.monotonic() + 5
            while len(sampler.open_counts) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
    after = wait_for_user_scans(target, before, at_least=3)
    assert sampler.failure is None
    assert sampler.connections().max == 3
    assert sampler.backend_cpu.seconds() is not None  # the server runs on this machine
    delta = counters_delta(before, after)
    assert delta.user_scans == 3
    assert delta.member_scans == 0
    assert delta.transactions >= 3


def test_on_sqlite_nothing_is_sampled_or_counted(tmp_path):
    target = Target("sqlite", f"sqlite:///{tmp_path / 'x.db'}")
    with ConnectionSampler(target, interval=0.05) as sampler:
        pass
    assert sampler.connections().max is None
    assert read_counters(target) == QueryCounts(None, None, None)
