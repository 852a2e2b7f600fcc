"""The target side of a table's row checksum: Postgres prints the stored rows, Python hashes them.

``COPY (SELECT <canonical text of each hashed column> FROM table) TO STDOUT`` makes Postgres
print every stored row as COPY text in C — the escaping included, which in SQL (four
``replace`` calls a text value) cost more than the printing — while this process hashes the
rows it receives, on the other core, the way ``row_checksum.RowChecksum`` hashes the source's
(in C where ``native_rows`` is built).
Measured on 1M chat events with text bodies: 0.97 s against 1.19 s for the same sum in SQL on
two cores (md5 in Postgres), with half of Postgres' CPU (docs/benchmarks.md).

The canonical text of a column is its converter's ``pg_text_sql``, the same expression
``values.pg_row_sql`` escapes in SQL. COPY escapes a little more than the load does: it also
writes the control characters backspace, form feed and vertical tab as ``\\b``, ``\\f`` and
``\\v``, which the load sends raw. Finding those escapes costs a scan of every row (0.16 s a
million chat events), so the rows are first hashed as printed: where that sum equals the
source's, the two texts were equal, since the load's text never holds such an escape (it
doubles every backslash). Only where the sums differ are the rows printed again and those
three escapes turned back into their bytes before hashing (``raw_controls``): a table whose
text holds them, or a real difference.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from psycopg2 import sql

from sqlite_to_pg import native_rows
from sqlite_to_pg.catalog import TablePlan
from sqlite_to_pg.row_checksum import RowChecksum
from sqlite_to_pg.values import converter_for, hashed_columns, quote_pg

BATCH_ROWS = 2000
# COPY's escapes for the three control characters the load sends raw, found only where no
# backslash escapes the backslash: a pair of backslashes is matched, and kept, first
_CONTROL_ESCAPE = re.compile(rb"\\([\\bfv])")
_MAYBE_ESCAPE = re.compile(rb"\\[bfv]")  # in a batch: some row may hold one
_RAW_CONTROL = {b"b": b"\x08", b"f": b"\x0c", b"v": b"\x0b"}


def _raw_control(match: re.Match) -> bytes:
    return _RAW_CONTROL.get(match.group(1), match.group(0))


def as_load_text(row: bytes) -> bytes:
    """A row of COPY TO output as the load writes it: backspace, form feed and vertical tab
    raw, every other escape as it is."""
    return _CONTROL_ESCAPE.sub(_raw_control, row)


class _HashingSink:
    """The file psycopg2's ``copy_expert`` writes COPY TO output into: one ``write`` a row."""

    def __init__(self, raw_controls: bool) -> None:
        self.checksum = RowChecksum()
        self._raw_controls = raw_controls
        self._rows: list[bytes] = []
        self._add = native_rows.add_rows if native_rows.enabled() else RowChecksum.add

    def write(self, row: bytes) -> None:
        rows = self._rows
        rows.append(row)
        if len(rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
        if self._raw_controls and _MAYBE_ESCAPE.search(b"".join(rows)):
            rows = [as_load_text(row) for row in rows]
        self._add(self.checksum, rows)


def copy_out_sql(table: TablePlan) -> sql.Composable:
    """The COPY TO printing each stored row's hashed columns in their canonical text."""
    fields = [converter_for(col).pg_text_sql(quote_pg(col.name))
              for col in hashed_columns(table.columns)]
    return sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT").format(
        sql.SQL(", ".join(fields)), table.target.identifier)


# Planner costs under which the COPY's query runs on Postgres' parallel workers wherever the
# table is large enough for a parallel scan (min_parallel_table_scan_size): with its defaults the
# planner never sends every row through a Gather, yet that way the workers turn the values
# into text while the leader only escapes and sends them.
_PARALLEL_COSTS = {"parallel_setup_cost": "0", "parallel_tuple_cost": "0"}


@contextlib.contextmanager
def parallel_printing(cur) -> Iterator[None]:
    """``_PARALLEL_COSTS`` for the transaction while inside, the earlier values after. After
    an error they stay, in a transaction that has failed: the caller's rollback to its
    savepoint (``verify.safe_check_table``) puts them back with everything else."""
    earlier = {}
    for name, value in _PARALLEL_COSTS.items():
        cur.execute("SELECT current_setting(%s), set_config(%s, %s, true)", (name, name, value))
        earlier[name] = cur.fetchone()[0]
    yield
    for name, value in earlier.items():
        cur.execute("SELECT set_config(%s, %s, true)", (name, value))


def pg_checksum(cur, table: TablePlan, raw_controls: bool = False) -> tuple[int, int]:
    """(rows, checksum) of the target table: Postgres prints the rows (on its parallel
    workers too, for a large table), this process hashes them as printed, or with
    ``raw_controls`` as the load writes them (``as_load_text``)."""
    sink = _HashingSink(raw_controls)
    with parallel_printing(cur):
        cur.copy_expert(copy_out_sql(table).as_string(cur), sink)
    sink.flush()
    return sink.checksum.result
