"""The target side of the row checksums, taken on a second connection while the pgloader engine
re-adds the foreign keys on its own.

Once pgloader has ended, every table it loaded is committed and nothing else writes to them
(the engine's recount has just found every row), so their checksums need not wait for the
engine's transaction: ``TargetChecksumsBeside`` computes them (``target_checksum``) on a
connection of its own while that transaction re-adds the keys on one core, and verify then
only compares. Re-adding a key locks its tables against writes, not against reads, so the two
do not wait for each other.

A checksum taken this way counts only where verify finds it equal to the source's, and was
taken of as many rows as the recount found (``usable``); otherwise verify computes it again.
It is no weaker than verify reading the table itself: pgloader committed each table on its
own, so what either reads is the table as it stood at some moment after the load.
Tried, and dropped: taking them while pgloader still ran (each as soon as pgloader committed
its table) made pgloader, which keeps both cores busy, slower by more than it saved
(booking 17.7 against 17.7–18.2 s, json 32.3 against 35.2 s; docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import threading

import psycopg2

from foundation.database_urls import libpq_url
from sqlite_to_pg.catalog import Plan
from sqlite_to_pg.target_checksum import pg_checksum
from sqlite_to_pg.values import apply_session_settings


class TargetChecksumsBeside:
    """A context manager: a thread checksumming every planned table ``recounted`` found rows
    in, largest first; ``usable`` waits for it and gives the results (leaving early stops it
    after the table in hand)."""

    def __init__(self, pg_url: str, plan: Plan, recounted: dict[str, int]) -> None:
        self._url = pg_url
        self._recounted = dict(recounted)
        self._tables = sorted((table for table in plan.tables if recounted.get(table.name)),
                              key=lambda table: -recounted[table.name])
        self._results: dict[str, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        with contextlib.suppress(psycopg2.Error), \
                contextlib.closing(psycopg2.connect(
                    libpq_url(self._url), application_name="cutover-target-checksums")) as conn, \
                conn.cursor() as cur:
            apply_session_settings(cur)
            for table in self._tables:
                if self._stop.is_set():
                    return
                self._results[table.name] = pg_checksum(cur, table)
                conn.rollback()  # each table read in a transaction (a snapshot) of its own

    def usable(self) -> dict[str, tuple[int, int]]:
        """Once every table is done: table name -> target (rows, checksum), for the tables
        whose checksum was of as many rows as the recount found."""
        self._join()
        return {name: result for name, result in self._results.items()
                if result[0] == self._recounted.get(name)}

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> TargetChecksumsBeside:
        self._thread = threading.Thread(target=self._run, name="target-checksums-beside",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()  # on an error: after the table in hand
        self._join()
