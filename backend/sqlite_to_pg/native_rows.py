"""The built-in loader's hot path in C, where it is built: COPY rows and row checksums.

The C extension ``sqlite_to_pg._copy_rows_native`` (backend/sqlite_to_pg/native, built by
setup.py, optional) is two things at once:

* a SQLite loadable extension with ``cutover_copy_row(kinds, v1, ..., vn)``: one COPY text row,
  newline included, built in one call for values of the usual shapes (integers, booleans,
  text, date/time text of the canonical source shape), and NULL for a row holding any other
  value. ``row_sql`` wraps it as ``coalesce(<that call>, <the row in SQL>)``: such a row is
  built by the converters' SQL (``values.copy_row_sql``), which SQLite evaluates only then. So
  every row's text is the one ``values`` defines, byte for byte (tests/sqlite_to_pg/
  test_native_rows.py compares the two on every kind of value), only cheaper: bookings' COPY
  rows 2.15 → 0.49 µs a row, chat events' 3.55 → 0.88 (docs/benchmarks.md).
* a Python module with ``line_checksum(data, apart)``: the ``row_checksum`` of the whole lines
  in ``data`` in one call (each row's ``row_hash`` in C, about 0.2 µs for a bookings row
  against some 50 µs in Python); ``rows_checksum(rows)``, the same of rows already apart
  (``add_rows``); and
  ``jsonb_line_checksum``, which also sums the hash ``jsonb_verify`` compares for a row's jsonb
  columns, their source text printed in C the way Postgres' jsonb prints it (``jsonb_text``)
  and hashed as ``hashtextextended`` hashes (``text_hash``): so the loader gives that sum for
  the rows it sends, and Postgres need not parse the source a second time.

Where the extension is missing (not built) or SQLite cannot load extensions (the standard
library's, on some builds), ``available`` is false and the loader builds its rows in SQL and
hashes them in Python, to the same bytes and sums. ``CUTOVER_NATIVE_ROWS=0`` turns it off
(the benchmark's A/B runs, and the tests of the SQL path).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from functools import cache
from types import ModuleType

from sqlite_to_pg.catalog import TablePlan, TargetColumn, quote_sqlite
from sqlite_to_pg.json_value import JsonValue
from sqlite_to_pg.row_checksum import RowChecksum
from sqlite_to_pg.values import (
    BooleanValue,
    DateTimeValue,
    IntegerValue,
    TextValue,
    converter_for,
    copy_row_sql,
    field_sql,
    hashed_columns,
    load_columns,
)

try:
    from sqlite_to_pg import _copy_rows_native as _native
except ImportError:  # pragma: no cover - not built on this machine
    _native = None

SWITCH = "CUTOVER_NATIVE_ROWS"
# a kind letter a value for cutover_copy_row: what the C code does with it (copy_rows_native.c);
# by the converter's exact class, since a subclass may convert differently
_KINDS: dict[type, str] = {IntegerValue: "i", BooleanValue: "b", TextValue: "t",
                           JsonValue: "t"}  # json: the text as it is, escaped
_DATETIME_KINDS = {"timestamptz": "T", "timestamp": "T", "date": "D", "time": "H"}
PASSED = "p"  # a field the SQL makes (``values.field_sql``), copied as it is
MOST_VALUES = 99  # SQLite takes 100 arguments a function call at least (tab_joined)
MOST_ANCHOR_FIELDS = 100  # jsonb_line_checksum's anchor (copy_rows_native.c)


def kind_of(column: TargetColumn, coercions: frozenset[str] = frozenset()) -> str:
    """The letter ``cutover_copy_row`` takes for this column's values (``PASSED`` for a
    converter the C code does not know)."""
    converter = type(converter_for(column, coercions))
    if converter is DateTimeValue:
        return _DATETIME_KINDS[column.type_name]
    if converter is TextValue and column.type_name == "bpchar":
        return PASSED  # its trailing spaces are cut
    return _KINDS.get(converter, PASSED)


def enabled() -> bool:
    """False when ``CUTOVER_NATIVE_ROWS`` is 0 (or the extension is not built)."""
    return _native is not None and os.environ.get(SWITCH, "1") != "0"


@cache
def loads_into(library: ModuleType) -> bool:
    """True when a connection of the DB-API module ``library`` can load the extension."""
    if _native is None:
        return False
    with contextlib.closing(library.connect(":memory:")) as conn:
        try:
            load_into(conn)
            conn.execute("SELECT cutover_copy_row('i', 1)").fetchone()
        except (AttributeError, library.Error):
            return False
    return True


def available(library: ModuleType) -> bool:
    """True when rows read with ``library`` can be built and hashed in C."""
    return enabled() and loads_into(library)


def load_into(conn) -> None:
    """Add ``cutover_copy_row`` to the SQLite connection ``conn`` (an error if it cannot)."""
    if _native is None:
        raise RuntimeError("sqlite_to_pg._copy_rows_native is not built")
    conn.enable_load_extension(True)
    try:
        conn.load_extension(_native.__file__)
    finally:
        conn.enable_load_extension(False)


def row_sql(columns: Sequence[TargetColumn], coercions: frozenset[str] = frozenset(),
            concat_ws: bool = False) -> str | None:
    """A SQLite expression giving the text of ``values.copy_row_sql(columns)``, newline
    included, through ``cutover_copy_row`` where it can; None where it gains nothing (no
    value the C code converts) or the row has more values than a call takes."""
    columns = tuple(columns)
    kinds = "".join(kind_of(col, coercions) for col in columns)
    if len(columns) > MOST_VALUES or set(kinds) <= {PASSED}:
        return None
    values = [quote_sqlite(col.name) if kind != PASSED
              else field_sql(col, quote_sqlite(col.name), coercions)
              for col, kind in zip(columns, kinds, strict=True)]
    general = copy_row_sql(columns, coercions, concat_ws=concat_ws)
    return f"coalesce(cutover_copy_row('{kinds}', {', '.join(values)}), {general})"


def copy_row_blob_sql(table: TablePlan, coercions: frozenset[str] = frozenset(),
                      concat_ws: bool = False) -> str | None:
    """``values.copy_row_blob_sql`` through ``cutover_copy_row``, or None (see ``row_sql``)."""
    row = row_sql(load_columns(table), coercions, concat_ws)
    return None if row is None else f"CAST({row} AS BLOB)"


def hash_rows_query(table: TablePlan, coercions: frozenset[str] = frozenset()) -> str | None:
    """``values.hash_rows_query`` through ``cutover_copy_row``, or None (see ``row_sql``)."""
    row = row_sql(hashed_columns(table.columns), coercions)
    return None if row is None else (f"SELECT CAST({row} AS BLOB) "
                                     f"FROM {quote_sqlite(table.source.name)}")


def add_rows(checksum: RowChecksum, rows: Sequence[bytes]) -> None:
    """``checksum.add(rows)``, each row hashed in C as it is."""
    if _native is None:
        raise RuntimeError("sqlite_to_pg._copy_rows_native is not built")
    checksum.absorb(*_native.rows_checksum(rows))


def add_any(checksum: RowChecksum, rows: Sequence[bytes]) -> None:
    """``checksum.add(rows)``: in C where the extension is built and ``enabled``, else in
    Python (some 100 times slower a row)."""
    if enabled():
        add_rows(checksum, rows)
    else:
        checksum.add(rows)


def line_checksum(data: bytes, apart: int = 0) -> tuple[int, int, int]:
    """(lines, checksum, bytes) of the whole lines in ``data``: their ``RowChecksum`` sum,
    each hashed as ``reader_worker.hashed_part(line, apart)``, and how many bytes they take
    (what follows is a line not ended yet)."""
    if _native is None:
        raise RuntimeError("sqlite_to_pg._copy_rows_native is not built")
    return _native.line_checksum(data, apart)


def all_whole_lines(data: bytes, count: int, lines: int, size: int) -> bool:
    """True when ``line_checksum``'s (or ``jsonb_line_checksum``'s) ``lines`` and ``size`` say
    ``data`` is ``count`` rows of one line each, with no raw carriage return (which
    ``bytes.splitlines`` would split at)."""
    return lines == count and size == len(data) and b"\r" not in data


def jsonb_line_checksum(data: bytes, apart: int,
                        anchor: Sequence[int]) -> tuple[int, int, int, int, int]:
    """``line_checksum(data, apart)``, then the sum, mod 2^64, of ``jsonb_verify``'s hash of
    each line: its fields at the positions ``anchor`` (ascending) and, after them, each of its
    last ``apart`` fields (jsonb source text, as the load sends it) as jsonb prints it, joined
    by tabs; and how many lines that sum leaves out (a field ``jsonb_text`` does not handle):
    (lines, checksum, bytes, jsonb hash sum, left out). At most ``MOST_ANCHOR_FIELDS``."""
    if _native is None:
        raise RuntimeError("sqlite_to_pg._copy_rows_native is not built")
    return _native.jsonb_line_checksum(data, apart, tuple(anchor))


def jsonb_text(json: bytes) -> bytes | None:
    """The text Postgres' jsonb prints for the JSON text ``json``, worked out in C; None where
    the C code does not handle it (a negative zero, an exponent past 1000, nesting deeper than
    200, text Postgres refuses)."""
    if _native is None:
        raise RuntimeError("sqlite_to_pg._copy_rows_native is not built")
    return _native.jsonb_text(json)


def row_hash(row: bytes) -> int:
    """``row_hash.row_hash(row)`` (one row's COPY text, no newline), computed in C."""
    if _native is None:
        raise RuntimeError("sqlite_to_pg._copy_rows_native is not built")
    return _native.row_hash(row)


def text_hash(text: bytes) -> int:
    """What Postgres' ``hashtextextended(text COLLATE "C", 0)`` gives, computed in C."""
    if _native is None:
        raise RuntimeError("sqlite_to_pg._copy_rows_native is not built")
    return _native.text_hash(text)
