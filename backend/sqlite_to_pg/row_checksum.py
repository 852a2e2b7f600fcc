"""A table's order-independent checksum: the sum, mod 2^64, of the first 64 bits of the md5 of
each row's canonical text (``verify`` says which text; ``values.pg_text_hash_sql`` computes the
same number per row in Postgres)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from hashlib import md5

MOD = 2**64


class RowChecksum:
    """A table's running row count and checksum (see the module docstring)."""

    def __init__(self) -> None:
        self.rows = 0
        self._total = 0

    def add(self, lines: Sequence[bytes]) -> None:
        """Count and hash these rows (each one row's canonical text)."""
        digests = b"".join([md5(line).digest()[:8] for line in lines])
        self._total += sum(struct.unpack(f">{len(lines)}q", digests))
        self.rows += len(lines)

    def absorb(self, rows: int, checksum: int) -> None:
        """Add another part's (rows, checksum), as if its rows had been added here."""
        self.rows += rows
        self._total += checksum

    @property
    def result(self) -> tuple[int, int]:
        """(rows, checksum)."""
        return self.rows, self._total % MOD
