"""One reader process of the built-in loader: ``python -m sqlite_to_pg.reader_worker SQLITE_PATH``.

It reads tasks from stdin, one JSON object a line (``Task``), and for each streams the rows of
its query to stdout as frames (``write_frame``): chunks of whole COPY rows, then the end of the
task with the row count and checksum of what it sent (``row_checksum.RowChecksum`` over each row's
hashed part). A chunk holding a refused value ends the task with a refusal naming table, column
and row instead; any error ends it with a failure frame. End of stdin ends the process.

Each task is read inside one read transaction, so it sees one state of the file. The parent is
``sqlite_to_pg.reader_processes``.
"""

from __future__ import annotations

import contextlib
import json
import struct
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import BinaryIO

from sqlite_to_pg.catalog import open_source
from sqlite_to_pg.row_checksum import RowChecksum
from sqlite_to_pg.values import REFUSED_MARK, refused_columns, register_functions

CHUNK_ROWS = 2000
# a frame: kind (1 byte), rows (uint32), payload length (uint64), payload
FRAME_HEADER = struct.Struct("<cIQ")
CHUNK = b"D"       # payload: whole COPY rows
END = b"E"         # rows: the task's row count; payload: its checksum (uint64)
REFUSED = b"R"     # payload: the refusal message (UTF-8)
FAILED = b"F"      # payload: the error message (UTF-8)
CHECKSUM = struct.Struct("<Q")


@dataclass(frozen=True)
class Task:
    """Stream ``query``'s rows (COPY text, newline included): those of ``table``, whose
    columns are ``columns`` in load order, the last ``apart`` of them left out of the hash
    (``hashed``: false when no checksum is wanted; the row count is kept)."""

    table: str
    query: str
    columns: tuple[str, ...]
    apart: int
    hashed: bool = True

    def to_line(self) -> bytes:
        return json.dumps(asdict(self)).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Task:
        fields = json.loads(line)
        return cls(fields["table"], fields["query"], tuple(fields["columns"]), fields["apart"],
                   fields["hashed"])


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


def run_task(src, task: Task, out: BinaryIO) -> None:
    """Stream one task's rows as frames (see the module docstring)."""
    checksum = RowChecksum()
    src.execute("BEGIN")
    try:
        cursor = src.execute(task.query)
        while rows := cursor.fetchmany(CHUNK_ROWS):
            lines = [line for (line,) in rows]
            data = b"".join(lines)
            if REFUSED_MARK in data:
                write_frame(out, REFUSED, payload=refusal(task.table, task.columns, lines).encode())
                return
            if task.hashed:
                checksum.add([hashed_part(line, task.apart) for line in lines]
                             if task.apart else lines)
            else:
                checksum.rows += len(lines)
            write_frame(out, CHUNK, len(lines), data)
    finally:
        src.execute("COMMIT")
    rows, total = checksum.result
    write_frame(out, END, rows, CHECKSUM.pack(total))


def serve(sqlite_path: str, tasks: BinaryIO, out: BinaryIO) -> None:
    """Run every task read from ``tasks`` until its end."""
    with contextlib.closing(open_source(sqlite_path)) as src:
        register_functions(src)
        for line in tasks:
            task = Task.from_line(line)
            try:
                run_task(src, task, out)
            except Exception as exc:  # reported to the parent, which names the table
                write_frame(out, FAILED, payload=f"{type(exc).__name__}: {exc}".encode())
            out.flush()


if __name__ == "__main__":
    serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)
