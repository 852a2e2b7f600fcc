"""``monitor``: after the flip, watch database connections, API latency and errors for N seconds.

Every interval it samples ``pg_stat_activity`` (connections by state in the API's database,
against the pool limit ``workers × (DB_POOL_SIZE + DB_MAX_OVERFLOW)``) and probes ``/readyz``
(latency p50/p95 and error rate so far). On a terminal the table redraws in place; otherwise one
plain line per sample. The task exits non-zero when a threshold was crossed.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from dataclasses import dataclass, field

import httpx
import psycopg2
from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table

from foundation.database_urls import libpq_url, redact_url
from foundation.text_tables import rich_table
from runbook.api_env_file import current_database_url
from runbook.config import RunbookConfig, config_from
from runbook.errors import RunbookError, runbook_task
from runbook.shell import Shell

PROBES_PER_SAMPLE = 5
PROBE_TIMEOUT_S = 5.0


@dataclass
class MonitorState:
    """Everything measured so far."""

    pool_limit: int
    latencies_ms: list[float] = field(default_factory=list)
    probes: int = 0
    errors: int = 0
    max_connections_seen: int = 0
    last_states: dict[str, int] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        return self.errors / self.probes if self.probes else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return 0.0
        if len(self.latencies_ms) == 1:
            return self.latencies_ms[0]
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[
            round(fraction * 100) - 1]


def connections_by_state(url: str) -> dict[str, int]:
    """Connections to the API's database grouped by state (our own session excluded)."""
    with contextlib.closing(psycopg2.connect(libpq_url(url), connect_timeout=5)) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "GROUP BY 1 ORDER BY 1")
            return {state: count for state, count in cur.fetchall()}


def probe(client: httpx.Client, state: MonitorState) -> None:
    started = time.perf_counter()
    try:
        ok = client.get("/readyz", timeout=PROBE_TIMEOUT_S).status_code == 200
    except httpx.HTTPError:
        ok = False
    state.latencies_ms.append((time.perf_counter() - started) * 1000)
    state.probes += 1
    state.errors += 0 if ok else 1


def sample(client: httpx.Client, db_url: str, state: MonitorState) -> None:
    for _ in range(PROBES_PER_SAMPLE):
        probe(client, state)
    state.last_states = connections_by_state(db_url)
    state.max_connections_seen = max(state.max_connections_seen, sum(state.last_states.values()))


def summary_line(state: MonitorState, elapsed: float) -> str:
    states = " ".join(f"{name}={count}" for name, count in sorted(state.last_states.items()))
    total = sum(state.last_states.values())
    return (f"t={elapsed:5.1f}s conns {total}/{state.pool_limit} ({states or 'none'}) "
            f"p50 {state.percentile(0.5):6.1f} ms p95 {state.percentile(0.95):6.1f} ms "
            f"errors {state.errors}/{state.probes} ({state.error_rate:.1%})")


def monitor_table(state: MonitorState, elapsed: float) -> Table:
    """The live view: connections (and one row per state), then latency and errors."""
    total = sum(state.last_states.values())
    rows = [("connections", f"{total} / {state.pool_limit}")]
    rows += [(f"  {name}", str(count)) for name, count in sorted(state.last_states.items())]
    rows += [("latency p50 / p95", f"{state.percentile(0.5):.1f} / "
                                   f"{state.percentile(0.95):.1f} ms"),
             ("errors", f"{state.errors} / {state.probes} ({state.error_rate:.1%})")]
    return rich_table(("", "now"), rows, right=(1,), title=f"monitor  t={elapsed:5.1f} s",
                      table_box=box.SIMPLE)


class LiveTable:
    """The monitor table, redrawn in place on a terminal (rich ``Live``)."""

    def __init__(self, console: Console | None = None) -> None:
        self._live = Live(console=console or Console(), auto_refresh=False)

    def __enter__(self) -> LiveTable:
        self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.stop()

    def draw(self, state: MonitorState, elapsed: float) -> None:
        self._live.update(monitor_table(state, elapsed), refresh=True)


def violations(state: MonitorState, cfg: RunbookConfig) -> list[str]:
    found = []
    if state.max_connections_seen > state.pool_limit:
        found.append(f"connections peaked at {state.max_connections_seen}, "
                     f"above the pool limit {state.pool_limit}")
    if state.percentile(0.95) > cfg.max_p95_ms:
        found.append(f"p95 latency {state.percentile(0.95):.1f} ms > {cfg.max_p95_ms:.0f} ms")
    if state.error_rate > cfg.max_error_rate:
        found.append(f"error rate {state.error_rate:.1%} > {cfg.max_error_rate:.1%}")
    return found


def run_monitor(shell: Shell, cfg: RunbookConfig, seconds: float, interval: float,
                live: bool | None = None) -> MonitorState:
    """Sample for ``seconds``; raise RunbookError naming every threshold crossed."""
    db_url = current_database_url(cfg)
    if db_url.startswith("sqlite"):
        raise RunbookError("the API's env file names SQLite; monitor watches a PostgreSQL "
                           "database (run it after flip)")
    state = MonitorState(pool_limit=cfg.api_workers * cfg.pool_limit_per_worker)
    shell.say(f"monitoring {cfg.api_url} and {redact_url(db_url)} for {seconds:.0f} s "
              f"(p95 ≤ {cfg.max_p95_ms:.0f} ms, errors ≤ {cfg.max_error_rate:.1%}, "
              f"connections ≤ {state.pool_limit})")
    on_terminal = sys.stdout.isatty() if live is None else live
    started = time.monotonic()
    with httpx.Client(base_url=cfg.api_url) as client, contextlib.ExitStack() as stack:
        live_table = stack.enter_context(LiveTable()) if on_terminal else None
        while (elapsed := time.monotonic() - started) < seconds or state.probes == 0:
            sample(client, db_url, state)
            now = time.monotonic() - started
            if live_table:
                live_table.draw(state, now)
            else:
                print(summary_line(state, now), flush=True)
            time.sleep(max(0.0, min(interval, seconds - elapsed)))
    problems = violations(state, cfg)
    if problems:
        raise RunbookError("monitor thresholds crossed: " + "; ".join(problems))
    shell.say(f"monitor ok: {summary_line(state, time.monotonic() - started)}")
    return state


@runbook_task(help={
    "seconds": "how long to watch",
    "interval": "seconds between samples",
    "workers": "API worker processes, for the pool limit (default: API_WORKERS)",
    "max_p95_ms": "fail when /readyz p95 latency exceeds this (default: MONITOR_MAX_P95_MS)",
    "max_error_rate": "fail above this error fraction (default: MONITOR_MAX_ERROR_RATE)",
})
def monitor(ctx, seconds: int = 60, interval: int = 2, workers: int | None = None,
            max_p95_ms: float | None = None, max_error_rate: float | None = None) -> None:
    """[cutover 6b] Monitor: DB connections by state vs pool limit, API p50/p95, error rate."""
    cfg = config_from(ctx).with_overrides(api_workers=workers, max_p95_ms=max_p95_ms,
                                          max_error_rate=max_error_rate)
    run_monitor(Shell(), cfg, seconds, interval)
