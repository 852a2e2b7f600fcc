"""Rows per table while pgloader runs, read from the server's own statistics.

pgloader commits batch by batch on connections of its own, so the committed inserts are visible
in ``pg_stat_user_tables.n_tup_ins`` (counted from a baseline taken before the load) at the cost
of one cheap catalogue query per second — no ``count(*)`` on tables being loaded.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import psycopg2

from cutover.catalog import Plan
from cutover.urls import libpq_url

POLL_SECONDS = 1.0
_INSERTS_SQL = """
SELECT relname, n_tup_ins FROM pg_stat_user_tables
WHERE schemaname = %(schema)s AND relname = ANY(%(tables)s)
"""


class InsertCounter:
    """A context manager polling committed inserts per planned table in a background thread.

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
        self._baseline: dict[str, int] = {}
        self._last: dict[str, int] = {}

    def _inserts(self) -> dict[str, int]:
        with self._conn.cursor() as cur:
            cur.execute(_INSERTS_SQL, {"schema": self.schema, "tables": list(self.totals)})
            return dict(cur.fetchall())

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            with contextlib.suppress(psycopg2.Error):
                for table, inserted in self._inserts().items():
                    done = min(inserted - self._baseline.get(table, 0), self.totals[table])
                    if done != self._last.get(table, 0):
                        self._last[table] = done
                        self.on_rows(table, done, self.totals[table])

    def __enter__(self) -> InsertCounter:
        if self.on_rows is None:
            return self
        self._conn = psycopg2.connect(libpq_url(self.target_url),
                                      application_name="cutover-progress")
        self._conn.autocommit = True
        self._baseline = self._inserts()
        self._thread = threading.Thread(target=self._poll, name="pgloader-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._conn is not None:
            self._conn.close()
