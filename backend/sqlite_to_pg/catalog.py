"""What is on each side: the SQLite source tables, the Postgres target tables, and the load plan.

The plan pairs every source table with the target table of exactly the same name (names are
never folded: ``"Album"`` is not ``album``), lists the columns to copy, and orders the tables
so that every table comes after the tables its foreign keys reference (self-references and
cycles are allowed: the loader drops the keys during the load, so the order is a courtesy).
``alembic_version`` and SQLite's own ``sqlite_*`` tables are never part of a plan.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from psycopg2 import sql

from foundation.sqlite_files import open_read_only

SKIPPED_TABLES = frozenset({"alembic_version"})
SKIPPED_PREFIX = "sqlite_"
TARGET_ONLY_TYPES = frozenset({"tsvector"})  # filled by the target: never loaded or compared


# --------------------------------------------------------------------------- source (SQLite)

@dataclass(frozen=True)
class SourceColumn:
    """One column of a SQLite table as ``PRAGMA table_xinfo`` describes it."""

    name: str
    declared_type: str
    not_null: bool
    generated: bool = False


@dataclass(frozen=True)
class SourceTable:
    """A SQLite table; ``has_rowid`` is false for ``WITHOUT ROWID`` tables."""

    name: str
    columns: tuple[SourceColumn, ...]
    has_rowid: bool = True

    def column(self, name: str) -> SourceColumn | None:
        return next((col for col in self.columns if col.name == name), None)


def open_source(path: str | Path, library: ModuleType = sqlite3) -> sqlite3.Connection:
    """Open the source file read-only (``foundation.sqlite_files``; with the DB-API module
    ``library``), usable from any thread."""
    return open_read_only(path, check_same_thread=False, library=library)


def quote_sqlite(name: str) -> str:
    """A SQLite identifier in double quotes (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def is_skipped_table(name: str) -> bool:
    """True for tables a migration never copies (``alembic_version``, ``sqlite_*``)."""
    return name in SKIPPED_TABLES or name.lower().startswith(SKIPPED_PREFIX)


def read_source_tables(conn: sqlite3.Connection) -> dict[str, SourceTable]:
    """Every ordinary table of the SQLite database (skipped ones excluded), by exact name."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"
    ).fetchall()
    tables: dict[str, SourceTable] = {}
    for name, create_sql in rows:
        if is_skipped_table(name) or (create_sql or "").upper().startswith("CREATE VIRTUAL"):
            continue
        info = conn.execute(f"PRAGMA table_xinfo({quote_sqlite(name)})").fetchall()
        columns = tuple(
            SourceColumn(name=col[1], declared_type=col[2] or "", not_null=bool(col[3]),
                         generated=col[6] in (2, 3))
            for col in info if col[6] != 1  # hidden columns of virtual tables
        )
        without_rowid = "WITHOUT ROWID" in " ".join((create_sql or "").upper().split())
        tables[name] = SourceTable(name=name, columns=columns, has_rowid=not without_rowid)
    return tables


# --------------------------------------------------------------------------- target (Postgres)

@dataclass(frozen=True)
class TargetColumn:
    """One column of a Postgres table, with what the value converter needs to know."""

    name: str
    type_name: str          # udt name: int4, varchar, timestamptz, numeric, jsonb, ...
    type_sql: str           # as format_type() shows it: character varying(120), ...
    not_null: bool
    has_default: bool
    identity: bool = False
    generated: bool = False
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    labels: tuple[str, ...] = ()      # a native enum's labels, in order
    element_type: str | None = None   # an array's element type (udt name)
    domain: str | None = None         # the domain the column is declared with (schema.name)


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key of the target: ``table(columns) → ref_table(ref_columns)``."""

    name: str
    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    deferrable: bool = False


@dataclass(frozen=True)
class UniqueKey:
    """A primary key, unique constraint or plain-column unique index of the target."""

    name: str
    table: str
    columns: tuple[str, ...]
    primary: bool = False


@dataclass(frozen=True)
class TargetTable:
    """A Postgres table in the target schema."""

    schema: str
    name: str
    columns: tuple[TargetColumn, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    unique_keys: tuple[UniqueKey, ...] = ()

    def column(self, name: str) -> TargetColumn | None:
        return next((col for col in self.columns if col.name == name), None)

    @property
    def identifier(self) -> sql.Identifier:
        """The schema-qualified, quoted name for psycopg2 ``sql`` composition."""
        return sql.Identifier(self.schema, self.name)


_COLUMNS_SQL = """
SELECT c.table_name, c.column_name, bt.typname,
       format_type(a.atttypid, a.atttypmod), c.is_nullable = 'NO',
       c.column_default IS NOT NULL, c.is_identity = 'YES', a.attgenerated <> '',
       information_schema._pg_char_max_length(bt.oid, base.typmod),
       information_schema._pg_numeric_precision(bt.oid, base.typmod),
       information_schema._pg_numeric_scale(bt.oid, base.typmod), bt.typcategory = 'A',
       CASE WHEN bt.typtype = 'e' THEN ARRAY(SELECT e.enumlabel FROM pg_enum e
                                             WHERE e.enumtypid = bt.oid
                                             ORDER BY e.enumsortorder) END,
       CASE WHEN bt.typcategory = 'A' THEN et.typname END,
       CASE WHEN c.domain_name IS NOT NULL
            THEN format('%%I.%%I', c.domain_schema, c.domain_name) END,
       CASE WHEN bt.typcategory = 'A' AND et.typname IN ('varchar', 'bpchar')
             AND base.typmod > 4 THEN base.typmod - 4 END
FROM information_schema.columns c
JOIN pg_attribute a
  ON a.attrelid = format('%%I.%%I', c.table_schema, c.table_name)::regclass
 AND a.attname = c.column_name
CROSS JOIN LATERAL (  -- a domain (over a domain, ...) resolved to its base type and typmod
  WITH RECURSIVE chain(oid, kind, base, typmod, depth) AS (
    SELECT t.oid, t.typtype, t.typbasetype,
           CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, 0
    FROM pg_type t WHERE t.oid = a.atttypid
    UNION ALL
    SELECT t.oid, t.typtype, t.typbasetype, t.typtypmod, chain.depth + 1
    FROM pg_type t JOIN chain ON t.oid = chain.base WHERE chain.kind = 'd')
  SELECT (SELECT oid FROM chain WHERE kind <> 'd') AS oid,
         coalesce((SELECT typmod FROM chain WHERE typmod <> -1 ORDER BY depth LIMIT 1), -1)
           AS typmod) base
JOIN pg_type bt ON bt.oid = base.oid
LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
JOIN information_schema.tables t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = %(schema)s AND t.table_type = 'BASE TABLE'
ORDER BY c.table_name, c.ordinal_position
"""

_FOREIGN_KEYS_SQL = """
SELECT con.conname, src.relname, ref.relname, con.condeferrable,
       ARRAY(SELECT att.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.num
             ORDER BY k.ord),
       ARRAY(SELECT att.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute att ON att.attrelid = con.confrelid AND att.attnum = k.num
             ORDER BY k.ord)
FROM pg_constraint con
JOIN pg_class src ON src.oid = con.conrelid
JOIN pg_class ref ON ref.oid = con.confrelid
JOIN pg_namespace ns ON ns.oid = src.relnamespace
WHERE con.contype = 'f' AND ns.nspname = %(schema)s
ORDER BY src.relname, con.conname
"""

_UNIQUE_KEYS_SQL = """
SELECT idx.relname, tbl.relname, ix.indisprimary,
       ARRAY(SELECT att.attname FROM unnest(ix.indkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute att ON att.attrelid = ix.indrelid AND att.attnum = k.num
             ORDER BY k.ord)
FROM pg_index ix
JOIN pg_class idx ON idx.oid = ix.indexrelid
JOIN pg_class tbl ON tbl.oid = ix.indrelid
JOIN pg_namespace ns ON ns.oid = tbl.relnamespace
WHERE ix.indisunique AND ns.nspname = %(schema)s
  AND ix.indpred IS NULL AND ix.indexprs IS NULL AND NOT (0 = ANY(ix.indkey))
ORDER BY tbl.relname, idx.relname
"""


def current_schema(cur) -> str:
    """The schema unqualified table names resolve to on this connection."""
    cur.execute("SELECT current_schema()")
    return cur.fetchone()[0]


def read_target_tables(cur, schema: str) -> dict[str, TargetTable]:
    """Every base table of ``schema`` with its columns, foreign keys and unique keys."""
    params = {"schema": schema}
    columns: dict[str, list[TargetColumn]] = {}
    cur.execute(_COLUMNS_SQL, params)
    for (table, name, udt, type_sql, not_null, has_default, identity, generated,
         max_length, precision, scale, is_array, labels, element, domain,
         element_length) in cur.fetchall():
        type_name = "_array" if is_array else "_enum" if labels is not None else udt
        columns.setdefault(table, []).append(TargetColumn(
            name=name, type_name=type_name, type_sql=type_sql, not_null=not_null,
            has_default=has_default, identity=identity, generated=generated,
            max_length=element_length if type_name == "_array" else max_length,
            precision=precision if udt == "numeric" else None,
            scale=scale if udt == "numeric" else None,
            labels=tuple(labels or ()), element_type=element, domain=domain))
    foreign: dict[str, list[ForeignKey]] = {}
    cur.execute(_FOREIGN_KEYS_SQL, params)
    for name, table, ref_table, deferrable, cols, ref_cols in cur.fetchall():
        foreign.setdefault(table, []).append(ForeignKey(
            name=name, table=table, columns=tuple(cols), ref_table=ref_table,
            ref_columns=tuple(ref_cols), deferrable=deferrable))
    unique: dict[str, list[UniqueKey]] = {}
    cur.execute(_UNIQUE_KEYS_SQL, params)
    for name, table, primary, cols in cur.fetchall():
        unique.setdefault(table, []).append(
            UniqueKey(name=name, table=table, columns=tuple(cols), primary=primary))
    return {
        table: TargetTable(schema=schema, name=table, columns=tuple(cols),
                           foreign_keys=tuple(foreign.get(table, ())),
                           unique_keys=tuple(unique.get(table, ())))
        for table, cols in columns.items()
    }


# --------------------------------------------------------------------------- the plan

@dataclass(frozen=True)
class TablePlan:
    """One table to load: the source and target sides and the columns copied, in order."""

    source: SourceTable
    target: TargetTable
    columns: tuple[TargetColumn, ...]

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(col.name for col in self.columns)


@dataclass
class Plan:
    """The tables to load in FK-topological order, and what stops the load from being planned."""

    schema: str
    tables: list[TablePlan]
    problems: list[str] = field(default_factory=list)
    target_only: list[str] = field(default_factory=list)

    @property
    def table_names(self) -> list[str]:
        return [table.name for table in self.tables]

    def table(self, name: str) -> TablePlan:
        return next(table for table in self.tables if table.name == name)


def _column_problems(source: SourceTable, target: TargetTable) -> list[str]:
    problems = []
    for col in source.columns:
        if col.generated:
            continue
        tcol = target.column(col.name)
        if tcol is None:
            problems.append(f"{source.name}.{col.name}: source column has no target column"
                            f"{_did_you_mean(col.name, [c.name for c in target.columns])}")
        elif tcol.generated:
            problems.append(f"{source.name}.{col.name}: target column is generated; "
                            "it cannot be loaded")
        elif tcol.type_name in TARGET_ONLY_TYPES:
            problems.append(f"{source.name}.{col.name}: target column is {tcol.type_sql}, "
                            "which the target computes (a trigger or a generated column); "
                            "leave it out of the source")
    for tcol in target.columns:
        if (source.column(tcol.name) is None and tcol.not_null and not tcol.has_default
                and not tcol.identity and not tcol.generated
                and tcol.type_name not in TARGET_ONLY_TYPES):  # a trigger fills it, or COPY fails
            problems.append(f"{target.name}.{tcol.name}: NOT NULL target column has no source "
                            "column and no default")
    return problems


def _did_you_mean(name: str, candidates: list[str]) -> str:
    folded = [cand for cand in candidates if cand.lower() == name.lower()]
    return f" (names are not case-folded; the target has {folded[0]!r})" if folded else ""


def topological_order(names: list[str], foreign_keys: list[ForeignKey]) -> list[str]:
    """``names`` ordered so referenced tables come first (stable; cycles keep their order)."""
    remaining = list(names)
    depends = {name: {fk.ref_table for fk in foreign_keys
                      if fk.table == name and fk.ref_table != name and fk.ref_table in names}
               for name in names}
    ordered: list[str] = []
    while remaining:
        ready = [name for name in remaining if depends[name] <= set(ordered)]
        if not ready:  # a cycle: take the first remaining table, keys are dropped anyway
            ready = [remaining[0]]
        for name in ready:
            ordered.append(name)
            remaining.remove(name)
    return ordered


def build_plan(source: dict[str, SourceTable], target: dict[str, TargetTable],
               schema: str) -> Plan:
    """Pair source and target tables by exact name and order them for the load."""
    problems: list[str] = []
    paired: dict[str, TablePlan] = {}
    for name, stable in source.items():
        ttable = target.get(name)
        if ttable is None:
            problems.append(f"{name}: source table has no target table in schema {schema!r}"
                            f"{_did_you_mean(name, list(target))}")
            continue
        problems.extend(_column_problems(stable, ttable))
        loaded = tuple(col for col in ttable.columns
                       if stable.column(col.name) is not None and not col.generated)
        paired[name] = TablePlan(source=stable, target=ttable, columns=loaded)
    all_fks = [fk for table in paired.values() for fk in table.target.foreign_keys]
    for fk in all_fks:
        if fk.ref_table not in paired:
            problems.append(f"{fk.table}: foreign key {fk.name} references {fk.ref_table}, "
                            "which is not in the source")
    order = topological_order(sorted(paired), all_fks)
    target_only = sorted(name for name in target if name not in source
                         and not is_skipped_table(name))
    return Plan(schema=schema, tables=[paired[name] for name in order], problems=problems,
                target_only=target_only)


def read_plan(sqlite_conn: sqlite3.Connection, pg_cur, schema: str | None = None) -> Plan:
    """Introspect both sides (read-only) and build the plan."""
    schema = schema or current_schema(pg_cur)
    return build_plan(read_source_tables(sqlite_conn), read_target_tables(pg_cur, schema), schema)
