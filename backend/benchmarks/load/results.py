"""What a benchmark run records: per-operation outcomes while it runs, figures when it is done."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from benchmarks.load.stats import GaugeSummary, LatencySummary, summarize

ERROR_KINDS = ("5xx", "timeout", "connection", "4xx", "ws")
MAX_ERROR_SAMPLES = 8


@dataclass(frozen=True)
class ErrorSample:
    """One distinct failure as seen by a client: which operation, what kind, what it said."""

    op: str
    kind: str
    status: int | None
    detail: str


class Recorder:
    """Collects each operation's latency and outcome (one recorder per scenario)."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.deliveries: list[float] = []
        self.ws_sent = 0
        self.ws_expected_deliveries = 0
        self.clients_running = 0  # clients that logged in and ran in the measured window
        self.error_samples: Counter[ErrorSample] = Counter()

    def ok(self, op: str, seconds: float) -> None:
        """A request that got the answer it should."""
        self.latencies[op].append(seconds)
        self.outcomes[(op, "ok")] += 1

    def conflict(self, op: str, seconds: float) -> None:
        """A booking refused with 409 by the overlap check: expected, not an error."""
        self.latencies[op].append(seconds)
        self.outcomes[(op, "conflict")] += 1

    def error(self, op: str, kind: str, detail: str, *, seconds: float | None = None,
              status: int | None = None) -> None:
        """A failure of ``kind`` (one of ERROR_KINDS); its latency counts when there was one."""
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        if seconds is not None:
            self.latencies[op].append(seconds)
        self.outcomes[(op, kind)] += 1
        self.error_samples[ErrorSample(op, kind, status, detail[:300])] += 1

    def message_sent(self, recipients: int) -> None:
        """A chat message went out; ``recipients`` sockets should each receive it."""
        self.ws_sent += 1
        self.ws_expected_deliveries += recipients

    def delivered(self, seconds: float) -> None:
        """One socket received a chat message ``seconds`` after it was sent."""
        self.deliveries.append(seconds)

    def absorb_failures(self, other: Recorder) -> None:
        """Count ``other``'s failures (e.g. during set-up) as this record's, without latencies."""
        for (op, outcome), count in other.outcomes.items():
            if outcome in ERROR_KINDS:
                self.outcomes[(op, outcome)] += count
        self.error_samples.update(other.error_samples)

    def requests(self, *, http_only: bool = True) -> int:
        """How many operations finished (HTTP only unless told otherwise)."""
        return sum(count for (op, _), count in self.outcomes.items()
                   if not (http_only and op == "ws_message"))

    def errors_by_kind(self) -> dict[str, int]:
        """Failure counts per kind, every kind listed."""
        totals = dict.fromkeys(ERROR_KINDS, 0)
        for (_, outcome), count in self.outcomes.items():
            if outcome in totals:
                totals[outcome] += count
        return totals

    def conflicts(self) -> int:
        return sum(count for (_, outcome), count in self.outcomes.items() if outcome == "conflict")

    def http_latency(self) -> LatencySummary:
        return summarize(value for op, values in self.latencies.items()
                         if op != "ws_message" for value in values)

    def per_op(self) -> dict[str, OpFigures]:
        """Count, outcomes and latency of each operation."""
        figures: dict[str, OpFigures] = {}
        for op in sorted({op for op, _ in self.outcomes}):
            outcomes = {kind: count for (name, kind), count in self.outcomes.items() if name == op}
            figures[op] = OpFigures(outcomes=outcomes, latency=summarize(self.latencies[op]))
        return figures

    def top_errors(self) -> list[tuple[ErrorSample, int]]:
        return self.error_samples.most_common(MAX_ERROR_SAMPLES)


@dataclass(frozen=True)
class OpFigures:
    """One operation's outcome counts and latency."""

    outcomes: dict[str, int]
    latency: LatencySummary


@dataclass(frozen=True)
class ScenarioResult:
    """The figures of one load scenario."""

    scenario: str
    backend: str
    workers: int
    clients: int  # that logged in and ran (the others' failed logins count as errors)
    wall_s: float
    requests: int
    requests_per_s: float
    latency: LatencySummary
    errors: dict[str, int]
    conflicts: int
    ws_sent: int
    ws_delivered: int
    ws_expected: int
    ws_delivery: LatencySummary
    ws_echo: LatencySummary
    db_connections: GaugeSummary
    db_busy: GaugeSummary
    cpu_span_s: float  # the time the CPU figures cover: set-up, measured window and drain
    server_cpu_s: float
    generator_cpu_s: float
    database_cpu_s: float | None  # PostgreSQL backends of this database, when local
    machine_cpu_s: float  # every process on the machine, ours included
    per_op: dict[str, OpFigures]
    error_samples: list[tuple[ErrorSample, int]] = field(default_factory=list)

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())

    @property
    def others_cpu_s(self) -> float:
        """CPU that other processes on the machine took meanwhile (not the API, DB, generator)."""
        ours = self.server_cpu_s + self.generator_cpu_s + (self.database_cpu_s or 0.0)
        return max(0.0, self.machine_cpu_s - ours)


@dataclass(frozen=True)
class QueryCounts:
    """Database work between two readings (all None on SQLite, where nothing counts it).

    ``user_scans`` counts every query that reads the users table (seq + index scans): a socket's
    handshake reads it once per identity lookup, so it is the lookup count.
    """

    transactions: int | None  # committed + rolled back, includes the chat bus's NOTIFYs
    user_scans: int | None
    member_scans: int | None


@dataclass(frozen=True)
class StormResult:
    """The figures of the reconnect storm."""

    backend: str
    workers: int
    sockets: int
    distinct_tokens: int
    jitter_s: float
    cache_ttl_s: float
    first_connect: LatencySummary
    reconnect: LatencySummary
    failures: dict[str, int]
    first_queries: QueryCounts
    reconnect_queries: QueryCounts
    db_connections: GaugeSummary
    open_after: tuple[int, int] = (0, 0)  # sockets still open after each phase had settled
    failure_samples: list[tuple[str, int]] = field(default_factory=list)
