"""The row hash (``sqlite_to_pg.row_hash``): computed here in Python and in C from a row's COPY
text, and by Postgres from the row it stored from that text, it is the same number; and the sum
of a table's row hashes changes when two rows swap a value."""

from __future__ import annotations

import contextlib
import io
import random

import psycopg2
import pytest

from sqlite_to_pg import native_rows
from sqlite_to_pg.catalog import TargetColumn
from sqlite_to_pg.row_hash import (
    MOD,
    int8_hash,
    row_hash,
    row_sums_sql,
    rows_sum,
    text_hash,
    unescape,
)

pytestmark = pytest.mark.requires_pg

SEEDS = [0, 1, -1, 2**63 - 1, -(2**63), 0x1234_5678_9ABC_DEF0]
# what a text value may hold: COPY's special bytes, the controls COPY TO would escape, a
# literal backslash before letters COPY reads as escapes, several UTF-8 lengths
ALPHABET = "ab \\\t\n\r\x08\x0c\x0b\x01bfnrtvx0N.é€😀"


def _escaped(value: str | None) -> bytes:
    """A value as the load writes it in a COPY text row."""
    if value is None:
        return b"\\N"
    return (value.encode().replace(b"\\", b"\\\\").replace(b"\t", b"\\t")
            .replace(b"\n", b"\\n").replace(b"\r", b"\\r"))


def _random_rows(rng: random.Random, count: int, width: int) -> list[tuple[str | None, ...]]:
    return [tuple(None if rng.random() < 0.15 else
                  "".join(rng.choices(ALPHABET, k=rng.randint(0, 30))) for _ in range(width))
            for _ in range(count)]


def _text_columns(width: int) -> tuple[TargetColumn, ...]:
    return tuple(TargetColumn(f"c{at}", "text", "text", False, False) for at in range(width))


@pytest.fixture
def cur(pg_url):
    with contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cursor:
        yield cursor


def _signed(number: int) -> int:
    return number - MOD if number >= 2**63 else number


def test_text_and_bigint_hashes_are_postgres_own_at_every_length_and_seed(cur):
    rng = random.Random(7)
    for length in range(40):
        text = "".join(rng.choices("abcxyz0129", k=length))
        for seed in SEEDS:
            cur.execute('SELECT hashtextextended(%s COLLATE "C", %s)', (text, seed))
            assert _signed(text_hash(text.encode(), seed)) == cur.fetchone()[0], (text, seed)
        cur.execute('SELECT hashtextextended(%s COLLATE "C", 0)', (text,))
        assert native_rows.text_hash(text.encode()) == cur.fetchone()[0]
    for value in [0, 1, -1, 2**32, -(2**32) - 1, 2**63 - 1, -(2**63)] + [
            rng.randrange(-(2**63), 2**63) for _ in range(50)]:
        seed = rng.choice(SEEDS)
        cur.execute("SELECT hashint8extended(%s, %s)", (value, seed))
        assert _signed(int8_hash(value, seed)) == cur.fetchone()[0], (value, seed)


def test_rows_written_by_copy_hash_alike_in_python_in_c_and_in_postgres(cur):
    """Random rows of 1 to 6 text fields, NULLs, empty texts, every byte COPY escapes, loaded by
    a real COPY FROM; each row's hash from its COPY text equals the stored row's."""
    rng = random.Random(11)
    for width in range(1, 7):
        rows = _random_rows(rng, 200, width)
        lines = [b"\t".join(map(_escaped, row)) for row in rows]
        columns = ", ".join(f"c{at} text" for at in range(width))
        cur.execute(f"CREATE TEMP TABLE r{width} (at serial, {columns})")
        cur.copy_expert(f"COPY r{width} ({', '.join(f'c{at}' for at in range(width))}) "
                        "FROM STDIN", io.BytesIO(b"".join(line + b"\n" for line in lines)))
        hashed = row_sums_sql(_text_columns(width), f"r{width}", where="at = %s")
        for at, line in enumerate(lines, start=1):
            cur.execute(hashed, (at,))
            assert cur.fetchone() == (1, row_hash(line)), (rows[at - 1], line)
            assert native_rows.row_hash(line) == row_hash(line)
        cur.execute(row_sums_sql(_text_columns(width), f"r{width}"))
        assert int(cur.fetchone()[1]) % MOD == rows_sum([line + b"\n" for line in lines]) % MOD


def test_every_copy_escape_is_undone_as_copy_from_undoes_it(cur):
    """Escapes the load never writes but COPY FROM reads: the hash follows what is stored."""
    line = b"\\b\\f\\v\\101\\0101\\x41\\x4g\\xZ\\q\\\\N\t\\N"
    cur.execute("CREATE TEMP TABLE e (c0 text, c1 text)")
    cur.copy_expert("COPY e FROM STDIN", io.BytesIO(line + b"\n"))
    cur.execute("SELECT c0, c1 FROM e")
    stored = cur.fetchone()
    assert stored == ("\b\f\vA\x081A\x04gxZq\\N", None)
    assert unescape(line.split(b"\t")[0]) == stored[0].encode()
    cur.execute(row_sums_sql(_text_columns(2), "e"))
    assert cur.fetchone() == (1, row_hash(line)) and native_rows.row_hash(line) == row_hash(line)


def test_a_value_swapped_between_two_rows_changes_the_sum(cur):
    """The mixing step at work: without it, a row's hash is a weighted sum of its fields'
    hashes, and a swap between rows leaves the table's sum as it was."""
    rows = [b"1\talpha", b"2\tbeta"]
    swapped = [b"1\tbeta", b"2\talpha"]
    assert rows_sum(rows) % MOD != rows_sum(swapped) % MOD

    def linear(line: bytes) -> int:
        first, second = (text_hash(field) for field in line.split(b"\t"))
        return first * 31 + second
    assert sum(map(linear, rows)) % MOD == sum(map(linear, swapped)) % MOD


def test_a_nondeterministic_collation_does_not_make_two_texts_hash_alike(cur):
    cur.execute("SELECT count(*) FROM pg_collation WHERE collprovider = 'i'")
    if not cur.fetchone()[0]:
        pytest.skip("this Postgres has no ICU collations")
    cur.execute("CREATE COLLATION pg_temp.anycase (provider = icu, locale = 'und-u-ks-level2', "
                "deterministic = false)")
    cur.execute("CREATE TEMP TABLE n (c0 text COLLATE pg_temp.anycase)")
    cur.execute("INSERT INTO n VALUES ('A')")
    cur.execute(row_sums_sql(_text_columns(1), "n"))
    upper = cur.fetchone()
    cur.execute("UPDATE n SET c0 = 'a'")
    cur.execute(row_sums_sql(_text_columns(1), "n"))
    assert upper == (1, row_hash(b"A")) and cur.fetchone() == (1, row_hash(b"a"))
    assert row_hash(b"A") != row_hash(b"a")
