"""Unique keys the target's collation would break: values distinct in SQLite, equal in Postgres.

SQLite compares text by bytes (``NOCASE`` folds ASCII only), so ``Ärger@…`` and ``ärger@…`` are
two values there and one under a case-insensitive ICU collation (``deterministic = false``) or
``citext``; a unique index over them fails when the load rebuilds it. Only such columns can make
distinct bytes equal (a deterministic collation breaks ties by bytes), so only keys with one of
them are checked, and by Postgres itself: the key values (as the loader would send them) go to
the server as arrays and are grouped there under each column's own type and collation, in a
read-only transaction that writes nothing anywhere.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

from foundation.database_urls import libpq_url
from sqlite_to_pg.catalog import Plan, TablePlan, UniqueKey, quote_sqlite
from sqlite_to_pg.values import TextValue, converter_for, is_supported

EXAMPLES = 3

_LOOSE_COLUMNS_SQL = """
SELECT att.attname, format_type(att.atttypid, NULL),
       CASE WHEN coll.oid IS NOT NULL THEN format('%%I.%%I', collns.nspname, coll.collname) END
FROM pg_attribute att
JOIN pg_class rel ON rel.oid = att.attrelid
JOIN pg_namespace ns ON ns.oid = rel.relnamespace
JOIN pg_type typ ON typ.oid = att.atttypid
LEFT JOIN pg_collation coll ON coll.oid = att.attcollation AND NOT coll.collisdeterministic
LEFT JOIN pg_namespace collns ON collns.oid = coll.collnamespace
WHERE ns.nspname = %(schema)s AND rel.relname = %(table)s AND att.attnum > 0
  AND NOT att.attisdropped AND (coll.oid IS NOT NULL OR typ.typname = 'citext')
"""


@dataclass(frozen=True)
class CollationClash:
    """Rows whose key values differ as bytes but are equal under the target's comparison."""

    table: str
    key: UniqueKey
    rows: int
    examples: list[str]
    comparison: str  # e.g. "collation public.ci", "type citext"


def _loose_columns(cur, schema: str, table: str) -> dict[str, tuple[str, str | None]]:
    """column → (type, non-deterministic collation or None) for columns that compare loosely."""
    cur.execute(_LOOSE_COLUMNS_SQL, {"schema": schema, "table": table})
    return {name: (type_sql, collation) for name, type_sql, collation in cur.fetchall()}


def _sent_value(table: TablePlan, name: str, coercions: frozenset[str]) -> str:
    """SQLite SQL for the column's value as text Postgres parses into the stored value."""
    column = table.target.column(name)
    x = quote_sqlite(name)
    converter = converter_for(column, coercions)
    if isinstance(converter, TextValue):  # the text itself (copy_sql is COPY-escaped)
        return f"rtrim({x}, ' ')" if column.type_name == "bpchar" else f"CAST({x} AS TEXT)"
    return converter.copy_sql(x)


def check_key(src: sqlite3.Connection, cur, table: TablePlan, key: UniqueKey,
              loose: dict[str, tuple[str, str | None]],
              coercions: frozenset[str]) -> CollationClash | None:
    """Group the key's source values in Postgres under the target columns' comparison."""
    ref = "rowid" if table.source.has_rowid else quote_sqlite(table.source.columns[0].name)
    values = [_sent_value(table, name, coercions) for name in key.columns]
    not_null = " AND ".join(f"({value}) IS NOT NULL" for value in values)
    rows = src.execute(f"SELECT CAST({ref} AS TEXT), {', '.join(values)} FROM "
                       f"{quote_sqlite(table.source.name)} WHERE {not_null}").fetchall()
    if len(rows) < 2:
        return None
    names = [sql.Identifier(f"c{i}") for i in range(len(key.columns))]
    compared = []  # loose columns as the target compares them; the others as canonical text
    for position, name in enumerate(key.columns):
        expr: sql.Composable = names[position]
        if name in loose:
            type_sql, collation = loose[name]
            expr = sql.SQL("{}::{}").format(expr, sql.SQL(type_sql))
            if collation:
                expr = sql.SQL("{} COLLATE {}").format(expr, sql.SQL(collation))
        compared.append(expr)
    columns = [list(column) for column in zip(*rows, strict=True)]
    unnest = sql.SQL(", ").join(sql.SQL("%s::text[]") for _ in columns)
    cur.execute(sql.SQL(
        "SELECT count(*), string_agg(ref, ', ' ORDER BY ref), "
        "string_agg(DISTINCT ARRAY[{raw}]::text, ' / ') "
        "FROM unnest({unnest}) AS v(ref, {names}) GROUP BY {compared} "
        "HAVING count(DISTINCT ARRAY[{raw}]) > 1 ORDER BY 2").format(
            raw=sql.SQL(", ").join(names), unnest=unnest, names=sql.SQL(", ").join(names),
            compared=sql.SQL(", ").join(compared)), columns)
    groups = cur.fetchall()
    if not groups:
        return None
    comparison = ", ".join(f"collation {loose[name][1]}" if loose[name][1] else
                           f"type {loose[name][0]}" for name in key.columns if name in loose)
    examples = [f"rowids {refs}: {shown}" for _, refs, shown in groups[:EXAMPLES]]
    return CollationClash(table.name, key, sum(count for count, _, _ in groups), examples,
                          comparison)


def find_clashes(src: sqlite3.Connection, pg_url: str, plan: Plan,
                 coercions: frozenset[str] = frozenset()) -> list[CollationClash]:
    """Every unique key of the plan that the target's collations would break; read-only."""
    clashes = []
    with contextlib.closing(psycopg2.connect(libpq_url(pg_url), connect_timeout=10)) as conn:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            for table in plan.tables:
                loose = _loose_columns(cur, table.target.schema, table.name)
                for key in table.target.unique_keys:
                    columns = [table.target.column(name) for name in key.columns]
                    if (not any(name in loose for name in key.columns)
                            or any(col is None or col.name not in table.column_names
                                   or not is_supported(col) for col in columns)):
                        continue
                    if (found := check_key(src, cur, table, key, loose, coercions)) is not None:
                        clashes.append(found)
        conn.rollback()
    return clashes
