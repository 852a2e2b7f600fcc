"""Reading the SQLite source on several threads: rowid ranges and a pool of connections.

sqlite3 lets go of the GIL while SQLite works, so two threads each running an aggregate query
over half of a table take about half the time of one on two free cores (preflight's scans are
such queries). Queries that fetch row by row do not gain: the threads pass the GIL back and
forth for every row. Each thread has its own read-only connection with the value functions
installed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlite_to_pg import native_rows
from sqlite_to_pg.catalog import TablePlan, open_source, quote_sqlite
from sqlite_to_pg.values import register_functions

SCAN_THREADS = 2
SPLIT_MIN_ROWIDS = 20_000  # smaller tables are read in one piece
WHOLE_TABLE = "1"
ROWID_NAMES = ("rowid", "_rowid_", "oid")


def rowid_name(table: TablePlan) -> str | None:
    """The name the table's rowid goes by: ``rowid``, else ``_rowid_`` or ``oid`` where a
    column of the table has taken that name; None without a rowid (or all three taken)."""
    if not table.source.has_rowid:
        return None
    taken = {col.name.lower() for col in table.source.columns}
    return next((name for name in ROWID_NAMES if name not in taken), None)


def rowid_bounds(src, table: TablePlan, parts: int = SCAN_THREADS) -> list[tuple[int, int]]:
    """Inclusive (first, last) rowid bounds that split ``table`` into ``parts`` ranges covering
    every row; none when the table is small or has no rowid to split by (``WITHOUT ROWID``)."""
    rowid = rowid_name(table)
    if rowid is None or parts < 2:
        return []
    low, high = src.execute(f"SELECT min({rowid}), max({rowid}) "
                            f"FROM {quote_sqlite(table.source.name)}").fetchone()
    if low is None or high - low < SPLIT_MIN_ROWIDS:
        return []
    step = (high - low) // parts + 1
    starts = [low + step * part for part in range(parts)]
    return [(start, end - 1) for start, end in pairwise(starts)] + [(starts[-1], high)]


def rowid_ranges(src, table: TablePlan, parts: int = SCAN_THREADS) -> list[str]:
    """SQLite conditions that split ``table`` into ``parts`` rowid ranges covering every row
    (``rowid_bounds``); one condition (``"1"``) when the table is read whole."""
    rowid = rowid_name(table)
    return [f"{rowid} >= {first} AND {rowid} <= {last}"
            for first, last in rowid_bounds(src, table, parts)] or [WHOLE_TABLE]


class SourcePool:
    """Threads that each hold a read-only connection to the source, for ``submit``-ted reads,
    opened with the DB-API module ``library`` (the standard library's ``sqlite3`` unless told:
    the checksums pass ``foundation.sqlite_files.BULK_SQLITE``, whose newer SQLite builds the
    rows' text in about two thirds of the CPU time)."""

    def __init__(self, sqlite_path: Path, threads: int = SCAN_THREADS,
                 library: ModuleType = sqlite3) -> None:
        self._path = sqlite_path
        self._library = library
        self.native = native_rows.available(library)  # each connection has cutover_copy_row
        self._local = threading.local()
        self._connections: list = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="source")

    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = open_source(self._path, self._library)
            register_functions(conn)
            if self.native:
                native_rows.load_into(conn)
            with self._lock:
                self._connections.append(conn)
        return conn

    def submit(self, read: Callable[..., Any], *args: Any) -> Future:
        """Run ``read(connection, *args)`` on a pool thread."""
        return self._executor.submit(lambda: read(self._connection(), *args))

    def close(self) -> None:
        """Cancel reads not started, wait for running ones, close every connection."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        for conn in self._connections:
            conn.close()

    def __enter__(self) -> SourcePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
