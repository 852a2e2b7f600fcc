"""``rollback``: back from PostgreSQL to the SQLite file, saying first what would be lost.

Freeze; compare PostgreSQL with the snapshot taken before the window (per table: rows whose
primary key the snapshot lacks) and refuse to go on while such rows exist unless they are
exported (``--export DIR``, CSV) or explicitly discarded (``--discard-new-rows``); point the API
back at SQLite; restart; smoke; unfreeze. Rows updated or deleted in PostgreSQL after the flip
are not detected by primary keys: the report says so.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2 import sql

from app.models import Base
from foundation.database_urls import libpq_url
from foundation.sqlite_files import open_read_only
from runbook.api_env_file import current_database_url, sqlite_env
from runbook.capture_stop import capture_installed, run_capture_stop
from runbook.config import RunbookConfig, config_from
from runbook.errors import RunbookError, runbook_task
from runbook.freeze import set_freeze
from runbook.repoint import repoint_api
from runbook.shell import Shell
from runbook.smoke import smoke_or_fail
from runbook.snapshot import latest_snapshot, verify_snapshot
from runbook.steps import StepRunner

FETCH_ROWS = 5000
SAMPLE_KEYS = 5
OPERATIONAL_TABLES = {"maintenance_state"}  # the freeze flag itself, not user data
ROLLBACK_MESSAGE = "Rolling back the database move; writes are paused for a few minutes."


@dataclass
class TableDelta:
    """Rows of one table present in PostgreSQL but not in the snapshot."""

    table: str
    primary_key: tuple[str, ...]
    new_rows: int = 0
    sample_keys: list[tuple] = field(default_factory=list)
    exported_to: Path | None = None

    def describe(self) -> str:
        sample = ", ".join(map(str, self.sample_keys))
        where = f" -> {self.exported_to}" if self.exported_to else ""
        return (f"{self.table}: {self.new_rows} row(s) not in the snapshot "
                f"({'/'.join(self.primary_key)} e.g. {sample}){where}")


def _snapshot_keys(snapshot: Path, table: str, key: tuple[str, ...]) -> set[tuple]:
    columns = ", ".join(f'"{name}"' for name in key)
    with contextlib.closing(open_read_only(snapshot)) as conn:
        return {tuple(row) for row in conn.execute(f'SELECT {columns} FROM "{table}"')}


def _postgres_rows(conn, table: str) -> Iterator[tuple[list[str], tuple]]:
    with conn.cursor(name=f"rollback_{table}") as cur:
        cur.itersize = FETCH_ROWS
        cur.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
        names: list[str] | None = None
        for row in cur:
            names = names or [column.name for column in cur.description]
            yield names, row


def rows_missing_from_snapshot(snapshot: Path, pg_url: str,
                               export_dir: Path | None = None) -> list[TableDelta]:
    """Per app table, PostgreSQL rows whose primary key the snapshot lacks (CSV when asked)."""
    deltas = []
    with contextlib.closing(psycopg2.connect(libpq_url(pg_url))) as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in OPERATIONAL_TABLES:
                continue
            key = tuple(column.name for column in table.primary_key.columns)
            known = _snapshot_keys(snapshot, table.name, key)
            delta = TableDelta(table=table.name, primary_key=key)
            writer, handle = None, None
            for names, row in _postgres_rows(conn, table.name):
                row_key = tuple(row[names.index(name)] for name in key)
                if row_key in known:
                    continue
                delta.new_rows += 1
                if len(delta.sample_keys) < SAMPLE_KEYS:
                    delta.sample_keys.append(row_key if len(key) > 1 else row_key[0])
                if export_dir is not None:
                    if writer is None:
                        export_dir.mkdir(parents=True, exist_ok=True)
                        delta.exported_to = export_dir / f"{table.name}.csv"
                        handle = open(delta.exported_to, "w", newline="", encoding="utf-8")
                        writer = csv.writer(handle)
                        writer.writerow(names)
                    writer.writerow(row)
            if handle is not None:
                handle.close()
            deltas.append(delta)
    return deltas


def check_new_rows(shell: Shell, snapshot: Path, pg_url: str, *, export: Path | None,
                   discard: bool) -> list[TableDelta]:
    """Report rows written since the flip; refuse unless exported or explicitly discarded.

    In a dry run the rows are counted (read-only) but nothing is exported or refused.
    """
    if shell.dry_run:
        export, discard = None, True
    deltas = [d for d in rows_missing_from_snapshot(snapshot, pg_url, export) if d.new_rows]
    total = sum(d.new_rows for d in deltas)
    shell.say(f"rows in PostgreSQL that the snapshot {snapshot.name} lacks: {total}")
    for delta in deltas:
        shell.say(f"  {delta.describe()}")
    shell.say("  (updates and deletions made in PostgreSQL after the flip are not detected "
              "by primary key and are not counted here)")
    if total and export is None and not discard:
        raise RunbookError(
            f"{total} row(s) written to PostgreSQL since the flip would be lost. The API stays "
            "frozen. Re-run with --export DIR to save them as CSV first, or with "
            "--discard-new-rows to drop them; `invoke unfreeze` to abandon the rollback.")
    return deltas


def run_rollback(shell: Shell, cfg: RunbookConfig, *, snapshot: Path, export: Path | None,
                 discard: bool) -> None:
    current = current_database_url(cfg)
    if current.startswith("sqlite"):
        raise RunbookError("the API's env file already names SQLite; nothing to roll back")
    verify_snapshot(snapshot)
    steps = StepRunner(shell)
    with steps.step("freeze writes"):
        set_freeze(shell, cfg, True, ROLLBACK_MESSAGE)
    with steps.step("rows written since the flip"):
        check_new_rows(shell, snapshot, current, export=export, discard=discard)
    with steps.step("point the API back at SQLite"):
        repoint_api(shell, cfg, sqlite_env(cfg.path(cfg.sqlite_path)), workers=cfg.api_workers,
                    production=True)
    with steps.step("smoke"):
        smoke_or_fail(shell, cfg)
    with steps.step("unfreeze"):
        set_freeze(shell, cfg, False, None)
    if capture_installed(cfg.path(cfg.sqlite_path)):  # an online cutover left it
        with steps.step("capture-stop"):
            run_capture_stop(shell, cfg.path(cfg.sqlite_path), current)
    shell.say("rollback done: the API runs on SQLite again; reschedule the cutover")


@runbook_task(help={
    "snapshot": "the snapshot to compare with (default: the newest in SNAPSHOT_DIR)",
    "sqlite": "the SQLite file to point the API back at (default: SQLITE_PATH)",
    "export": "save the rows PostgreSQL has and the snapshot lacks as CSV files in this directory",
    "discard_new_rows": "go on even though rows written since the flip will be lost",
    "workers": "API worker processes (default: API_WORKERS)",
    "yes": "do not ask for confirmation at each step",
    "dry_run": "say what would happen; change nothing",
})
def rollback(ctx, snapshot: str | None = None, sqlite: str | None = None,
             export: str | None = None, discard_new_rows: bool = False,
             workers: int | None = None, yes: bool = False, dry_run: bool = False) -> None:
    """[rollback] Freeze, count rows since the flip, API back on SQLite, smoke, unfreeze."""
    cfg = config_from(ctx).with_overrides(sqlite_path=sqlite, api_workers=workers)
    chosen = Path(snapshot) if snapshot else latest_snapshot(cfg.path(cfg.snapshot_dir))
    if chosen is None:
        raise RunbookError(f"no snapshot in {cfg.path(cfg.snapshot_dir)}; pass --snapshot PATH")
    run_rollback(Shell(dry_run=dry_run, assume_yes=yes), cfg, snapshot=chosen,
                 export=Path(export) if export else None, discard=discard_new_rows)
