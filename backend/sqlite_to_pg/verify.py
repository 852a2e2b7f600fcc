"""Proof that the target holds the source's rows, whichever engine loaded them.

Per table: the row count and an order-independent content checksum — the sum, mod 2^64, of
each row's hash (``row_hash``: its fields' canonical texts hashed and mixed), the row being its
COPY text (``values.hash_rows_query``) without the jsonb columns, which
``sqlite_to_pg.jsonb_verify`` compares apart. On SQLite the rows are hashed in C (or Python);
on Postgres one query hashes every stored row's fields the same way, under the fixed session
settings, on its parallel workers (``target_checksum``). The built-in loader hashes the
very rows it streams (``source_checksums.SourceChecksums``), so verify after that load reads
only Postgres; otherwise (another engine, verify alone) a source thread reads SQLite while
Postgres works (one: two threads fetching rows spent more time passing the GIL back and forth
than they gained), hashing the jsonb columns' source side in the same pass where it can
(``source_checksums.range_checksum``).
Then: every serial and identity sequence ahead of its column, every foreign key validated
(plus an anti-join spot check), and the constraint and index snapshot equal to the one taken
before the load. Every mismatch names its table and the differing columns (a per-column
checksum); in a small table also the differing primary keys. Comparisons are on bytes
(``COLLATE "C"`` text), so no collation of the target can make them fail or differ; a
Postgres error while comparing a table becomes a problem naming that table and column.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2 import sql

from foundation.sqlite_files import BULK_SQLITE
from sqlite_to_pg import native_rows
from sqlite_to_pg.catalog import Plan, TablePlan, open_source, quote_sqlite
from sqlite_to_pg.constraints import compare_snapshots, take_snapshot, unvalidated_foreign_keys
from sqlite_to_pg.foreign_key_spot_check import spot_check_foreign_keys
from sqlite_to_pg.jsonb_source_hashes import known_source_hash
from sqlite_to_pg.jsonb_verify import compare_apart
from sqlite_to_pg.row_checksum import MOD, RowChecksum
from sqlite_to_pg.row_hash import field_sums_sql
from sqlite_to_pg.sequences import sequence_states
from sqlite_to_pg.source_checksums import CHUNK_ROWS, SourceChecksums, range_checksum
from sqlite_to_pg.source_scan import WHOLE_TABLE, SourcePool
from sqlite_to_pg.target_checksum import pg_checksum
from sqlite_to_pg.values import (
    apply_session_settings,
    copy_row_sql,
    pg_row_sql,
    register_functions,
)

SOURCE_THREADS = 1
KEY_DIFF_MAX_ROWS = 200_000   # name differing keys only for tables this small
KEY_DIFF_SHOWN = 10


@dataclass
class TableCheck:
    """One table's comparison."""

    table: str
    source_rows: int
    target_rows: int
    source_checksum: int
    target_checksum: int
    seconds: float
    differing_keys: list[RowDifference] = field(default_factory=list)
    differing_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.source_rows == self.target_rows
                and self.source_checksum == self.target_checksum)

    @property
    def verdict(self) -> str:
        if self.ok:
            return "ok"
        if self.source_rows != self.target_rows:
            return f"MISMATCH rows {self.source_rows} != {self.target_rows}"
        return "MISMATCH checksum"


