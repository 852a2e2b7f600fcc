"""What the database itself says during a run: connections in use, and work done (PostgreSQL).

The probes connect to the server's maintenance database (not the benchmarked one) wherever they
can, so their own queries do not count as the API's work.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

import psutil
import psycopg2
from sqlalchemy.engine import make_url

from benchmarks.load.database import Target
from benchmarks.load.results import QueryCounts
from benchmarks.load.stats import GaugeSummary, summarize_gauge

CONNECTIONS_SQL = """
SELECT pid, state IS DISTINCT FROM 'idle'
FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()
"""
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", None, "")
TRANSACTIONS_SQL = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s"
SCANS_SQL = """
SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)) FILTER (WHERE relname = 'users'), 0),
       coalesce(sum(seq_scan + coalesce(idx_scan, 0)) FILTER (WHERE relname = 'thread_members'), 0)
FROM pg_stat_user_tables WHERE relname IN ('users', 'thread_members')
"""


class BackendCpu:
    """CPU time of the database's server processes, when the server runs on this machine.

    Each backend's CPU is counted from the first sample that saw it to the last one.
    """

    def __init__(self) -> None:
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}

    def observe(self, pids: Iterable[int]) -> None:
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            used = times.user + times.system
            self._first.setdefault(pid, used)
            self._last[pid] = used

    def seconds(self) -> float | None:
        if not self._last:
            return None
        return sum(self._last[pid] - self._first[pid] for pid in self._last)


class ConnectionSampler:
    """Samples the benchmarked database's connections (open, and not idle) every ``interval``,
    and the CPU its backends use when the server is local."""

    def __init__(self, target: Target, interval: float) -> None:
        self.target = target
        self.interval = interval
        self.open_counts: list[int] = []
        self.busy_counts: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failure: str | None = None
        self.backend_cpu = BackendCpu()

    def _run(self) -> None:
        assert self.target.admin_url is not None
        local = make_url(self.target.admin_url).host in LOCAL_HOSTS
        try:
            with contextlib.closing(psycopg2.connect(self.target.admin_url)) as conn:
                conn.autocommit = True
                with conn.cursor() as cur:
                    while not self._stop.is_set():
                        cur.execute(CONNECTIONS_SQL, (self.target.name,))
                        rows = cur.fetchall()
                        self.open_counts.append(len(rows))
                        self.busy_counts.append(sum(1 for _, busy in rows if busy))
                        if local:
                            self.backend_cpu.observe(pid for pid, _ in rows)
                        self._stop.wait(self.interval)
        except psycopg2.Error as exc:
            self.failure = f"connection sampling stopped: {exc.__class__.__name__}: {exc}".strip()

    def __enter__(self) -> ConnectionSampler:
        if self.target.backend == "postgresql":
            self._thread = threading.Thread(target=self._run, name="pg-sampler", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def connections(self) -> GaugeSummary:
        """Open connections to the database (n/a on SQLite: no samples)."""
        return summarize_gauge(self.open_counts)

    def busy(self) -> GaugeSummary:
        """Connections running a query or inside a transaction."""
        return summarize_gauge(self.busy_counts)


def read_counters(target: Target) -> QueryCounts:
    """Transactions (committed or rolled back) of the database and scans of users and of
    thread_members, so far.

    PostgreSQL publishes a backend's statistics when it goes idle, at most every second and at
    the latest 10 s later: read this only after the API has been idle for ``stats_settle_s``.
    """
    if target.backend != "postgresql" or target.admin_url is None:
        return QueryCounts(None, None, None)
    with _autocommit(target.admin_url) as cur:
        cur.execute(TRANSACTIONS_SQL, (target.name,))
        (transactions,) = cur.fetchone()
    with _autocommit(target.libpq_url) as cur:
        cur.execute(SCANS_SQL)
        user_scans, member_scans = cur.fetchone()
    return QueryCounts(int(transactions), int(user_scans), int(member_scans))


def counters_delta(before: QueryCounts, after: QueryCounts) -> QueryCounts:
    """``after - before``; reading the scans adds one transaction of its own, subtracted here."""
    if before.transactions is None or after.transactions is None:
        return QueryCounts(None, None, None)
    return QueryCounts(*(later - earlier for later, earlier in zip(
        (after.transactions - 1, after.user_scans, after.member_scans),
        (before.transactions, before.user_scans, before.member_scans), strict=True)))


@contextlib.contextmanager
def _autocommit(url: str) -> Iterator[psycopg2.extensions.cursor]:
    with contextlib.closing(psycopg2.connect(url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            yield cur
