"""Catch-up rounds: the changes logged since the position, applied to Postgres and verified.

A round, in order:

1. refuses to run if either side's schema changed since capture-start (fingerprints);
2. in ONE read transaction on the live SQLite file: the change log's end, the distinct keys
   logged since the position, and those rows' current values as COPY text — the engine's own
   value path (``values.copy_row_sql``), so a row is converted exactly as the bulk load does;
3. in ONE Postgres transaction (keys deferred where deferrable): the keys and rows staged in
   temp tables by COPY; the rows whose key is gone from SQLite deleted, children first, and
   the current rows upserted, parents first (the plan's FK order; one statement per table, so
   a self-reference among the round's rows is fine). Deletes go first when every foreign key is
   deferrable (a unique value may then move from a deleted row to a new one); with a
   non-deferrable key the upserts go first (a changed key's children are re-pointed before the
   old key is deleted). Then every touched key compared row by row with
   the source (the text verify hashes); both sides' per-table sums moved by the round's rows
   (old hashes out, new in — verify's row hash); the position advanced. The caller commits.

Re-applying a round is harmless (values are re-read, not replayed), so a killed round is simply
run again from the same position.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO

from psycopg2 import sql

from sqlite_to_pg import native_rows
from sqlite_to_pg.catalog import Plan, quote_sqlite
from sqlite_to_pg.change_capture import (
    CHANGE_LOG,
    CapturedTable,
    CaptureRefused,
    change_log_position,
    changed_keys,
    schema_fingerprint,
    values_sql,
)
from sqlite_to_pg.online_state import OnlineState, TableSums, record_round, target_fingerprint
from sqlite_to_pg.row_checksum import MOD, RowChecksum
from sqlite_to_pg.row_hash import row_sums_sql
from sqlite_to_pg.values import (
    REFUSED_MARK,
    apply_session_settings,
    copy_row_sql,
    hashed_columns,
    pg_row_sql,
    refused_columns,
)

KEYS_PER_QUERY = 500
DIFFERENCES_SHOWN = 10
_temp_names = itertools.count()


@dataclass
class SourceRows:
    """What SQLite holds now for some logged keys: each key's COPY text, and the current row
    (COPY text, newline included) of every key that still exists."""

    key_texts: dict[str, bytes] = field(default_factory=dict)   # logged key -> key text
    rows: dict[bytes, bytes] = field(default_factory=dict)       # key text -> row line
    hashed: list[bytes] = field(default_factory=list)  # the rows as row checksums hash them


@dataclass
class RoundResult:
    """One round: where it started and ended, what it did, and what differed (if anything)."""

    position_before: int
    position_after: int
    keys: dict[str, int] = field(default_factory=dict)
    upserted: int = 0
    deleted: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    touched: dict[str, set[str]] = field(default_factory=dict)

    @property
    def key_count(self) -> int:
        return sum(self.keys.values())

    @property
    def ok(self) -> bool:
        return not self.problems


def check_schemas(live, cur, captured: list[CapturedTable], state: OnlineState) -> None:
    """``CaptureRefused`` when either side's schema differs from capture-start's."""
    names = [table.plan.source.name for table in captured]
    changed = []
    if schema_fingerprint(live, names) != state.source_fingerprint:
        changed.append("the SQLite file (a copied table, index or trigger)")
    if captured and target_fingerprint(cur, _plan_of(captured)) != state.target_fingerprint:
        changed.append("the Postgres target (a table's columns or keys)")
    if changed:
        raise CaptureRefused(
            f"the schema changed on {' and on '.join(changed)} since capture-start: the captured "
            "changes no longer describe the tables. Refusing; run capture-stop, then start over "
            "(capture-start, precopy) or use the single-window cutover.")


def _plan_of(captured: list[CapturedTable]) -> Plan:
    first = captured[0].plan
    return Plan(schema=first.target.schema, tables=[table.plan for table in captured])


def read_source_rows(live, table: CapturedTable, keys: Iterable[str],
                     coercions: frozenset[str]) -> SourceRows:
    """Each key's COPY text and its row's current COPY text, read on ``live`` (whose read
    transaction the caller holds); ``live`` needs the value functions."""
    found = SourceRows()
    key_cols = table.key_columns
    names = ", ".join(quote_sqlite(name) for name in table.key)
    aliases = [f"_k{i}" for i in range(len(table.key))]
    join = " AND ".join(f"t.{quote_sqlite(name)} = k.{alias}"
                        for name, alias in zip(table.key, aliases, strict=True))
    key_text = f"CAST({copy_row_sql(key_cols, coercions, False)} AS BLOB)"
    # jsonb as Postgres prints it: these rows are compared one by one with the target's
    row_text = f"CAST({copy_row_sql(table.plan.columns, coercions, canonical=True)} AS BLOB)"
    hashed_text = (f"CAST({copy_row_sql(hashed_columns(table.plan.columns), coercions)} "
                   "AS BLOB)")
    source = quote_sqlite(table.plan.source.name)
    ordered = sorted(keys)
    for start in range(0, len(ordered), KEYS_PER_QUERY):
        batch = ordered[start:start + KEYS_PER_QUERY]
        values = values_sql(batch)
        texts = live.execute(f"WITH k({names}) AS ({values}) SELECT {key_text} FROM k")
        found.key_texts.update(zip(batch, (text for (text,) in texts), strict=True))
        for key, row, hashed in live.execute(
                f"WITH k({', '.join(aliases)}) AS ({values}) "
                f"SELECT {key_text}, {row_text}, {hashed_text} "
                f"FROM k CROSS JOIN {source} AS t ON {join}"):
            found.rows[key] = row
            found.hashed.append(hashed)
    return found


def _key_match(table: CapturedTable, left: str, right: str) -> sql.Composable:
    return sql.SQL(" AND ").join(
        sql.SQL("{}.{} = {}.{}").format(sql.Identifier(left), sql.Identifier(name),
                                        sql.Identifier(right), sql.Identifier(name))
        for name in table.key)


def _temp_table(cur, table: CapturedTable, columns: tuple[str, ...], lines) -> sql.Identifier:
    """A temp table (dropped at commit) with the target's types for ``columns``, filled by
    COPY from ``lines``."""
    name = sql.Identifier(f"_cutover_stage_{next(_temp_names)}")
    column_list = sql.SQL(", ").join(sql.Identifier(col) for col in columns)
    cur.execute(sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA")
                .format(name, column_list, table.plan.target.identifier))
    cur.copy_expert(sql.SQL("COPY {} ({}) FROM STDIN").format(name, column_list).as_string(cur),
                    BytesIO(b"".join(lines)))
    cur.execute(sql.SQL("ANALYZE {}").format(name))  # so joins probe the target's key index
    return name


def refuse_unconvertible(table: CapturedTable, source: SourceRows) -> None:
    """``CaptureRefused`` naming the first changed row holding a value no converter can carry
    (``values.REFUSED_FIELD_SQL``: one the preflight would name), before anything is sent."""
    for key, row in source.rows.items():
        if REFUSED_MARK in row:
            names = [col.name for col in table.plan.columns]
            columns = ", ".join(refused_columns(row, names)) or "?"
            raise CaptureRefused(
                f"{table.plan.name}: a changed row ({key}) holds a value in column(s) {columns} "
                "that cannot be loaded as it is; nothing of this round was kept. Fix the row "
                "in SQLite (the migration's --dry-run names every such value), then run again.")


def stage(cur, table: CapturedTable, source: SourceRows) -> tuple[sql.Identifier, sql.Identifier]:
    """Temp tables of the touched keys and of the current rows, on the Postgres side."""
    refuse_unconvertible(table, source)
    keys = _temp_table(cur, table, table.key, (text + b"\n" for text in source.key_texts.values()))
    rows = _temp_table(cur, table, table.plan.column_names, source.rows.values())
    return keys, rows


def target_sums(cur, table: CapturedTable, keys: sql.Identifier) -> tuple[int, int]:
    """(rows, sum of row hashes) of the target rows with a staged key."""
    relation = sql.SQL("{} AS t").format(table.plan.target.identifier).as_string(cur)
    condition = sql.SQL("EXISTS (SELECT 1 FROM {} AS k WHERE {})").format(
        keys, _key_match(table, "t", "k")).as_string(cur)
    cur.execute(row_sums_sql(hashed_columns(table.plan.columns), relation, condition))
    rows, total = cur.fetchone()
    return rows, int(total)


def delete_vanished(cur, table: CapturedTable, keys, rows) -> int:
    """Delete target rows whose key is touched but no longer in SQLite; how many."""
    cur.execute(sql.SQL("DELETE FROM {} AS t USING {} AS k WHERE {} AND NOT EXISTS "
                        "(SELECT 1 FROM {} AS s WHERE {})").format(
        table.plan.target.identifier, keys, _key_match(table, "t", "k"), rows,
        _key_match(table, "s", "k")))
    return cur.rowcount


def upsert_current(cur, table: CapturedTable, rows) -> int:
    """Insert or update every current row on the table's key; how many."""
    columns = table.plan.column_names
    column_list = sql.SQL(", ").join(sql.Identifier(col) for col in columns)
    updates = [col for col in columns if col not in table.key]
    action = (sql.SQL("DO UPDATE SET ") + sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(col)) for col in updates)
        if updates else sql.SQL("DO NOTHING"))
    cur.execute(sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {} "
                        "ON CONFLICT ({}) {}").format(
        table.plan.target.identifier, column_list, column_list, rows,
        sql.SQL(", ").join(sql.Identifier(col) for col in table.key), action))
    return cur.rowcount