@dataclass
class Verification:
    """Everything verify found; ``ok`` only when nothing is wrong."""

    tables: list[TableCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and all(check.ok for check in self.tables)


def _key_columns(table: TablePlan):
    primary = next((key for key in table.target.unique_keys if key.primary), None)
    names = primary.columns if primary else ()
    return tuple(col for col in table.columns if col.name in names)


def differing_columns(sqlite_path: Path, cur, table: TablePlan,
                      coercions: frozenset[str] = frozenset()) -> list[str]:
    """The columns whose values differ between the sides, as multisets (one scan each side,
    any table size): a per-column checksum like the row checksum, over each field's text."""
    with contextlib.closing(open_source(sqlite_path)) as src:
        register_functions(src)
        fields = ", ".join(f"CAST({copy_row_sql((col,), coercions, False, True)} AS BLOB)"
                           for col in table.columns)
        source = [RowChecksum() for _ in table.columns]
        cursor = src.execute(f"SELECT {fields} FROM {quote_sqlite(table.source.name)}")
        while chunk := cursor.fetchmany(CHUNK_ROWS):
            for position, checksum in enumerate(source):
                native_rows.add_any(checksum, [row[position] for row in chunk])
    cur.execute(field_sums_sql(table.columns, table.target.identifier.as_string(cur)))
    target = [int(total) % MOD for total in cur.fetchone()]
    return [col.name for col, mine, theirs in zip(table.columns, source, target, strict=True)
            if mine.result[1] != theirs]


@dataclass(frozen=True)
class RowDifference:
    """One primary key whose row differs: the columns that differ, or the side it is on."""

    key: str
    columns: tuple[str, ...] = ()
    only_in: str | None = None

    def __str__(self) -> str:
        if self.only_in:
            return f"{self.key} (only in the {self.only_in})"
        return f"{self.key} (column(s) {', '.join(self.columns)})"


def _fields(row: bytes) -> list[bytes]:
    return row.split(b"\t")  # a tab inside a value is escaped as \t, so this splits fields


def differing_keys(sqlite_path: Path, cur, table: TablePlan,
                   coercions: frozenset[str] = frozenset()) -> list[RowDifference]:
    """Primary keys whose row differs or exists on one side only (up to a few), each with the
    columns that differ."""
    keys = _key_columns(table)
    if not keys:
        return []
    with contextlib.closing(open_source(sqlite_path)) as src:
        register_functions(src)
        source = dict(src.execute(
            f"SELECT CAST({copy_row_sql(keys, coercions, False)} AS BLOB), "
            f"CAST({copy_row_sql(table.columns, coercions, False, True)} AS BLOB) "
            f"FROM {quote_sqlite(table.source.name)}").fetchall())
    cur.execute(sql.SQL("SELECT convert_to({}, 'UTF8'), convert_to({}, 'UTF8') FROM {}").format(
        sql.SQL(pg_row_sql(keys)), sql.SQL(pg_row_sql(table.columns)), table.target.identifier))
    target = {bytes(key): bytes(row) for key, row in cur.fetchall()}
    differing = sorted(key for key in source.keys() | target.keys()
                       if source.get(key) != target.get(key))
    found = []
    for key in differing[:KEY_DIFF_SHOWN]:
        shown = key.decode("utf-8", "replace")
        if key not in target or key not in source:
            found.append(RowDifference(shown, only_in="source" if key in source else "target"))
            continue
        pairs = zip(table.columns, _fields(source[key]), _fields(target[key]), strict=False)
        found.append(RowDifference(shown, tuple(col.name for col, mine, theirs in pairs
                                                if mine != theirs)))
    return found


def check_table(sqlite_path: Path, cur, table: TablePlan, source: tuple[int, int] | Future,
                coercions: frozenset[str] = frozenset(),
                known_target: tuple[int, int] | None = None) -> TableCheck:
    """Compare the target's count and checksum with the source's (known, or being computed);
    on a mismatch, name the differing columns and (small tables) the differing keys.
    ``known_target``: the target's (rows, checksum) taken on another connection, used only
    where it equals the source's (``target_checksums_beside``)."""
    started = time.monotonic()
    if known_target is not None and known_target == _resolved(source):
        target_rows, target_sum = known_target
    else:
        target_rows, target_sum = pg_checksum(cur, table)
    source_rows, source_sum = _resolved(source)
    check = TableCheck(table.name, source_rows, target_rows, source_sum, target_sum,
                       time.monotonic() - started)
    if not check.ok:
        check.differing_columns = differing_columns(sqlite_path, cur, table, coercions)
        if max(source_rows, target_rows) <= KEY_DIFF_MAX_ROWS:
            check.differing_keys = differing_keys(sqlite_path, cur, table, coercions)
    return check


def _resolved(source: tuple[int, int] | Future) -> tuple[int, int]:
    return source.result().result if isinstance(source, Future) else source


def describe_mismatch(check: TableCheck) -> str:
    """A failed table check as one problem line: the table, what differs, where."""
    text = f"{check.table}: {check.verdict.removeprefix('MISMATCH ')}"
    if check.differing_columns:
        text += f"; differing column(s): {', '.join(check.differing_columns)}"
    if check.differing_keys:
        text += f"; rows differ for primary key(s) {', '.join(map(str, check.differing_keys))}"
    return text


def failing_column(cur, table: TablePlan) -> str | None:
    """The first column whose canonical text Postgres cannot produce (inside a savepoint)."""
    for col in table.columns:
        cur.execute("SAVEPOINT cutover_verify_column")
        try:
            cur.execute(sql.SQL("SELECT count({}) FROM {}").format(
                sql.SQL(pg_row_sql((col,))), table.target.identifier))
        except psycopg2.Error:
            cur.execute("ROLLBACK TO SAVEPOINT cutover_verify_column")
            return col.name
        cur.execute("RELEASE SAVEPOINT cutover_verify_column")
    return None


def safe_check_table(sqlite_path: Path, cur, table: TablePlan, source: tuple[int, int] | Future,
                     coercions: frozenset[str], known_target: tuple[int, int] | None = None
                     ) -> tuple[TableCheck | None, str | None]:
    """``check_table`` that turns a Postgres error into a problem naming table and column."""
    cur.execute("SAVEPOINT cutover_verify_table")
    try:
        check = check_table(sqlite_path, cur, table, source, coercions, known_target)
    except psycopg2.Error as exc:
        cur.execute("ROLLBACK TO SAVEPOINT cutover_verify_table")
        column = failing_column(cur, table)
        where = f"{table.name}.{column}" if column else table.name
        message = (exc.pgerror or str(exc)).strip().splitlines()[0].removeprefix("ERROR:")
        return None, f"{where}: could not be compared: {message.strip()}"
    cur.execute("RELEASE SAVEPOINT cutover_verify_table")
    return check, None


def verify(plan: Plan, sqlite_path: Path, conn, snapshot_before=None, *,
           coercions: Iterable[str] = (), progress=None,
           source_checksums: SourceChecksums | None = None,
           known_targets: Mapping[str, tuple[int, int]] | None = None) -> Verification:
    """Compare the target (as ``conn`` sees it) with the source; see the module docstring.

    ``source_checksums`` (from the loader) spares reading the source again for the tables it
    covers, as long as the file has not changed since; ``known_targets`` (the pgloader
    engine's ``target_checksums_beside``) spares reading the target for a table whose known
    (rows, checksum) equals the source's.
    """
    started = time.monotonic()
    coercions = frozenset(coercions)
    result = Verification()
    known = {table.name: source_checksums.lookup(sqlite_path, table.name, coercions)
             for table in plan.tables} if source_checksums else {}
    jsonb_hashes: dict[str, Future] = {}  # hashed with the rows, where not known
    with SourcePool(sqlite_path, threads=SOURCE_THREADS, library=BULK_SQLITE) as pool:
        sources = {table.name: known.get(table.name) or pool.submit(
            range_checksum, table, coercions, WHOLE_TABLE, pool.native,
            jsonb_hashes.setdefault(table.name, Future()))
            for table in plan.tables}
        with conn.cursor() as cur:
            apply_session_settings(cur)
            for table in plan.tables:
                check, error = safe_check_table(sqlite_path, cur, table, sources[table.name],
                                                coercions, (known_targets or {}).get(table.name))
                if error is not None:
                    result.problems.append(error)
                    continue
                result.tables.append(check)
                if progress is not None:
                    progress.note(f"verify {table.name}: {check.target_rows:,} rows, "
                                  f"{check.verdict} ({check.seconds:.2f} s)")
                if not check.ok:
                    result.problems.append(describe_mismatch(check))
                source_apart = (source_checksums.apart_hash(sqlite_path, table.name, coercions)
                                if source_checksums else None
                                ) or known_source_hash(jsonb_hashes.get(table.name))
                if (apart := compare_apart(sqlite_path, cur, table, coercions,
                                           source_apart)) is not None:
                    result.problems.append(apart)
            _check_keys_sequences_schema(cur, plan, result, snapshot_before)
    result.seconds = time.monotonic() - started
    return result


def _check_keys_sequences_schema(cur, plan: Plan, result: Verification,
                                 snapshot_before) -> None:
    names = set(plan.table_names)
    for state in sequence_states(cur, plan.schema, names):
        if not state.ahead:
            result.problems.append(
                f"sequence {state.sequence} (used by {state.used_by}) would hand out "
                f"{state.next_value}, but its columns already hold "
                f"{'up' if state.increment > 0 else 'down'} to {state.max_value}")
    for table, name in unvalidated_foreign_keys(cur, plan.schema):
        if table in names:
            result.problems.append(f"foreign key {table}.{name} is not validated")
    counts = {check.table: check.target_rows for check in result.tables}
    result.problems += spot_check_foreign_keys(cur, plan, counts)
    if snapshot_before is not None:
        result.problems += [f"schema: {difference}" for difference in
                            compare_snapshots(snapshot_before, take_snapshot(cur, plan.schema))]
