"""Where an online cutover stands, kept in the target database (schema ``_cutover_online``).

One ``state`` row: the SQLite file, the phase (``capturing`` after capture-start, ``loaded``
once the snapshot is loaded and verified), the change-log position the target is up to, and
both schema fingerprints taken at capture-start. Per table (``tables``): the row count and
checksum of the source and of the target, kept up to date by every round without re-reading
the tables. ``touched``: every key a round applied since the snapshot (checked again, row by
row, in the window). A round writes all of it in its own transaction, so a killed round leaves
the position where it was and the next round redoes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from psycopg2.extras import execute_values

from sqlite_to_pg.catalog import Plan, read_target_tables
from sqlite_to_pg.row_checksum import MOD

SCHEMA = "_cutover_online"
PHASE_CAPTURING = "capturing"
PHASE_LOADED = "loaded"
PAGE_ROWS = 2000  # rows per INSERT statement when recording touched keys

_CREATE = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.state (
    id integer PRIMARY KEY CHECK (id = 1),
    sqlite_path text NOT NULL,
    phase text NOT NULL,
    position bigint,
    source_fingerprint text NOT NULL,
    target_fingerprint text NOT NULL,
    coercions text[] NOT NULL DEFAULT '{{}}',
    snapshot_path text,
    rounds integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS {SCHEMA}.tables (
    tbl text PRIMARY KEY,
    source_rows bigint NOT NULL, source_sum numeric NOT NULL,
    target_rows bigint NOT NULL, target_sum numeric NOT NULL);
CREATE TABLE IF NOT EXISTS {SCHEMA}.touched (
    tbl text NOT NULL, key text NOT NULL, PRIMARY KEY (tbl, key));
"""


@dataclass
class TableSums:
    """A table's (rows, checksum) on both sides, as the rounds keep them."""

    source_rows: int
    source_sum: int
    target_rows: int
    target_sum: int

    @property
    def equal(self) -> bool:
        return (self.source_rows, self.source_sum % MOD) == \
            (self.target_rows, self.target_sum % MOD)


@dataclass
class OnlineState:
    """The ``state`` row and the per-table sums."""

    sqlite_path: str
    phase: str
    position: int | None
    source_fingerprint: str
    target_fingerprint: str
    coercions: frozenset[str] = frozenset()
    snapshot_path: str | None = None
    rounds: int = 0
    tables: dict[str, TableSums] = field(default_factory=dict)


def target_fingerprint(cur, plan: Plan) -> str:
    """sha256 of the target tables' definitions (columns, foreign keys, unique keys)."""
    tables = read_target_tables(cur, plan.schema)
    described = [repr(tables.get(name)) for name in sorted(plan.table_names)]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()


def create_state(cur, state: OnlineState) -> None:
    """Create the state schema (if missing) and write a fresh ``state`` row (no sums yet)."""
    cur.execute(_CREATE)
    cur.execute(f"DELETE FROM {SCHEMA}.tables")
    cur.execute(f"DELETE FROM {SCHEMA}.touched")
    cur.execute(f"DELETE FROM {SCHEMA}.state")
    cur.execute(
        f"INSERT INTO {SCHEMA}.state (id, sqlite_path, phase, position, source_fingerprint, "
        "target_fingerprint, coercions) VALUES (1, %s, %s, %s, %s, %s, %s)",
        (state.sqlite_path, state.phase, state.position, state.source_fingerprint,
         state.target_fingerprint, sorted(state.coercions)))


def read_state(cur) -> OnlineState | None:
    """The state, or None when no online cutover was started in this database."""
    cur.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.state",))
    if cur.fetchone()[0] is None:
        return None
    cur.execute(f"SELECT sqlite_path, phase, position, source_fingerprint, target_fingerprint, "
                f"coercions, snapshot_path, rounds FROM {SCHEMA}.state WHERE id = 1")
    row = cur.fetchone()
    if row is None:
        return None
    state = OnlineState(*row[:5], coercions=frozenset(row[5]), snapshot_path=row[6],
                        rounds=row[7])
    cur.execute(f"SELECT tbl, source_rows, source_sum, target_rows, target_sum "
                f"FROM {SCHEMA}.tables")
    state.tables = {tbl: TableSums(*(int(v) for v in values))
                    for tbl, *values in cur.fetchall()}
    return state


def record_load(cur, position: int, snapshot_path: str, sums: dict[str, TableSums]) -> None:
    """The snapshot is loaded and verified: its position and both sides' sums."""
    cur.execute(f"DELETE FROM {SCHEMA}.tables")
    cur.execute(f"DELETE FROM {SCHEMA}.touched")
    execute_values(cur, f"INSERT INTO {SCHEMA}.tables VALUES %s",
                   [(tbl, s.source_rows, s.source_sum, s.target_rows, s.target_sum)
                     for tbl, s in sums.items()])
    cur.execute(f"UPDATE {SCHEMA}.state SET phase = %s, position = %s, snapshot_path = %s, "
                "rounds = 0, updated_at = now()", (PHASE_LOADED, position, snapshot_path))


def record_round(cur, position: int, sums: dict[str, TableSums],
                 touched: dict[str, set[str]]) -> None:
    """A round's outcome, in the round's own transaction (nothing else commits it)."""
    cur.executemany(f"UPDATE {SCHEMA}.tables SET source_rows = %s, source_sum = %s, "
                    "target_rows = %s, target_sum = %s WHERE tbl = %s",
                    [(s.source_rows, s.source_sum % MOD, s.target_rows, s.target_sum % MOD, tbl)
                     for tbl, s in sums.items()])
    execute_values(cur, f"INSERT INTO {SCHEMA}.touched VALUES %s ON CONFLICT DO NOTHING",
                   [(tbl, key) for tbl, keys in touched.items() for key in keys],
                   page_size=PAGE_ROWS)
    cur.execute(f"UPDATE {SCHEMA}.state SET position = %s, rounds = rounds + 1, "
                "updated_at = now()", (position,))


def touched_keys(cur) -> dict[str, set[str]]:
    """Every key applied since the snapshot, per table."""
    cur.execute(f"SELECT tbl, key FROM {SCHEMA}.touched")
    keys: dict[str, set[str]] = {}
    for tbl, key in cur.fetchall():
        keys.setdefault(tbl, set()).add(key)
    return keys


def drop_state(cur) -> bool:
    """Remove the state schema; True when there was one."""
    cur.execute("SELECT to_regnamespace(%s)", (SCHEMA,))
    if cur.fetchone()[0] is None:
        return False
    cur.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    return True
