"""The rows a target table held before a load that cannot be one transaction: kept, put back.

Before the pgloader engine truncates its tables, every planned table that holds rows (a Django
target's ``django_migrations``, ``django_content_type``, ``auth_permission`` …) is copied into
a table of the load journal's schema, in the same transaction that writes the journal. A failed
or interrupted load puts those rows back exactly: every stored column (identity values kept
with ``OVERRIDING SYSTEM VALUE``; generated columns recomputed), with the table's enabled user
triggers held off so none can rewrite them (the owner may do that; system RI triggers are not
touched, the foreign keys are dropped at that point anyway).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg2 import sql


@dataclass(frozen=True)
class SavedRows:
    """A table's rows before the load, kept as ``journal_schema.saved_as``."""

    schema: str
    table: str
    saved_as: str
    rows: int


def save_rows(cur, journal_schema: str, tables: Iterable[tuple[str, str]]) -> list[SavedRows]:
    """Copy every table of ``tables`` that holds rows into the journal schema (caller commits)."""
    saved = []
    for schema, table in tables:
        cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
            sql.Identifier(schema, table)))
        if not cur.fetchone()[0]:
            continue
        saved_as = f"saved_{len(saved) + 1}"
        cur.execute(sql.SQL("CREATE TABLE {} AS TABLE {}").format(
            sql.Identifier(journal_schema, saved_as), sql.Identifier(schema, table)))
        saved.append(SavedRows(schema, table, saved_as, cur.rowcount))
    return saved


_STORED_COLUMNS_SQL = """
SELECT att.attname FROM pg_attribute att
WHERE att.attrelid = %s::regclass AND att.attnum > 0 AND NOT att.attisdropped
  AND att.attgenerated = ''
ORDER BY att.attnum
"""
_ENABLED_USER_TRIGGERS_SQL = """
SELECT tgname, tgenabled FROM pg_trigger
WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgenabled <> 'D'
ORDER BY tgname
"""
_ENABLE = {"O": "", "A": "ALWAYS ", "R": "REPLICA "}


def restore_rows(cur, journal_schema: str, saved: SavedRows) -> None:
    """Put the saved rows back into their (empty) table, triggers held off (caller commits)."""
    target = sql.Identifier(saved.schema, saved.table)
    regclass = sql.Identifier(saved.schema, saved.table).as_string(cur)
    cur.execute(_STORED_COLUMNS_SQL, (regclass,))
    columns = sql.SQL(", ").join(sql.Identifier(name) for (name,) in cur.fetchall())
    cur.execute(_ENABLED_USER_TRIGGERS_SQL, (regclass,))
    triggers = cur.fetchall()
    for name, _ in triggers:
        cur.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(
            target, sql.Identifier(name)))
    cur.execute(sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}").format(
        target, columns, columns, sql.Identifier(journal_schema, saved.saved_as)))
    for name, state in triggers:
        cur.execute(sql.SQL("ALTER TABLE {} ENABLE {}TRIGGER {}").format(
            target, sql.SQL(_ENABLE.get(state, "")), sql.Identifier(name)))
