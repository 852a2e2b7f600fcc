"""The loader's C hot path (``sqlite_to_pg.native_rows``) sends, byte for byte, the rows the
converters' SQL sends, and hashes them to the sums Python's row hash gives: on every kind of value
it takes, on values of every other shape (which it leaves to the SQL), and through the reader
processes and verify's source reads with it turned on and off."""

from __future__ import annotations

import contextlib
import random

import psycopg2
import pytest

from foundation.sqlite_files import BULK_SQLITE
from sqlite_to_pg import native_rows
from sqlite_to_pg.catalog import TargetColumn, open_source, read_plan
from sqlite_to_pg.jsonb_verify import _csv_field
from sqlite_to_pg.reader_processes import ReaderProcesses
from sqlite_to_pg.reader_worker import hashed_part
from sqlite_to_pg.row_checksum import RowChecksum
from sqlite_to_pg.source_checksums import range_checksum
from sqlite_to_pg.values import converter_for, copy_row_sql, register_functions

LONG = "x" * 3000 + "\t\\\n\r" + "y" * 3000
TEXTS = ["", "plain", "tab\there", "new\nline", "cr\rhere", "back\\slash", "\\N", "naïve 😀",
         "nul\x00inside", LONG, 12, -5, 2**63 - 1, 1.5, b"\x00\xff", None]
STAMPS = ["2024-05-06 07:08:09.000000", "2024-05-06 07:08:09.123000",
          "2024-05-06 07:08:09.000001", "2024-05-06 07:08:09.100000",
          "2024-05-06 07:08:09.999999", "2024-05-06 07:08:09", "2024-05-06T07:08:09.000000",
          "2024-05-06 07:08:09.000000+02:00", "2024-02-30 07:08:09.000000",
          "２０２４-05-06 07:08:09.000000", "2024-05-06 07:08:09.00000x",
          "2024-05-06 07:08:09.000000\x00x", "0000-01-01 00:00:00.000000", "2024-05-06",
          1_700_000_000, 1.5, b"2024", None]
DATES = ["2024-05-06", "2024-5-6", "2024/05/06", "2024-05-06 07:08:09.000000", "２０２４-05-06",
         20240506, None]
TIMES = ["07:08:09.000000", "07:08:09.500000", "07:08:09.000100", "07:08:09", "24:00:00.000000",
         "7:08:09.000000", None]
INTEGERS = [0, -1, 7, 2**31 - 1, 2**31, -(2**63), 2**63 - 1, 1.5, 2.0, "12", b"\x01", None]
BOOLEANS = [0, 1, 2, -1, 1.0, "t", "true", b"\x01", None]
JSONS = ['{"a": 1}', '{"t": "tab\\there"}', "[1, 2]\n", "not json", 12, 1.5, b"{}", None]
NUMERICS = [1, -3, 1.5, "2.50", "abc", None]

COLUMNS = {  # target type -> (TargetColumn, values)
    "int4": (TargetColumn("v", "int4", "integer", False, False), INTEGERS),
    "int8": (TargetColumn("v", "int8", "bigint", False, False), INTEGERS),
    "int2": (TargetColumn("v", "int2", "smallint", False, False), INTEGERS),
    "bool": (TargetColumn("v", "bool", "boolean", False, False), BOOLEANS),
    "text": (TargetColumn("v", "text", "text", False, False), TEXTS),
    "varchar": (TargetColumn("v", "varchar", "character varying(5)", False, False,
                             max_length=5), TEXTS),
    "bpchar": (TargetColumn("v", "bpchar", "character(4)", False, False, max_length=4), TEXTS),
    "timestamptz": (TargetColumn("v", "timestamptz", "timestamp with time zone", False, False),
                    STAMPS),
    "timestamp": (TargetColumn("v", "timestamp", "timestamp without time zone", False, False),
                  STAMPS),
    "date": (TargetColumn("v", "date", "date", False, False), DATES + STAMPS),
    "time": (TargetColumn("v", "time", "time without time zone", False, False), TIMES + STAMPS),
    "json": (TargetColumn("v", "json", "json", False, False), JSONS + TEXTS),
    "jsonb": (TargetColumn("v", "jsonb", "jsonb", False, False), JSONS + TEXTS),
    "numeric": (TargetColumn("v", "numeric", "numeric", False, False), NUMERICS),
}


