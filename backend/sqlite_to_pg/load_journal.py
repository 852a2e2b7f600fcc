"""A durable journal in the target of a load that cannot be one transaction (pgloader's).

Before the first write, the load records in the target itself, committed, which tables it is
about to fill, the exact definition of every foreign key it is about to drop, a copy of the rows
those tables hold (``sqlite_to_pg.saved_rows``) and where their sequences stand. A run that is
killed (our process, pgloader, a lost connection) leaves the journal behind; the next run finds
it, empties those tables, puts their earlier rows and sequence positions back and re-adds
those keys, then starts again. The journal is dropped in the
same transaction that re-adds the keys after a good load, so it exists exactly while the target
is not in a state the user should see.

Any run, whatever its engine, must repair first (``repair_interrupted_load``): the keys a killed
run dropped are only known from the journal. Runs hold an advisory lock per database, so a
repair never touches the journal of a load that is still running.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from sqlite_to_pg.constraints import SavedForeignKey, add_foreign_keys, drop_foreign_keys
from sqlite_to_pg.engines import LoadFailed
from sqlite_to_pg.saved_rows import SavedRows, restore_rows, save_rows
from sqlite_to_pg.sequences import SequencePosition, restore_positions, sequence_positions

JOURNAL_SCHEMA = "cutover_journal"
LOCK_NAMESPACE = "cutover-load"
TABLES = sql.Identifier(JOURNAL_SCHEMA, "loading_tables")
KEYS = sql.Identifier(JOURNAL_SCHEMA, "dropped_foreign_keys")
SAVED = sql.Identifier(JOURNAL_SCHEMA, "saved_rows")
POSITIONS = sql.Identifier(JOURNAL_SCHEMA, "sequence_positions")


@dataclass(frozen=True)
class Journal:
    """An unfinished load found in the target: its tables and the keys it had dropped."""

    tables: list[tuple[str, str]]
    keys: list[SavedForeignKey]
    started_at: str
    saved: list[SavedRows] = field(default_factory=list)
    positions: list[SequencePosition] = field(default_factory=list)

    def saved_summary(self) -> str:
        """What restoring puts back, for the operator ("" when the tables were empty)."""
        if not self.saved:
            return ""
        return "put back the rows they held before: " + ", ".join(
            f"{saved.table} ({saved.rows})" for saved in self.saved)


_KEYED_BY_TABLE = "table_schema text NOT NULL, table_name text NOT NULL, "
_JOURNAL_TABLES = (  # (table, column definitions)
    (TABLES, _KEYED_BY_TABLE + "started_at timestamptz NOT NULL DEFAULT now(), "
                               "PRIMARY KEY (table_schema, table_name)"),
    (KEYS, _KEYED_BY_TABLE + "constraint_name text NOT NULL, definition text NOT NULL, "
                             "PRIMARY KEY (table_schema, table_name, constraint_name)"),
    (SAVED, _KEYED_BY_TABLE + "saved_as text NOT NULL, rows bigint NOT NULL, "
                              "PRIMARY KEY (table_schema, table_name)"),
    (POSITIONS, "sequence_name text PRIMARY KEY, last_value bigint NOT NULL, "
                "is_called boolean NOT NULL"),
)


def _insert(cur, table: sql.Identifier, rows: list[tuple], columns: tuple[str, ...] = ()) -> None:
    names = sql.SQL(" ({})").format(sql.SQL(", ").join(map(sql.Identifier, columns))) \
        if columns else sql.SQL("")
    for row in rows:
        cur.execute(sql.SQL("INSERT INTO {}{} VALUES ({}) ON CONFLICT DO NOTHING").format(
            table, names, sql.SQL(", ").join(sql.Placeholder() * len(row))), row)


def write_journal(conn: Connection, tables: Sequence[tuple[str, str]],
                  keys: Iterable[SavedForeignKey]) -> list[SavedRows]:
    """Record the tables about to be loaded, the keys about to be dropped, the rows the tables
    hold now and their sequences' positions, and commit (once per load); returns what rows
    it saved."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
            sql.Identifier(JOURNAL_SCHEMA)))
        for table, columns in _JOURNAL_TABLES:
            cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                table, sql.SQL(columns)))
        saved_rows = save_rows(cur, JOURNAL_SCHEMA, tables)
        _insert(cur, TABLES, [(schema, table) for schema, table in tables],
                ("table_schema", "table_name"))
        _insert(cur, KEYS, [(key.schema, key.table, key.name, key.definition) for key in keys])
        _insert(cur, SAVED, [(row.schema, row.table, row.saved_as, row.rows)
                             for row in saved_rows])
        _insert(cur, POSITIONS, [(pos.sequence, pos.last_value, pos.is_called)
                                 for pos in sequence_positions(cur, list(tables))])
    conn.commit()
    return saved_rows


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
        saved, positions = [], []
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{JOURNAL_SCHEMA}".saved_rows',))
        if cur.fetchone()[0]:  # a journal written before rows were saved has neither table
            cur.execute(sql.SQL("SELECT * FROM {} ORDER BY 1, 2").format(SAVED))
            saved = [SavedRows(*row) for row in cur.fetchall()]
            cur.execute(sql.SQL("SELECT * FROM {} ORDER BY 1").format(POSITIONS))
            positions = [SequencePosition(*row) for row in cur.fetchall()]
    started = min((row[2] for row in table_rows), default="unknown")
    return Journal([(row[0], row[1]) for row in table_rows], keys, started, saved, positions)


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


