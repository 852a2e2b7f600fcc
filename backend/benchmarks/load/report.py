"""The printed figures: Markdown tables of the load scenarios and the storm, and the targets."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.load.results import ScenarioResult, StormResult
from benchmarks.load.stats import GaugeSummary, LatencySummary
from foundation.text_tables import render_table

SPEEDUP_TARGET = 1.3
QUERIES_PER_TOKEN_TARGET = 1.0


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _triple(latency: LatencySummary) -> str:
    return f"{_ms(latency.p50_ms)} / {_ms(latency.p95_ms)} / {_ms(latency.p99_ms)}"


def _gauge(gauge: GaugeSummary) -> str:
    return "n/a" if gauge.max is None else f"{gauge.max} / {gauge.mean:.1f}"


def _connections(result: ScenarioResult) -> str:
    if result.db_connections.max is None:
        return "n/a"
    return f"{_gauge(result.db_connections)} ({result.db_busy.max})"


def _percent(cpu_s: float | None, wall_s: float) -> str:
    return "n/a" if cpu_s is None or wall_s <= 0 else f"{100.0 * cpu_s / wall_s:.0f} %"


def load_table(results: Sequence[ScenarioResult]) -> str:
    """One row per scenario: throughput, latency, errors, conflicts, connections, CPU."""
    header = ["scenario", "workers", "clients", "requests", "req/s", "p50 / p95 / p99 ms",
              "errors 5xx/timeout/conn/4xx/ws", "409 (expected)", "DB conns max / mean (busy max)",
              "CPU (% of 1 core) API / DB / generator / others"]
    rows = []
    for r in results:
        errors = r.errors
        rows.append([r.scenario, str(r.workers), str(r.clients), str(r.requests),
                     f"{r.requests_per_s:.1f}", _triple(r.latency),
                     f"{r.error_total} ({errors['5xx']}/{errors['timeout']}/"
                     f"{errors['connection']}/{errors['4xx']}/{errors['ws']})",
                     str(r.conflicts), _connections(r),
                     " / ".join(_percent(cpu, r.cpu_span_s) for cpu in (
                         r.server_cpu_s, r.database_cpu_s, r.generator_cpu_s, r.others_cpu_s))])
    return render_table(header, rows)


def websocket_table(results: Sequence[ScenarioResult]) -> str:
    """Chat messages per scenario: sent, delivered of expected, echo and delivery latency."""
    header = ["scenario", "messages sent", "delivered / expected", "echo p50 / p95 / p99 ms",
              "delivery p50 / p95 / p99 ms"]
    rows = [[r.scenario, str(r.ws_sent), f"{r.ws_delivered} / {r.ws_expected}",
             _triple(r.ws_echo), _triple(r.ws_delivery)] for r in results]
    return render_table(header, rows)


def operations_table(result: ScenarioResult) -> str:
    """Per operation of one scenario: count, outcomes and latency."""
    header = ["operation", "count", "outcomes", "p50 / p95 / p99 ms"]
    rows = []
    for op, figures in result.per_op.items():
        outcomes = ", ".join(f"{kind} {count}" for kind, count in sorted(figures.outcomes.items()))
        rows.append([op, str(sum(figures.outcomes.values())), outcomes, _triple(figures.latency)])
    return render_table(header, rows)


def _per(value: int | None, per: int) -> str:
    return "n/a" if value is None or per == 0 else f"{value} ({value / per:.2f})"


def storm_table(storm: StormResult) -> str:
    """The storm's two phases: handshake latency, failures, database work."""
    header = ["phase", "handshakes ok", "open after", "handshake p50 / p95 / p99 ms", "max ms",
              "users scans = identity lookups (per token)", "thread_members scans (per token)",
              "all DB transactions (per handshake)"]
    rows = []
    phases = (("first connect", storm.first_connect, storm.first_queries, storm.open_after[0]),
              ("drop + reconnect", storm.reconnect, storm.reconnect_queries, storm.open_after[1]))
    for phase, latency, queries, still_open in phases:
        rows.append([phase, f"{latency.count} / {storm.sockets}", str(still_open), _triple(latency),
                     _ms(latency.max_ms), _per(queries.user_scans, storm.distinct_tokens),
                     _per(queries.member_scans, storm.distinct_tokens),
                     _per(queries.transactions, latency.count)])
    return render_table(header, rows)


