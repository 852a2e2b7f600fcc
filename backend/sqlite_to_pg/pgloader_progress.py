"""Rows per table while pgloader runs, read from the server's own COPY progress view.

pgloader 3.6 streams each table in one ``COPY`` on a connection of its own, committed only at
the end (measured: a 1M-row table appears all at once), so counting rows shows nothing until a
table is done. ``pg_stat_progress_copy.tuples_processed`` (PostgreSQL 14+) counts the rows of a
running COPY; a role sees its own sessions there, so no extra privilege is needed. One cheap
query per second, no ``count(*)`` on the tables being loaded.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import psycopg2

from foundation.database_urls import libpq_url
from sqlite_to_pg.catalog import Plan

POLL_SECONDS = 1.0
_COPIED_SQL = """
SELECT rel.relname, progress.tuples_processed
FROM pg_stat_progress_copy progress
JOIN pg_class rel ON rel.oid = progress.relid
JOIN pg_namespace ns ON ns.oid = rel.relnamespace
WHERE ns.nspname = %(schema)s AND rel.relname = ANY(%(tables)s)
"""


class CopyProgress:
    """A context manager polling the rows copied so far per planned table, in a thread.

    ``on_rows(table, rows_so_far, total)`` is called whenever a table's count moves; with
    ``on_rows=None`` nothing runs at all.
    """

    def __init__(self, target_url: str, plan: Plan, totals: dict[str, int],
                 on_rows: Callable[[str, int, int], None] | None) -> None:
        self.target_url = target_url
        self.schema = plan.schema
        self.totals = {table.name: totals.get(table.source.name, 0) for table in plan.tables}
        self.on_rows = on_rows
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn = None
        self._last: dict[str, int] = {}

    def _copied(self) -> dict[str, int]:
        with self._conn.cursor() as cur:
            cur.execute(_COPIED_SQL, {"schema": self.schema, "tables": list(self.totals)})
            return dict(cur.fetchall())

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            with contextlib.suppress(psycopg2.Error):
                for table, copied in self._copied().items():
                    done = min(copied, self.totals[table])
                    if done > self._last.get(table, 0):
                        self._last[table] = done
                        self.on_rows(table, done, self.totals[table])

    def __enter__(self) -> CopyProgress:
        if self.on_rows is None:
            return self
        self._conn = psycopg2.connect(libpq_url(self.target_url),
                                      application_name="cutover-progress")
        self._conn.autocommit = True
        self._thread = threading.Thread(target=self._poll, name="pgloader-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._conn is not None:
            self._conn.close()