class LoadInProgress(LoadFailed):
    """Another load holds this database's lock; nothing was changed."""


def _lock_key(cur) -> int:
    cur.execute("SELECT hashtext(%s || current_database())", (LOCK_NAMESPACE,))
    return cur.fetchone()[0]


@contextlib.contextmanager
def load_lock(conn: Connection) -> Iterator[None]:
    """Hold this database's load lock for the duration (released if the process dies)."""
    with conn.cursor() as cur:
        key = _lock_key(cur)
        cur.execute("SELECT pg_try_advisory_lock(%s)", (key,))
        if not cur.fetchone()[0]:
            raise LoadInProgress("another load into this database is running (its advisory "
                                 "lock is held); wait for it to finish or stop it first")
    conn.commit()
    try:
        yield
    finally:
        with contextlib.suppress(psycopg2.Error):
            conn.rollback()
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (key,))
            conn.commit()


def truncate(cur, tables: Sequence[tuple[str, str]]) -> None:
    """``TRUNCATE`` the (schema, table) pairs in one statement."""
    if tables:
        cur.execute(sql.SQL("TRUNCATE {}").format(
            sql.SQL(", ").join(sql.Identifier(schema, name) for schema, name in tables)))


def restore_from_journal(conn: Connection, journal: Journal) -> None:
    """Empty the journaled tables, put their earlier rows, their sequences' positions and the
    journaled keys back, drop the journal (one commit)."""
    with conn.cursor() as cur:
        drop_foreign_keys(cur, keys_in_place(conn, journal.keys))
        truncate(cur, journal.tables)
        for saved in journal.saved:
            restore_rows(cur, JOURNAL_SCHEMA, saved)
        restore_positions(cur, journal.positions)
        add_foreign_keys(cur, journal.keys)
        drop_journal(conn)
    conn.commit()


def describe(journal: Journal) -> str:
    """One line for the operator about an interrupted load."""
    return (f"an interrupted load (started {journal.started_at}) left {len(journal.tables)} "
            f"tables half-loaded and {len(journal.keys)} foreign keys dropped")


def recover_interrupted_run(conn: Connection, report: Callable[[str], None]) -> Journal | None:
    """Undo what an interrupted earlier load left behind; return its journal (None if none).

    The caller holds ``load_lock``.
    """
    journal = read_journal(conn)
    conn.commit()
    if journal is None:
        return None
    report(f"found {describe(journal)}: emptying those tables and restoring the keys"
           + (f"; {journal.saved_summary()}" if journal.saved else ""))
    restore_from_journal(conn, journal)
    return journal


def repair_interrupted_load(conn: Connection, report: Callable[[str], None], *,
                            dry_run: bool = False) -> bool:
    """Before any run reads the target: repair what a killed load left (True if it did).

    With ``dry_run`` only say what a real run would repair. LoadInProgress when another load
    into this database is running now.
    """
    with load_lock(conn):
        if dry_run:
            journal = read_journal(conn)
            conn.rollback()
            if journal is not None:
                report(f"{describe(journal)}; a run without --dry-run restores them first")
            return False
        return recover_interrupted_run(conn, report) is not None
