"""Change capture on a live SQLite file, for the online cutover.

``install_capture`` puts the file in WAL mode (readers never block the API's writer), creates
the change log ``_cutover_changes(seq, tbl, op, old_key, new_key)`` and, for every copied table,
AFTER INSERT/UPDATE/DELETE triggers that append the table's key to it. A key is logged as a
JSON array of SQLite literals (``quote()`` of each key column: it never fails, whatever the
value's storage class), so it can be turned back into SQL to re-read the row. An UPDATE logs
the old and the new key (both differ when it changes the key).

A table needs a usable key: its PRIMARY KEY, else a UNIQUE index over NOT NULL columns, and the
same columns must be a unique key of the Postgres target (the rounds upsert on it). Tables
without one are named and refused (the single-window path still moves them).

The fingerprint of the copied tables' schema (their ``sqlite_master`` rows, capture triggers
left out) is what ``schema_fingerprint`` returns; the online state keeps it to refuse a round
after a schema change. Everything this module creates is named ``_cutover_*``; ``remove_capture``
drops it again.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from foundation.polling import poll_until
from sqlite_to_pg.catalog import Plan, TablePlan, quote_sqlite

PREFIX = "_cutover_"
CHANGE_LOG = "_cutover_changes"
OPERATIONS = {"INSERT": "I", "UPDATE": "U", "DELETE": "D"}
BUSY_TIMEOUT_MS = 10_000
# what quote() prints: NULL, an integer or real, a string literal, a blob literal
_LITERAL = re.compile(r"NULL|-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?|-?Inf|'(?:[^']|'')*'|X'[0-9A-F]*'",
                      re.IGNORECASE | re.DOTALL)


class CaptureRefused(RuntimeError):
    """Online mode cannot run on this database (tables without a key, a schema change, …)."""


@dataclass(frozen=True)
class CapturedTable:
    """A table whose changes are logged, and the key columns they are logged by."""

    plan: TablePlan
    key: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def key_columns(self):
        """The key as the plan's target columns (their converters turn keys into COPY text)."""
        by_name = {col.name: col for col in self.plan.columns}
        return tuple(by_name[name] for name in self.key)

    def trigger_names(self) -> list[str]:
        return [f"{PREFIX}{op.lower()}_{self.name}" for op in OPERATIONS]


def connect_live(path: str | Path) -> sqlite3.Connection:
    """A read-write connection to the live file (autocommit; waits for the API's writer)."""
    conn = sqlite3.connect(Path(path), isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _sqlite_keys(conn: sqlite3.Connection, table: str) -> list[tuple[str, ...]]:
    """Candidate keys of a SQLite table: the primary key, then unique indexes on NOT NULL
    columns (whole columns only, no partial or expression indexes)."""
    info = conn.execute(f"PRAGMA table_info({quote_sqlite(table)})").fetchall()
    primary = tuple(row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5]))
    not_null = {row[1] for row in info if row[3]} | set(primary)
    keys = [primary] if primary else []
    for _, index, unique, _origin, partial in conn.execute(
            f"PRAGMA index_list({quote_sqlite(table)})").fetchall():
        if not unique or partial:
            continue
        columns = tuple(row[2] for row in conn.execute(
            f"PRAGMA index_info({quote_sqlite(index)})").fetchall())
        if columns and None not in columns and set(columns) <= not_null:
            keys.append(columns)
    return keys


def _target_keys(table: TablePlan) -> set[frozenset[str]]:
    return {frozenset(key.columns) for key in table.target.unique_keys}


def captured_tables(conn: sqlite3.Connection, plan: Plan) -> list[CapturedTable]:
    """Every table of the plan with the key its changes are logged by; ``CaptureRefused``
    naming each table that has none (or whose key is not a unique key of the target)."""
    captured, refused = [], []
    for table in plan.tables:
        keys = [key for key in _sqlite_keys(conn, table.source.name)
                if frozenset(key) in _target_keys(table)
                and all(table.target.column(name) for name in key)]
        if keys:
            captured.append(CapturedTable(table, keys[0]))
        else:
            refused.append(table.name)
    if refused:
        raise CaptureRefused(
            "online mode needs a key on every copied table (a PRIMARY KEY, or a UNIQUE index "
            "on NOT NULL columns, that is also a unique key of the target); none for: "
            + ", ".join(refused) + ". Use the single-window cutover for this database.")
    return captured


def _key_json(columns: tuple[str, ...], row: str) -> str:
    return "json_array(" + ", ".join(f"quote({row}.{quote_sqlite(c)})" for c in columns) + ")"


def trigger_sql(table: CapturedTable) -> list[str]:
    """The three CREATE TRIGGER statements of a table (idempotent)."""
    name = quote_sqlite(table.plan.source.name)
    literal = "'" + table.plan.source.name.replace("'", "''") + "'"
    old, new = _key_json(table.key, "OLD"), _key_json(table.key, "NEW")
    values = {"INSERT": f"NULL, {new}", "UPDATE": f"{old}, {new}", "DELETE": f"{old}, NULL"}
    return [
        f"CREATE TRIGGER IF NOT EXISTS {quote_sqlite(trigger)} AFTER {event} ON {name} "
        f"BEGIN INSERT INTO {CHANGE_LOG} (tbl, op, old_key, new_key) "
        f"VALUES ({literal}, '{OPERATIONS[event]}', {values[event]}); END"
        for trigger, event in zip(table.trigger_names(), OPERATIONS, strict=True)
    ]


