"""Verifying the columns a row checksum leaves out (jsonb): Postgres parses the source again.

The load sends jsonb as its source text and Postgres parses it; SQLite cannot print the form
jsonb keeps (keys sorted and deduplicated, its spacing, numeric digits), so the row checksums
leave those columns out (``values.hashed_columns``). Here the source is read a second time,
independently of the load's COPY escaping: each row's primary key (without one: the rest of the
row) and its jsonb texts go to a staging table as CSV (quoting, not the load's backslash
escapes), and Postgres compares, as multisets of rows, its own parse of those texts (in a
scan its parallel workers share), tied to the key, with what the target holds. A difference
names the columns, and a few rows by their key.

The source's (rows, hash sum) can also come from the loader, which hashes each row's text the
way ``source_hash`` does with the jsonb text printed in C (``native_rows.jsonb_line_checksum``,
the fields at ``anchor_positions``); then only the target is hashed here, and the source is
staged only if the two differ, to name what differs.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from sqlite_to_pg import native_rows
from sqlite_to_pg.catalog import TablePlan, TargetColumn, quote_sqlite
from sqlite_to_pg.reader_processes import READER_PROCESSES, ReaderProcesses
from sqlite_to_pg.row_checksum import MOD
from sqlite_to_pg.tab_joined import pg_tab_joined
from sqlite_to_pg.values import (
    converter_for,
    copy_row_sql,
    hashed_columns,
    load_columns,
    pg_row_sql,
    quote_pg,
)

ROWS_SHOWN = 5
_names = itertools.count()


def apart_columns(table: TablePlan) -> tuple[TargetColumn, ...]:
    """The columns of ``table`` that row checksums leave out."""
    return tuple(col for col in table.columns if not converter_for(col).hashed)


def anchor_columns(table: TablePlan) -> tuple[TargetColumn, ...]:
    """What ties a jsonb value to its row: the primary key (the row checksums tie the key to
    the other columns), or, without one, every column the row checksums cover."""
    primary = next((key for key in table.target.unique_keys if key.primary), None)
    hashed = hashed_columns(table.columns)
    keys = tuple(col for col in hashed if primary and col.name in primary.columns)
    return keys if primary and len(keys) == len(primary.columns) else hashed


def anchor_positions(table: TablePlan) -> tuple[int, ...]:
    """Where the ``anchor_columns`` are among a loaded row's fields (``values.load_columns``)."""
    anchor = anchor_columns(table)
    return tuple(at for at, col in enumerate(load_columns(table)) if col in anchor)


# The staging CSV's quote character: byte 0x01, which JSON text Postgres accepts never holds raw
# (a control character must be escaped in a JSON string, and only spaces may stand between
# tokens) and keys seldom do, so JSON's many double quotes go through as they are (SQLite's
# share of the staging: 1.26 → 0.80 s on 1M payloads); a 0x01 in a field is doubled.
_QUOTE = "char(1)"
_COPY_OPTIONS = "FORMAT csv, QUOTE E'\\x01'"


def _csv_field(text_sql: str) -> str:
    """A SQLite text as one CSV field: quoted by ``_QUOTE``, a quote in it doubled; NULL as
    the empty field."""
    return (f"CASE WHEN ({text_sql}) IS NULL THEN '' ELSE {_QUOTE} || "
            f"replace({text_sql}, {_QUOTE}, {_QUOTE} || {_QUOTE}) || {_QUOTE} END")


def _source_row_sql(table: TablePlan, apart: tuple[TargetColumn, ...],
                    coercions: frozenset[str], native: bool = False) -> str:
    """A source row for the staging table, as CSV (a BLOB, newline included): the anchor's
    COPY text, then each jsonb text as it is, for Postgres to parse. ``native``: built by
    ``cutover_csv_row`` (``native_rows``) where it can, to the same bytes (SQLite's share of
    the staging, 1M payloads: 0.64 → 0.35 CPU s)."""
    anchor = copy_row_sql(anchor_columns(table), coercions, newline=False)
    fields = [_csv_field(anchor)]
    fields += [_csv_field(converter_for(col, coercions).raw_sql(quote_sqlite(col.name)))
               for col in apart]
    row = " || ',' || ".join(fields) + " || char(10)"
    if native and len(apart) < native_rows.MOST_VALUES:
        values = ", ".join([anchor] + [quote_sqlite(col.name) for col in apart])
        row = f"coalesce(cutover_csv_row({values}), {row})"
    return f"CAST({row} AS BLOB)"


