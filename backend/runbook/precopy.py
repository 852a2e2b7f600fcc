"""``precopy`` [online 2]: schema, capture-start, the snapshot loaded while the API runs, then
catch-up rounds.

The snapshot is the live file as of one instant (SQLite's online backup API) and is loaded by
the migration command itself (copy engine: preflight, one transaction, sequences, verify); the
change-log position it stands for is recorded. Catch-up rounds follow until the lag is small.
Rerun after a kill, it starts over from a new snapshot (nothing half-loaded is ever kept).
"""

from __future__ import annotations

from pathlib import Path

from foundation.database_urls import redact_url
from runbook.capture_start import run_capture_start
from runbook.catch_up import run_rounds
from runbook.config import RunbookConfig, config_from
from runbook.errors import runbook_task
from runbook.online_target import online_session, online_source, operator_errors
from runbook.schema import upgrade_target_schema
from runbook.shell import Shell
from sqlite_to_pg.online import precopy_load

DEFAULT_MAX_LAG = 1000
DEFAULT_MAX_ROUNDS = 10


def run_precopy(shell: Shell, cfg: RunbookConfig, sqlite_path: Path, pg_url: str, *,
                max_lag: int = DEFAULT_MAX_LAG, max_rounds: int = DEFAULT_MAX_ROUNDS) -> None:
    """Schema, capture on, snapshot loaded and verified, rounds until at most ``max_lag``
    remain."""
    upgrade_target_schema(shell, cfg, pg_url)
    run_capture_start(shell, sqlite_path, pg_url)
    snapshot_dir = cfg.path(cfg.run_dir) / "precopy"
    shell.say(f"precopy: snapshot of {sqlite_path} into {snapshot_dir}, loaded into "
              f"{redact_url(pg_url)} by the migration command (target tables truncated)")
    shell.require_confirmation("truncate the target tables and load the snapshot?")
    if shell.dry_run:
        shell.say("[dry-run] would snapshot, load, verify and run catch-up rounds")
        return
    with online_session(sqlite_path, pg_url) as session, operator_errors():
        position, snapshot, report = precopy_load(session, sqlite_path, pg_url, snapshot_dir)
    rows = sum(entry["rows"] for entry in report["load"]["tables"])
    shell.say(f"snapshot {snapshot} loaded and verified: {rows:,} rows at change-log position "
              f"{position:,} ({report['seconds']:.1f} s)")
    run_rounds(shell, sqlite_path, pg_url, rounds=max_rounds, until_lag=max_lag)


@runbook_task(help={
    "sqlite": "the live SQLite file (default: SQLITE_PATH)",
    "pg": "the target PostgreSQL URL, schema already applied (default: DB_URL)",
    "max_lag": "stop the rounds once at most this many changes remain",
    "max_rounds": "catch-up rounds at most after the load",
    "yes": "do not ask for confirmation (the load truncates the target tables)",
    "dry_run": "say what would happen; change nothing",
})
def precopy(ctx, sqlite: str | None = None, pg: str | None = None,
            max_lag: int = DEFAULT_MAX_LAG, max_rounds: int = DEFAULT_MAX_ROUNDS,
            yes: bool = False, dry_run: bool = False) -> None:
    """[online 2] Pre-copy while live: schema, capture-start, snapshot load + verify, rounds."""
    cfg = config_from(ctx)
    run_precopy(Shell(dry_run=dry_run, assume_yes=yes), cfg, online_source(cfg, sqlite),
                cfg.require_target(pg), max_lag=max_lag, max_rounds=max_rounds)
