"""``capture-start`` [online 1]: change capture on the live SQLite file.

WAL mode, the change log ``_cutover_changes`` and AFTER INSERT/UPDATE/DELETE triggers on every
copied table (see ``sqlite_to_pg.change_capture``); the schema fingerprints of both sides are
recorded in the target. The running API needs no restart: SQLite re-prepares its statements
after a schema change. Idempotent: a second run changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from foundation.database_urls import redact_url
from runbook.config import config_from
from runbook.errors import runbook_task
from runbook.online_target import online_session, online_source, operator_errors, table_keys
from runbook.shell import Shell
from sqlite_to_pg.change_capture import removal_hint
from sqlite_to_pg.online import start_capture


def run_capture_start(shell: Shell, sqlite_path: Path, pg_url: str) -> None:
    """Say what will be installed, ask, install, say what changed and how to remove it."""
    with online_session(sqlite_path, pg_url) as session:
        shell.say(f"capture-start: {sqlite_path} -> {redact_url(pg_url)}; "
                  f"{len(session.captured)} tables by key: {table_keys(session)}")
        shell.require_confirmation(f"install change-capture triggers in {sqlite_path}?")
        if shell.dry_run:
            shell.say("[dry-run] would set WAL mode, create _cutover_changes and three "
                      "triggers per table, and record the state in the target")
            return
        with operator_errors():
            changes = start_capture(session, sqlite_path)
    for line in changes:
        shell.say(f"  {line}")
    shell.say(f"capture is on; {removal_hint(sqlite_path)}")


@runbook_task(help={
    "sqlite": "the live SQLite file (default: SQLITE_PATH)",
    "pg": "the target PostgreSQL URL, schema already applied (default: DB_URL)",
    "yes": "do not ask for confirmation",
    "dry_run": "say what would be installed; change nothing",
})
def capture_start(ctx, sqlite: str | None = None, pg: str | None = None, yes: bool = False,
                  dry_run: bool = False) -> None:
    """[online 1] Start change capture on the live SQLite file (WAL, change log, triggers)."""
    cfg = config_from(ctx)
    run_capture_start(Shell(dry_run=dry_run, assume_yes=yes), online_source(cfg, sqlite),
                      cfg.require_target(pg))
