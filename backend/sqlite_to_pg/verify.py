"""Proof that the target holds the source's rows, whichever engine loaded them.

Per table: the row count and an order-independent content checksum — the sum, mod 2^64, of
the first 64 bits of the md5 of each row's canonical text, which is the row's COPY text
(``values.copy_rows_query``, newline included). On SQLite the rows are hashed in Python; on
Postgres ``values.pg_row_sql`` prints every stored row the same way and hashes it in SQL,
under the fixed session settings. The built-in loader hashes the very rows it streams
(``SourceChecksums``), so verify after that load reads only Postgres; otherwise (another
engine, verify alone) a source thread reads SQLite while Postgres works (one: two threads
fetching rows spent more time passing the GIL back and forth than they gained).
Then: every serial and identity sequence ahead of its column, every foreign key validated
(plus an anti-join spot check), and the constraint and index snapshot equal to the one taken
before the load. On a mismatch in a small table, the differing primary keys are named.
"""

from __future__ import annotations

import contextlib
import os
import struct
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from hashlib import md5
from pathlib import Path

from psycopg2 import sql

from sqlite_to_pg.catalog import Plan, TablePlan, open_source, quote_sqlite
from sqlite_to_pg.constraints import compare_snapshots, take_snapshot, unvalidated_foreign_keys
from sqlite_to_pg.sequences import sequence_states
from sqlite_to_pg.source_scan import WHOLE_TABLE, SourcePool
from sqlite_to_pg.values import (
    apply_session_settings,
    copy_row_sql,
    copy_rows_query,
    pg_row_sql,
    register_functions,
)

MOD = 2**64
SOURCE_THREADS = 1
CHUNK_ROWS = 5000
KEY_DIFF_MAX_ROWS = 200_000   # name differing keys only for tables this small
KEY_DIFF_SHOWN = 10
SPOT_CHECK_FULL_ROWS = 100_000  # bigger tables get a sampled anti-join


@dataclass
class TableCheck:
    """One table's comparison."""

    table: str
    source_rows: int
    target_rows: int
    source_checksum: int
    target_checksum: int
    seconds: float
    differing_keys: list[str] = field(default_factory=list)

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


class RowChecksum:
    """A table's running row count and checksum (see the module docstring)."""

    def __init__(self) -> None:
        self.rows = 0
        self._total = 0

    def add(self, lines: Sequence[bytes]) -> None:
        """Count and hash these rows (each one row's canonical text)."""
        digests = b"".join([md5(line).digest()[:8] for line in lines])
        self._total += sum(struct.unpack(f">{len(lines)}q", digests))
        self.rows += len(lines)

    @property
    def result(self) -> tuple[int, int]:
        """(rows, checksum)."""
        return self.rows, self._total % MOD


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
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)

    def lookup(self, sqlite_path: Path, table: str,
               coercions: frozenset[str]) -> tuple[int, int] | None:
        """The table's (rows, checksum), or None when it must be read again."""
        if coercions != self.coercions or source_signature(sqlite_path) != self.signature:
            return None
        return self.tables.get(table)


def range_checksum(src, table: TablePlan, coercions: frozenset[str],
                   where: str = WHOLE_TABLE) -> RowChecksum:
    """The checksum of the source rows ``where`` selects (a rowid range, or all).

    ``src`` needs the value functions (``values.register_functions``).
    """
    checksum = RowChecksum()
    cursor = src.execute(f"{copy_rows_query(table, coercions)} WHERE {where}")
    while chunk := cursor.fetchmany(CHUNK_ROWS):
        checksum.add([line for (line,) in chunk])
    return checksum


def sqlite_checksum(sqlite_path: Path, table: TablePlan,
                    coercions: frozenset[str] = frozenset()) -> tuple[int, int]:
    """(rows, checksum) of the source table's canonical rows."""
    with contextlib.closing(open_source(sqlite_path)) as src:
        register_functions(src)
        return range_checksum(src, table, coercions).result




def pg_row_hash_sql(table: TablePlan) -> str:
    """A Postgres expression giving one stored row's hash as a signed bigint: the same number
    ``RowChecksum`` adds for that row's canonical text (sum them mod 2^64 for a checksum)."""
    return (f"('x' || substr(md5({pg_row_sql(table.columns, newline=True)}), 1, 16))"
            "::bit(64)::bigint")


def pg_checksum(cur, table: TablePlan) -> tuple[int, int]:
    """(rows, checksum) of the target table, computed in Postgres."""
    cur.execute(sql.SQL("SELECT count(*), coalesce(sum({}), 0) FROM {}").format(
        sql.SQL(pg_row_hash_sql(table)), table.target.identifier))
    rows, total = cur.fetchone()
    return rows, int(total) % MOD


def _key_columns(table: TablePlan):
    primary = next((key for key in table.target.unique_keys if key.primary), None)
    names = primary.columns if primary else ()
    return tuple(col for col in table.columns if col.name in names)


