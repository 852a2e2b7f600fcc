"""A table's order-independent checksum: the sum, mod 2^64, of each row's hash
(``row_hash``: a hash of the row's fields that Postgres computes the same way from the stored
row, ``row_hash.row_sums_sql``).

``RowChecksum.add`` hashes rows in Python, the definition; where the C extension is built,
the loader and verify hash in C instead (``native_rows``), to the same sums.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlite_to_pg.row_hash import MOD, rows_sum

__all__ = ["MOD", "RowChecksum"]


class RowChecksum:
    """A table's running row count and checksum (see the module docstring)."""

    def __init__(self) -> None:
        self.rows = 0
        self._total = 0

    def add(self, lines: Sequence[bytes]) -> None:
        """Count and hash these rows (each one row's COPY text, its newline left out)."""
        self._total += rows_sum(lines)
        self.rows += len(lines)

    def absorb(self, rows: int, checksum: int) -> None:
        """Add another part's (rows, checksum), as if its rows had been added here."""
        self.rows += rows
        self._total += checksum

    @property
    def result(self) -> tuple[int, int]:
        """(rows, checksum)."""
        return self.rows, self._total % MOD
