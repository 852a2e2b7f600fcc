"""A durable journal in the target of a load that cannot be one transaction (pgloader's).

Before the first write, the load records in the target itself, committed, which tables it is
about to fill and the exact definition of every foreign key it is about to drop. A run that is
killed (our process, pgloader, a lost connection) leaves the journal behind; the next run finds
it, empties those tables and re-adds those keys, then starts again. The journal is dropped in the
same transaction that re-adds the keys after a good load, so it exists exactly while the target
is not in a state the user should see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from cutover.constraints import SavedForeignKey

JOURNAL_SCHEMA = "cutover_journal"
TABLES = sql.Identifier(JOURNAL_SCHEMA, "loading_tables")
KEYS = sql.Identifier(JOURNAL_SCHEMA, "dropped_foreign_keys")


@dataclass(frozen=True)
class Journal:
    """An unfinished load found in the target: its tables and the keys it had dropped."""

    tables: list[tuple[str, str]]
    keys: list[SavedForeignKey]
    started_at: str


def write_journal(conn: Connection, tables: Iterable[tuple[str, str]],
                  keys: Iterable[SavedForeignKey]) -> None:
    """Record the tables about to be loaded and the keys about to be dropped, and commit."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
            sql.Identifier(JOURNAL_SCHEMA)))
        cur.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (table_schema text NOT NULL, table_name text NOT NULL,"
            " started_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (table_schema, table_name))").format(TABLES))
        cur.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (table_schema text NOT NULL, table_name text NOT NULL,"
            " constraint_name text NOT NULL, definition text NOT NULL,"
            " PRIMARY KEY (table_schema, table_name, constraint_name))").format(KEYS))
        for schema, table in tables:
            cur.execute(sql.SQL("INSERT INTO {} (table_schema, table_name) VALUES (%s, %s)"
                                " ON CONFLICT DO NOTHING").format(TABLES), (schema, table))
        for key in keys:
            cur.execute(sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING")
                        .format(KEYS), (key.schema, key.table, key.name, key.definition))
    conn.commit()


def read_journal(conn: Connection) -> Journal | None:
    """The journal of an unfinished load, or None when the target has none."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
                    (f'"{JOURNAL_SCHEMA}".loading_tables',
                     f'"{JOURNAL_SCHEMA}".dropped_foreign_keys'))
        if not cur.fetchone()[0]:
            return None
        cur.execute(sql.SQL("SELECT table_schema, table_name, started_at::text FROM {}"
                            " ORDER BY 1, 2").format(TABLES))
        table_rows = cur.fetchall()
        cur.execute(sql.SQL("SELECT table_schema, table_name, constraint_name, definition"
                            " FROM {} ORDER BY 1, 2, 3").format(KEYS))
        keys = [SavedForeignKey(*row) for row in cur.fetchall()]
    started = min((row[2] for row in table_rows), default="unknown")
    return Journal([(row[0], row[1]) for row in table_rows], keys, started)


def drop_journal(conn: Connection) -> None:
    """Drop the journal (inside the caller's transaction: commit makes the load final)."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(JOURNAL_SCHEMA)))


def keys_in_place(conn: Connection, keys: Iterable[SavedForeignKey]) -> list[SavedForeignKey]:
    """The journaled keys on their table right now (a run killed before it dropped them)."""
    in_place = []
    with conn.cursor() as cur:
        for key in keys:
            cur.execute(
                "SELECT 1 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
                " JOIN pg_namespace n ON n.oid = t.relnamespace"
                " WHERE n.nspname = %s AND t.relname = %s AND c.conname = %s",
                (key.schema, key.table, key.name))
            if cur.fetchone() is not None:
                in_place.append(key)
    return in_place
