"""Indexes dropped before a bulk load and built again afterwards, exactly as they were.

Building an index once over loaded rows is much cheaper than updating it row by row during
COPY (measured on the booking benchmark: bookings' four indexes made COPY about twice as slow
as the COPY alone plus four ``CREATE INDEX``). So the built-in loader, inside its one
transaction, saves the definitions Postgres itself prints (``pg_get_indexdef`` for a plain
index, ``pg_get_constraintdef`` for a primary key, unique or exclusion constraint), drops
them after the foreign keys are gone, and recreates them after the COPYs, before the foreign
keys come back. The snapshot comparison in ``verify`` proves every one is back unchanged.

Only what the saved text recreates completely is dropped: an index with a comment, a custom
statistics target, a non-default tablespace, ``CLUSTER`` or replica-identity marking, or a
dependent other than a foreign key, and every index of a partitioned table, stays in place
(the load is then slower, never different).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg2 import sql


@dataclass(frozen=True)
class SavedIndex:
    """An index (or the constraint owning it) as Postgres defines it."""

    schema: str
    table: str
    name: str
    definition: str  # CREATE INDEX … for an index; PRIMARY KEY (…) … for a constraint
    constraint: bool

    def drop_sql(self) -> sql.Composed:
        if self.constraint:
            return sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(self.schema, self.table), sql.Identifier(self.name))
        return sql.SQL("DROP INDEX {}").format(sql.Identifier(self.schema, self.name))

    def create_sql(self) -> sql.Composable:
        if self.constraint:
            return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                sql.Identifier(self.schema, self.table), sql.Identifier(self.name),
                sql.SQL(self.definition))
        return sql.SQL(self.definition)


_REBUILDABLE_SQL = """
SELECT ns.nspname, tbl.relname, idx.relname,
       CASE WHEN con.oid IS NULL THEN pg_get_indexdef(ix.indexrelid)
            ELSE pg_get_constraintdef(con.oid) END,
       con.oid IS NOT NULL
FROM pg_index ix
JOIN pg_class idx ON idx.oid = ix.indexrelid
JOIN pg_class tbl ON tbl.oid = ix.indrelid
JOIN pg_namespace ns ON ns.oid = tbl.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = ix.indexrelid AND con.conrelid = ix.indrelid
                           AND con.contype IN ('p', 'u', 'x')
WHERE ns.nspname = %(schema)s AND tbl.relname = ANY(%(tables)s)
  AND tbl.relkind = 'r' AND idx.relkind = 'i' AND idx.reltablespace = 0
  AND ix.indisvalid AND ix.indisready AND ix.indislive
  AND NOT ix.indisclustered AND NOT ix.indisreplident
  AND NOT EXISTS (SELECT 1 FROM pg_description d
                  WHERE d.objoid = ix.indexrelid OR d.objoid = con.oid)
  AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                  WHERE a.attrelid = ix.indexrelid AND a.attstattarget >= 0)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ix.indexrelid
                    AND NOT (d.classid = 'pg_constraint'::regclass AND EXISTS (
                        SELECT 1 FROM pg_constraint fk
                        WHERE fk.oid = d.objid AND fk.contype = 'f')))
ORDER BY tbl.relname, idx.relname
"""


def save_indexes(cur, schema: str, tables: Iterable[str]) -> list[SavedIndex]:
    """The indexes of ``tables`` that can be dropped and rebuilt verbatim (see module doc).

    Call it after the foreign keys that depend on them are saved: those must be dropped first.
    """
    cur.execute(_REBUILDABLE_SQL, {"schema": schema, "tables": list(tables)})
    return [SavedIndex(*row) for row in cur.fetchall()]


def drop_indexes(cur, indexes: Iterable[SavedIndex]) -> None:
    """Drop the saved indexes (inside the caller's transaction; foreign keys already gone)."""
    for index in indexes:
        cur.execute(index.drop_sql())


def rebuild_indexes(cur, indexes: Iterable[SavedIndex], on_each=None) -> None:
    """Create the saved indexes again from their definitions.

    The server's own ``maintenance_work_mem`` is kept: 256MB instead of the default 64MB made
    no difference to bookings' four indexes on 2M rows (2.1–2.6 s either way), and a small
    Cloud SQL instance has little memory to spare. A unique index the loaded rows violate
    raises psycopg2's ``UniqueViolation`` naming the key; the caller rolls back.
    ``on_each(index)`` is called before each build (progress).
    """
    for index in indexes:
        if on_each is not None:
            on_each(index)
        cur.execute(index.create_sql())
