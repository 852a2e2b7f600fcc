"""Preflight: every value Postgres would reject or change, found before anything is written.

Read-only on both sides. For each table one SQLite scan counts every check of every column
(``values`` supplies the checks per target type); the checks that hit are then asked for up to
``EXAMPLES`` examples with their rowids. Foreign keys of the *target* are checked with an
anti-join on SQLite, and every primary key / unique constraint of the target with a GROUP BY
over the values as Postgres would store them. Schema problems from the plan come first.
A finding a named ``--allow-coercion`` covers is counted but does not block.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

from foundation.database_urls import redact_text
from sqlite_to_pg.catalog import (
    ForeignKey,
    Plan,
    TablePlan,
    TargetColumn,
    UniqueKey,
    open_source,
    quote_sqlite,
)
from sqlite_to_pg.collation_uniqueness import find_clashes
from sqlite_to_pg.source_scan import WHOLE_TABLE, SourcePool, rowid_ranges
from sqlite_to_pg.values import Check, converter_for, is_supported, register_functions

EXAMPLES = 3
EXAMPLE_CHARS = 60


@dataclass
class Finding:
    """A kind of problem in one table/column: how many rows, and a few examples."""

    category: str
    table: str
    column: str | None
    count: int
    examples: list[str] = field(default_factory=list)
    blocking: bool = True
    coercion: str | None = None
    detail: str = ""

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column}" if self.column else self.table


@dataclass
class PreflightReport:
    """All findings and the source row count per planned table."""

    findings: list[Finding] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(finding.blocking for finding in self.findings)

    def coerced(self) -> dict[str, int]:
        """Values each opted-in coercion will convert."""
        counts: dict[str, int] = {}
        for finding in self.findings:
            if finding.coercion and not finding.blocking:
                counts[finding.coercion] = counts.get(finding.coercion, 0) + finding.count
        return counts


def show_value(value: object) -> str:
    """A value as an example: repr, shortened."""
    text = repr(value)
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS - 3] + "..."


def _row_ref(table: TablePlan) -> str:
    return "rowid" if table.source.has_rowid else quote_sqlite(table.source.columns[0].name)


def pgloader_value_checks(column: TargetColumn, x: str) -> list[Check]:
    """What pgloader cannot carry although the built-in loader can (measured with 3.6.9):
    ±Infinity in a float column is sent as ``#.DOUBLE-FLOAT-POSITIVE-INFINITY``. (NaN cannot
    be in SQLite: it stores NULL instead; the other silent changes pgloader makes — NUL bytes,
    epoch integers in date/time columns, invalid UTF-8 — are refused for every engine.)"""
    if column.type_name in ("float4", "float8"):
        return [Check("not-for-pgloader", f"typeof({x}) = 'real' AND {x} IN (9e999, -9e999)")]
    return []


# Per-engine value checks on top of the type table's: engine name → (column, x) → checks.
ENGINE_VALUE_CHECKS: dict[str, Callable[[TargetColumn, str], list[Check]]] = {
    "pgloader": pgloader_value_checks,
}


def _unsupported_check(column: TargetColumn, x: str) -> Check:
    return Check("unsupported-type", f"{x} IS NOT NULL")


def _table_checks(table: TablePlan, coercions: frozenset[str], engine: str | None = None,
                  before_load: bool = False) -> list[tuple[str, Check]]:
    """Every value check of every column: NOT NULL, the type table's, the engine's. A column of
    a type the type table lacks gets one check counting its values; it hides no other check.

    ``before_load``: only the checks the built-in loader cannot catch itself (a NULL in a NOT
    NULL column is refused by Postgres in COPY; see ``Check.caught_by_load``)."""
    extra = ENGINE_VALUE_CHECKS.get(engine or "")
    checks = []
    for column in table.columns:
        x = quote_sqlite(column.name)
        if column.not_null and not before_load:
            checks.append((column.name, Check("not-null", f"{x} IS NULL")))
        converter = converter_for(column, coercions) if is_supported(column) else None
        typed = ([_unsupported_check(column, x)] if converter is None
                 else converter.checks_before_load(x) if before_load else converter.checks(x))
        checks += [(column.name, check) for check in typed]
        if extra is not None:
            checks += [(column.name, check) for check in extra(column, x)]
    return checks


def _examples(src: sqlite3.Connection, table: TablePlan, column: str, condition: str) -> list:
    x = quote_sqlite(column)
    rows = src.execute(
        f"SELECT {_row_ref(table)}, typeof({x}), "
        f"CASE WHEN typeof({x}) = 'text' THEN CAST({x} AS BLOB) ELSE {x} END "
        f"FROM {quote_sqlite(table.source.name)} WHERE {condition} LIMIT {EXAMPLES}").fetchall()
    return [f"rowid {rowid}: {show_value(_as_shown(kind, value))}" for rowid, kind, value in rows]


def _as_shown(kind: str, value: object) -> object:
    """Text as str even when it is not valid UTF-8 (bad bytes shown as \\xNN)."""
    if kind == "text" and isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return value


def _sums(conditions: list[str]) -> str:
    return "".join(f", sum(CASE WHEN {condition} THEN 1 ELSE 0 END)" for condition in conditions)


def _split(checks: list[Check]) -> tuple[list[str], list[str]]:
    """(ungated conditions, distinct gates): what the first scan evaluates for every row."""
    gates = list(dict.fromkeys(check.gate for check in checks if check.gate))
    return [check.condition for check in checks if not check.gate], gates


def scan_counts(src: sqlite3.Connection, table: TablePlan, checks: list[Check],
                where: str = WHOLE_TABLE) -> list[int]:
    """The first scan over the rows ``where`` selects: [rows, each ungated check, each gate]."""
    plain, gates = _split(checks)
    return list(src.execute(f"SELECT count(*){_sums(plain + gates)} "
                            f"FROM {quote_sqlite(table.source.name)} WHERE {where}").fetchone())


def count_checks(src: sqlite3.Connection, table: TablePlan, checks: list[Check],
                 first: list[int] | None = None) -> tuple[int, list[int]]:
    """(row count, rows each check is true for): one scan, plus one over the gated rows.

    The first scan (``scan_counts``, or its sums over ranges as ``first``) evaluates each
    ungated check and each distinct gate once per row; only the checks behind a gate that
    let rows through are counted again, on those rows alone.
    """
    first = first if first is not None else scan_counts(src, table, checks)
    plain, gates = _split(checks)
    counts = dict(zip(plain, first[1:], strict=False))
    open_gates = [gate for gate, hits in zip(gates, first[1 + len(plain):], strict=True) if hits]
    gated = [check.full_condition for check in checks if check.gate in open_gates]
    if gated:
        where = " OR ".join(f"({gate})" for gate in open_gates)
        second = src.execute(f"SELECT 0{_sums(gated)} FROM {quote_sqlite(table.source.name)} "
                             f"WHERE {where}").fetchone()
        counts.update(zip(gated, second[1:], strict=True))
    return first[0], [counts.get(check.full_condition if check.gate else check.condition, 0)
                      for check in checks]


def _detail(table: TablePlan, column: str, category: str, rows: int, count: int) -> str:
    if category == "unsupported-type":
        return (f"target type {table.target.column(column).type_sql} is not supported; "
                f"{count} of {rows} row(s) hold a value")
    return ""


def check_values(src: sqlite3.Connection, table: TablePlan, coercions: frozenset[str],
                 first: list[int] | None = None, engine: str | None = None,
                 before_load: bool = False) -> tuple[int, list[Finding]]:
    """(row count, findings) for every value check of one table, in about one scan.

    Each finding counts exactly the rows its check is true for; an unsupported column is
    reported even when every row is NULL there (the loader cannot write its type at all)."""
    columns_checks = _table_checks(table, coercions, engine, before_load)
    rows, counts = count_checks(src, table, [check for _, check in columns_checks], first)
    findings = []
    for (column, check), count in zip(columns_checks, counts, strict=True):
        if not count and check.category != "unsupported-type":
            continue
        covered = check.coercion is not None and check.coercion in coercions
        findings.append(Finding(check.category, table.name, column, count,
                                _examples(src, table, column, check.full_condition),
                                blocking=not covered, coercion=check.coercion,
                                detail=_detail(table, column, check.category, rows, count)))
    return rows, findings


def _not_null(alias: str, columns: tuple[str, ...]) -> str:
    return " AND ".join(f"{alias}.{quote_sqlite(name)} IS NOT NULL" for name in columns)


def check_foreign_key(src: sqlite3.Connection, table: TablePlan, fk: ForeignKey,
                      parent: TablePlan) -> Finding | None:
    """Rows whose key has no row to reference in the parent table (as the target defines it)."""
    join = " AND ".join(f"p.{quote_sqlite(ref)} = c.{quote_sqlite(col)}"
                        for col, ref in zip(fk.columns, fk.ref_columns, strict=True))
    where = (f"{_not_null('c', fk.columns)} AND NOT EXISTS (SELECT 1 FROM "
             f"{quote_sqlite(parent.source.name)} p WHERE {join})")
    source = f"{quote_sqlite(table.source.name)} c"
    count = src.execute(f"SELECT count(*) FROM {source} WHERE {where}").fetchone()[0]
    if not count:
        return None
    values = " || ', ' || ".join(f"quote(c.{quote_sqlite(col)})" for col in fk.columns)
    ref = "rowid" if table.source.has_rowid else quote_sqlite(table.source.columns[0].name)
    rows = src.execute(f"SELECT c.{ref}, {values} FROM {source} WHERE {where} "
                       f"LIMIT {EXAMPLES}").fetchall()
    return Finding("orphan-fk", table.name, ", ".join(fk.columns), count,
                   [f"rowid {rowid}: ({vals}) not in {fk.ref_table}" for rowid, vals in rows],
                   detail=f"foreign key {fk.name} → {fk.ref_table}")


def is_rowid_alias(src: sqlite3.Connection, table: TablePlan, column: str) -> bool:
    """True when ``column`` is the source table's INTEGER PRIMARY KEY (an alias of the rowid).

    ``INTEGER PRIMARY KEY DESC`` is not an alias: SQLite gives it an index of its own instead.
    """
    if not table.source.has_rowid:
        return False
    name = table.source.name
    primary = src.execute("SELECT name, upper(type) FROM pragma_table_info(?) WHERE pk > 0",
                          (name,)).fetchall()
    own_index = src.execute("SELECT 1 FROM pragma_index_list(?) WHERE origin = 'pk'",
                            (name,)).fetchone()
    return primary == [(column, "INTEGER")] and own_index is None


def check_unique_key(src: sqlite3.Connection, table: TablePlan, key: UniqueKey,
                     coercions: frozenset[str]) -> Finding | None:
    """Rows whose key values — as Postgres would store them — repeat."""
    columns = [table.target.column(name) for name in key.columns]
    if any(col is None or col.name not in table.column_names or not is_supported(col)
           for col in columns):
        return None  # an unsupported column is a finding of its own
    # as stored: jsonb in its own form (keys sorted, spacing), not the source text it is sent as
    exprs = [converter_for(col, coercions).canonical_sql(quote_sqlite(col.name))
             for col in columns]
    if exprs == [quote_sqlite(key.columns[0])] and is_rowid_alias(src, table, key.columns[0]):
        return None  # SQLite keeps its INTEGER PRIMARY KEY unique, and it is copied unchanged
    not_null = " AND ".join(f"({expr}) IS NOT NULL" for expr in exprs)
    groups = (f"SELECT {', '.join(exprs)}, count(*) AS n, group_concat({_row_ref(table)}) "
              f"FROM {quote_sqlite(table.source.name)} WHERE {not_null} "
              f"GROUP BY {', '.join(str(i + 1) for i in range(len(exprs)))} HAVING count(*) > 1")
    count = src.execute(f"SELECT coalesce(sum(n), 0) FROM ({groups})").fetchone()[0]
    if not count:
        return None
    examples = [f"({', '.join(map(str, row[:-2]))}) at rowids {show_value(row[-1])[1:-1]}"
                for row in src.execute(f"{groups} LIMIT {EXAMPLES}")]
    return Finding("duplicate-key", table.name, ", ".join(key.columns), count, examples,
                   detail=f"{'primary key' if key.primary else 'unique'} {key.name}")


def _schema_findings(plan: Plan) -> list[Finding]:
    return [Finding("schema", problem.split(":", 1)[0], None, 1, [],
                    detail=problem.split(":", 1)[1].strip()) for problem in plan.problems]


def collation_findings(src: sqlite3.Connection, pg_url: str, plan: Plan,
                       coercions: frozenset[str]) -> list[Finding]:
    """Unique keys the target's non-deterministic collations (or citext) would break; if
    Postgres cannot be asked, one blocking finding says so (the check is not skipped)."""
    try:
        clashes = find_clashes(src, pg_url, plan, coercions)
    except psycopg2.Error as exc:
        return [Finding("duplicate-under-collation", "(target)", None, 0, [],
                        detail=redact_text(f"could not be checked: {exc}".strip()))]
    return [Finding("duplicate-under-collation", clash.table, ", ".join(clash.key.columns),
                    clash.rows, clash.examples,
                    detail=f"{'primary key' if clash.key.primary else 'unique'} "
                           f"{clash.key.name}: equal under {clash.comparison}")
            for clash in clashes]


@dataclass
class _TableReads:
    """One table's reads, submitted to the pool: first-scan parts, key checks (in order)."""

    scans: list[Future]
    keys: list[Future]


