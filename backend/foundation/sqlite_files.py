"""Opening a SQLite file read-only: the one way every layer reads a source or snapshot file.

``mode=ro`` plus ``PRAGMA query_only``: nothing done on the connection can change the file.
``immutable=1`` is deliberately not used: the API may still be writing to the file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_read_only(path: str | Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A read-only connection to an existing SQLite file (``FileNotFoundError`` if absent).

    ``check_same_thread=False`` lets a reader thread use a connection opened elsewhere.
    """
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise FileNotFoundError(f"SQLite file not found: {path}")
    conn = sqlite3.connect(f"{resolved.as_uri()}?mode=ro", uri=True,
                           check_same_thread=check_same_thread)
    conn.execute("PRAGMA query_only = ON")
    return conn
