"""A table's order-independent checksum: the sum, mod 2^64, of the first 64 bits of the md5 of
each row's canonical text (``verify`` says which text; ``values.pg_text_hash_sql`` computes the
same number per row in Postgres).

The rows are hashed by CPython's own md5 where it has one (``_md5``): for short texts it costs
about two thirds of OpenSSL's, whose per-digest set-up dominates (a booking row: 1.0 against
1.5 µs, docs/benchmarks.md); the digests are the same.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache
from operator import methodcaller

try:
    from _md5 import md5
except ImportError:  # pragma: no cover - a CPython built without its own hashes
    from hashlib import md5

MOD = 2**64
_DIGEST = methodcaller("digest")


@lru_cache(maxsize=8)
def _first_halves(rows: int) -> struct.Struct:
    """Reads the signed first 64 bits of each of ``rows`` 16-byte digests."""
    return struct.Struct(">" + "q8x" * rows)


class RowChecksum:
    """A table's running row count and checksum (see the module docstring)."""

    def __init__(self) -> None:
        self.rows = 0
        self._total = 0

    def add(self, lines: Sequence[bytes]) -> None:
        """Count and hash these rows (each one row's canonical text)."""
        digests = b"".join(map(_DIGEST, map(md5, lines)))
        self._total += sum(_first_halves(len(lines)).unpack(digests))
        self.rows += len(lines)

    def absorb(self, rows: int, checksum: int) -> None:
        """Add another part's (rows, checksum), as if its rows had been added here."""
        self.rows += rows
        self._total += checksum

    @property
    def result(self) -> tuple[int, int]:
        """(rows, checksum)."""
        return self.rows, self._total % MOD
