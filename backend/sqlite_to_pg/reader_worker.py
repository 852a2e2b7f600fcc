"""One reader process of the built-in loader:
``python -m sqlite_to_pg.reader_worker SQLITE_PATH [LIBRARY]`` (LIBRARY: the DB-API module that
opens the file, by default ``foundation.sqlite_files.BULK_SQLITE``).

It reads tasks from stdin, one JSON object a line (``Task``), and for each streams the rows of
its query to stdout as frames (``write_frame``): chunks of whole COPY rows, then the end of the
task with the row count and checksum of what it sent (``row_checksum.RowChecksum`` over each row's
hashed part) and, for a task with a ``Task.jsonb_anchor``, the sum of the hashes
``jsonb_verify`` compares for its jsonb fields (``native_rows.jsonb_line_checksum``). A chunk
holding a refused value ends the task with a refusal naming table, column and row instead; any
error ends it with a failure frame. End of stdin ends the process.

Each task is read inside one read transaction, so it sees one state of the file. The parent is
``sqlite_to_pg.reader_processes``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import struct
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import BinaryIO

from foundation.sqlite_files import BULK_SQLITE
from sqlite_to_pg import native_rows
from sqlite_to_pg.catalog import open_source
from sqlite_to_pg.row_checksum import RowChecksum
from sqlite_to_pg.values import REFUSED_MARK, refused_columns, register_functions

CHUNK_ROWS = 2000
# a chunk's size aimed at: several fit the widened pipe (reader_processes.PIPE_BYTES), so a
# reader builds its next chunk while the load is still sending the last
CHUNK_BYTES = 256 * 1024
# a frame: kind (1 byte), rows (uint32), payload length (uint64), payload
FRAME_HEADER = struct.Struct("<cIQ")
CHUNK = b"D"       # payload: whole COPY rows
END = b"E"         # rows: the task's row count; payload: ``END_SUMS``
REFUSED = b"R"     # payload: the refusal message (UTF-8)
FAILED = b"F"      # payload: the error message (UTF-8)
# the checksum; with a jsonb anchor, the jsonb hash sum and the rows it leaves out (else 0, 0)
END_SUMS = struct.Struct("<QQQ")


@dataclass(frozen=True)
class Task:
    """Stream the rows of ``table`` (SQLite table ``source``, quoted), each the text of
    ``row_sql`` (a BLOB: COPY text, newline included); the row's columns are ``columns`` in
    load order, the last ``apart`` of them left out of the hash (``hashed``: false when no
    checksum is wanted; the row count is kept). ``rowid``: the name the table's rowid goes by,
    so SQLite joins each chunk's rows itself, and ``first``/``last`` the inclusive rowid range
    to read (None: unbounded); without a rowid the whole table is read row by row.
    ``lines``: each row is one line (COPY text, checked: a raw newline would split a row);
    false for rows that may hold raw newlines (CSV), which are then not split and cannot be
    hashed (such a task has ``hashed`` false). ``native``: ``row_sql`` calls the functions
    of ``sqlite_to_pg.native_rows``, and line-framed rows are hashed in C. ``jsonb_anchor``
    (native, hashed tasks): the ``apart`` fields are jsonb source texts, and the jsonb hash of
    each row is summed too, its anchor the fields at these positions."""

    table: str
    source: str
    row_sql: str
    rowid: str | None
    first: int | None
    last: int | None
    columns: tuple[str, ...]
    apart: int = 0
    hashed: bool = True
    lines: bool = True
    native: bool = False
    jsonb_anchor: tuple[int, ...] | None = None

    def to_line(self) -> bytes:
        return json.dumps(asdict(self)).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Task:
        fields = json.loads(line)
        anchor = fields["jsonb_anchor"]
        return cls(**{**fields, "columns": tuple(fields["columns"]),
                      "jsonb_anchor": None if anchor is None else tuple(anchor)})


def hashed_part(line: bytes, apart: int) -> bytes:
    """The row text a checksum covers, from a COPY row whose last ``apart`` fields are
    verified apart (``values.load_columns``): the fields before them, newline included."""
    return line.rsplit(b"\t", apart)[0] + b"\n" if apart else line


def refusal(table: str, columns: Sequence[str], lines: list[bytes]) -> str:
    """What stopped the load in this chunk: the first row holding a refused field."""
    line = next(line for line in lines if REFUSED_MARK in line)
    first = line.split(b"\t", 1)[0].decode("utf-8", "backslashreplace")
    names = ", ".join(refused_columns(line, columns)) or "?"
    return (f"{table}: a value in column(s) {names} cannot be loaded as it is "
            f"(row with {columns[0]} = {first})")


def write_frame(out: BinaryIO, kind: bytes, rows: int = 0, payload: bytes = b"") -> None:
    """One frame."""
    out.write(FRAME_HEADER.pack(kind, rows, len(payload)))
    out.write(payload)


def _chunks_by_rowid(src, task: Task) -> Iterator[tuple[bytes, int, list[bytes] | None]]:
    """The rows in chunks of up to ``CHUNK_ROWS`` (fewer for wide rows: about ``CHUNK_BYTES``),
    each joined by SQLite in one step (fetching rows one by one costs Python more than the
    join), walking the rowid upwards. Each query has one lower bound, the last rowid seen
    (with two, SQLite may seek by the range's)."""
    rowid = task.rowid
    upper = [] if task.last is None else [f"{rowid} <= {int(task.last)}"]
    lower = [] if task.first is None else [f"{rowid} >= {int(task.first)}"]

    def query(bounds: list[str]) -> str:
        return (f"SELECT CAST(group_concat(line, '') AS BLOB), count(*), max(r) FROM ("
                f"SELECT {rowid} AS r, {task.row_sql} AS line FROM {task.source} "
                f"WHERE {' AND '.join(bounds) or '1'} ORDER BY {rowid} LIMIT ?)")

    limit = CHUNK_ROWS
    data, count, last = src.execute(query(lower + upper), (limit,)).fetchone()
    after = query([f"{rowid} > ?", *upper])
    while count:
        # split here only where Python hashes the rows (a native task checks them as it
        # hashes them, ``_add_native``)
        lines = data.splitlines(keepends=True) if task.lines and not task.native else None
        if lines is not None and len(lines) != count:  # a raw newline or CR in a field
            raise ValueError(_line_count_error(count, len(lines), last))
        yield data, count, lines
        limit = max(1, min(CHUNK_ROWS, CHUNK_BYTES * count // len(data)))
        data, count, last = src.execute(after, (last, limit)).fetchone()


def _line_count_error(rows: int, lines: int, last: int | None) -> str:
    where = f" (rowid {last} or before)" if last is not None else ""
    return f"{rows} rows gave {lines} lines of COPY text{where}"


@dataclass
class _Sums:
    """What a task hashes: its rows' checksum and, with a jsonb anchor, the sum of their jsonb
    hashes and how many rows that sum leaves out."""

    rows: RowChecksum
    jsonb: RowChecksum
    jsonb_left_out: int = 0

    def end_frame(self) -> tuple[int, bytes]:
        rows, total = self.rows.result
        return rows, END_SUMS.pack(total, self.jsonb.result[1], self.jsonb_left_out)


def _add_native(sums: _Sums, data: bytes, count: int, task: Task) -> None:
    """Hash a chunk's rows in C, checking first that they are ``count`` whole lines with no
    raw carriage return (which ``bytes.splitlines`` would have split at)."""
    apart = task.apart if task.hashed else 0
    if task.jsonb_anchor is not None and apart:
        lines, total, size, jsonb, left_out = native_rows.jsonb_line_checksum(
            data, apart, task.jsonb_anchor)
        sums.jsonb.absorb(lines - left_out, jsonb)
        sums.jsonb_left_out += left_out
    else:
        lines, total, size = native_rows.line_checksum(data, apart)
    if not native_rows.all_whole_lines(data, count, lines, size):
        raise ValueError(_line_count_error(count, len(data.splitlines()), None))
    if task.hashed:
        sums.rows.absorb(lines, total)
    else:
        sums.rows.rows += count


def _chunks_by_row(src, task: Task) -> Iterator[tuple[bytes, int, list[bytes] | None]]:
    cursor = src.execute(f"SELECT {task.row_sql} FROM {task.source}")
    while rows := cursor.fetchmany(CHUNK_ROWS):
        lines = [line for (line,) in rows]
        yield b"".join(lines), len(lines), lines


def run_task(src, task: Task, out: BinaryIO) -> None:
    """Stream one task's rows as frames (see the module docstring)."""
    sums = _Sums(RowChecksum(), RowChecksum())
    src.execute("BEGIN")
    try:
        chunks = _chunks_by_rowid(src, task) if task.rowid else _chunks_by_row(src, task)
        for data, count, lines in chunks:
            if task.lines and REFUSED_MARK in data:
                lines = lines or data.splitlines(keepends=True)
                write_frame(out, REFUSED, payload=refusal(task.table, task.columns, lines).encode())
                return
            if lines is None and task.lines:  # a native task's chunk
                _add_native(sums, data, count, task)
                write_frame(out, CHUNK, count, data)
                continue
            if task.hashed:  # only line-framed tasks are (``ReaderProcesses.stream_rows``)
                sums.rows.add([hashed_part(line, task.apart) for line in lines]
                              if task.apart else lines)
            else:
                sums.rows.rows += count
            sums.jsonb_left_out += count  # jsonb is hashed in C only
            write_frame(out, CHUNK, count, data)
    finally:
        src.execute("COMMIT")
    write_frame(out, END, *sums.end_frame())


def serve(sqlite_path: str, tasks: BinaryIO, out: BinaryIO, library: str | None = None) -> None:
    """Run every task read from ``tasks`` until its end, reading the file with the DB-API
    module named ``library`` (by default ``BULK_SQLITE``)."""
    module = importlib.import_module(library) if library else BULK_SQLITE
    with contextlib.closing(open_source(sqlite_path, module)) as src:
        register_functions(src)
        native_loaded = False
        for line in tasks:
            task = Task.from_line(line)
            try:
                if task.native and not native_loaded:
                    native_rows.load_into(src)
                    native_loaded = True
                run_task(src, task, out)
            except Exception as exc:  # reported to the parent, which names the table
                write_frame(out, FAILED, payload=f"{type(exc).__name__}: {exc}".encode())
            out.flush()


if __name__ == "__main__":
    serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer, *sys.argv[2:3])