def stage_source(sqlite_path: Path, cur, table: TablePlan, apart: tuple[TargetColumn, ...],
                 coercions: frozenset[str], *, processes: int = READER_PROCESSES,
                 temporary: bool = False) -> sql.Identifier:
    """A staging table holding each source row's anchor text and Postgres' parse of its
    ``apart`` texts (see the module docstring), read afresh from SQLite by ``processes``
    readers; the caller drops it (or ends the transaction, for a ``temporary`` one)."""
    columns = ", ".join(["rest text"] + [f"v{i} text" for i in range(len(apart))])
    staged = _create_staging(cur, table.target.schema, columns, temporary=temporary)
    with ReaderProcesses(sqlite_path, processes) as readers:
        stream = readers.stream_rows(table, _source_row_sql(table, apart, coercions,
                                                            readers.native),
                                     lambda rows: None, hashed=False, lines=False,
                                     native=readers.native)
        cur.copy_expert(sql.SQL(f"COPY {{}} FROM STDIN WITH ({_COPY_OPTIONS})").format(staged)
                        .as_string(cur), stream)
        readers.ended(stream)
    return staged


def _differing_apart(sqlite_path: Path, cur, table: TablePlan, apart: tuple[TargetColumn, ...],
                     coercions: frozenset[str], known_source: tuple[int, int] | None) -> str | None:
    """A problem line when a column of ``apart`` differs between the sides, else None. The
    target is hashed once; with the source's hash ``known_source`` equal to it, nothing else
    is read; otherwise the source is staged and hashed here, and only if the two still differ
    are the differences named."""
    target = target_hash(cur, table, apart)
    if known_source is not None and target == known_source:
        return None
    staged = stage_source(sqlite_path, cur, table, apart, coercions)
    found = (None if source_hash(cur, table, apart, staged) == target
             else _name_differences(cur, table, apart, staged))
    cur.execute(sql.SQL("DROP TABLE {}").format(staged))
    return found


def _create_staging(cur, schema: str, columns: str, *, temporary: bool) -> sql.Identifier:
    """A table for the source's staged rows, dropped by the caller (or by a rollback): unlogged in
    the target schema, so Postgres scans it with parallel workers (1M payloads: 3.1 s instead of
    6.2 s for a temporary table, which no worker can read); temporary when asked, or where the
    role may not create tables in that schema."""
    name = f"_cutover_jsonb_{os.getpid()}_{next(_names)}"
    if temporary:
        staged = sql.Identifier(name)
        cur.execute(sql.SQL("CREATE TEMP TABLE {} (" + columns + ") ON COMMIT DROP")
                    .format(staged))
        return staged
    staged = sql.Identifier(schema, name)
    cur.execute("SAVEPOINT cutover_staging")
    try:
        cur.execute(sql.SQL("CREATE UNLOGGED TABLE {} (" + columns + ")").format(staged))
    except psycopg2.errors.InsufficientPrivilege:
        cur.execute("ROLLBACK TO SAVEPOINT cutover_staging")
        staged = sql.Identifier(name)
        cur.execute(sql.SQL("CREATE TEMP TABLE {} (" + columns + ") ON COMMIT DROP")
                    .format(staged))
    cur.execute("RELEASE SAVEPOINT cutover_staging")
    return staged


def _hash_sum(row_text: str) -> str:
    """(rows, sum of each row text's 64-bit hash): both sides are hashed by Postgres, so any
    hash will do; ``hashtextextended`` (bytes, under "C") costs far less per row than md5 +
    hex + bit cast (on 1M ~200-char payloads, both scans 4.8 s instead of 8.7 s)."""
    return f'count(*), coalesce(sum(hashtextextended(({row_text}) COLLATE "C", 0)), 0)'


