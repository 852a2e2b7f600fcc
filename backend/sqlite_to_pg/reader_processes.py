"""The built-in loader's readers: SQLite builds a table's COPY rows on two cores at once.

Building each row's COPY text in SQLite is the load's largest cost, more than Postgres parsing
it. Two threads of one process cannot share that work: they took more CPU together than one
thread alone for the same rows (docs/benchmarks.md). So the rows are read by worker processes
(``sqlite_to_pg.reader_worker``), started once for a load: ``stream`` splits a table into rowid
ranges, one per worker (a small table, or one without a rowid, is one range), and each worker
streams its range through a pipe as chunks of whole rows, hashing the rows it sends.

The ``TableStream`` that ``stream`` returns is the file-like object ``copy_expert`` reads: each
``read`` is the next chunk of whichever worker has one (row order does not matter to COPY or to
the checksum, a sum). When every worker has ended its range, ``checksum`` holds the table's
(rows, checksum), the sum of the workers' parts, and ``jsonb_hash`` the (rows, hash sum) of its
jsonb columns that ``jsonb_verify`` compares, where the workers could hash every row's.
A refused value, a worker's error or a worker that dies raises ``LoadFailed`` naming the table;
``close`` then stops every worker.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from foundation.sqlite_files import BULK_SQLITE, sqlite_version
from sqlite_to_pg import native_rows
from sqlite_to_pg.catalog import TablePlan, open_source, quote_sqlite
from sqlite_to_pg.engines import LoadFailed
from sqlite_to_pg.reader_worker import (
    CHUNK,
    END,
    END_SUMS,
    FAILED,
    FRAME_HEADER,
    REFUSED,
    Task,
)
from sqlite_to_pg.row_checksum import RowChecksum
from sqlite_to_pg.source_scan import rowid_bounds, rowid_name
from sqlite_to_pg.tab_joined import CONCAT_WS_SINCE
from sqlite_to_pg.values import copy_row_blob_sql, hashed_columns, load_columns

READER_PROCESSES = 2
STOP_SECONDS = 5
# a worker's pipe holds this much (Linux's default 64 KiB held less than one chunk, so a worker
# waited for the load to take its whole chunk before building the next: bookings 12.0 → 10.3 s)
PIPE_BYTES = 1 << 20


def _widen_pipe(fd: int) -> None:
    """Let the pipe ``fd`` hold ``PIPE_BYTES`` where the system allows it (Linux, up to
    /proc/sys/fs/pipe-max-size); elsewhere it keeps its size, which is only slower."""
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


class _Worker:
    """One reader process and its pipes."""

    def __init__(self, sqlite_path: Path, library: str) -> None:
        self._stderr = tempfile.TemporaryFile()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sqlite_to_pg.reader_worker", str(sqlite_path), library],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0,
            env=env)
        _widen_pipe(self.process.stdout.fileno())

    def fileno(self) -> int:
        return self.process.stdout.fileno()

    def send(self, task: Task) -> None:
        line = memoryview(task.to_line())
        while line:
            line = line[self.process.stdin.write(line):]

    def _read_exact(self, size: int, table: str) -> bytes:
        parts, missing = [], size
        while missing:
            part = self.process.stdout.read(missing)
            if not part:
                raise LoadFailed(f"reading {table} from SQLite failed: {self._death()}")
            parts.append(part)
            missing -= len(part)
        return b"".join(parts)

    def read_frame(self, table: str) -> tuple[bytes, int, bytes]:
        """(kind, rows, payload) of the next frame (see ``reader_worker``)."""
        kind, rows, size = FRAME_HEADER.unpack(self._read_exact(FRAME_HEADER.size, table))
        return kind, rows, self._read_exact(size, table) if size else b""

    def _death(self) -> str:
        code = self.process.wait(timeout=STOP_SECONDS)
        self._stderr.seek(0)
        last = self._stderr.read().decode("utf-8", "replace").strip().splitlines()[-1:]
        return f"a reader process ended with exit code {code}" + (f": {last[0]}" if last else "")

    def stop(self) -> None:
        """End the process: at once if it is busy, else by closing its input."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self._stderr.close()

    def kill(self) -> None:
        self.process.kill()
        self.stop()


