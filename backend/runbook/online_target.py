"""What the online-cutover tasks share: which SQLite file and target, a session on both, and
the engine's errors as operator errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from runbook.config import RunbookConfig
from runbook.errors import RunbookError
from sqlite_to_pg.change_capture import CaptureRefused
from sqlite_to_pg.online import OnlineFailed, Session, open_session


def online_source(cfg: RunbookConfig, sqlite: str | None) -> Path:
    """The live SQLite file (a flag's value, else SQLITE_PATH), which must exist."""
    path = Path(sqlite) if sqlite else cfg.path(cfg.sqlite_path)
    if not path.is_file():
        raise RunbookError(f"no SQLite file at {path} (pass --sqlite or set SQLITE_PATH)")
    return path.resolve()


@contextlib.contextmanager
def operator_errors() -> Iterator[None]:
    """The online engine's refusals and failures as ``RunbookError`` (no traceback)."""
    try:
        yield
    except (CaptureRefused, OnlineFailed) as exc:
        raise RunbookError(str(exc)) from None


@contextlib.contextmanager
def online_session(sqlite_path: Path, pg_url: str) -> Iterator[Session]:
    """Both sides open, the plan built, every table's key known; errors for the operator."""
    with operator_errors(), open_session(sqlite_path, pg_url) as session:
        yield session


def table_keys(session: Session) -> str:
    """``table (key, …)`` for every captured table, in load order."""
    return ", ".join(f"{table.name} ({', '.join(table.key)})" for table in session.captured)
