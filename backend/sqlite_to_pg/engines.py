"""The load-engine interface the CLI drives, and how an engine is chosen by name.

An engine moves the rows of a ``Plan`` from the SQLite file into the target tables. Whatever it
does inside, it keeps one contract:

1. It saves the definitions of the foreign keys touching the plan's tables
   (``constraints.save_foreign_keys``), drops them, truncates the plan's tables, loads every row,
   and re-adds the keys from the saved definitions (``constraints.add_foreign_keys``).
2. It then calls ``finish(conn)`` with a psycopg2 connection that sees the loaded rows (for the
   built-in engine: still inside its one transaction). ``finish`` resets the sequences and
   verifies, and returns an object with a boolean ``ok`` (a ``verify.Verification``).
3. It makes the load permanent only when ``finish`` said ``ok``. On any failure, or when
   verification fails, the target is left as it was before the run (the built-in engine rolls
   back; an engine that cannot use one transaction must clean up) and ``LoadFailed`` is raised
   — or, for a failed verification, the result is returned with ``committed=False``.

Engines report per-table progress through the ``progress`` object (``sqlite_to_pg.progress``).
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlite_to_pg.catalog import Plan
from sqlite_to_pg.progress import Progress

DEFAULT_ENGINES = ("pgloader", "copy")
_ENGINE_CLASSES = {
    "copy": ("sqlite_to_pg.copy_engine", "CopyEngine"),
    "pgloader": ("sqlite_to_pg.pgloader_engine", "PgloaderEngine"),
}

FinishStep = Callable[[Any], Any]
"""``finish(conn) -> Verification``: reset sequences and verify on the engine's connection."""


@dataclass
class TableLoad:
    """Rows an engine wrote into one table and how long it took."""

    table: str
    rows: int
    seconds: float


@dataclass
class LoadResult:
    """What an engine did: per-table figures, whether it committed, and the verification."""

    engine: str
    tables: list[TableLoad] = field(default_factory=list)
    seconds: float = 0.0
    committed: bool = False
    verification: Any = None
    notes: list[str] = field(default_factory=list)


class LoadFailed(RuntimeError):
    """The load did not complete; the engine has left the target as it was."""


class EngineUnavailable(RuntimeError):
    """The requested engine is unknown or cannot run here (e.g. pgloader not installed)."""


class LoadEngine(Protocol):
    """A way of moving the rows; see the module docstring for the contract."""

    name: str

    def load(self, plan: Plan, *, sqlite_path: Path, pg_url: str, progress: Progress,
             finish: FinishStep) -> LoadResult:
        """Load every table of ``plan``; call ``finish``; commit only if it says ``ok``."""
        ...


def default_engine_name() -> str:
    """``pgloader`` where it is installed (the runbook's tool), else the built-in ``copy``."""
    return "pgloader" if shutil.which("pgloader") else "copy"


def get_engine(name: str, **options: Any) -> LoadEngine:
    """An engine instance by name; ``EngineUnavailable`` with a clear reason when it cannot run."""
    if name not in _ENGINE_CLASSES:
        raise EngineUnavailable(f"unknown engine {name!r} (choose from: "
                                f"{', '.join(sorted(_ENGINE_CLASSES))})")
    module_name, class_name = _ENGINE_CLASSES[name]
    return getattr(importlib.import_module(module_name), class_name)(**options)