def target_rows(cur, table: CapturedTable, keys: sql.Identifier) -> dict[bytes, bytes]:
    """Key text -> row text (newline included) of the target rows with a staged key."""
    cur.execute(sql.SQL("SELECT convert_to({}, 'UTF8'), convert_to({}, 'UTF8') FROM {} AS t "
                        "WHERE EXISTS (SELECT 1 FROM {} AS k WHERE {})").format(
        sql.SQL(pg_row_sql(table.key_columns)),
        sql.SQL(pg_row_sql(table.plan.columns, newline=True)),
        table.plan.target.identifier, keys, _key_match(table, "t", "k")))
    return {bytes(key): bytes(row) for key, row in cur.fetchall()}


def differences(table: CapturedTable, source: dict[bytes, bytes],
                target: dict[bytes, bytes]) -> list[str]:
    """One line per key whose row differs between the sides (a few shown, all counted)."""
    differing = sorted(key for key in source.keys() | target.keys()
                       if source.get(key) != target.get(key))
    if not differing:
        return []
    shown = ", ".join(key.decode("utf-8", "replace").replace("\t", ",")
                      for key in differing[:DIFFERENCES_SHOWN])
    kinds = {"missing in Postgres": sum(key not in target for key in differing),
             "only in Postgres": sum(key not in source for key in differing)}
    kinds["different values"] = len(differing) - sum(kinds.values())
    detail = ", ".join(f"{count} {kind}" for kind, count in kinds.items() if count)
    return [f"{table.name}: {len(differing)} row(s) differ ({detail}); key(s) "
            f"({', '.join(table.key)}) = {shown}"]