def differing_keys(sqlite_path: Path, cur, table: TablePlan,
                   coercions: frozenset[str] = frozenset()) -> list[str]:
    """Primary keys (as text) whose row differs or exists on one side only, up to a few."""
    keys = _key_columns(table)
    if not keys:
        return []
    with contextlib.closing(open_source(sqlite_path)) as src:
        register_functions(src)
        source = dict(src.execute(
            f"SELECT CAST({copy_row_sql(keys, coercions, False)} AS BLOB), "
            f"CAST({copy_row_sql(table.columns, coercions, False)} AS BLOB) "
            f"FROM {quote_sqlite(table.source.name)}").fetchall())
    cur.execute(sql.SQL("SELECT convert_to({}, 'UTF8'), convert_to({}, 'UTF8') FROM {}").format(
        sql.SQL(pg_row_sql(keys)), sql.SQL(pg_row_sql(table.columns)), table.target.identifier))
    target = {bytes(key): bytes(row) for key, row in cur.fetchall()}
    differing = sorted(key for key in source.keys() | target.keys()
                       if source.get(key) != target.get(key))
    return [key.decode("utf-8", "replace") for key in differing[:KEY_DIFF_SHOWN]]


def check_table(sqlite_path: Path, cur, table: TablePlan, source: tuple[int, int] | Future,
                coercions: frozenset[str] = frozenset()) -> TableCheck:
    """Compare the target's count and checksum with the source's (known, or being computed)."""
    started = time.monotonic()
    target_rows, target_sum = pg_checksum(cur, table)
    source_rows, source_sum = source.result().result if isinstance(source, Future) else source
    check = TableCheck(table.name, source_rows, target_rows, source_sum, target_sum,
                       time.monotonic() - started)
    if not check.ok and max(source_rows, target_rows) <= KEY_DIFF_MAX_ROWS:
        check.differing_keys = differing_keys(sqlite_path, cur, table, coercions)
    return check


def spot_check_foreign_keys(cur, plan: Plan, row_counts: dict[str, int]) -> list[str]:
    """Anti-join each foreign key of the plan (sampled on big tables); returns problems."""
    problems = []
    for table in plan.tables:
        sample = (sql.SQL("") if row_counts.get(table.name, 0) <= SPOT_CHECK_FULL_ROWS
                  else sql.SQL(" TABLESAMPLE SYSTEM (1)"))
        for fk in table.target.foreign_keys:
            child = [sql.SQL("c.{}").format(sql.Identifier(name)) for name in fk.columns]
            join = sql.SQL(" AND ").join(
                sql.SQL("p.{} = {}").format(sql.Identifier(ref), col)
                for ref, col in zip(fk.ref_columns, child, strict=True))
            not_null = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(c) for c in child)
            cur.execute(sql.SQL(
                "SELECT count(*) FROM {} c{} WHERE {} AND NOT EXISTS "
                "(SELECT 1 FROM {} p WHERE {})").format(
                    table.target.identifier, sample, not_null,
                    sql.Identifier(plan.schema, fk.ref_table), join))
            orphans = cur.fetchone()[0]
            if orphans:
                problems.append(f"foreign key {table.name}.{fk.name}: {orphans} rows reference "
                                f"no row of {fk.ref_table}")
    return problems


def verify(plan: Plan, sqlite_path: Path, conn, snapshot_before=None, *,
           coercions: Iterable[str] = (), progress=None,
           source_checksums: SourceChecksums | None = None) -> Verification:
    """Compare the target (as ``conn`` sees it) with the source; see the module docstring.

    ``source_checksums`` (from the built-in loader) spares reading the source again for the
    tables it covers, as long as the file has not changed since.
    """
    started = time.monotonic()
    coercions = frozenset(coercions)
    result = Verification()
    known = {table.name: source_checksums.lookup(sqlite_path, table.name, coercions)
             for table in plan.tables} if source_checksums else {}
    with SourcePool(sqlite_path, threads=SOURCE_THREADS) as pool:
        sources = {table.name: known.get(table.name) or pool.submit(
            range_checksum, table, coercions) for table in plan.tables}
        with conn.cursor() as cur:
            apply_session_settings(cur)
            for table in plan.tables:
                check = check_table(sqlite_path, cur, table, sources[table.name], coercions)
                result.tables.append(check)
                if progress is not None:
                    progress.note(f"verify {table.name}: {check.target_rows:,} rows, "
                                  f"{check.verdict} ({check.seconds:.2f} s)")
                if check.differing_keys:
                    result.problems.append(f"{table.name}: rows differ for primary key(s) "
                                           f"{', '.join(check.differing_keys)}")
            _check_keys_sequences_schema(cur, plan, result, snapshot_before)
    result.seconds = time.monotonic() - started
    return result


def _check_keys_sequences_schema(cur, plan: Plan, result: Verification,
                                 snapshot_before) -> None:
    names = set(plan.table_names)
    for state in sequence_states(cur, plan.schema, names):
        if not state.ahead:
            result.problems.append(
                f"sequence {state.sequence} of {state.table}.{state.column} would hand out "
                f"{state.next_value}, but the column already holds up to {state.max_value}")
    for table, name in unvalidated_foreign_keys(cur, plan.schema):
        if table in names:
            result.problems.append(f"foreign key {table}.{name} is not validated")
    counts = {check.table: check.target_rows for check in result.tables}
    result.problems += spot_check_foreign_keys(cur, plan, counts)
    if snapshot_before is not None:
        result.problems += [f"schema: {difference}" for difference in
                            compare_snapshots(snapshot_before, take_snapshot(cur, plan.schema))]
