"""Every sequence a table column uses: reset past the data, and checked to be ahead of it.

A column uses a sequence when it owns it (serial, identity, ``OWNED BY``) or when its default
calls ``nextval()`` on it, owned or not, by a quoted or schema-qualified name, as ``regclass``
or as text. One sequence may feed several columns (of several tables); it must be past the
largest value in any of them.

The reset is the ``DO $$ … $$`` block in ``scripts/reset_sequences.sql`` (kept there so an
operator can run it by hand with psql); this module runs the same file and reads the result.
The query that finds the columns using each sequence lives once, in that file, between the
``sequence-users`` markers; ``sequence_states`` reads it from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from psycopg2 import sql

RESET_SEQUENCES_SQL = Path(__file__).resolve().parents[2] / "scripts" / "reset_sequences.sql"
_START_MARK = "-- sequence-users:start"
_END_MARK = "-- sequence-users:end"


def reset_sequences(cur) -> list[str]:
    """Run the reset block on ``cur``'s connection; return its notices (one per sequence).

    Reusable inside a caller's transaction (the load, or an online cutover's window).
    """
    conn = cur.connection
    already = len(conn.notices)
    cur.execute(RESET_SEQUENCES_SQL.read_text(encoding="utf-8"))
    return [notice.strip().removeprefix("NOTICE:").strip() for notice in conn.notices[already:]]


def sequence_users_query() -> str:
    """The catalogue query (from the reset file) giving one row per (sequence, column) pair:
    sequence oid, sequence name, table schema, table name, column name."""
    text = RESET_SEQUENCES_SQL.read_text(encoding="utf-8")
    start = text.index(_START_MARK)
    body = text[text.index("\n", start) + 1:text.index(_END_MARK)]
    return body.replace("%", "%%")


@dataclass(frozen=True)
class SequenceState:
    """Where one sequence stands relative to the data of every column that uses it."""

    sequence: str
    columns: tuple[tuple[str, str], ...]  # (table, column) pairs in the schema checked
    next_value: int
    max_value: int | None
    increment: int = 1

    @property
    def ahead(self) -> bool:
        """True when the next value the sequence hands out is past every value it fed."""
        if self.max_value is None:
            return True
        if self.increment < 0:
            return self.next_value < self.max_value
        return self.next_value > self.max_value

    @property
    def used_by(self) -> str:
        """The columns as ``table.column, …``."""
        return ", ".join(f"{table}.{column}" for table, column in self.columns)

    @property
    def table(self) -> str:
        """The first table using the sequence (for callers that show one)."""
        return self.columns[0][0]

    @property
    def column(self) -> str:
        """The first column using the sequence."""
        return self.columns[0][1]


def sequence_states(cur, schema: str, tables: set[str] | None = None) -> list[SequenceState]:
    """The state of every sequence used by a column of ``schema`` (optionally of ``tables``).

    ``max_value`` is over every column using the sequence, in any schema, so a sequence shared
    with a table outside ``tables`` is judged against that table's data too.
    """
    cur.execute(f"SELECT * FROM ({sequence_users_query()}) users_of ORDER BY 2, 3, 4, 5")
    users: dict[int, tuple[str, list[tuple[str, str, str]]]] = {}
    for oid, name, table_schema, table, column in cur.fetchall():
        users.setdefault(oid, (name, []))[1].append((table_schema, table, column))
    states = []
    for oid, (name, columns) in users.items():
        mine = tuple((table, column) for table_schema, table, column in columns
                     if table_schema == schema and (tables is None or table in tables))
        if not mine:
            continue
        cur.execute(sql.SQL(
            "SELECT CASE WHEN s.is_called THEN s.last_value + p.seqincrement ELSE s.last_value "
            "END, p.seqincrement FROM {} s, pg_sequence p WHERE p.seqrelid = %s").format(
                sql.SQL(name)), (oid,))
        next_value, increment = cur.fetchone()
        extremes = []
        for table_schema, table, column in columns:
            cur.execute(sql.SQL("SELECT {}({})::bigint FROM {}").format(
                sql.SQL("max" if increment > 0 else "min"), sql.Identifier(column),
                sql.Identifier(table_schema, table)))
            if (value := cur.fetchone()[0]) is not None:
                extremes.append(value)
        extreme = (max(extremes) if increment > 0 else min(extremes)) if extremes else None
        states.append(SequenceState(sequence=name, columns=mine, next_value=next_value,
                                    max_value=extreme, increment=increment))
    return states


@dataclass(frozen=True)
class SequencePosition:
    """Where a sequence stood (``setval`` is not undone by a rollback: this puts it back)."""

    sequence: str  # schema-qualified, quoted
    last_value: int
    is_called: bool


def sequence_positions(cur, tables: list[tuple[str, str]]) -> list[SequencePosition]:
    """The position of every sequence a column of these (schema, table) pairs uses."""
    cur.execute(
        f"SELECT DISTINCT format('%%I.%%I', ns.nspname, seq.relname) "
        f"FROM ({sequence_users_query()}) users_of "
        f"JOIN pg_class seq ON seq.oid = users_of.sequence_oid "
        f"JOIN pg_namespace ns ON ns.oid = seq.relnamespace "
        f"WHERE (users_of.table_schema, users_of.table_name) IN "
        f"(SELECT * FROM unnest(%s::text[], %s::text[])) ORDER BY 1",
        ([schema for schema, _ in tables], [table for _, table in tables]))
    positions = []
    for (name,) in cur.fetchall():
        cur.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(sql.SQL(name)))
        positions.append(SequencePosition(name, *cur.fetchone()))
    return positions


def restore_positions(cur, positions: list[SequencePosition]) -> None:
    """Put each sequence back where ``sequence_positions`` found it."""
    for position in positions:
        cur.execute("SELECT setval(%s::regclass, %s, %s)",
                    (position.sequence, position.last_value, position.is_called))