def _submit_reads(pool: SourcePool, src: sqlite3.Connection, plan: Plan, table: TablePlan,
                  coercions: frozenset[str], engine: str | None,
                  before_load: bool) -> _TableReads:
    checks = [check for _, check in _table_checks(table, coercions, engine, before_load)]
    scans = [pool.submit(scan_counts, table, checks, where)
             for where in (rowid_ranges(src, table) if checks else [WHOLE_TABLE])]
    if before_load:  # the load re-adds the keys: Postgres refuses an orphan or a duplicate
        return _TableReads(scans, [])
    keys = [pool.submit(check_foreign_key, table, fk, plan.table(fk.ref_table))
            for fk in table.target.foreign_keys if fk.ref_table in plan.table_names]
    keys += [pool.submit(check_unique_key, table, key, coercions)
             for key in table.target.unique_keys]
    return _TableReads(scans, keys)


def run_preflight(plan: Plan, sqlite_path: Path, coercions: frozenset[str] = frozenset(),
                  progress=None, *, pg_url: str | None = None,
                  engine: str | None = None, before_load: bool = False) -> PreflightReport:
    """Check every planned table; nothing is written anywhere.

    Every scan is submitted at once to a small pool of source threads (big tables in rowid
    ranges), then the results are read back table by table, in plan order. With ``pg_url``,
    unique keys over columns the target compares loosely are checked by Postgres (read-only);
    ``engine`` adds that engine's own refusals (``ENGINE_VALUE_CHECKS``). ``before_load``
    leaves out what the built-in loader catches itself: the value checks marked
    ``Check.caught_by_load``, and the key checks (the keys it rebuilds refuse a duplicate, an
    orphan or a collation clash); its caller runs the whole preflight if the load then fails,
    to name every problem.
    """
    report = PreflightReport(findings=_schema_findings(plan))
    with contextlib.closing(open_source(sqlite_path)) as src, SourcePool(sqlite_path) as pool:
        register_functions(src)
        reads = {table.name: _submit_reads(pool, src, plan, table, coercions, engine,
                                           before_load)
                 for table in plan.tables}
        for table in plan.tables:
            if progress is not None:
                progress.note(f"preflight {table.name}")
            parts = [future.result() for future in reads[table.name].scans]
            first = [sum(part or 0 for part in column) for column in zip(*parts, strict=True)]
            rows, findings = check_values(src, table, coercions, first, engine, before_load)
            report.row_counts[table.name] = rows
            report.findings += findings
            report.findings += [found for future in reads[table.name].keys
                                if (found := future.result()) is not None]
        if pg_url is not None and not before_load:  # a clash fails the unique index rebuild
            report.findings += collation_findings(src, pg_url, plan, coercions)
    return report