def _delete_children_first(cur, captured: list[CapturedTable], staged) -> int:
    return sum(delete_vanished(cur, table, *staged[table.name][:2])
               for table in reversed(captured) if table.name in staged)


def source_sum(rows: Iterable[bytes]) -> tuple[int, int]:
    """(rows, sum of row hashes) of source lines, the way verify hashes them."""
    checksum = RowChecksum()
    lines = list(rows)
    if lines:
        native_rows.add_any(checksum, lines)
    return checksum.result


def apply_round(live, cur, captured: list[CapturedTable], state: OnlineState,
                *, upto: int | None = None) -> RoundResult:
    """Read the changes since ``state.position`` (up to ``upto``, default: the log's end) and
    apply them on ``cur``'s transaction, verified; the caller commits when ``ok``.

    ``live`` is a connection to the live SQLite file with the value functions registered.
    """
    started = time.monotonic()
    check_schemas(live, cur, captured, state)
    position = state.position or 0
    live.execute("BEGIN")
    try:
        end = change_log_position(live) if upto is None else upto
        logged = changed_keys(live, position, end)
        sources = {table.name: read_source_rows(live, table, logged[table.plan.source.name],
                                                state.coercions)
                   for table in captured if logged.get(table.plan.source.name)}
    finally:
        live.execute("COMMIT")
    result = RoundResult(position_before=position, position_after=end)
    apply_session_settings(cur)
    cur.execute("SET CONSTRAINTS ALL DEFERRED")
    staged = {}
    for table in captured:
        if table.name in sources:
            keys, rows = stage(cur, table, sources[table.name])
            staged[table.name] = (keys, rows, target_sums(cur, table, keys))
            result.keys[table.name] = len(sources[table.name].key_texts)
    deletes_first = all(fk.deferrable for table in captured
                        for fk in table.plan.target.foreign_keys)
    if deletes_first:
        result.deleted += _delete_children_first(cur, captured, staged)
    for table in captured:
        if table.name in staged:
            result.upserted += upsert_current(cur, table, staged[table.name][1])
    if not deletes_first:
        result.deleted += _delete_children_first(cur, captured, staged)
    sums = {}
    for table in captured:
        if table.name not in staged:
            continue
        keys, _rows, (old_rows, old_sum) = staged[table.name]
        source = sources[table.name]
        after = target_rows(cur, table, keys)
        result.problems += differences(table, source.rows, after)
        new_rows, new_sum = target_sums(cur, table, keys)
        src_rows, src_sum = source_sum(source.hashed)
        before = state.tables[table.name]
        sums[table.name] = TableSums(
            source_rows=before.source_rows - old_rows + src_rows,
            source_sum=(before.source_sum - old_sum + src_sum) % MOD,
            target_rows=before.target_rows - old_rows + new_rows,
            target_sum=(before.target_sum - old_sum + new_sum) % MOD)
        result.touched[table.name] = set(source.key_texts)
    record_round(cur, end, sums, result.touched)
    for name, table_sums in sums.items():
        state.tables[name] = table_sums
    result.seconds = time.monotonic() - started
    return result


def rows_behind(live, position: int) -> int:
    """Change-log entries written since ``position`` (each is one row change)."""
    return live.execute(f"SELECT count(*) FROM {CHANGE_LOG} WHERE seq > ?",
                        (position,)).fetchone()[0]
