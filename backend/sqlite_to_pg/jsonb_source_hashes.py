"""The source side of the jsonb comparison, computed on a second connection while the load's
connection rebuilds indexes.

``jsonb_verify`` compares jsonb columns by having Postgres parse the source's texts again: the
source rows are staged (as CSV) and hashed, the target rows hashed, the two compared. Staging
and hashing the source needs no target row, so the built-in loader starts it (``start``) once
its last COPY has ended, on a connection of its own in a transaction of its own: a temporary
table there, nothing committed, nothing the load's transaction can see or wait for. Index
builds keep one core busy and leave the other free; this work fills it (1M payloads: about 3 s
of the verify's 4.4 s, docs/benchmarks.md). Verify then reads only the target's hash and
compares; on any difference, or if this work failed or was not done, it stages the source in
its own transaction as before, which names the columns and rows that differ.

Where a table's jsonb source side is hashed elsewhere already, each value printed in C as jsonb
prints it (``native_rows.jsonb_line_checksum``: by the built-in loader's readers, or by the
source reads that run beside pgloader), that hash is awaited (``start``'s ``known``) and the
table is staged here only if it could not be computed so; no connection is opened unless a
table is staged.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from concurrent.futures import Future, wait
from pathlib import Path

import psycopg2

from foundation.database_urls import libpq_url
from sqlite_to_pg.catalog import TablePlan
from sqlite_to_pg.jsonb_verify import apart_columns, source_hash, stage_source
from sqlite_to_pg.values import apply_session_settings

# one reader: the other core is the index build's; the staging COPY keeps pace with one
READERS = 1
WAKE_SECONDS = 0.1  # how often a wait for a known hash looks whether it was cancelled


class JsonbSourceHashes:
    """Background hashing of the source's jsonb columns, table by table (a context manager:
    leaving it cancels what has not finished). ``futures`` maps each table with jsonb columns
    to the Future of its source (rows, hash sum), for ``jsonb_verify.compare_apart``."""

    def __init__(self, sqlite_path: Path, pg_url: str, tables: list[TablePlan],
                 coercions: frozenset[str] = frozenset()) -> None:
        self._path = Path(sqlite_path)
        self._url = pg_url
        self._tables = [table for table in tables if apart_columns(table)]
        self._coercions = frozenset(coercions)
        self.futures: dict[str, Future] = {}  # filled by ``start``
        self._known: dict[str, Future] = {}
        self._conn = None
        self._thread: threading.Thread | None = None
        self._cancelled = threading.Event()

    def start(self, known: Mapping[str, Future] | None = None) -> dict[str, Future]:
        """Begin hashing in a thread (nothing to do without jsonb columns); ``futures``.
        ``known``: per table, a Future of its source (rows, hash sum) computed elsewhere, or
        of None where it could not be: awaited (after staging the tables without one), and
        the table staged only for None or a failure."""
        self._known = dict(known or {})
        self.futures = {table.name: Future() for table in self._tables}
        if self._tables:
            self._thread = threading.Thread(target=self._run, name="jsonb-source-hashes",
                                            daemon=True)
            self._thread.start()
        return self.futures

    def _run(self) -> None:
        cur = None
        try:
            # the tables with no hash coming first: none waits behind another's hash
            for table in sorted(self._tables, key=lambda table: table.name in self._known):
                if self._cancelled.is_set():  # also when close() came before connect
                    break
                hashed = self._await(self._known.get(table.name))
                if hashed is not None:
                    self.futures[table.name].set_result(hashed)
                    continue
                if cur is None:
                    self._conn = psycopg2.connect(
                        libpq_url(self._url), application_name="cutover-jsonb-source-hashes")
                    cur = self._conn.cursor()
                    apply_session_settings(cur)
                self._hash_table(cur, table)
        except BaseException as exc:  # verify stages the source itself instead
            for future in self.futures.values():
                if not future.done():
                    future.set_exception(exc)
        finally:
            for future in self.futures.values():
                if not future.done():
                    future.cancel()
            if self._conn is not None:
                with contextlib.suppress(psycopg2.Error):
                    self._conn.close()

    def _await(self, known: Future | None) -> tuple[int, int] | None:
        """The result of ``known`` once it has one; None for none, a failure, or a cancel."""
        while known is not None and not known.done():
            if self._cancelled.is_set():
                return None
            wait([known], timeout=WAKE_SECONDS)
        return known_source_hash(known)

    def _hash_table(self, cur, table: TablePlan) -> None:
        apart = apart_columns(table)
        cur.execute("SAVEPOINT cutover_jsonb_source")
        staged = stage_source(self._path, cur, table, apart, self._coercions,
                              processes=READERS, temporary=True)
        self.futures[table.name].set_result(source_hash(cur, table, apart, staged))
        cur.execute("ROLLBACK TO SAVEPOINT cutover_jsonb_source")  # drops the staging table

    def close(self) -> None:
        """Stop: cancel the running statement, wait for the thread, close the connection."""
        self._cancelled.set()
        if self._thread is None:
            return
        if self._conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self._conn.cancel()
        self._thread.join()

    def __enter__(self) -> JsonbSourceHashes:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def known_source_hash(future: Future | None) -> tuple[int, int] | None:
    """The source's (rows, hash sum) from ``future`` once it is done, else None (failed,
    cancelled, or never started): verify then stages the source itself."""
    if future is None:
        return None
    try:
        return future.result()
    except BaseException:  # noqa: BLE001 - any failure means: compute it the other way
        return None