def test_the_extension_is_built_and_loads_into_the_readers_sqlite():
    """Else every other test here, and the engine's, runs the SQL path only."""
    assert native_rows.available(BULK_SQLITE), (
        "sqlite_to_pg._copy_rows_native is not built or does not load: install gcc and the "
        "SQLite headers (apt-get install -y gcc libsqlite3-dev), then pip install -e . again")


@contextlib.contextmanager
def _source(values_by_column: dict[str, list]):
    """An in-memory SQLite table ``t`` with one column a name, the values cycled together,
    with the value functions and the extension loaded."""
    conn = BULK_SQLITE.connect(":memory:")
    register_functions(conn)
    native_rows.load_into(conn)
    names = list(values_by_column)
    conn.execute(f"CREATE TABLE t ({', '.join(names)})")
    rows = max(len(values) for values in values_by_column.values())
    for at in range(rows * 3):
        row = [values[(at + offset * (at // rows)) % len(values)]
               for offset, values in enumerate(values_by_column.values())]
        conn.execute(f"INSERT INTO t VALUES ({', '.join('?' * len(names))})", row)
    conn.execute("INSERT INTO t (v0) VALUES (CAST(x'61ff62' AS TEXT))")  # not UTF-8
    try:
        yield conn
    finally:
        conn.close()


def _compare(conn, columns: tuple[TargetColumn, ...]) -> tuple[int, int]:
    """Assert each row's native text equals the SQL's; (rows, rows the C call built)."""
    native = native_rows.row_sql(columns)
    assert native is not None
    c_call = native.removeprefix("coalesce(").rsplit(", " + copy_row_sql(columns), 1)[0]
    rows = conn.execute(f"SELECT rowid, CAST({native} AS BLOB), CAST({copy_row_sql(columns)} "
                        f"AS BLOB), {c_call} IS NOT NULL FROM t").fetchall()
    for rowid, sent, expected, _built in rows:
        assert sent == expected, (rowid, [c.type_name for c in columns])
    return len(rows), sum(built for *_, built in rows)


@pytest.mark.parametrize("type_name", sorted(COLUMNS))
def test_each_value_is_sent_as_the_sql_sends_it(type_name):
    column, values = COLUMNS[type_name]
    with _source({"v0": values}) as conn:
        named = TargetColumn(**{**column.__dict__, "name": "v0"})
        if native_rows.kind_of(named) == native_rows.PASSED:
            assert native_rows.row_sql((named,)) is None  # nothing to gain
            return
        rows, built = _compare(conn, (named,))
        # the usual values went through C, the others through the SQL
        assert 0 < built < rows


def test_a_row_of_every_kind_is_sent_as_the_sql_sends_it():
    """Every type in one row, the values of each column cycled at its own pace: a row with
    one unusual value is built by the SQL whole, the others by C, with passed fields."""
    columns, values = [], {}
    for at, (column, column_values) in enumerate(COLUMNS.values()):
        columns.append(TargetColumn(**{**column.__dict__, "name": f"v{at}"}))
        values[f"v{at}"] = column_values
    with _source(values) as conn:
        rows, built = _compare(conn, tuple(columns))
    assert 0 < built < rows


def _random_lines(rng: random.Random, count: int) -> list[bytes]:
    alphabet = bytes(range(256)).replace(b"\n", b"").replace(b"\t", b"")
    return [b"\t".join(bytes(rng.choices(alphabet, k=rng.randint(0, 140)))
                       for _ in range(rng.randint(1, 7))) + b"\n" for _ in range(count)]


@pytest.mark.parametrize("apart", [0, 1, 2, 6])
def test_line_checksum_is_pythons_row_checksum_of_each_hashed_part(apart):
    """Lines of 1 to 7 fields, so some have fewer tabs than ``apart`` (and one none at all),
    lengths across lookup3's 12-byte blocks, and a tail with no newline yet."""
    lines = _random_lines(random.Random(apart), 3000) + [b"no tab\n", b"\n"]
    expected = RowChecksum()
    expected.add([hashed_part(line, apart) for line in lines])
    data = b"".join(lines)
    assert native_rows.line_checksum(data + b"partial", apart) == (
        len(lines), expected.result[1], len(data))


def test_add_rows_hashes_each_row_as_it_is_like_python():
    """Rows with a newline inside, or none at their end (as many newlines as rows, but not
    one a row), and lengths across lookup3's 12-byte blocks."""
    for rows in ([b"a\nb", b"c\n"],
                 [b"one\n", b"two\nlines\n", b"no newline", b""]
                 + [bytes(range(length)) for length in range(200)]):
        native, python = RowChecksum(), RowChecksum()
        native_rows.add_rows(native, rows)
        python.add(rows)
        assert native.result == python.result, rows[:2]


@pytest.mark.requires_pg
def test_the_readers_and_verify_give_the_same_rows_and_sums_with_it_off(
        make_sqlite, pg_exec, pg_url, monkeypatch):
    pg_exec("CREATE TABLE big (id bigint PRIMARY KEY, body text, at timestamptz, ok boolean, "
            "n numeric, doc jsonb)")
    texts = [text for text in TEXTS if not isinstance(text, float | bytes)
             and "\x00" not in str(text)]  # what loads
    rows = [(rowid, texts[rowid % len(texts)] if rowid % 11 else f"line {rowid}",
             STAMPS[rowid % 5] if rowid % 13 else STAMPS[5 + rowid % 3],  # 5-7: Python's
             rowid % 2, rowid / 4, f'{{"k": {rowid}}}') for rowid in range(1, 40_001)]
    path = make_sqlite("CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT, at DATETIME, "
                       "ok BOOLEAN, n NUMERIC, doc JSON)", {"big": rows})
    with contextlib.closing(open_source(path)) as src, \
            contextlib.closing(psycopg2.connect(pg_url)) as conn, conn.cursor() as cur:
        table = read_plan(src, cur).table("big")
    sent = {}
    for switch in ("1", "0"):
        monkeypatch.setenv(native_rows.SWITCH, switch)
        with ReaderProcesses(path) as readers:
            assert readers.native is (switch == "1")
            stream = readers.stream(table, frozenset(), lambda rows: None)
            chunks = []
            while chunk := stream.read():
                chunks.append(chunk)
            sent[switch] = (sorted(b"".join(chunks).splitlines()), readers.ended(stream))
        with contextlib.closing(open_source(path, BULK_SQLITE)) as src:
            register_functions(src)
            if switch == "1":
                native_rows.load_into(src)
            sent[switch] += (range_checksum(src, table, frozenset(),
                                            native=switch == "1").result,)
    assert sent["1"] == sent["0"]
    assert sent["1"][1][0] == len(rows)


def test_the_jsonb_stagings_csv_rows_are_the_sqls():
    """``cutover_csv_row`` against ``jsonb_verify``'s SQL: the anchor's text, then each value
    as ``JsonValue.raw_sql`` gives it, quoted by 0x01; a row the C leaves (a REAL, a NUL)
    is built by the SQL."""
    jsonb = TargetColumn("v1", "jsonb", "jsonb", False, False)
    values = {"v0": ["7", "a\x01b", "tab\t", "", None] + INTEGERS,
              "v1": JSONS + TEXTS + ["\x01{}\x01"]}
    with _source(values) as conn:
        general = (f"{_csv_field('v0')} || ',' || "
                   f"{_csv_field(converter_for(jsonb).raw_sql('v1'))} || char(10)")
        rows = conn.execute(f"SELECT CAST(coalesce(cutover_csv_row(v0, v1), {general}) AS BLOB),"
                            f" CAST({general} AS BLOB), cutover_csv_row(v0, v1) IS NOT NULL "
                            f"FROM t").fetchall()
    assert all(sent == expected for sent, expected, _ in rows)
    assert 0 < sum(built for *_, built in rows) < len(rows)