def _row_parts(table: TablePlan, apart: tuple[TargetColumn, ...]) -> tuple[list[str], list[str]]:
    """Each side's row text, as parts to join: the staged source row (its anchor's text, then
    Postgres' parse of each jsonb text, printed) and the target's, printed the same way."""
    null = "'\\N'"
    source_parts = ["rest"] + [f"coalesce(v{i}::jsonb::text, {null})"
                               for i in range(len(apart))]
    target_parts = [pg_row_sql(anchor_columns(table))] + [
        f"coalesce({quote_pg(col.name)}::text, {null})" for col in apart]
    return source_parts, target_parts


def _rows_hash(cur, row_text: str, relation: sql.Identifier) -> tuple[int, int]:
    """(rows, hash sum mod 2^64) of ``row_text`` over every row of ``relation``
    (``_hash_sum``)."""
    cur.execute(sql.SQL(f"SELECT {_hash_sum(row_text)} FROM {{}}").format(relation))
    rows, total = cur.fetchone()
    return rows, int(total) % MOD


def source_hash(cur, table: TablePlan, apart: tuple[TargetColumn, ...],
                staged: sql.Identifier) -> tuple[int, int]:
    """(rows, hash sum) of the staged source rows."""
    return _rows_hash(cur, pg_tab_joined(_row_parts(table, apart)[0]), staged)


def target_hash(cur, table: TablePlan, apart: tuple[TargetColumn, ...]) -> tuple[int, int]:
    """(rows, hash sum) of the target's rows, comparable with ``source_hash``."""
    return _rows_hash(cur, pg_tab_joined(_row_parts(table, apart)[1]), table.target.identifier)


def _name_differences(cur, table: TablePlan, apart: tuple[TargetColumn, ...],
                      staged: sql.Identifier) -> str:
    """The problem line for sides whose hashes differ: per-column multiset comparisons name the
    columns, and a few source rows the target lacks are shown by their beginning."""
    source_parts, target_parts = _row_parts(table, apart)
    source_row, target_row = pg_tab_joined(source_parts), pg_tab_joined(target_parts)
    differing = [col.name for i, col in enumerate(apart)
                 if _multiset_differs(cur, table, staged, source_parts[0], target_parts[0],
                                      source_parts[i + 1], target_parts[i + 1])]
    cur.execute(sql.SQL(
        f"SELECT r FROM (SELECT {source_row} AS r FROM {{}} EXCEPT ALL "
        f"SELECT {target_row} FROM {{}}) d LIMIT %s").format(
        staged, table.target.identifier), (ROWS_SHOWN,))
    shown = "; ".join(row[0].split("\t", 1)[0] for row in cur.fetchall())
    return (f"{table.name}: jsonb column(s) {', '.join(differing) or '?'} differ from "
            f"Postgres' own parse of the source text"
            + (f" (source rows beginning {shown})" if shown else ""))


def _multiset_differs(cur, table: TablePlan, staged: sql.Identifier, source_rest: str,
                      target_rest: str, source_value: str, target_value: str) -> bool:
    source = f"SELECT {pg_tab_joined([source_rest, source_value])} FROM {{0}}"
    target = f"SELECT {pg_tab_joined([target_rest, target_value])} FROM {{1}}"
    cur.execute(sql.SQL(f"SELECT EXISTS (({source} EXCEPT ALL {target}) UNION ALL "
                        f"({target} EXCEPT ALL {source}))").format(
        staged, table.target.identifier))
    return cur.fetchone()[0]


def compare_apart(sqlite_path: Path, cur, table: TablePlan,
                  coercions: frozenset[str] = frozenset(),
                  source: tuple[int, int] | None = None) -> str | None:
    """A problem line when a jsonb column differs between the sides, else None; a Postgres
    error while comparing (inside a savepoint) is a problem naming the table. ``source``: the
    source's (rows, hash sum), when already computed (``jsonb_source_hashes``)."""
    apart = apart_columns(table)
    if not apart:
        return None
    cur.execute("SAVEPOINT cutover_verify_apart")
    try:
        found = _differing_apart(sqlite_path, cur, table, apart, coercions, source)
    except psycopg2.Error as exc:
        cur.execute("ROLLBACK TO SAVEPOINT cutover_verify_apart")
        message = (exc.pgerror or str(exc)).strip().splitlines()[0].removeprefix("ERROR:")
        return f"{table.name}: jsonb columns could not be compared: {message.strip()}"
    cur.execute("RELEASE SAVEPOINT cutover_verify_apart")
    return found
