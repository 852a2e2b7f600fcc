"""Hashing the source while a loader that cannot hash it (pgloader) is still running.

Verify needs each source table's (rows, checksum). The built-in loader hashes the rows it
sends; pgloader reads SQLite itself, so verify used to read and hash the whole file again
after it. ``hash_while_loading`` starts those reads on a pool of source threads when the load
starts, so they overlap the load; they hash the jsonb columns' source side too, in C, where
they can (``source_checksums.range_checksum``), and Postgres hashes it on a connection of its
own for a table where they cannot; verify then waits only for what is not done yet. The result
is dropped by verify (and the file read again) if the file changed meanwhile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

from foundation.sqlite_files import BULK_SQLITE
from sqlite_to_pg.catalog import Plan
from sqlite_to_pg.jsonb_source_hashes import JsonbSourceHashes
from sqlite_to_pg.jsonb_verify import apart_columns
from sqlite_to_pg.source_checksums import SourceChecksums, range_checksum, source_signature
from sqlite_to_pg.source_scan import WHOLE_TABLE, SourcePool


@contextlib.contextmanager
def hash_while_loading(sqlite_path: Path, plan: Plan, pg_url: str,
                       coercions: frozenset[str] = frozenset()) -> Iterator[SourceChecksums]:
    """Source checksums being computed (futures) for every table of ``plan``, and the jsonb
    columns' source side: hashed with the rows where the C code can, else by Postgres on a
    connection of its own to ``pg_url`` (``jsonb_source_hashes``); the reads not started are
    cancelled on exit, and the running ones awaited (the jsonb work is cancelled)."""
    checksums = SourceChecksums(coercions, source_signature(sqlite_path))
    with SourcePool(sqlite_path, library=BULK_SQLITE) as pool, \
            JsonbSourceHashes(sqlite_path, pg_url, plan.tables, coercions) as apart:
        with_rows: dict[str, Future] = {}
        for table in plan.tables:
            jsonb = Future() if apart_columns(table) else None
            if jsonb is not None:
                with_rows[table.name] = jsonb
            checksums.tables[table.name] = pool.submit(range_checksum, table, coercions,
                                                       WHOLE_TABLE, pool.native, jsonb)
        checksums.apart = apart.start(known=with_rows)
        yield checksums
