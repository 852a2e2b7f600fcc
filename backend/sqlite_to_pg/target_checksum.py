"""The target side of a table's row checksum: Postgres hashes its stored rows itself.

One query sums ``row_hash`` over the table's rows (``row_hash.row_sums_sql``): each hashed
column's canonical text (its converter's ``pg_text_sql``, the text ``values.pg_row_sql``
escapes) hashed as the source side hashes the fields of the rows it sent. Nothing is printed or
sent but the sum, and Postgres' parallel workers share the scan: on 1.65M bookings 1.1–1.3 s
against 2.1–2.6 s when COPY TO printed every row for this process to hash (and 0.6–0.7 against
1.65–1.8 s on 1M chat events; docs/benchmarks.md).
Hashing the stored texts, not COPY's print of them, also spares the escapes COPY TO writes and
the load does not (backspace, form feed, vertical tab), which the printed rows had to undo.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlite_to_pg.catalog import TablePlan
from sqlite_to_pg.row_hash import MOD, row_sums_sql
from sqlite_to_pg.values import hashed_columns

# Planner costs under which the hashing query runs on Postgres' parallel workers wherever the
# table is large enough for a parallel scan (min_parallel_table_scan_size): with its defaults the
# planner never sends every row through a Gather, yet that way the workers turn the values
# into text and hash them, and the leader mixes and adds up their hashes.
_PARALLEL_COSTS = {"parallel_setup_cost": "0", "parallel_tuple_cost": "0"}


@contextlib.contextmanager
def parallel_hashing(cur) -> Iterator[None]:
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


def pg_checksum(cur, table: TablePlan) -> tuple[int, int]:
    """(rows, checksum) of the target table, summed by Postgres (on its parallel workers too,
    for a large table)."""
    with parallel_hashing(cur):
        cur.execute(row_sums_sql(hashed_columns(table.columns),
                                 table.target.identifier.as_string(cur)))
        rows, total = cur.fetchone()
    return rows, int(total) % MOD
