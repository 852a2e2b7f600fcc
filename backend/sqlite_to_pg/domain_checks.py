"""Preflight for domain CHECKs: source values the column's domain would refuse.

A domain column loads as its base type (``type_table``), but its CHECK is an arbitrary
Postgres expression, so Postgres judges it: each distinct source value, in the canonical text
the load sends, is cast to the domain inside a savepoint of a read-only transaction (batches,
halved where one fails, down to the single values that fail). Nothing is written.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from sqlite_to_pg.catalog import TablePlan, TargetColumn, open_source, quote_sqlite
from sqlite_to_pg.preflight import EXAMPLES, Finding, show_value
from sqlite_to_pg.values import (
    NULL_FIELD,
    apply_session_settings,
    converter_for,
    register_functions,
)

BATCH = 1000
_COPY_ESCAPES = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}


def unescape_copy(field: str) -> str:
    """A COPY text field back to the value it stands for (the inverse of ``escape_sqlite``)."""
    return re.sub(r"\\[\\tnr]", lambda match: _COPY_ESCAPES[match[0]], field)


def _distinct_values(src, table: TablePlan, column: TargetColumn,
                     coercions: frozenset[str]) -> Iterator[tuple[str, int, str]]:
    """(value as loaded, rows holding it, first rowid) for each distinct source value."""
    converter = converter_for(column, coercions)
    text = converter.copy_sql(quote_sqlite(column.name))
    ref = "rowid" if table.source.has_rowid else quote_sqlite(table.source.columns[0].name)
    for field, rows, rowid in src.execute(
            f"SELECT {text}, count(*), min({ref}) FROM {quote_sqlite(table.source.name)} "
            f"GROUP BY 1 HAVING {text} IS NOT NULL"):
        if field != NULL_FIELD:
            yield (unescape_copy(field) if converter.escaped else field), rows, rowid


def _refused(cur, domain: str, values: list[str]) -> list[tuple[str, str]]:
    """(value, Postgres' message) for each value the cast to ``domain`` refuses."""
    cur.execute("SAVEPOINT domain_check")
    try:
        cur.execute(sql.SQL("SELECT count(CAST(v AS {})) FROM unnest(%s::text[]) v").format(
            sql.SQL(domain)), (values,))
    except psycopg2.Error as exc:  # any refusal is the finding
        cur.execute("ROLLBACK TO SAVEPOINT domain_check")
        if len(values) == 1:
            return [(values[0], exc.diag.message_primary or str(exc).strip())]
        half = len(values) // 2
        return _refused(cur, domain, values[:half]) + _refused(cur, domain, values[half:])
    cur.execute("RELEASE SAVEPOINT domain_check")
    return []


def check_column(src, cur, table: TablePlan, column: TargetColumn,
                 coercions: frozenset[str]) -> Finding | None:
    """The finding for one domain column's refused values (exact row count), or None."""
    values = list(_distinct_values(src, table, column, coercions))
    refused: list[tuple[str, str]] = []
    for start in range(0, len(values), BATCH):
        refused += _refused(cur, column.domain, [v for v, _, _ in values[start:start + BATCH]])
    if not refused:
        return None
    bad = {value for value, _ in refused}
    rows = [(value, count, rowid) for value, count, rowid in values if value in bad]
    examples = [f"rowid {rowid}: {show_value(value)}" for value, _, rowid in rows[:EXAMPLES]]
    return Finding("domain-check", table.name, column.name, sum(count for _, count, _ in rows),
                   examples, detail=f"domain {column.domain}: {refused[0][1]}")


def domain_findings(plan, sqlite_path: Path, connect: Callable[[], Any],
                    coercions: frozenset[str] = frozenset()) -> list[Finding]:
    """Every planned domain column's refused values. ``connect()`` gives a connection to the
    target, opened only when the plan has a domain column, used read-only and closed.

    Every domain column is asked, CHECK or not: a domain over a domain keeps its base's
    CHECKs, and the cast sees them all."""
    columns = [(table, col) for table in plan.tables for col in table.columns if col.domain]
    if not columns:
        return []
    findings = []
    with contextlib.closing(connect()) as conn, contextlib.closing(open_source(sqlite_path)) as src:
        conn.set_session(readonly=True)
        register_functions(src)
        with conn.cursor() as cur:
            apply_session_settings(cur)
            for table, column in columns:
                if found := check_column(src, cur, table, column, coercions):
                    findings.append(found)
        conn.rollback()
    return findings
