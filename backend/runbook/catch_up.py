"""``catch-up`` [online 3]: verified rounds that move the changes logged since the last one.

Each round reads the changed keys since the position, re-reads those rows from the live file,
applies them to PostgreSQL in one transaction, checks every key it touched row by row and
advances the position (``sqlite_to_pg.change_apply``). Progress: rows behind and the window a
last round would take at the measured rate.
"""

from __future__ import annotations

from pathlib import Path

from runbook.config import config_from
from runbook.errors import runbook_task
from runbook.online_target import online_session, online_source, operator_errors
from runbook.shell import Shell
from sqlite_to_pg.change_apply import RoundResult
from sqlite_to_pg.online import Lag, catch_up_round, lag


def run_rounds(shell: Shell, sqlite_path: Path, pg_url: str, *, rounds: int,
               until_lag: int | None = None, results: list[RoundResult] | None = None
               ) -> Lag | None:
    """Up to ``rounds`` rounds, stopping early once at most ``until_lag`` changes remain; each
    round's result is appended to ``results`` when given."""
    with online_session(sqlite_path, pg_url) as session, operator_errors():
        behind = lag(session, sqlite_path)
        shell.say(f"catch-up: {behind.describe()}")
        shell.require_confirmation(f"apply up to {rounds} round(s) to the target?")
        if shell.dry_run:
            shell.say(f"[dry-run] would apply up to {rounds} round(s)")
            return behind
        for number in range(1, rounds + 1):
            result = catch_up_round(session, sqlite_path)
            if results is not None:
                results.append(result)
            moved = result.position_after - result.position_before
            rate = moved / result.seconds if moved and result.seconds > 0 else None
            behind = lag(session, sqlite_path, rate)
            shell.say(f"round {number}: {moved:,} change(s), {result.key_count:,} key(s) "
                      f"({result.upserted:,} upserted, {result.deleted:,} deleted) in "
                      f"{result.seconds:.2f} s, verified; {behind.describe()}")
            if until_lag is not None and behind.rows_behind <= until_lag:
                break
    return behind


@runbook_task(help={
    "sqlite": "the live SQLite file (default: SQLITE_PATH)",
    "pg": "the target PostgreSQL URL (default: DB_URL)",
    "rounds": "how many rounds at most",
    "until_lag": "stop once at most this many changes remain (default: run every round)",
    "yes": "do not ask for confirmation",
    "dry_run": "show the lag; apply nothing",
})
def catch_up(ctx, sqlite: str | None = None, pg: str | None = None, rounds: int = 1,
             until_lag: int | None = None, yes: bool = False, dry_run: bool = False) -> None:
    """[online 3] Catch-up rounds: apply the changes since the last round, verified."""
    cfg = config_from(ctx)
    run_rounds(Shell(dry_run=dry_run, assume_yes=yes), online_source(cfg, sqlite),
               cfg.require_target(pg), rounds=rounds, until_lag=until_lag)
