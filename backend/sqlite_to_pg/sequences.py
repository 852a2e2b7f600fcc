"""Serial and identity sequences: reset past the data, and checked to be ahead of it.

The reset is the ``DO $$ … $$`` block in ``scripts/reset_sequences.sql`` (kept there so an
operator can run it by hand with psql); this module runs the same file and reads the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from psycopg2 import sql

RESET_SEQUENCES_SQL = Path(__file__).resolve().parents[2] / "scripts" / "reset_sequences.sql"


def reset_sequences(cur) -> list[str]:
    """Run the reset block on ``cur``'s connection; return its notices (one per sequence)."""
    conn = cur.connection
    already = len(conn.notices)
    cur.execute(RESET_SEQUENCES_SQL.read_text(encoding="utf-8"))
    return [notice.strip().removeprefix("NOTICE:").strip() for notice in conn.notices[already:]]


@dataclass(frozen=True)
class SequenceState:
    """Where one column's sequence stands relative to the column's data."""

    table: str
    column: str
    sequence: str
    next_value: int
    max_value: int | None

    @property
    def ahead(self) -> bool:
        """True when the next value the sequence hands out is past every value in the column."""
        return self.max_value is None or self.next_value > self.max_value


_SEQUENCE_COLUMNS_SQL = """
SELECT rel.relname, att.attname,
       pg_get_serial_sequence(format('%%I.%%I', ns.nspname, rel.relname), att.attname)
FROM pg_attribute att
JOIN pg_class rel ON rel.oid = att.attrelid
JOIN pg_namespace ns ON ns.oid = rel.relnamespace
WHERE ns.nspname = %(schema)s AND rel.relkind IN ('r', 'p')
  AND att.attnum > 0 AND NOT att.attisdropped
ORDER BY rel.relname, att.attnum
"""


def sequence_states(cur, schema: str, tables: set[str] | None = None) -> list[SequenceState]:
    """The state of every serial/identity sequence in ``schema`` (optionally only ``tables``)."""
    cur.execute(_SEQUENCE_COLUMNS_SQL, {"schema": schema})
    states = []
    for table, column, sequence in cur.fetchall():
        if sequence is None or (tables is not None and table not in tables):
            continue
        cur.execute(sql.SQL(
            "SELECT CASE WHEN s.is_called THEN s.last_value + p.seqincrement ELSE s.last_value "
            "END FROM {} s, pg_sequence p WHERE p.seqrelid = %s::regclass"
        ).format(sql.SQL(sequence)), (sequence,))
        next_value = cur.fetchone()[0]
        cur.execute(sql.SQL("SELECT max({})::bigint FROM {}").format(
            sql.Identifier(column), sql.Identifier(schema, table)))
        states.append(SequenceState(table=table, column=column, sequence=sequence,
                                    next_value=next_value, max_value=cur.fetchone()[0]))
    return states
