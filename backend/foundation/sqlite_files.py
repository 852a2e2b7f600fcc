"""Opening a SQLite file read-only: the one way every layer reads a source or snapshot file.

``mode=ro`` plus ``PRAGMA query_only``: nothing done on the connection can change the file.
``immutable=1`` is deliberately not used: the API may still be writing to the file.

``BULK_SQLITE`` is the SQLite library for reading whole tables (the built-in loader's reader
processes): pysqlite3-binary's bundled SQLite where it is installed, else the standard
library's. Both read the same files; on this project's benchmark the bundled 3.51 built the
loader's COPY rows in half the time Debian's 3.40 took (docs/benchmarks.md), and from 3.44 on
it has ``concat_ws``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import ModuleType

try:  # an optional speed-up, never required: the standard library's SQLite reads every file
    from pysqlite3 import dbapi2 as BULK_SQLITE
except ImportError:  # pragma: no cover - depends on the platform's wheels
    BULK_SQLITE = sqlite3


def sqlite_version(library: ModuleType) -> tuple[int, ...]:
    """The version of the SQLite that ``library`` (a DB-API module) links."""
    return tuple(int(part) for part in library.sqlite_version.split("."))


def open_read_only(path: str | Path, *, check_same_thread: bool = True,
                   library: ModuleType = sqlite3) -> sqlite3.Connection:
    """A read-only connection to an existing SQLite file (``FileNotFoundError`` if absent).

    ``check_same_thread=False`` lets a reader thread use a connection opened elsewhere;
    ``library``: the DB-API module to open it with (``sqlite3``, or ``BULK_SQLITE``).
    """
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise FileNotFoundError(f"SQLite file not found: {path}")
    conn = library.connect(f"{resolved.as_uri()}?mode=ro", uri=True,
                           check_same_thread=check_same_thread)
    conn.execute("PRAGMA query_only = ON")
    return conn
