"""Re-pointing the API at another database: the step ``point-api``, ``flip``, ``rollback`` and
``dev`` share.

It shows the env-file change with passwords redacted, checks the connection budget, asks, carries
the freeze flag over, writes the env file, then restarts the local API or runs the operator's
``DEPLOY_CMD`` and checks that the API answers on the new database.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from foundation.connection_budget import ConnectionPlan, check_budget
from foundation.database_urls import redact_url
from foundation.uvicorn_runner import wait_until_serving
from runbook import api_process
from runbook.api_env_file import (
    URL_KEY,
    current_database_url,
    current_env,
    env_diff,
    postgres_env,
    read_env_file,
    sqlite_url,
    write_env_file,
)
from runbook.config import RunbookConfig, config_from
from runbook.errors import RunbookError
from runbook.freeze import carry_freeze
from runbook.shell import Shell


def check_connection_budget(shell: Shell, cfg: RunbookConfig, url: str, workers: int,
                            force: bool) -> None:
    """Refuse (with the real numbers) when the workers' pools would not fit on the server."""
    plan = ConnectionPlan(workers=workers, pool_size=cfg.pool_size,
                          max_overflow=cfg.max_overflow, margin=cfg.budget_margin)
    result = check_budget(url, plan, force=force)
    shell.say(f"connection budget: {result.arithmetic()}"
              + ("" if result.fits else " — overridden by --force"))


def restart_api(shell: Shell, cfg: RunbookConfig, workers: int, *, production: bool) -> None:
    """Run DEPLOY_CMD (production, when configured) or restart the local uvicorn; wait for it."""
    env_file = cfg.path(cfg.api_env_file)
    if production and cfg.deploy_cmd:
        shell.run_shell(cfg.deploy_cmd, env={"API_ENV_FILE": str(env_file)})
        if not shell.dry_run:
            wait_until_serving(cfg.api_url, cfg.ready_timeout)
        return
    shell.say(f"restarting the local API ({workers} workers) at {cfg.api_url} with {env_file}")
    if shell.dry_run:
        return
    began = time.monotonic()
    if api_process.stop_api(cfg):
        shell.say(f"stopped the running API in {time.monotonic() - began:.1f} s")
    began = time.monotonic()
    started = api_process.start_api(cfg, read_env_file(env_file), workers)
    shell.say(f"API ready at {started.base_url} in {time.monotonic() - began:.1f} s "
              f"(pid {started.pid}, log {started.log_path})")


def repoint_api(shell: Shell, cfg: RunbookConfig, changes: Mapping[str, str], *, workers: int,
                force: bool = False, production: bool = False) -> None:
    """Show the env change, check the budget, confirm, write it, restart and check /readyz."""
    old = current_env(cfg)
    new = {**old, **changes}
    shell.say(f"API env file: {cfg.path(cfg.api_env_file)}")
    for line in env_diff(old, new) or ["(no change)"]:
        shell.say(f"  {line}")
    target = new[URL_KEY]
    if not target.startswith("sqlite"):
        check_connection_budget(shell, cfg, target, workers, force)
    what = "deploy with DEPLOY_CMD" if production and cfg.deploy_cmd else "restart the local API"
    shell.require_confirmation(f"write this env file and {what}?")
    if shell.dry_run:
        shell.say(f"[dry-run] would write {cfg.path(cfg.api_env_file)} and {what}")
        return
    previous = old.get(URL_KEY) or sqlite_url(cfg.path(cfg.sqlite_path))
    if previous != target:
        carry_freeze(shell, previous, target)
    write_env_file(cfg.path(cfg.api_env_file), new)
    restart_api(shell, cfg, workers, production=production)
    if current_database_url(cfg) != target:
        raise RunbookError(f"the env file does not name {redact_url(target)} after writing it")


REPOINT_FLAGS = {
    "pg": "target PostgreSQL URL (default: DB_URL); the password is never printed",
    "workers": "number of API worker processes, for the connection budget (default: API_WORKERS)",
    "force": "proceed even when the connection budget is exceeded",
    "yes": "do not ask for confirmation",
    "dry_run": "show the env diff, the budget and the commands; change nothing",
}


def repoint_to_postgres(ctx, pg: str | None, workers: int | None, force: bool, yes: bool,
                        dry_run: bool, production: bool) -> None:
    """The body of ``point-api`` and ``flip``: target from ``--pg`` or DB_URL, Postgres pool env."""
    cfg = config_from(ctx).with_overrides(api_workers=workers)
    shell = Shell(dry_run=dry_run, assume_yes=yes)
    repoint_api(shell, cfg, postgres_env(cfg.require_target(pg), cfg),
                workers=cfg.api_workers, force=force, production=production)