# ``seq`` is the rowid: max + 1 on every insert. Nothing ever deletes from the log (it is dropped
# whole), so it only grows, in commit order (SQLite has one writer); AUTOINCREMENT would add a
# write to sqlite_sequence to every captured write for no gain.
CHANGE_LOG_SQL = (f"CREATE TABLE IF NOT EXISTS {CHANGE_LOG} (seq INTEGER PRIMARY KEY, "
                  "tbl TEXT NOT NULL, op TEXT NOT NULL, old_key TEXT, new_key TEXT)")


class _Busy(sqlite3.OperationalError):
    """The file is locked by another connection's write transaction (retried)."""


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """``PRAGMA journal_mode = WAL``, retried for as long as the busy timeout.

    The switch needs the file to itself. While another connection is inside a write transaction,
    SQLite answers "database is locked" at once instead of calling the busy handler (waiting
    could deadlock it), so the API's next commit is waited out here.
    """
    def switch() -> str:
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            raise _Busy(str(error)) from error

    mode = poll_until(switch, timeout=BUSY_TIMEOUT_MS / 1000, interval=0.01, max_interval=0.2,
                      retry_on=(_Busy,))
    if mode.lower() != "wal":
        raise CaptureRefused(f"SQLite kept journal_mode {mode} when asked for WAL")


def install_capture(conn: sqlite3.Connection, tables: list[CapturedTable]) -> list[str]:
    """WAL mode, the change log and every table's triggers, in one write transaction.

    Returns what was changed, one line each (already present objects are not recreated).
    """
    changed = []
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if mode.lower() != "wal":
        _switch_to_wal(conn)
        changed.append(f"journal_mode {mode} -> wal")
    existing = {row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE name LIKE '\\_cutover\\_%' ESCAPE '\\'")}
    conn.execute("BEGIN IMMEDIATE")
    try:
        if CHANGE_LOG not in existing:
            changed.append(f"table {CHANGE_LOG} created")
        conn.execute(CHANGE_LOG_SQL)
        for table in tables:
            for trigger, statement in zip(table.trigger_names(), trigger_sql(table),
                                          strict=True):
                if trigger not in existing:
                    changed.append(f"trigger {trigger} on {table.name}")
                conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return changed


def capture_objects(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(type, name) of every capture object in the file: triggers first, then the change log."""
    return conn.execute(
        "SELECT type, name FROM sqlite_master WHERE name LIKE '\\_cutover\\_%' ESCAPE '\\' "
        "AND type IN ('trigger', 'table') ORDER BY type = 'table', name").fetchall()


def remove_capture(conn: sqlite3.Connection) -> list[str]:
    """Drop every capture trigger and the change log (one transaction); what was dropped.

    The file stays in WAL mode (harmless, and the API may hold it open).
    """
    objects = capture_objects(conn)
    if not objects:
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for kind, name in objects:
            conn.execute(f"DROP {kind.upper()} IF EXISTS {quote_sqlite(name)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return [f"{kind} {name} dropped" for kind, name in objects]


def removal_hint(sqlite_path: Path) -> str:
    """How an operator removes the capture by hand."""
    return (f"remove it with `invoke capture-stop --sqlite {sqlite_path}` (or drop every "
            f"'{PREFIX}*' trigger and the {CHANGE_LOG} table with sqlite3)")


def schema_fingerprint(conn: sqlite3.Connection, table_names: list[str]) -> str:
    """sha256 of the copied tables' schema (tables, indexes, their own triggers; not ours)."""
    rows = conn.execute(
        "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master "
        "WHERE name NOT LIKE '\\_cutover\\_%' ESCAPE '\\' ORDER BY type, name").fetchall()
    wanted = set(table_names)
    kept = [row for row in rows if row[2] in wanted]
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()


def change_log_position(conn: sqlite3.Connection) -> int:
    """The highest ``seq`` in the change log (0 when it is empty)."""
    return conn.execute(f"SELECT coalesce(max(seq), 0) FROM {CHANGE_LOG}").fetchone()[0]


def changed_keys(conn: sqlite3.Connection, after: int, upto: int) -> dict[str, set[str]]:
    """Distinct keys (JSON arrays of literals) per table logged in ``(after, upto]``."""
    keys: dict[str, set[str]] = {}
    for tbl, old_key, new_key in conn.execute(
            f"SELECT tbl, old_key, new_key FROM {CHANGE_LOG} WHERE seq > ? AND seq <= ?",
            (after, upto)):
        bucket = keys.setdefault(tbl, set())
        bucket.update(key for key in (old_key, new_key) if key is not None)
    return keys


_INFINITIES = {"Inf": "9e999", "-Inf": "-9e999"}  # quote() prints these, SQL does not parse


def key_literals(key: str) -> list[str]:
    """The SQLite literals of a logged key, each checked to be what ``quote()`` prints."""
    literals = json.loads(key)
    for literal in literals:
        if not isinstance(literal, str) or not (literal.lstrip("-").isdigit()
                                                or _LITERAL.fullmatch(literal)):
            raise CaptureRefused(f"change log holds a key that is not a SQLite literal: {key!r}")
    return [_INFINITIES.get(literal, literal) for literal in literals]


def values_sql(keys: list[str]) -> str:
    """``VALUES (lit, …), (…)`` for logged keys (SQLite SQL)."""
    return "VALUES " + ", ".join("(" + ", ".join(key_literals(key)) + ")" for key in keys)
