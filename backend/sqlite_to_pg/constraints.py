"""Foreign keys dropped and re-added exactly as they were, and a snapshot to prove it.

The load drops every foreign key that touches a loaded table (so TRUNCATE and COPY need no
superuser tricks), then re-adds each one from the definition Postgres itself printed
(``pg_get_constraintdef``) — one set-based validation per key. ``take_snapshot`` records every
constraint and index of the schema; comparing the snapshots taken before and after a load is
how "every constraint and index is exactly as before" is checked rather than assumed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg2 import sql


@dataclass(frozen=True)
class SavedForeignKey:
    """A foreign key as Postgres defines it, enough to recreate it verbatim."""

    schema: str
    table: str
    name: str
    definition: str  # e.g. FOREIGN KEY ("ArtistId") REFERENCES "Artist"("ArtistId") DEFERRABLE

    def add_sql(self) -> sql.Composed:
        return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            sql.Identifier(self.schema, self.table), sql.Identifier(self.name),
            sql.SQL(self.definition))

    def drop_sql(self) -> sql.Composed:
        return sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            sql.Identifier(self.schema, self.table), sql.Identifier(self.name))


_FOREIGN_KEYS_SQL = """
SELECT ns.nspname, src.relname, con.conname, pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class src ON src.oid = con.conrelid
JOIN pg_class ref ON ref.oid = con.confrelid
JOIN pg_namespace ns ON ns.oid = src.relnamespace
JOIN pg_namespace refns ON refns.oid = ref.relnamespace
WHERE con.contype = 'f'
  AND ((ns.nspname = %(schema)s AND src.relname = ANY(%(tables)s))
    OR (refns.nspname = %(schema)s AND ref.relname = ANY(%(tables)s)))
ORDER BY ns.nspname, src.relname, con.conname
"""


def save_foreign_keys(cur, schema: str, tables: Iterable[str]) -> list[SavedForeignKey]:
    """Every foreign key from or to one of ``tables`` (in ``schema``), with its definition."""
    cur.execute(_FOREIGN_KEYS_SQL, {"schema": schema, "tables": list(tables)})
    return [SavedForeignKey(*row) for row in cur.fetchall()]


def drop_foreign_keys(cur, keys: Iterable[SavedForeignKey]) -> None:
    """Drop the given keys (inside the caller's transaction)."""
    for key in keys:
        cur.execute(key.drop_sql())


def add_foreign_keys(cur, keys: Iterable[SavedForeignKey], on_each=None) -> None:
    """Re-add the keys from their saved definitions; each is validated against the data.

    A key the data violates raises psycopg2's ``ForeignKeyViolation`` naming the constraint;
    the caller rolls back. ``on_each(key)`` is called before each key (for progress).
    """
    for key in keys:
        if on_each is not None:
            on_each(key)
        cur.execute(key.add_sql())


# --------------------------------------------------------------------------- snapshots

@dataclass(frozen=True)
class SchemaObject:
    """One constraint or index as Postgres prints it."""

    kind: str        # "constraint" | "index"
    table: str
    name: str
    definition: str
    valid: bool
    deferrable: bool = False
    deferred: bool = False


_CONSTRAINTS_SQL = """
SELECT rel.relname, con.conname, pg_get_constraintdef(con.oid), con.convalidated,
       con.condeferrable, con.condeferred
FROM pg_constraint con
JOIN pg_class rel ON rel.oid = con.conrelid
JOIN pg_namespace ns ON ns.oid = rel.relnamespace
WHERE ns.nspname = %(schema)s
"""

_INDEXES_SQL = """
SELECT tbl.relname, idx.relname, pg_get_indexdef(ix.indexrelid), ix.indisvalid AND ix.indisready
FROM pg_index ix
JOIN pg_class idx ON idx.oid = ix.indexrelid
JOIN pg_class tbl ON tbl.oid = ix.indrelid
JOIN pg_namespace ns ON ns.oid = tbl.relnamespace
WHERE ns.nspname = %(schema)s
"""


def take_snapshot(cur, schema: str) -> frozenset[SchemaObject]:
    """Every constraint and index of ``schema``, with definitions and validity."""
    cur.execute(_CONSTRAINTS_SQL, {"schema": schema})
    objects = {SchemaObject("constraint", *row) for row in cur.fetchall()}
    cur.execute(_INDEXES_SQL, {"schema": schema})
    objects |= {SchemaObject("index", *row) for row in cur.fetchall()}
    return frozenset(objects)


def compare_snapshots(before: frozenset[SchemaObject],
                      after: frozenset[SchemaObject]) -> list[str]:
    """Human-readable differences, one per object (empty when the schema is exactly as before)."""
    def by_key(objects: frozenset[SchemaObject]) -> dict[tuple[str, str, str], SchemaObject]:
        return {(obj.kind, obj.table, obj.name): obj for obj in objects}

    old, new = by_key(before - after), by_key(after - before)
    differences = []
    for key in sorted(old.keys() | new.keys(), key=lambda k: (k[1], k[0], k[2])):
        kind, table, name = key
        if key not in new:
            differences.append(f"{kind} {table}.{name} is missing after the load "
                               f"(was: {_describe(old[key])})")
        elif key not in old:
            differences.append(f"{kind} {table}.{name} is new after the load: "
                               f"{_describe(new[key])}")
        else:
            differences.append(f"{kind} {table}.{name} is now: {_describe(new[key])} "
                               f"(was: {_describe(old[key])})")
    return differences


def _describe(obj: SchemaObject) -> str:
    return obj.definition + ("" if obj.valid else " [NOT VALID]")


_INVALID_FKS_SQL = """
SELECT rel.relname, con.conname
FROM pg_constraint con
JOIN pg_class rel ON rel.oid = con.conrelid
JOIN pg_namespace ns ON ns.oid = rel.relnamespace
WHERE ns.nspname = %(schema)s AND con.contype = 'f' AND NOT con.convalidated
ORDER BY 1, 2
"""


def unvalidated_foreign_keys(cur, schema: str) -> list[tuple[str, str]]:
    """(table, constraint) of every foreign key Postgres has not validated."""
    cur.execute(_INVALID_FKS_SQL, {"schema": schema})
    return [tuple(row) for row in cur.fetchall()]
