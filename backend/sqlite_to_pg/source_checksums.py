"""The source side of verify's row checksums: SQLite's rows hashed, and what the loaders hand
verify of them.

``range_checksum`` hashes a table's rows as ``values.hash_rows_query`` gives them (in C where
``native_rows`` is built), and, asked for it, the jsonb hash ``jsonb_verify`` compares, from
the same rows. ``SourceChecksums`` holds what a loader computed while it loaded (the built-in
loader: the rows it sent; the pgloader engine: reads beside pgloader), valid while the file is
unchanged (``source_signature``).
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_to_pg import native_rows
from sqlite_to_pg.catalog import TablePlan, open_source, quote_sqlite
from sqlite_to_pg.jsonb_source_hashes import known_source_hash
from sqlite_to_pg.jsonb_verify import anchor_positions, apart_columns
from sqlite_to_pg.row_checksum import RowChecksum
from sqlite_to_pg.source_scan import WHOLE_TABLE
from sqlite_to_pg.values import hash_rows_query, register_functions

CHUNK_ROWS = 5000


def source_signature(sqlite_path: Path) -> tuple:
    """What changes when a write lands in the SQLite file: size, modification time and header
    (its change counter; the WAL's salts) of the file and of its WAL."""
    signature = []
    for path in (Path(sqlite_path), Path(f"{sqlite_path}-wal")):
        with contextlib.suppress(FileNotFoundError), path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            signature.append((path.name, stat.st_size, stat.st_mtime_ns, handle.read(100)))
    return tuple(signature)


@dataclass
class SourceChecksums:
    """Source (rows, checksum) per table, hashed by the loader from the rows it sent.

    Valid only for the same coercions and while the file is unchanged (``signature``).
    """

    coercions: frozenset[str]
    signature: tuple
    # (rows, checksum), or a Future of a RowChecksum still being computed (early_checksums)
    tables: dict[str, tuple[int, int] | Future] = field(default_factory=dict)
    # Futures of the jsonb columns' source (rows, hash sum) (jsonb_source_hashes)
    apart: dict[str, Future] = field(default_factory=dict)

    def _still_valid(self, sqlite_path: Path, coercions: frozenset[str]) -> bool:
        return coercions == self.coercions and source_signature(sqlite_path) == self.signature

    def lookup(self, sqlite_path: Path, table: str,
               coercions: frozenset[str]) -> tuple[int, int] | Future | None:
        """The table's (rows, checksum) or its Future, or None when it must be read again."""
        return self.tables.get(table) if self._still_valid(sqlite_path, coercions) else None

    def apart_hash(self, sqlite_path: Path, table: str,
                   coercions: frozenset[str]) -> tuple[int, int] | None:
        """The source (rows, hash sum) of the table's jsonb columns, or None when verify must
        stage the source itself (not computed, failed, or the file changed)."""
        if not self._still_valid(sqlite_path, coercions):
            return None
        return known_source_hash(self.apart.get(table))


def range_checksum(src, table: TablePlan, coercions: frozenset[str],
                   where: str = WHOLE_TABLE, native: bool = False,
                   jsonb_hash: Future | None = None) -> RowChecksum:
    """The checksum of the source rows ``where`` selects (a rowid range, or all).

    ``src`` needs the value functions (``values.register_functions``); ``native``: it has
    ``native_rows`` too, which then builds and hashes the rows in C where it can.
    ``jsonb_hash``: given the (rows, hash sum) of the jsonb columns that ``jsonb_verify``
    compares, from the same rows, where the C code can hash every one (else None).
    """
    if jsonb_hash is not None:
        try:
            checksum, hashed = _with_jsonb_hash(src, table, coercions, where, native)
        except BaseException as exc:
            jsonb_hash.set_exception(exc)
            raise
        jsonb_hash.set_result(hashed)
        if checksum is not None:
            return checksum
    checksum = RowChecksum()
    query = native_rows.hash_rows_query(table, coercions) if native else None
    add = native_rows.add_rows if query else RowChecksum.add
    cursor = src.execute(f"{query or hash_rows_query(table, coercions)} WHERE {where}")
    while chunk := cursor.fetchmany(CHUNK_ROWS):
        add(checksum, [line for (line,) in chunk])
    return checksum


def _with_jsonb_hash(src, table: TablePlan, coercions: frozenset[str], where: str,
                     native: bool) -> tuple[RowChecksum | None, tuple[int, int] | None]:
    """The rows' checksum and their jsonb hash (``native_rows.jsonb_line_checksum`` over the
    load's COPY rows, of which the part before the jsonb fields is what ``hash_rows_query``
    gives); (None, None) where the C code cannot do it, (checksum, None) where a row's jsonb
    is left to Postgres."""
    apart = len(apart_columns(table))
    anchor = anchor_positions(table)
    row = (native_rows.copy_row_blob_sql(table, coercions)
           if native and apart and len(anchor) <= native_rows.MOST_ANCHOR_FIELDS else None)
    if row is None:
        return None, None
    checksum, jsonb, left_out = RowChecksum(), RowChecksum(), 0
    cursor = src.execute(f"SELECT {row} FROM {quote_sqlite(table.source.name)} WHERE {where}")
    while chunk := cursor.fetchmany(CHUNK_ROWS):
        data = b"".join(line for (line,) in chunk)
        lines, total, size, hashed, unhashed = native_rows.jsonb_line_checksum(data, apart,
                                                                               anchor)
        if not native_rows.all_whole_lines(data, len(chunk), lines, size):
            return None, None  # a row not one line: hashed the general way
        checksum.absorb(lines, total)
        jsonb.absorb(lines - unhashed, hashed)
        left_out += unhashed
    return checksum, None if left_out else jsonb.result


def sqlite_checksum(sqlite_path: Path, table: TablePlan,
                    coercions: frozenset[str] = frozenset()) -> tuple[int, int]:
    """(rows, checksum) of the source table's canonical rows."""
    with contextlib.closing(open_source(sqlite_path)) as src:
        register_functions(src)
        return range_checksum(src, table, coercions).result