def storm_verdict(storm: StormResult) -> str | None:
    """Identity lookups per distinct token in the worse phase, per worker (each has its cache)."""
    phases = [storm.first_queries.user_scans, storm.reconnect_queries.user_scans]
    if None in phases:
        return None
    worst = max(phases)
    per_token = worst / storm.distinct_tokens
    per_worker = per_token / storm.workers
    met = "met" if per_worker <= QUERIES_PER_TOKEN_TARGET else "NOT met"
    return (f"Reconnect storm: at most {per_token:.2f} identity lookups per distinct token per "
            f"phase (each phase within the {storm.cache_ttl_s:.0f} s cache TTL) with "
            f"{storm.workers} workers = {per_worker:.2f} per token per worker cache "
            f"(target <= {QUERIES_PER_TOKEN_TARGET:.0f} per token per cache TTL): {met}")


def verdicts(results: Sequence[ScenarioResult], storm: StormResult | None) -> list[str]:
    """Each target with the measured figure and whether it was met (never assumed)."""
    lines = []
    on_pg = [r for r in results if r.backend == "postgresql"]
    if on_pg:
        errors = sum(r.error_total for r in on_pg)
        lines.append(f"No errors on PostgreSQL at any worker count: "
                     f"{'met' if errors == 0 else f'NOT met ({errors} errors)'}")
    single = next((r for r in on_pg if r.workers == 1), None)
    multi = next((r for r in on_pg if r.workers > 1), None)
    if single and multi and single.requests_per_s > 0:
        ratio = multi.requests_per_s / single.requests_per_s
        met = "met" if ratio >= SPEEDUP_TARGET else "NOT met"
        lines.append(f"PostgreSQL {multi.workers} workers vs 1 worker throughput: {ratio:.2f}x "
                     f"(target >= {SPEEDUP_TARGET}x): {met}")
    verdict = storm_verdict(storm) if storm is not None else None
    if verdict:
        lines.append(verdict)
    return lines


def error_lines(results: Sequence[ScenarioResult], storm: StormResult | None) -> list[str]:
    """What failed, as the clients saw it (distinct messages, most frequent first)."""
    lines = []
    for r in results:
        for sample, count in r.error_samples:
            status = f" {sample.status}" if sample.status else ""
            lines.append(f"{r.scenario}: {count}x {sample.op} {sample.kind}{status}: "
                         f"{sample.detail}")
    if storm is not None:
        lines.extend(f"storm: {count}x {detail}" for detail, count in storm.failure_samples)
    return lines


def render(results: Sequence[ScenarioResult], storm: StormResult | None, *, detail: bool) -> str:
    """The whole printed report."""
    parts = []
    if results:
        parts += ["HTTP (measured window; latency of every request incl. 409):",
                  load_table(results), "", "Chat over WebSocket (one socket per client):",
                  websocket_table(results)]
    if detail:
        for r in results:
            parts += ["", f"Operations, {r.scenario}:", operations_table(r)]
    if storm is not None:
        parts += ["", f"Reconnect storm: {storm.sockets} sockets over {storm.distinct_tokens} "
                  f"tokens, jitter {storm.jitter_s:.1f} s, {storm.backend}, {storm.workers} "
                  f"workers; failures {storm.failures or 'none'}; DB conns max / mean "
                  f"{_gauge(storm.db_connections)}", storm_table(storm)]
    errors = error_lines(results, storm)
    if errors:
        parts += ["", "Errors seen by the clients:", *(f"- {line}" for line in errors)]
    checks = verdicts(results, storm)
    if checks:
        parts += ["", "Targets:", *(f"- {line}" for line in checks)]
    return "\n".join(parts)
