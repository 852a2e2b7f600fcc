"""``cutover``: the production window as one task — freeze, snapshot, proxy, schema, migrate,
flip, unfreeze, monitor.

Each step asks for confirmation unless ``--yes``; ``--dry-run`` prints every step's commands and
changes nothing; the first failure stops the run and prints the exact command that undoes it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runbook.api_env_file import postgres_env
from runbook.config import RunbookConfig, config_from
from runbook.cutover_online import run_online_cutover
from runbook.errors import RunbookError, runbook_task
from runbook.freeze import DEFAULT_MESSAGE, set_freeze
from runbook.migrate import run_migration
from runbook.monitor import run_monitor
from runbook.proxy import start_cloud_sql_proxy, start_local_postgres
from runbook.repoint import repoint_api
from runbook.schema import upgrade_target_schema
from runbook.shell import Shell
from runbook.smoke import smoke_or_fail
from runbook.snapshot import back_up_sqlite_file
from runbook.steps import StepRunner
from runbook.verify_uploads import verify_uploads_or_fail


@dataclass
class CutoverPlan:
    """The choices of one cutover run."""

    cfg: RunbookConfig
    target: str
    local: bool
    engine: str | None
    monitor_seconds: float
    message: str
    yes: bool = False  # the operator's --yes: only then may the script empty tables unasked
    snapshot: Path | None = None
    flipped: bool = False


def rollback_command(plan: CutoverPlan) -> str:
    """What to run after a failure: unfreeze before the flip, rollback after it."""
    if not plan.flipped:
        return "invoke unfreeze --yes   (the API still runs on SQLite; nothing else to undo)"
    args = ["invoke", "rollback"]
    if plan.snapshot:
        args += ["--snapshot", str(plan.snapshot)]
    return shlex.join(args) + "   (add --export DIR or --discard-new-rows if it reports new rows)"


def _snapshot(shell: Shell, plan: CutoverPlan) -> None:
    cfg = plan.cfg
    shell.say(f"snapshot of {cfg.path(cfg.sqlite_path)} into {cfg.path(cfg.snapshot_dir)}")
    if shell.dry_run:
        return
    taken = back_up_sqlite_file(cfg.path(cfg.sqlite_path), cfg.path(cfg.snapshot_dir))
    plan.snapshot = taken.path
    shell.say(f"snapshot {taken.path} sha256 {taken.sha256}")


def _flip(shell: Shell, plan: CutoverPlan) -> None:
    plan.flipped = not shell.dry_run
    repoint_api(shell, plan.cfg, postgres_env(plan.target, plan.cfg),
                workers=plan.cfg.api_workers, production=True)
    smoke_or_fail(shell, plan.cfg)  # inside the window: reads work, writes answer 503
    verify_uploads_or_fail(shell, plan.cfg)  # rows moved, files did not: are they there?


def cutover_steps(plan: CutoverPlan) -> list[tuple[str, Callable[[Shell], None]]]:
    """The runbook's production steps, in order, as (name, action) pairs."""
    cfg = plan.cfg
    return [
        ("freeze writes", lambda sh: set_freeze(sh, cfg, True, plan.message)),
        ("snapshot the SQLite file", lambda sh: _snapshot(sh, plan)),
        ("start the database connection", lambda sh: (start_local_postgres if plan.local
                                                      else start_cloud_sql_proxy)(sh, cfg)),
        ("schema", lambda sh: upgrade_target_schema(sh, cfg, plan.target)),
        ("migrate", lambda sh: run_migration(sh, cfg, cfg.path(cfg.sqlite_path), plan.target,
                                             engine=plan.engine, preflight_in_dry_run=False,
                                             truncate_confirmed=plan.yes)),
        ("flip env and deploy", lambda sh: _flip(sh, plan)),
        ("unfreeze", lambda sh: set_freeze(sh, cfg, False, None)),
        ("monitor", lambda sh: sh.say(f"[dry-run] would monitor for {plan.monitor_seconds:.0f} s")
         if sh.dry_run else run_monitor(sh, cfg, plan.monitor_seconds, 2.0)),
    ]


def run_cutover(shell: Shell, plan: CutoverPlan) -> None:
    """Run the steps in order; on the first failure say what failed and how to undo it."""
    steps = StepRunner(shell)
    confirmed = Shell(dry_run=shell.dry_run, assume_yes=True, out=shell.out)
    for name, action in cutover_steps(plan):
        try:
            with steps.step(name):
                shell.require_confirmation(f"run step '{name}'?")
                action(confirmed)  # one question per step, not one per sub-step
        except Exception as exc:  # any failure stops the window the same way
            raise RunbookError(f"cutover stopped at step '{name}': {type(exc).__name__}: "
                               f"{exc}\nTo undo: {rollback_command(plan)}") from None
    shell.say("cutover done" + (" (dry run: nothing was changed)" if shell.dry_run else
                                f"; rollback, if ever needed: {rollback_command(plan)}"))


@runbook_task(help={
    "sqlite": "the production SQLite file (default: SQLITE_PATH)",
    "pg": "the target PostgreSQL URL through the proxy (default: DB_URL)",
    "local": "start or reuse a local PostgreSQL instead of the Cloud SQL Auth Proxy",
    "engine": "migration engine for the script (default: the script's own choice)",
    "workers": "API worker processes, for the connection budget (default: API_WORKERS)",
    "monitor_seconds": "how long to monitor after unfreezing",
    "message": "maintenance banner shown during the window",
    "online": "the online window after `invoke precopy`: only the changes since the last round "
              "move under the freeze (see capture-start, precopy, catch-up)",
    "yes": "run every step without asking",
    "dry_run": "print every step's commands; change nothing",
})
def cutover(ctx, sqlite: str | None = None, pg: str | None = None, local: bool = False,
            engine: str | None = None, workers: int | None = None,
            monitor_seconds: int = 60, message: str = DEFAULT_MESSAGE, online: bool = False,
            yes: bool = False, dry_run: bool = False) -> None:
    """[cutover] The production window, steps 1-6: freeze … flip, unfreeze, monitor."""
    cfg = config_from(ctx).with_overrides(sqlite_path=sqlite, api_workers=workers)
    if online:
        run_online_cutover(Shell(dry_run=dry_run, assume_yes=yes), cfg,
                           cfg.path(cfg.sqlite_path).resolve(), cfg.require_target(pg),
                           message=message, monitor_seconds=float(monitor_seconds))
        return
    plan = CutoverPlan(cfg=cfg, target=cfg.require_target(pg), local=local, engine=engine,
                       monitor_seconds=float(monitor_seconds), message=message, yes=yes)
    run_cutover(Shell(dry_run=dry_run, assume_yes=yes), plan)
