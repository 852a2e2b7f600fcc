"""Pointing the API at a database: ``point-api`` (staging/local) and ``flip`` (production).

Both write the API's env file (``API_ENV_FILE``) with ``SQLALCHEMY_DATABASE_URL`` and the pool
settings, show the difference from the current file with passwords redacted, check the
connection budget, and then restart the local API or run the operator's ``DEPLOY_CMD``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

from cutover.budget import ConnectionPlan, check_budget
from cutover.urls import redact_url, sqlalchemy_url
from runbook import api_process
from runbook.config import RunbookConfig, config_from
from runbook.errors import RunbookError, runbook_task
from runbook.shell import Shell

URL_KEY = "SQLALCHEMY_DATABASE_URL"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def postgres_env(url: str, cfg: RunbookConfig) -> dict[str, str]:
    """The API settings for PostgreSQL: the URL (psycopg2 driver) and the pool sizing."""
    return {URL_KEY: sqlalchemy_url(url), "DB_POOL_SIZE": str(cfg.pool_size),
            "DB_MAX_OVERFLOW": str(cfg.max_overflow), "DB_POOL_RECYCLE": str(cfg.pool_recycle)}


def sqlite_env(path: Path) -> dict[str, str]:
    """The API settings for a SQLite file (pool settings stay; SQLite ignores them)."""
    return {URL_KEY: sqlite_url(path)}


def current_env(cfg: RunbookConfig) -> dict[str, str]:
    """The API's env file as it is now."""
    return api_process.read_env_file(cfg.path(cfg.api_env_file))


def current_database_url(cfg: RunbookConfig) -> str:
    """The database the API uses now: its env file's URL, else the configured SQLite file."""
    return current_env(cfg).get(URL_KEY) or sqlite_url(cfg.path(cfg.sqlite_path))


def env_diff(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """``-``/``+`` lines for every changed key, passwords redacted."""
    lines = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if before is not None:
            lines.append(f"- {key}={redact_url(before)}")
        if after is not None:
            lines.append(f"+ {key}={redact_url(after)}")
    return lines


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Write ``KEY=VALUE`` lines atomically, readable by the owner only (it holds a password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# written by the runbook (invoke point-api / flip / rollback)\n")
        handle.writelines(f"{key}={value}\n" for key, value in values.items())
    os.replace(partial, path)


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
            api_process.wait_until_ready(cfg.api_url, cfg.ready_timeout)
        return
    shell.say(f"restarting the local API ({workers} workers) at {cfg.api_url} with {env_file}")
    if shell.dry_run:
        return
    began = time.monotonic()
    if api_process.stop_api(cfg):
        shell.say(f"stopped the running API in {time.monotonic() - began:.1f} s")
    began = time.monotonic()
    started = api_process.start_api(cfg, api_process.read_env_file(env_file), workers)
    shell.say(f"API ready at {started.base_url} in {time.monotonic() - began:.1f} s "
              f"(pid {started.pid}, log {started.log_path})")


def repoint_api(shell: Shell, cfg: RunbookConfig, changes: Mapping[str, str], *, workers: int,
                force: bool = False, production: bool = False) -> None:
    """Show the env change, check the budget, confirm, write it, restart and check /readyz."""
    from runbook.maintenance import carry_freeze

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


_FLAGS = {
    "pg": "target PostgreSQL URL (default: DB_URL); the password is never printed",
    "workers": "number of API worker processes, for the connection budget (default: API_WORKERS)",
    "force": "proceed even when the connection budget is exceeded",
    "yes": "do not ask for confirmation",
    "dry_run": "show the env diff, the budget and the commands; change nothing",
}


def _repoint_to_postgres(ctx, pg: str | None, workers: int | None, force: bool, yes: bool,
                        dry_run: bool, production: bool) -> None:
    cfg = config_from(ctx).with_overrides(api_workers=workers)
    shell = Shell(dry_run=dry_run, assume_yes=yes)
    repoint_api(shell, cfg, postgres_env(cfg.require_target(pg), cfg),
                workers=cfg.api_workers, force=force, production=production)


@runbook_task(help=_FLAGS)
def point_api(ctx, pg: str | None = None, workers: int | None = None, force: bool = False,
              yes: bool = False, dry_run: bool = False) -> None:
    """[rehearsal 4] Point the local API at PostgreSQL (URL + pool env) and restart it."""
    _repoint_to_postgres(ctx, pg, workers, force, yes, dry_run, production=False)


@runbook_task(help=_FLAGS)
def flip(ctx, pg: str | None = None, workers: int | None = None, force: bool = False,
         yes: bool = False, dry_run: bool = False) -> None:
    """[cutover 5] Flip the API's env to PostgreSQL and deploy (DEPLOY_CMD, else local restart)."""
    _repoint_to_postgres(ctx, pg, workers, force, yes, dry_run, production=True)