class TableStream:
    """One table's rows from the workers reading it (see the module docstring)."""

    def __init__(self, table: str, workers: list[_Worker], on_rows: Callable[[int], None],
                 jsonb: bool = False):
        self._table = table
        self._jsonb = jsonb
        self._active = list(workers)
        self._on_rows = on_rows
        self._checksum = RowChecksum()
        self._jsonb_hash = RowChecksum()
        self._jsonb_left_out = 0

    def read(self, size: int = -1) -> bytes:
        while self._active:
            ready, _, _ = select.select(self._active, [], [])
            for worker in ready:
                kind, rows, payload = worker.read_frame(self._table)
                if kind == CHUNK:
                    self._on_rows(rows)
                    return payload
                if kind == END:
                    total, jsonb_hash, left_out = END_SUMS.unpack(payload)
                    self._checksum.absorb(rows, total)
                    self._jsonb_hash.absorb(rows - left_out, jsonb_hash)
                    self._jsonb_left_out += left_out
                    self._active.remove(worker)
                elif kind == REFUSED:
                    raise LoadFailed(payload.decode("utf-8", "replace"))
                else:
                    reason = payload.decode("utf-8", "replace") if kind == FAILED else kind
                    raise LoadFailed(f"reading {self._table} from SQLite failed: {reason}")
        return b""

    @property
    def checksum(self) -> tuple[int, int]:
        """(rows, checksum) of every row sent; complete once ``read`` has returned b""."""
        if self._active:
            raise RuntimeError(f"{self._table}: the stream has not ended")
        return self._checksum.result

    @property
    def jsonb_hash(self) -> tuple[int, int] | None:
        """(rows, hash sum) of the jsonb columns of every row sent, as
        ``jsonb_verify.source_hash`` gives them (``reader_worker.Task.jsonb_anchor``); None
        where a row's could not be hashed so, or the table was not read so. Complete once
        ``read`` has returned b""."""
        rows, _total = self.checksum
        if not self._jsonb or self._jsonb_left_out or self._jsonb_hash.rows != rows:
            return None
        return self._jsonb_hash.result


class ReaderProcesses:
    """The reader processes of one load (a context manager: leaving it stops them), reading
    with the DB-API module ``library`` (``foundation.sqlite_files.BULK_SQLITE`` by default)."""

    def __init__(self, sqlite_path: Path, processes: int = READER_PROCESSES,
                 library: ModuleType = BULK_SQLITE) -> None:
        self._path = Path(sqlite_path)
        self._workers: list[_Worker] = []
        self._streaming = False  # a stream started and not seen to end
        self._concat_ws = sqlite_version(library) >= CONCAT_WS_SINCE
        self._native = native_rows.available(library)
        try:
            self._workers = [_Worker(self._path, library.__name__) for _ in range(processes)]
        except BaseException:
            self.close()
            raise

    @property
    def native(self) -> bool:
        """True when the workers can use ``native_rows`` (its SQL functions, its hashing)."""
        return self._native

    def stream(self, table: TablePlan, coercions: frozenset[str],
               on_rows: Callable[[int], None],
               jsonb_anchor: tuple[int, ...] | None = None) -> TableStream:
        """Start reading ``table``'s COPY rows (``values.copy_row_blob_sql``) on the workers;
        ``jsonb_anchor``: the positions of the anchor ``jsonb_verify`` ties a table's jsonb
        values to, for ``TableStream.jsonb_hash`` (used where the table has jsonb columns and
        the workers hash in C)."""
        names = tuple(col.name for col in load_columns(table))
        apart = len(table.columns) - len(hashed_columns(table.columns))
        native = (native_rows.copy_row_blob_sql(table, coercions, concat_ws=self._concat_ws)
                  if self._native else None)
        row_sql = native or copy_row_blob_sql(table, coercions, concat_ws=self._concat_ws)
        hashable = (native is not None and apart > 0 and jsonb_anchor is not None
                    and len(jsonb_anchor) <= native_rows.MOST_ANCHOR_FIELDS)
        return self.stream_rows(table, row_sql, on_rows, names=names, apart=apart,
                                native=native is not None,
                                jsonb_anchor=jsonb_anchor if hashable else None)

    def stream_rows(self, table: TablePlan, row_sql: str, on_rows: Callable[[int], None], *,
                    names: tuple[str, ...] = ("?",), apart: int = 0,
                    hashed: bool = True, lines: bool = True,
                    native: bool = False,
                    jsonb_anchor: tuple[int, ...] | None = None) -> TableStream:
        """Start reading ``row_sql`` (a BLOB: one row's text, newline included) for every row
        of ``table`` on the workers, one rowid range each (``reader_worker.Task``; ``native``:
        ``row_sql`` needs ``native_rows``, and line-framed rows are hashed in C;
        ``jsonb_anchor``: see ``stream``)."""
        if hashed and not lines:
            raise ValueError("rows that are not one line each cannot be hashed")
        if self._streaming:
            raise RuntimeError("the reader processes are still streaming another table")
        self._streaming = True
        with contextlib.closing(open_source(self._path)) as src:
            bounds = rowid_bounds(src, table, parts=len(self._workers)) or [(None, None)]
        workers = self._workers[:len(bounds)]
        for worker, (first, last) in zip(workers, bounds, strict=True):
            worker.send(Task(table.name, quote_sqlite(table.source.name), row_sql,
                             rowid_name(table), first, last, names, apart, hashed, lines,
                             native, jsonb_anchor))
        return TableStream(table.name, workers, on_rows, jsonb=jsonb_anchor is not None)

    def ended(self, stream: TableStream) -> tuple[int, int]:
        """The table's (rows, checksum) once its stream has ended; the workers are free."""
        result = stream.checksum
        self._streaming = False
        return result

    def close(self) -> None:
        """Stop every worker; one still streaming (after an error) is killed."""
        for worker in self._workers:
            if self._streaming:
                worker.kill()
            else:
                worker.stop()
        self._workers = []

    def __enter__(self) -> ReaderProcesses:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
