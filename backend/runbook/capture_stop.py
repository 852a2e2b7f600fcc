"""``capture-stop`` [online 5]: remove the change capture from the live SQLite file (triggers
and change log) and the online state from the target. Run at the end of ``cutover --online``,
on an aborted online cutover and by ``rollback``; safe to run when nothing is installed."""

from __future__ import annotations

import contextlib
from pathlib import Path

from foundation.database_urls import redact_url
from runbook.config import config_from
from runbook.errors import RunbookError, runbook_task
from runbook.shell import Shell
from sqlite_to_pg.change_capture import capture_objects, connect_live
from sqlite_to_pg.online import stop_capture


def capture_installed(sqlite_path: Path) -> bool:
    """True when the file holds capture triggers or the change log."""
    if not sqlite_path.is_file():
        return False
    with contextlib.closing(connect_live(sqlite_path)) as live:
        return bool(capture_objects(live))


def run_capture_stop(shell: Shell, sqlite_path: Path, pg_url: str | None) -> None:
    """Say what is installed, ask, remove it."""
    if not sqlite_path.is_file():
        raise RunbookError(f"no SQLite file at {sqlite_path} (pass --sqlite or set SQLITE_PATH)")
    with contextlib.closing(connect_live(sqlite_path)) as live:
        installed = capture_objects(live)
    where = f" and the online state in {redact_url(pg_url)}" if pg_url else ""
    shell.say(f"capture-stop: {len(installed)} capture object(s) in {sqlite_path}{where}")
    shell.require_confirmation(f"remove the change capture from {sqlite_path}?")
    if shell.dry_run:
        shell.say("[dry-run] would drop: " + (", ".join(name for _, name in installed) or
                                              "nothing in the file"))
        return
    removed = stop_capture(sqlite_path, pg_url)
    shell.say(f"capture-stop: removed {len(removed)} object(s)" +
              "".join(f"\n  {line}" for line in removed))


@runbook_task(help={
    "sqlite": "the live SQLite file (default: SQLITE_PATH)",
    "pg": "the target PostgreSQL URL whose online state to drop (default: DB_URL)",
    "yes": "do not ask for confirmation",
    "dry_run": "say what would be removed; change nothing",
})
def capture_stop(ctx, sqlite: str | None = None, pg: str | None = None, yes: bool = False,
                 dry_run: bool = False) -> None:
    """[online 5] Remove change capture (triggers, change log, online state)."""
    cfg = config_from(ctx)
    path = Path(sqlite) if sqlite else cfg.path(cfg.sqlite_path)
    run_capture_stop(Shell(dry_run=dry_run, assume_yes=yes), path, pg or cfg.target_url)
