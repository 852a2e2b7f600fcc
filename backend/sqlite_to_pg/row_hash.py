"""The hash of one row that the row checksums add up, on both sides: from a row's COPY text
here (and in C, ``native/row_hash.c``), from the stored row in Postgres SQL.

A row's fields are its hashed columns' canonical texts (``values.hashed_columns``; the jsonb
columns are compared apart). Each field's hash is Postgres' ``hashtextextended(text, 0)`` of
its bytes (0 for NULL), combined as ``hash_record_extended`` combines a record's fields
(r = 31·r + h, mod 2^64); the row's hash is ``hashint8extended(r, r)``. That last step is what
makes the table's sum of row hashes a check of whole rows: r alone is a weighted sum of the
field hashes, so a sum of r over the rows would not change when two rows swapped the values of
a column.

So Postgres computes a table's sum on its parallel workers, from the stored values' text,
without printing or sending a row (``target_checksum``): on 1.65M bookings 1.1–1.3 s against
2.1–2.6 s for printing them by COPY TO and hashing them here (docs/benchmarks.md). From COPY
text, a field's text is the field with COPY's escapes undone, and ``\\N`` is NULL.

The Python here is the definition and the fallback where the C extension is not built (about
30 µs a bookings row, against well under 1 µs in C).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence

from sqlite_to_pg.catalog import TargetColumn
from sqlite_to_pg.values import converter_for, quote_pg

LEAST_SERVER_VERSION = 140000  # PostgreSQL 14: the first with hash_record_extended
MASK = 0xFFFFFFFF
MOD = 2**64
NULL_FIELD = b"\\N"
_WORDS = struct.Struct("<3I")


def _rotate(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & MASK


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    a = ((a - c) & MASK) ^ _rotate(c, 4)
    c = (c + b) & MASK
    b = ((b - a) & MASK) ^ _rotate(a, 6)
    a = (a + c) & MASK
    c = ((c - b) & MASK) ^ _rotate(b, 8)
    b = (b + a) & MASK
    a = ((a - c) & MASK) ^ _rotate(c, 16)
    c = (c + b) & MASK
    b = ((b - a) & MASK) ^ _rotate(a, 19)
    a = (a + c) & MASK
    c = ((c - b) & MASK) ^ _rotate(b, 4)
    b = (b + a) & MASK
    return a, b, c


def _final(a: int, b: int, c: int) -> int:
    c = ((c ^ b) - _rotate(b, 14)) & MASK
    a = ((a ^ c) - _rotate(c, 11)) & MASK
    b = ((b ^ a) - _rotate(a, 25)) & MASK
    c = ((c ^ b) - _rotate(b, 16)) & MASK
    a = ((a ^ c) - _rotate(c, 4)) & MASK
    b = ((b ^ a) - _rotate(a, 14)) & MASK
    c = ((c ^ b) - _rotate(b, 24)) & MASK
    return (b << 32) | c


def _start(length: int, seed: int) -> tuple[int, int, int]:
    a = b = c = (0x9E3779B9 + length + 3923095) & MASK
    if seed:
        a = (a + (seed >> 32)) & MASK
        b = (b + seed) & MASK
        a, b, c = _mix(a, b, c)
    return a, b, c


def text_hash(text: bytes, seed: int = 0) -> int:
    """``hashtextextended(text COLLATE "C", seed)`` as an unsigned 64-bit number (lookup3)."""
    a, b, c = _start(len(text), seed % MOD)
    whole = len(text) - len(text) % 12
    for x, y, z in _WORDS.iter_unpack(text[:whole]):
        a, b, c = _mix((a + x) & MASK, (b + y) & MASK, (c + z) & MASK)
    tail = text[whole:]
    a = (a + int.from_bytes(tail[:4], "little")) & MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & MASK
    c = (c + (int.from_bytes(tail[8:11], "little") << 8)) & MASK
    return _final(a, b, c)


def int8_hash(value: int, seed: int) -> int:
    """``hashint8extended(value, seed)`` as an unsigned 64-bit number."""
    value %= MOD
    low, high = value & MASK, value >> 32
    low ^= high if value < 2**63 else high ^ MASK
    a, b, c = _start(4, seed % MOD)
    return _final((a + low) & MASK, b, c)


_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.DOTALL)
_ESCAPED = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def _unescaped_byte(match: re.Match) -> bytes:
    octal, hexadecimal, other = match.groups()
    if octal is not None:
        return bytes([int(octal, 8) & 0xFF])
    if hexadecimal is not None:
        return bytes([int(hexadecimal, 16)])
    return _ESCAPED.get(other, other)


def unescape(field: bytes) -> bytes:
    """A COPY text field's bytes with COPY's escapes undone."""
    return _ESCAPE.sub(_unescaped_byte, field) if b"\\" in field else field


def row_hash(text: bytes) -> int:
    """The hash of the row whose COPY text (no newline) is ``text``, as a signed 64-bit number
    (what Postgres' bigint ``row_hash_sql`` gives)."""
    combined = 0
    for field in text.split(b"\t"):
        field_hash = 0 if field == NULL_FIELD else text_hash(unescape(field))
        combined = (combined * 31 + field_hash) % MOD
    hashed = int8_hash(combined, combined)
    return hashed - MOD if hashed >= 2**63 else hashed


def rows_sum(lines: Sequence[bytes]) -> int:
    """The sum of these rows' hashes (each a COPY text row, a newline at its end left out)."""
    return sum(row_hash(line[:-1] if line.endswith(b"\n") else line) for line in lines)


def _record_sql(columns: tuple[TargetColumn, ...]) -> str:
    fields = [f'({converter_for(col).pg_text_sql(quote_pg(col.name))})::text COLLATE "C"'
              for col in columns] or ["''::text"]  # no columns: one empty field, as in C
    return f"hash_record_extended(ROW({', '.join(fields)}), 0)"


def row_sums_sql(columns: tuple[TargetColumn, ...], relation: str, where: str = "") -> str:
    """A Postgres query giving (rows, sum of row hashes) of ``relation``'s rows (``where``: a
    condition on them, ``relation`` may name an alias) over ``columns`` — ``row_hash`` of each
    stored row's COPY text. The record hash is taken in a subquery that the planner keeps
    (``OFFSET 0``), so the mixing step reads it once instead of computing it twice; it runs on
    the parallel workers wherever the costs allow (``target_checksum.parallel_hashing``)."""
    condition = f" WHERE {where}" if where else ""
    return (f"SELECT count(*), coalesce(sum(hashint8extended(r, r)), 0) FROM "
            f"(SELECT {_record_sql(columns)} AS r FROM {relation}{condition} OFFSET 0) AS hashed")


def field_sums_sql(columns: tuple[TargetColumn, ...], relation: str) -> str:
    """A Postgres query giving, for each of ``columns``, the sum of the row hash of that one
    field over ``relation`` (``verify.differing_columns``)."""
    records = ", ".join(f"{_record_sql((col,))} AS r{at}" for at, col in enumerate(columns))
    sums = ", ".join(f"coalesce(sum(hashint8extended(r{at}, r{at})), 0)"
                     for at in range(len(columns)))
    return f"SELECT {sums} FROM (SELECT {records} FROM {relation} OFFSET 0) AS hashed"
